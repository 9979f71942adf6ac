//! The trainable network and its hand-written forward and backward passes, run on the
//! training thread: embedding → N LSTM layers → dropout → (batch norm) → linear → softmax
//! cross-entropy. Each LSTM layer is one fused whole-window operation: one GEMM projects the
//! inputs of every step, and the backward pass gathers the weight gradients of all steps in
//! two batched GEMMs — the way fast CPU and GPU LSTMs do. The recurrence in between (one
//! small GEMM and the cells per step) is split by streams over rayon's threads: each part
//! runs through the whole window on its own core, with no synchronisation per step.
//!
//! Rows are time-major: row `t·B + b` is step `t` of stream `b`. Targets of -1 are padding
//! and count for nothing. The state carried between windows (truncated BPTT) is detached.

use crate::activation::{exp_in_place, lstm_cells, lstm_cells_backward};
use crate::gemm::{matmul, matmul_serial};
use crate::weights::LstmWeights;
use rand_core::Rng;
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

pub const BN_EPS: f32 = 1e-5;
const BN_MOMENTUM: f32 = 0.1;
/// The fewest streams worth a core of their own in the recurrence.
const MIN_PART_STREAMS: usize = 8;

/// Batch normalisation over the features of the top LSTM output (the jazz study's).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub running_mean: Vec<f32>,
    pub running_var: Vec<f32>,
}

impl BatchNorm {
    pub fn new(features: usize) -> BatchNorm {
        BatchNorm {
            gamma: vec![1.0; features],
            beta: vec![0.0; features],
            running_mean: vec![0.0; features],
            running_var: vec![1.0; features],
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Model {
    pub weights: LstmWeights,
    pub batch_norm: Option<BatchNorm>,
    /// Dropout probability before the output layer, in training only.
    pub dropout: f32,
}

/// Gradients, shaped like the model's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Grads {
    pub weights: LstmWeights,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// A window of training data: `steps` × `streams` inputs and next-token targets.
pub struct Batch<'a> {
    pub inputs: &'a [u32],
    pub targets: &'a [i32],
    pub steps: usize,
    pub streams: usize,
}

/// The LSTM state of every stream, carried from window to window.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// [layers][streams × H].
    pub h: Vec<Vec<f32>>,
    pub c: Vec<Vec<f32>>,
}

impl State {
    pub fn zeros(layers: usize, streams: usize, hidden: usize) -> State {
        State { h: vec![vec![0.0; streams * hidden]; layers], c: vec![vec![0.0; streams * hidden]; layers] }
    }
}

/// Loss and accuracy counts of one forward pass.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Sum of −ln p(target), nats.
    pub nll: f64,
    pub count: usize,
    pub correct: usize,
    /// The same, over targets that are not HOLD.
    pub count_no_hold: usize,
    pub correct_no_hold: usize,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.nll += o.nll;
        self.count += o.count;
        self.correct += o.correct;
        self.count_no_hold += o.count_no_hold;
        self.correct_no_hold += o.correct_no_hold;
    }
    pub fn mean_nll(&self) -> f64 {
        self.nll / self.count.max(1) as f64
    }
}

#[derive(Default)]
struct LayerCache {
    /// Input of every step [TB, in].
    x: Vec<f32>,
    /// Activated gates i, f, g, o [TB, 4H].
    gates: Vec<f32>,
    /// h and c with the carried-in state first: [(T+1)B, H].
    h: Vec<f32>,
    c: Vec<f32>,
    tanh_c: Vec<f32>,
}

/// Buffers reused from window to window.
#[derive(Default)]
pub struct Workspace {
    layers: Vec<LayerCache>,
    mask: Vec<f32>,
    /// Top output after dropout (and before batch norm).
    dropped: Vec<f32>,
    xhat: Vec<f32>,
    inv_std: Vec<f32>,
    /// Input of the output layer [TB, H].
    top: Vec<f32>,
    /// Logits, then probabilities [TB, V].
    probs: Vec<f32>,
    d_top: Vec<f32>,
    d_gates: Vec<f32>,
    d_h_next: Vec<f32>,
    d_c_next: Vec<f32>,
    d_x: Vec<f32>,
    /// A layer's recurrent weights, transposed [H, 4H].
    w_hh_t: Vec<f32>,
}

/// `out[cols × rows] = mᵀ` for the row-major `m[rows × cols]`.
fn transpose(m: &[f32], rows: usize, cols: usize, out: &mut Vec<f32>) {
    const TILE: usize = 16;
    out.resize(rows * cols, 0.0);
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = m[r * cols + c];
                }
            }
        }
    }
}

