//! The trainable network and its hand-written forward and backward passes, run on the
//! training thread: embedding → N LSTM layers → dropout → (batch norm) → linear → softmax
//! cross-entropy. Each LSTM layer is one fused whole-window operation: one GEMM projects the
//! inputs of every step, and the backward pass gathers the weight gradients of all steps in
//! two batched GEMMs — the way fast CPU and GPU LSTMs do. The recurrence in between (one
//! small GEMM and the cells per step) is split by streams over rayon's threads: each part
//! runs through the whole window on its own core, with no synchronisation per step. A
//! workspace made with [`Workspace::one_core`] keeps all of it on the calling thread, for a
//! training loop that runs parts of a batch side by side itself.
//!
//! Rows are time-major: row `t·B + b` is step `t` of stream `b`. Targets of -1 are padding
//! and count for nothing. The state carried between windows (truncated BPTT) is detached.
//!
//! Legend of dimension names (shapes in comments are written with them):
//! - T: steps in the window (`steps`); B: streams, the parallel sequences of a batch
//!   (`streams`); TB: the window's rows, T·B;
//! - E: the embedding's width; H: a layer's hidden units (`hidden`); `in`: a layer's input
//!   width (E for the first, H above it); 4H: the gates i, f, g, o; V: the vocabulary.
//!
//! `h` and `c` always name buffers (hidden and cell states), never a width; `bn` and
//! `batch_norm` always name batch normalisation, never a count.

use crate::activation::{exp_in_place, lstm_cells, lstm_cells_backward};
use crate::gemm::{matmul, matmul_serial, Mat, Write};
use crate::weights::{LayerWeights, LstmWeights};
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
    pub inputs: &'a [crate::codes::Code],
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
    lstm: LstmGrads,
    /// A layer's recurrent weights, transposed [H, 4H].
    w_hh_t: Vec<f32>,
    /// Whether the products and the recurrence stay on the calling thread.
    one_core: bool,
}

impl Workspace {
    /// Buffers whose passes stay on the calling thread (no rayon tasks, serial products).
    pub fn one_core() -> Workspace {
        Workspace { one_core: true, ..Workspace::default() }
    }
}