/// Stream boundaries `[0, …, streams]` that split a batch over the cores.
fn stream_parts(streams: usize) -> Vec<usize> {
    let parts = rayon::current_num_threads().min(streams / MIN_PART_STREAMS).max(1);
    (0..=parts).map(|k| k * streams / parts).collect()
}

/// The per-step slices of a time-major buffer (steps of `streams × width` floats) split by
/// the stream boundaries `bounds`: `out[part][step]`.
fn split_by_streams<'a>(buf: &'a mut [f32], width: usize, bounds: &[usize]) -> Vec<Vec<&'a mut [f32]>> {
    let streams = bounds[bounds.len() - 1];
    let mut out: Vec<Vec<&mut [f32]>> = bounds[1..].iter().map(|_| Vec::new()).collect();
    for mut step in buf.chunks_mut(streams * width) {
        for (part, range) in out.iter_mut().zip(bounds.windows(2)) {
            let (mine, rest) = step.split_at_mut((range[1] - range[0]) * width);
            part.push(mine);
            step = rest;
        }
    }
    out
}

impl Grads {
    pub fn zeros_like(model: &Model) -> Grads {
        let w = &model.weights;
        let zero = |v: &Vec<f32>| vec![0.0; v.len()];
        let weights = LstmWeights {
            vocab: w.vocab,
            embed: w.embed,
            hidden: w.hidden,
            embedding: zero(&w.embedding),
            layers: w
                .layers
                .iter()
                .map(|l| crate::weights::LayerWeights {
                    w_ih: zero(&l.w_ih),
                    w_hh: zero(&l.w_hh),
                    b_ih: zero(&l.b_ih),
                    b_hh: zero(&l.b_hh),
                })
                .collect(),
            out_w: zero(&w.out_w),
            out_b: zero(&w.out_b),
        };
        let n = if model.batch_norm.is_some() { w.hidden } else { 0 };
        Grads { weights, gamma: vec![0.0; n], beta: vec![0.0; n] }
    }

    pub fn clear(&mut self) {
        for t in self.tensors_mut() {
            t.fill(0.0);
        }
    }

    /// Every gradient tensor, in [`Model::tensors_mut`]'s order.
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        let mut out = weight_tensors_mut(&mut self.weights);
        if !self.gamma.is_empty() {
            out.push(&mut self.gamma);
            out.push(&mut self.beta);
        }
        out
    }
}

fn weight_tensors_mut(w: &mut LstmWeights) -> Vec<&mut Vec<f32>> {
    let mut out = vec![&mut w.embedding];
    for l in &mut w.layers {
        out.push(&mut l.w_ih);
        out.push(&mut l.w_hh);
        out.push(&mut l.b_ih);
        out.push(&mut l.b_hh);
    }
    out.push(&mut w.out_w);
    out.push(&mut w.out_b);
    out
}

impl Model {
    pub fn new(weights: LstmWeights, batch_norm: bool, dropout: f32) -> Model {
        let bn = batch_norm.then(|| BatchNorm::new(weights.hidden));
        Model { weights, batch_norm: bn, dropout }
    }