/// `c = a · b` (or `+=`), on every core unless `one_core`.
fn product(one_core: bool, c: &mut [f32], a: Mat, b: Mat, write: Write) {
    if one_core {
        matmul_serial(c, a, b, write);
    } else {
        matmul(c, a, b, write);
    }
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

/// Stream boundaries `[0, …, streams]` that split a batch over the cores (one part on
/// `one_core`).
fn stream_parts(streams: usize, one_core: bool) -> Vec<usize> {
    let cores = if one_core { 1 } else { rayon::current_num_threads() };
    let parts = cores.min(streams / MIN_PART_STREAMS).max(1);
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
            metre_rows: w.metre_rows,
            lookback_rows: w.lookback_rows,
            harmony_rows: w.harmony_rows,
            layers: w
                .layers
                .iter()
                .map(|l| LayerWeights {
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

    /// Adds the gradients of another part of the same batch (`other`, left as it was).
    pub fn add(&mut self, other: &mut Grads) {
        for (mine, theirs) in self.tensors_mut().into_iter().zip(other.tensors_mut()) {
            for (a, b) in mine.iter_mut().zip(theirs.iter()) {
                *a += b;
            }
        }
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

    /// Every trainable tensor, in the one fixed order of the optimiser, the gradients and the
    /// checkpoint.
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        self.tensors_and_statistics_mut().0
    }

    /// [`Model::tensors_mut`], and beside them the batch-norm running statistics (saved with
    /// the model, not trained).
    pub fn tensors_and_statistics_mut(&mut self) -> (Vec<&mut Vec<f32>>, Vec<&mut Vec<f32>>) {
        let mut tensors = weight_tensors_mut(&mut self.weights);
        let mut statistics = Vec::new();
        if let Some(bn) = &mut self.batch_norm {
            tensors.extend([&mut bn.gamma, &mut bn.beta]);
            statistics.extend([&mut bn.running_mean, &mut bn.running_var]);
        }
        (tensors, statistics)
    }

    /// The weights for inference: batch norm (with its running statistics) folded into the
    /// output layer, so the exported graph is embedding → LSTM → linear.
    pub fn inference_weights(&self) -> LstmWeights {
        let mut w = self.weights.clone();
        if let Some(bn) = &self.batch_norm {
            let hidden = w.hidden;
            for r in 0..w.vocab {
                let mut shift = 0.0;
                for k in 0..hidden {
                    let s = bn.gamma[k] / (bn.running_var[k] + BN_EPS).sqrt();
                    shift += w.out_w[r * hidden + k] * (bn.beta[k] - s * bn.running_mean[k]);
                    w.out_w[r * hidden + k] *= s;
                }
                w.out_b[r] += shift;
            }
        }
        w
    }

    /// Forward pass over a window, updating `state`. With `train` (an RNG for dropout), the
    /// workspace keeps what [`Model::backward`] needs and batch norm uses batch statistics.
    /// A logit that is not a number makes the returned loss NaN: nothing is clamped.
    pub fn forward(
        &mut self,
        batch: &Batch,
        state: &mut State,
        ws: &mut Workspace,
        train: Option<&mut Pcg64Mcg>,
        hold_id: u32,
    ) -> Stats {
        let training = train.is_some();
        self.hidden_forward(batch, state, ws, train);
        if let Some(norm) = &mut self.batch_norm {
            batch_norm_forward(norm, training, &mut ws.top, &mut ws.xhat, &mut ws.inv_std);
        }
        self.output_and_loss(batch, ws, hold_id)
    }

    /// [`Model::forward`] through a shared reference, so that parts of a batch can run it side
    /// by side: for a model without batch norm (whose statistics need the whole batch).
    pub fn forward_part(
        &self,
        batch: &Batch,
        state: &mut State,
        ws: &mut Workspace,
        train: Option<&mut Pcg64Mcg>,
        hold_id: u32,
    ) -> Stats {
        assert!(self.batch_norm.is_none(), "batch norm needs the whole batch in one forward pass");
        self.hidden_forward(batch, state, ws, train);
        self.output_and_loss(batch, ws, hold_id)
    }

    /// Embedding, the LSTM layers and dropout: the top output [TB, H] into `ws.top`.
    fn hidden_forward(&self, batch: &Batch, state: &mut State, ws: &mut Workspace, train: Option<&mut Pcg64Mcg>) {
        let w = &self.weights;
        let (streams, hidden) = (batch.streams, w.hidden);
        let rows = batch.steps * streams;
        assert_eq!(batch.inputs.len(), rows);
        assert_eq!(batch.targets.len(), rows);
        ws.layers.resize_with(w.layers.len(), LayerCache::default);
        for (l, layer) in w.layers.iter().enumerate() {
            let (below, rest) = ws.layers.split_at_mut(l);
            let cache = &mut rest[0];
            match below.last() {
                None => embedding_forward(w, batch.inputs, &mut cache.x),
                Some(below) => {
                    cache.x.clear();
                    cache.x.extend_from_slice(&below.h[streams * hidden..]);
                }
            }
            let (h0, c0) = (&mut state.h[l], &mut state.c[l]);
            lstm_forward(layer, cache, h0, c0, &mut ws.w_hh_t, ws.one_core);
        }
        let top_h = &ws.layers.last().expect("at least one layer").h[streams * hidden..];
        dropout_forward(top_h, self.dropout, train, &mut ws.mask, &mut ws.dropped);
        ws.top.clear();
        ws.top.extend_from_slice(&ws.dropped);
    }

    /// The output layer and the loss, from `ws.top`.
    fn output_and_loss(&self, batch: &Batch, ws: &mut Workspace, hold_id: u32) -> Stats {
        let w = &self.weights;
        output_forward(&w.out_w, &w.out_b, &ws.top, &mut ws.probs, ws.one_core);
        softmax_loss_forward(&mut ws.probs, batch.targets, w.vocab, hold_id)
    }

    /// Backward pass after a training [`Model::forward`] on the same batch: adds the
    /// gradients of the mean loss over the counted targets to `grads`.
    pub fn backward(&self, batch: &Batch, ws: &mut Workspace, grads: &mut Grads, count: usize) {
        let w = &self.weights;
        softmax_loss_backward(&mut ws.probs, batch.targets, w.vocab, count);
        output_backward(
            &w.out_w,
            &ws.top,
            &ws.probs,
            &mut grads.weights.out_w,
            &mut grads.weights.out_b,
            &mut ws.d_top,
            ws.one_core,
        );
        if let Some(norm) = &self.batch_norm {
            batch_norm_backward(norm, &ws.xhat, &ws.inv_std, &mut ws.d_top, &mut grads.gamma, &mut grads.beta);
        }
        dropout_backward(&mut ws.d_top, &ws.mask);
        // LSTM layers, top to bottom; `d_top` holds d h of the layer being processed.
        for (l, layer) in w.layers.iter().enumerate().rev() {
            let d_x = lstm_backward(
                layer,
                &ws.layers[l],
                &ws.d_top,
                &mut grads.weights.layers[l],
                &mut ws.lstm,
                batch.streams,
                ws.one_core,
            );
            if l > 0 {
                std::mem::swap(&mut ws.d_top, d_x);
            } else {
                embedding_backward(w, batch.inputs, d_x, &mut grads.weights.embedding);
            }
        }
    }
}

// One forward/backward pair per stage. Rows are time-major (`t·B + b`); TB = steps × streams,
// E = embedding size, H = hidden units, V = vocabulary.

/// x[TB, E] = embedding[token] (+ embedding[V + metre row] for each of the two metre rows,
/// in a metre-aware network, and the four lookback rows after those in a lookback network)
/// of every input code.
fn embedding_forward(w: &LstmWeights, inputs: &[crate::codes::Code], x: &mut Vec<f32>) {
    let e = w.embed;
    x.clear();
    x.resize(inputs.len() * e, 0.0);
    for (&code, x) in inputs.iter().zip(x.chunks_mut(e)) {
        w.embed_code(code, x);
    }
}

/// d embedding[row] += d x[input] for every row an input code reads.
fn embedding_backward(w: &LstmWeights, inputs: &[crate::codes::Code], d_x: &[f32], d_embedding: &mut [f32]) {
    let e = w.embed;
    let mut add = |row: usize, d: &[f32]| {
        for (g, d) in d_embedding[row * e..(row + 1) * e].iter_mut().zip(d) {
            *g += d;
        }
    };
    for (&code, d) in inputs.iter().zip(d_x.chunks(e)) {
        for row in w.input_rows(code) {
            add(row, d);
        }
    }
}

/// One LSTM layer over the window, from `cache.x` [TB, in] and the carried state h, c
/// [B, H] (updated to the window's last step): gates [TB, 4H], h and c [(T+1)B, H] with the
/// carried state first, tanh c [TB, H].
fn lstm_forward(
    layer: &LayerWeights,
    cache: &mut LayerCache,
    h0: &mut [f32],
    c0: &mut [f32],
    w_hh_t: &mut Vec<f32>,
    one_core: bool,
) {
    let hidden = layer.b_ih.len() / 4;
    let (streams, input) = (h0.len() / hidden, layer.w_ih.len() / (4 * hidden));
    let rows = cache.x.len() / input;
    let steps = rows / streams;
    // Every step's input projection in one product: gates = x · W_ihᵀ + b_ih + b_hh.
    cache.gates.resize(rows * 4 * hidden, 0.0);
    let w_ih = Mat::transpose_of(&layer.w_ih, input, 4 * hidden);
    product(one_core, &mut cache.gates, Mat::new(&cache.x, rows, input), w_ih, Write::Replace);
    for row in cache.gates.chunks_mut(4 * hidden) {
        for ((g, a), b) in row.iter_mut().zip(&layer.b_ih).zip(&layer.b_hh) {
            *g += a + b;
        }
    }
    cache.h.resize((steps + 1) * streams * hidden, 0.0);
    cache.c.resize((steps + 1) * streams * hidden, 0.0);
    cache.tanh_c.resize(rows * hidden, 0.0);
    cache.h[..streams * hidden].copy_from_slice(h0);
    cache.c[..streams * hidden].copy_from_slice(c0);
    // W_hh transposed once, so that each step's product reads it row by row (twice as fast
    // in gemm as reading it transposed, for 256 and 512 units).
    transpose(&layer.w_hh, 4 * hidden, hidden, w_hh_t);
    let w_hh_t = &*w_hh_t;
    // The recurrence, its streams spread over the cores: each part runs its streams through
    // every step of the window, so the cores never wait for each other.
    let bounds = stream_parts(streams, one_core);
    let parts = split_by_streams(&mut cache.gates, 4 * hidden, &bounds)
        .into_par_iter()
        .zip(split_by_streams(&mut cache.h, hidden, &bounds))
        .zip(split_by_streams(&mut cache.c, hidden, &bounds))
        .zip(split_by_streams(&mut cache.tanh_c, hidden, &bounds));
    parts.for_each(|(((mut gates, mut hs), mut cs), mut tanh_cs)| {
        for t in 0..steps {
            let g = &mut *gates[t];
            let (h_prev, h_next) = hs.split_at_mut(t + 1);
            let (c_prev, c_next) = cs.split_at_mut(t + 1);
            let part_streams = g.len() / (4 * hidden);
            let recurrent = Mat::new(w_hh_t, hidden, 4 * hidden);
            matmul_serial(g, Mat::new(h_prev[t], part_streams, hidden), recurrent, Write::Add);
            // Each stream's cells: its gates [4H], c before and after, tanh c and h [H].
            for b in 0..part_streams {
                let (four, one) = (stream_row(b, 4 * hidden), stream_row(b, hidden));
                let (c_prev, tanh_c) = (&c_prev[t][one.clone()], &mut tanh_cs[t][one.clone()]);
                lstm_cells(&mut g[four], c_prev, &mut c_next[0][one.clone()], tanh_c, &mut h_next[0][one]);
            }
        }
    });
    h0.copy_from_slice(&cache.h[steps * streams * hidden..]);
    c0.copy_from_slice(&cache.c[steps * streams * hidden..]);
}

/// Stream `b`'s slice of a row of `width` values per stream.
fn stream_row(b: usize, width: usize) -> std::ops::Range<usize> {
    b * width..(b + 1) * width
}

/// Buffers of the LSTM layers' backward pass, reused from window to window.
#[derive(Default)]
struct LstmGrads {
    /// d pre-activation gates [TB, 4H].
    d_gates: Vec<f32>,
    /// d h and d c flowing back from the next step [B, H].
    d_h_next: Vec<f32>,
    d_c_next: Vec<f32>,
    /// d x [TB, in], the layer below's d h.
    d_x: Vec<f32>,
}

/// The backward pass of [`lstm_forward`] from d h [TB, H] of the layer's output: adds the
/// layer's weight gradients to `grads` and returns d x [TB, in].
fn lstm_backward<'a>(
    layer: &LayerWeights,
    cache: &LayerCache,
    d_top: &[f32],
    grads: &mut LayerWeights,
    ws: &'a mut LstmGrads,
    streams: usize,
    one_core: bool,
) -> &'a mut Vec<f32> {
    let hidden = layer.b_ih.len() / 4;
    let (rows, input) = (d_top.len() / hidden, layer.w_ih.len() / (4 * hidden));
    let steps = rows / streams;
    ws.d_gates.resize(rows * 4 * hidden, 0.0);
    ws.d_h_next.clear();
    ws.d_h_next.resize(streams * hidden, 0.0);
    ws.d_c_next.clear();
    ws.d_c_next.resize(streams * hidden, 0.0);
    // As in the forward pass, each part of the streams on a core of its own.
    let bounds = stream_parts(streams, one_core);
    let parts = split_by_streams(&mut ws.d_gates, 4 * hidden, &bounds)
        .into_par_iter()
        .zip(split_by_streams(&mut ws.d_h_next, hidden, &bounds))
        .zip(split_by_streams(&mut ws.d_c_next, hidden, &bounds))
        .zip(bounds.par_windows(2));
    parts.for_each(|(((mut d_gates, mut d_h_next), mut d_c_next), range)| {
        let (d_h_next, d_c_next) = (&mut *d_h_next[0], &mut *d_c_next[0]);
        // This part's rows of step `t` in a whole-window buffer of `width` values per stream.
        let rows = |t: usize, width: usize| (t * streams + range[0]) * width..(t * streams + range[1]) * width;
        let part_streams = range[1] - range[0];
        for t in (0..steps).rev() {
            let dg = &mut *d_gates[t];
            let (gates, c_prev) = (&cache.gates[rows(t, 4 * hidden)], &cache.c[rows(t, hidden)]);
            let (tanh_c, d_h_in) = (&cache.tanh_c[rows(t, hidden)], &d_top[rows(t, hidden)]);
            // Each stream's cells backward: d gates from its d h (from above and from the
            // next step) and d c, which becomes the d c of the step before.
            for b in 0..part_streams {
                let (four, one) = (stream_row(b, 4 * hidden), stream_row(b, hidden));
                let (d_h_ahead, d_c) = (&d_h_next[one.clone()], &mut d_c_next[one.clone()]);
                let (g, c) = (&gates[four.clone()], &c_prev[one.clone()]);
                lstm_cells_backward(g, c, &tanh_c[one.clone()], &d_h_in[one], d_h_ahead, d_c, &mut dg[four]);
            }
            let d_g = Mat::new(dg, part_streams, 4 * hidden);
            matmul_serial(d_h_next, d_g, Mat::new(&layer.w_hh, 4 * hidden, hidden), Write::Replace);
        }
    });
    // Weight gradients of every step in two batched products: d W_hh += d gatesᵀ · h_prev,
    // d W_ih += d gatesᵀ · x.
    let d_gates_t = Mat::transpose_of(&ws.d_gates, 4 * hidden, rows);
    product(one_core, &mut grads.w_hh, d_gates_t, Mat::new(&cache.h[..rows * hidden], rows, hidden), Write::Add);
    product(one_core, &mut grads.w_ih, d_gates_t, Mat::new(&cache.x, rows, input), Write::Add);
    for row in ws.d_gates.chunks(4 * hidden) {
        for ((gi, gh), d) in grads.b_ih.iter_mut().zip(grads.b_hh.iter_mut()).zip(row) {
            *gi += d;
            *gh += d;
        }
    }
    ws.d_x.resize(rows * input, 0.0);
    let d_gates = Mat::new(&ws.d_gates, rows, 4 * hidden);
    product(one_core, &mut ws.d_x, d_gates, Mat::new(&layer.w_ih, 4 * hidden, input), Write::Replace);
    &mut ws.d_x
}

/// dropped[TB, H] = top h, each unit kept with probability 1 − p and scaled by 1 / (1 − p)
/// in training (`mask` [TB, H] records the factors); unchanged in evaluation.
fn dropout_forward(top: &[f32], p: f32, train: Option<&mut Pcg64Mcg>, mask: &mut Vec<f32>, dropped: &mut Vec<f32>) {
    dropped.clear();
    dropped.extend_from_slice(top);
    let Some(rng) = train else { return };
    mask.resize(top.len(), 1.0);
    if p <= 0.0 {
        mask.fill(1.0);
        return;
    }
    // Four 16-bit uniform draws from each 64-bit random number.
    let keep = 1.0 - p;
    let threshold = (keep * 65536.0).round() as u64;
    for (masks, xs) in mask.chunks_mut(4).zip(dropped.chunks_mut(4)) {
        let bits = rng.next_u64();
        for (k, (m, x)) in masks.iter_mut().zip(xs).enumerate() {
            *m = if (bits >> (16 * k)) & 0xffff < threshold { 1.0 / keep } else { 0.0 };
            *x *= *m;
        }
    }
}

/// d top h = d dropped · mask.
fn dropout_backward(d: &mut [f32], mask: &[f32]) {
    for (d, m) in d.iter_mut().zip(mask) {
        *d *= m;
    }
}

/// Batch norm of x [TB, H] in place: batch statistics in training (and the running ones
/// updated), the running statistics otherwise. Keeps x̂ [TB, H] and 1/σ [H].
fn batch_norm_forward(
    norm: &mut BatchNorm,
    training: bool,
    x: &mut [f32],
    xhat: &mut Vec<f32>,
    inv_std: &mut Vec<f32>,
) {
    let hidden = norm.gamma.len();
    let rows = x.len() / hidden;
    let (mean, var) = if training {
        let mut mean = vec![0.0f32; hidden];
        let mut var = vec![0.0f32; hidden];
        for row in x.chunks(hidden) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= rows as f32);
        for row in x.chunks(hidden) {
            for ((v, x), m) in var.iter_mut().zip(row).zip(&mean) {
                *v += (x - m).powi(2);
            }
        }
        var.iter_mut().for_each(|s| *s /= rows as f32);
        for k in 0..hidden {
            norm.running_mean[k] = (1.0 - BN_MOMENTUM) * norm.running_mean[k] + BN_MOMENTUM * mean[k];
            let unbiased = var[k] * rows as f32 / (rows.max(2) - 1) as f32;
            norm.running_var[k] = (1.0 - BN_MOMENTUM) * norm.running_var[k] + BN_MOMENTUM * unbiased;
        }
        (mean, var)
    } else {
        (norm.running_mean.clone(), norm.running_var.clone())
    };
    inv_std.clear();
    inv_std.extend(var.iter().map(|v| 1.0 / (v + BN_EPS).sqrt()));
    xhat.resize(rows * hidden, 0.0);
    for (row, xh_row) in x.chunks_mut(hidden).zip(xhat.chunks_mut(hidden)) {
        for k in 0..hidden {
            xh_row[k] = (row[k] - mean[k]) * inv_std[k];
            row[k] = norm.gamma[k] * xh_row[k] + norm.beta[k];
        }
    }
}

/// The backward pass of [`batch_norm_forward`] in training: d γ, d β [H] added to, and
/// d [TB, H] turned from d output into d input.
fn batch_norm_backward(
    norm: &BatchNorm,
    xhat: &[f32],
    inv_std: &[f32],
    d: &mut [f32],
    d_gamma: &mut [f32],
    d_beta: &mut [f32],
) {
    let hidden = norm.gamma.len();
    let n = (d.len() / hidden) as f32;
    let mut sum_d = vec![0.0f32; hidden];
    let mut sum_dx = vec![0.0f32; hidden];
    for (d_row, xh_row) in d.chunks(hidden).zip(xhat.chunks(hidden)) {
        for k in 0..hidden {
            d_gamma[k] += d_row[k] * xh_row[k];
            d_beta[k] += d_row[k];
            let dxh = d_row[k] * norm.gamma[k];
            sum_d[k] += dxh;
            sum_dx[k] += dxh * xh_row[k];
        }
    }
    for (d_row, xh_row) in d.chunks_mut(hidden).zip(xhat.chunks(hidden)) {
        for k in 0..hidden {
            let dxh = d_row[k] * norm.gamma[k];
            d_row[k] = inv_std[k] / n * (n * dxh - sum_d[k] - xh_row[k] * sum_dx[k]);
        }
    }
}