    /// Every trainable tensor, in a fixed order (the optimiser's and the checkpoint's).
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        let mut out = weight_tensors_mut(&mut self.weights);
        if let Some(bn) = &mut self.batch_norm {
            out.push(&mut bn.gamma);
            out.push(&mut bn.beta);
        }
        out
    }

    /// The weights for inference: batch norm (with its running statistics) folded into the
    /// output layer, so the exported graph is embedding → LSTM → linear.
    pub fn inference_weights(&self) -> LstmWeights {
        let mut w = self.weights.clone();
        if let Some(bn) = &self.batch_norm {
            let h = w.hidden;
            for r in 0..w.vocab {
                let mut shift = 0.0;
                for k in 0..h {
                    let s = bn.gamma[k] / (bn.running_var[k] + BN_EPS).sqrt();
                    shift += w.out_w[r * h + k] * (bn.beta[k] - s * bn.running_mean[k]);
                    w.out_w[r * h + k] *= s;
                }
                w.out_b[r] += shift;
            }
        }
        w
    }

    /// Forward pass over a window, updating `state`. With `train` (an RNG for dropout), the
    /// workspace keeps what [`Model::backward`] needs and batch norm uses batch statistics.
    pub fn forward(
        &mut self,
        batch: &Batch,
        state: &mut State,
        ws: &mut Workspace,
        train: Option<&mut Pcg64Mcg>,
        hold_id: u32,
    ) -> Stats {
        let w = &self.weights;
        let (tn, bn, h, v) = (batch.steps, batch.streams, w.hidden, w.vocab);
        let rows = tn * bn;
        assert_eq!(batch.inputs.len(), rows);
        assert_eq!(batch.targets.len(), rows);
        ws.layers.resize_with(w.layers.len(), LayerCache::default);

        for (l, layer) in w.layers.iter().enumerate() {
            let input = if l == 0 { w.embed } else { h };
            let (before, rest) = ws.layers.split_at_mut(l);
            let cache = &mut rest[0];
            cache.x.resize(rows * input, 0.0);
            if l == 0 {
                for (r, &id) in batch.inputs.iter().enumerate() {
                    let id = id as usize;
                    cache.x[r * input..(r + 1) * input].copy_from_slice(&w.embedding[id * input..(id + 1) * input]);
                }
            } else {
                cache.x.copy_from_slice(&before[l - 1].h[bn * h..]);
            }
            cache.gates.resize(rows * 4 * h, 0.0);
            matmul(&mut cache.gates, &cache.x, false, &layer.w_ih, true, rows, input, 4 * h, false);
            for row in cache.gates.chunks_mut(4 * h) {
                for ((g, a), b) in row.iter_mut().zip(&layer.b_ih).zip(&layer.b_hh) {
                    *g += a + b;
                }
            }
            cache.h.resize((tn + 1) * bn * h, 0.0);
            cache.c.resize((tn + 1) * bn * h, 0.0);
            cache.tanh_c.resize(rows * h, 0.0);
            cache.h[..bn * h].copy_from_slice(&state.h[l]);
            cache.c[..bn * h].copy_from_slice(&state.c[l]);
            // W_hh transposed once, so that each step's product reads it row by row (twice as
            // fast in gemm as reading it transposed, for 256 and 512 units).
            transpose(&layer.w_hh, 4 * h, h, &mut ws.w_hh_t);
            let w_hh_t = &ws.w_hh_t;
            // The recurrence, its streams spread over the cores: each part runs its streams
            // through every step of the window, so the cores never wait for each other.
            let bounds = stream_parts(bn);
            let parts = split_by_streams(&mut cache.gates, 4 * h, &bounds)
                .into_par_iter()
                .zip(split_by_streams(&mut cache.h, h, &bounds))
                .zip(split_by_streams(&mut cache.c, h, &bounds))
                .zip(split_by_streams(&mut cache.tanh_c, h, &bounds));
            parts.for_each(|(((mut gates, mut hs), mut cs), mut tanh_cs)| {
                for t in 0..tn {
                    let g = &mut *gates[t];
                    let (h_prev, h_next) = hs.split_at_mut(t + 1);
                    matmul_serial(g, h_prev[t], false, w_hh_t, false, g.len() / (4 * h), h, 4 * h, true);
                    let (c_prev, c_next) = cs.split_at_mut(t + 1);
                    let cells = g.chunks_mut(4 * h).zip(c_prev[t].chunks(h)).zip(c_next[0].chunks_mut(h));
                    for (((gr, c_prev), c_next), (tanh_c, h_next)) in
                        cells.zip(tanh_cs[t].chunks_mut(h).zip(h_next[0].chunks_mut(h)))
                    {
                        lstm_cells(gr, c_prev, c_next, tanh_c, h_next);
                    }
                }
            });
            state.h[l].copy_from_slice(&cache.h[tn * bn * h..]);
            state.c[l].copy_from_slice(&cache.c[tn * bn * h..]);
        }

        // Dropout, batch norm, output layer.
        let top_h = &ws.layers.last().expect("at least one layer").h[bn * h..];
        ws.dropped.clear();
        ws.dropped.extend_from_slice(top_h);
        let training = train.is_some();
        if let Some(rng) = train {
            ws.mask.resize(rows * h, 1.0);
            if self.dropout > 0.0 {
                // Four 16-bit uniform draws from each 64-bit random number.
                let keep = 1.0 - self.dropout;
                let threshold = (keep * 65536.0).round() as u64;
                for (masks, xs) in ws.mask.chunks_mut(4).zip(ws.dropped.chunks_mut(4)) {
                    let bits = rng.next_u64();
                    for (k, (m, x)) in masks.iter_mut().zip(xs).enumerate() {
                        *m = if (bits >> (16 * k)) & 0xffff < threshold { 1.0 / keep } else { 0.0 };
                        *x *= *m;
                    }
                }
            } else {
                ws.mask.fill(1.0);
            }
        }
        ws.top.clear();
        ws.top.extend_from_slice(&ws.dropped);
        if let Some(norm) = &mut self.batch_norm {
            let (mean, var) = if training {
                let mut mean = vec![0.0f32; h];
                let mut var = vec![0.0f32; h];
                for row in ws.dropped.chunks(h) {
                    for (m, x) in mean.iter_mut().zip(row) {
                        *m += x;
                    }
                }
                mean.iter_mut().for_each(|m| *m /= rows as f32);
                for row in ws.dropped.chunks(h) {
                    for k in 0..h {
                        var[k] += (row[k] - mean[k]).powi(2);
                    }
                }
                var.iter_mut().for_each(|s| *s /= rows as f32);
                for k in 0..h {
                    norm.running_mean[k] = (1.0 - BN_MOMENTUM) * norm.running_mean[k] + BN_MOMENTUM * mean[k];
                    let unbiased = var[k] * rows as f32 / (rows.max(2) - 1) as f32;
                    norm.running_var[k] = (1.0 - BN_MOMENTUM) * norm.running_var[k] + BN_MOMENTUM * unbiased;
                }
                (mean, var)
            } else {
                (norm.running_mean.clone(), norm.running_var.clone())
            };
            ws.inv_std.clear();
            ws.inv_std.extend(var.iter().map(|v| 1.0 / (v + BN_EPS).sqrt()));
            ws.xhat.resize(rows * h, 0.0);
            for (r, row) in ws.top.chunks_mut(h).enumerate() {
                for k in 0..h {
                    let xh = (row[k] - mean[k]) * ws.inv_std[k];
                    ws.xhat[r * h + k] = xh;
                    row[k] = norm.gamma[k] * xh + norm.beta[k];
                }
            }
        }
        let w = &self.weights;
        ws.probs.resize(rows * v, 0.0);
        matmul(&mut ws.probs, &ws.top, false, &w.out_w, true, rows, h, v, false);
        let mut stats = Stats::default();
        for (r, row) in ws.probs.chunks_mut(v).enumerate() {
            let mut best = 0;
            for k in 0..v {
                row[k] += w.out_b[k];
                if row[k] > row[best] {
                    best = k;
                }
            }
            let max = row[best];
            row.iter_mut().for_each(|x| *x -= max);
            exp_in_place(row);
            let inv = 1.0 / row.iter().sum::<f32>();
            row.iter_mut().for_each(|x| *x *= inv);
            let target = batch.targets[r];
            if target >= 0 {
                let t = target as usize;
                stats.nll -= (row[t].max(1e-30) as f64).ln();
                stats.count += 1;
                stats.correct += (best == t) as usize;
                if target as u32 != hold_id {
                    stats.count_no_hold += 1;
                    stats.correct_no_hold += (best == t) as usize;
                }
            }
        }
        stats
    }

    /// Backward pass after a training [`Model::forward`] on the same batch: adds the
    /// gradients of the mean loss over the counted targets to `grads`.
    pub fn backward(&self, batch: &Batch, ws: &mut Workspace, grads: &mut Grads, count: usize) {
        let w = &self.weights;
        let (tn, bn, h, v) = (batch.steps, batch.streams, w.hidden, w.vocab);
        let rows = tn * bn;
        let scale = 1.0 / count.max(1) as f32;
        // Softmax cross-entropy: d logits = (p − onehot) / count, zero for padding.
        for (r, row) in ws.probs.chunks_mut(v).enumerate() {
            let target = batch.targets[r];
            if target < 0 {
                row.fill(0.0);
                continue;
            }
            row[target as usize] -= 1.0;
            row.iter_mut().for_each(|x| *x *= scale);
        }
        let d_logits = &ws.probs;
        matmul(&mut grads.weights.out_w, d_logits, true, &ws.top, false, v, rows, h, true);
        for row in d_logits.chunks(v) {
            for (g, d) in grads.weights.out_b.iter_mut().zip(row) {
                *g += d;
            }
        }
        ws.d_top.resize(rows * h, 0.0);
        matmul(&mut ws.d_top, d_logits, false, &w.out_w, false, rows, v, h, false);
        if let Some(norm) = &self.batch_norm {
            let mut sum_d = vec![0.0f32; h];
            let mut sum_dx = vec![0.0f32; h];
            for r in 0..rows {
                for k in 0..h {
                    let d = ws.d_top[r * h + k];
                    grads.gamma[k] += d * ws.xhat[r * h + k];
                    grads.beta[k] += d;
                    let dxh = d * norm.gamma[k];
                    sum_d[k] += dxh;
                    sum_dx[k] += dxh * ws.xhat[r * h + k];
                }
            }
            let n = rows as f32;
            for r in 0..rows {
                for k in 0..h {
                    let dxh = ws.d_top[r * h + k] * norm.gamma[k];
                    ws.d_top[r * h + k] = ws.inv_std[k] / n * (n * dxh - sum_d[k] - ws.xhat[r * h + k] * sum_dx[k]);
                }
            }
        }
        for (d, m) in ws.d_top.iter_mut().zip(&ws.mask) {
            *d *= m;
        }

        // LSTM layers, top to bottom; `d_top` holds d h of the layer being processed.
        for (l, layer) in w.layers.iter().enumerate().rev() {
            let input = if l == 0 { w.embed } else { h };
            let cache = &ws.layers[l];
            ws.d_gates.resize(rows * 4 * h, 0.0);
            ws.d_h_next.clear();
            ws.d_h_next.resize(bn * h, 0.0);
            ws.d_c_next.clear();
            ws.d_c_next.resize(bn * h, 0.0);
            // As in the forward pass, each part of the streams on a core of its own.
            let bounds = stream_parts(bn);
            let d_top = &ws.d_top;
            let parts = split_by_streams(&mut ws.d_gates, 4 * h, &bounds)
                .into_par_iter()
                .zip(split_by_streams(&mut ws.d_h_next, h, &bounds))
                .zip(split_by_streams(&mut ws.d_c_next, h, &bounds))
                .zip(bounds.par_windows(2));
            parts.for_each(|(((mut d_gates, mut d_h_next), mut d_c_next), range)| {
                let (d_h_next, d_c_next) = (&mut *d_h_next[0], &mut *d_c_next[0]);
                let rows = |t: usize, width: usize| (t * bn + range[0]) * width..(t * bn + range[1]) * width;
                for t in (0..tn).rev() {
                    let dg = &mut *d_gates[t];
                    let streams = cache.gates[rows(t, 4 * h)]
                        .chunks(4 * h)
                        .zip(dg.chunks_mut(4 * h))
                        .zip(cache.c[rows(t, h)].chunks(h));
                    let above = cache.tanh_c[rows(t, h)].chunks(h).zip(d_top[rows(t, h)].chunks(h));
                    for (((gr, dr), c_prev), ((tanh_c, d_h_in), (d_h_next, d_c_next))) in
                        streams.zip(above.zip(d_h_next.chunks(h).zip(d_c_next.chunks_mut(h))))
                    {
                        lstm_cells_backward(gr, c_prev, tanh_c, d_h_in, d_h_next, d_c_next, dr);
                    }
                    matmul_serial(d_h_next, dg, false, &layer.w_hh, false, range[1] - range[0], 4 * h, h, false);
                }
            });
            let lg = &mut grads.weights.layers[l];
            matmul(&mut lg.w_hh, &ws.d_gates, true, &cache.h[..rows * h], false, 4 * h, rows, h, true);
            matmul(&mut lg.w_ih, &ws.d_gates, true, &cache.x, false, 4 * h, rows, input, true);
            for row in ws.d_gates.chunks(4 * h) {
                for ((gi, gh), d) in lg.b_ih.iter_mut().zip(lg.b_hh.iter_mut()).zip(row) {
                    *gi += d;
                    *gh += d;
                }
            }
            ws.d_x.resize(rows * input, 0.0);
            matmul(&mut ws.d_x, &ws.d_gates, false, &layer.w_ih, false, rows, 4 * h, input, false);
            if l > 0 {
                std::mem::swap(&mut ws.d_top, &mut ws.d_x);
            } else {
                for (r, &id) in batch.inputs.iter().enumerate() {
                    let id = id as usize;
                    let dst = &mut grads.weights.embedding[id * input..(id + 1) * input];
                    for (g, d) in dst.iter_mut().zip(&ws.d_x[r * input..(r + 1) * input]) {
                        *g += d;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn dropout_drops_its_share_and_scales_the_rest() {
        let mut model = Model::new(LstmWeights::random(9, 4, 32, 1, 1), false, 0.3);
        let (steps, streams) = (16, 40);
        let inputs: Vec<u32> = (0..steps * streams).map(|i| (i % 9) as u32).collect();
        let targets: Vec<i32> = inputs.iter().map(|&i| ((i + 1) % 9) as i32).collect();
        let batch = Batch { inputs: &inputs, targets: &targets, steps, streams };
        let mut ws = Workspace::default();
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        model.forward(&batch, &mut State::zeros(1, streams, 32), &mut ws, Some(&mut rng), 0);
        let dropped = ws.mask.iter().filter(|&&m| m == 0.0).count() as f64 / ws.mask.len() as f64;
        assert!((dropped - 0.3).abs() < 0.01, "dropped {dropped}");
        assert!(ws.mask.iter().all(|&m| m == 0.0 || (m - 1.0 / 0.7).abs() < 1e-6));
    }
}