/// logits [TB, V] = top [TB, H] · out_wᵀ + out_b.
fn output_forward(out_w: &[f32], out_b: &[f32], top: &[f32], logits: &mut Vec<f32>, one_core: bool) {
    let (v, hidden) = (out_b.len(), out_w.len() / out_b.len());
    let rows = top.len() / hidden;
    logits.resize(rows * v, 0.0);
    product(one_core, logits, Mat::new(top, rows, hidden), Mat::transpose_of(out_w, hidden, v), Write::Replace);
    for row in logits.chunks_mut(v) {
        for (x, b) in row.iter_mut().zip(out_b) {
            *x += b;
        }
    }
}

/// From d logits [TB, V]: d out_w [V, H] and d out_b [V] added to, d top [TB, H] written.
fn output_backward(
    out_w: &[f32],
    top: &[f32],
    d_logits: &[f32],
    d_out_w: &mut [f32],
    d_out_b: &mut [f32],
    d_top: &mut Vec<f32>,
    one_core: bool,
) {
    let (v, hidden) = (d_out_b.len(), out_w.len() / d_out_b.len());
    let rows = top.len() / hidden;
    product(one_core, d_out_w, Mat::transpose_of(d_logits, v, rows), Mat::new(top, rows, hidden), Write::Add);
    for row in d_logits.chunks(v) {
        for (g, d) in d_out_b.iter_mut().zip(row) {
            *g += d;
        }
    }
    d_top.resize(rows * hidden, 0.0);
    product(one_core, d_top, Mat::new(d_logits, rows, v), Mat::new(out_w, v, hidden), Write::Replace);
}

/// Softmax of every row of logits [TB, V] in place (they become probabilities), and the
/// cross-entropy −ln p(target) of the counted targets (−1 is padding) as log-sum-exp minus
/// the target's logit, so that nothing is clamped: a NaN logit gives a NaN loss.
fn softmax_loss_forward(probs: &mut [f32], targets: &[i32], v: usize, hold_id: u32) -> Stats {
    let mut stats = Stats::default();
    for (row, &target) in probs.chunks_mut(v).zip(targets) {
        let mut best = 0;
        for k in 1..v {
            if row[k] > row[best] {
                best = k;
            }
        }
        let max = row[best];
        row.iter_mut().for_each(|x| *x -= max);
        let target_logit = usize::try_from(target).ok().map(|t| row[t]);
        exp_in_place(row);
        let sum = row.iter().sum::<f32>();
        row.iter_mut().for_each(|x| *x /= sum);
        if let Some(logit) = target_logit {
            let t = target as usize;
            stats.nll += (sum as f64).ln() - logit as f64;
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

/// d logits = (p − onehot(target)) / count in place of the probabilities; zero for padding.
fn softmax_loss_backward(probs: &mut [f32], targets: &[i32], v: usize, count: usize) {
    let scale = 1.0 / count.max(1) as f32;
    for (row, &target) in probs.chunks_mut(v).zip(targets) {
        let Ok(t) = usize::try_from(target) else {
            row.fill(0.0);
            continue;
        };
        row[t] -= 1.0;
        row.iter_mut().for_each(|x| *x *= scale);
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
        let inputs: Vec<crate::codes::Code> = (0..steps * streams).map(|i| (i % 9) as crate::codes::Code).collect();
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
