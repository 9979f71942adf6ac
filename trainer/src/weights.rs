//! The network's weights as plain arrays, in PyTorch's layout (gate order i, f, g, o), and
//! a plain-Rust forward pass: the reference that training, ONNX export and the plugin's
//! path are checked against, and the floor that inference is benchmarked against.
//!
//! Network: token embedding [V, E] → N LSTM layers (hidden H) → linear [V, H] + bias → logits.
//! A metre-aware network's embedding table has [`METRE_ROWS`] more rows, two of which (the
//! step's metre, [`crate::codes`]) are added to the token's; a lookback network's has
//! [`lookback::rows`] more after those, four of which (the step's lookback) are added too; a
//! harmony network's has [`accompaniment::ROWS`] more after all those, twelve of which (each
//! pitch class absent or present under the melody) are added too.

use crate::codes::Code;
use continuo_core::accompaniment;
use continuo_core::lookback;
use continuo_core::metre::METRE_ROWS;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerWeights {
    /// [4H, input], gates i, f, g, o.
    pub w_ih: Vec<f32>,
    /// [4H, H].
    pub w_hh: Vec<f32>,
    /// [4H].
    pub b_ih: Vec<f32>,
    /// [4H].
    pub b_hh: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LstmWeights {
    pub vocab: usize,
    pub embed: usize,
    pub hidden: usize,
    /// [V + metre_rows + lookback_rows + harmony_rows, E].
    pub embedding: Vec<f32>,
    /// 0, or [`METRE_ROWS`] for a metre-aware network.
    #[serde(default)]
    pub metre_rows: usize,
    /// 0, or [`lookback::rows`]`(V)` for a lookback network (which is metre-aware).
    #[serde(default)]
    pub lookback_rows: usize,
    /// 0, or [`accompaniment::ROWS`] for a harmony network.
    #[serde(default)]
    pub harmony_rows: usize,
    pub layers: Vec<LayerWeights>,
    /// [V, H].
    pub out_w: Vec<f32>,
    /// [V].
    pub out_b: Vec<f32>,
}

/// The recurrent state of every layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmState {
    /// [layers][H].
    pub h: Vec<Vec<f32>>,
    pub c: Vec<Vec<f32>>,
}

impl LstmState {
    pub fn zeros(layers: usize, hidden: usize) -> LstmState {
        LstmState { h: vec![vec![0.0; hidden]; layers], c: vec![vec![0.0; hidden]; layers] }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A dot product in eight independent lanes, which the compiler turns into SIMD.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (xa, xb) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += xa[l] * xb[l];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `out[r] += Σ_k m[r, k] · x[k]` for a row-major `m` of `out.len()` rows: with AVX2 and
/// FMA where the processor has them (checked at run time), else in portable eight-lane code.
fn matvec_add(m: &[f32], x: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor has AVX2 and FMA (checked just above).
        return unsafe { avx2::matvec_add(m, x, out) };
    }
    let cols = x.len();
    for (o, row) in out.iter_mut().zip(m.chunks_exact(cols)) {
        *o += dot(row, x);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// As `super::matvec_add`, four rows at a time in 256-bit fused multiply-adds.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn matvec_add(m: &[f32], x: &[f32], out: &mut [f32]) {
        let cols = x.len();
        let full = cols / 8 * 8;
        assert!(m.len() >= out.len() * cols);
        let mut r = 0;
        while r < out.len() {
            let rows = (out.len() - r).min(4);
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut k = 0;
            while k < full {
                // SAFETY: k + 8 <= cols, and row r + i < out.len(), so every load is inside `m` and `x`.
                let xv = unsafe { _mm256_loadu_ps(x.as_ptr().add(k)) };
                for (i, a) in acc.iter_mut().enumerate().take(rows) {
                    let mv = unsafe { _mm256_loadu_ps(m.as_ptr().add((r + i) * cols + k)) };
                    *a = _mm256_fmadd_ps(mv, xv, *a);
                }
                k += 8;
            }
            for (i, a) in acc.iter().enumerate().take(rows) {
                let mut lanes = [0.0f32; 8];
                // SAFETY: `lanes` holds eight floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *a) };
                let row = &m[(r + i) * cols..(r + i + 1) * cols];
                let tail: f32 = row[full..].iter().zip(&x[full..]).map(|(a, b)| a * b).sum();
                out[r + i] += lanes.iter().sum::<f32>() + tail;
            }
            r += rows;
        }
    }
}

impl LstmWeights {
    /// Random weights, uniform in ±1/√H as PyTorch initialises an LSTM.
    pub fn random(vocab: usize, embed: usize, hidden: usize, layers: usize, seed: u64) -> LstmWeights {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let bound = 1.0 / (hidden as f32).sqrt();
        let mut uniform = |n: usize, scale: f32| -> Vec<f32> {
            (0..n).map(|_| ((rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale).collect()
        };
        let embedding = uniform(vocab * embed, 1.0);
        let layers = (0..layers)
            .map(|l| {
                let input = if l == 0 { embed } else { hidden };
                LayerWeights {
                    w_ih: uniform(4 * hidden * input, bound),
                    w_hh: uniform(4 * hidden * hidden, bound),
                    b_ih: uniform(4 * hidden, bound),
                    b_hh: uniform(4 * hidden, bound),
                }
            })
            .collect();
        LstmWeights {
            vocab,
            embed,
            hidden,
            embedding,
            metre_rows: 0,
            lookback_rows: 0,
            harmony_rows: 0,
            layers,
            out_w: uniform(vocab * hidden, bound),
            out_b: uniform(vocab, bound),
        }
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// `rows` more embedding rows, random as the token rows are.
    fn add_rows(&mut self, rows: usize, seed: u64) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let values = rows * self.embed;
        self.embedding.extend((0..values).map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0));
    }

    /// The same weights with metre rows added to the embedding.
    pub fn with_metre(mut self, seed: u64) -> LstmWeights {
        if self.metre_rows == 0 && self.lookback_rows == 0 {
            self.add_rows(METRE_ROWS, seed ^ 0x006d_6574_7265);
            self.metre_rows = METRE_ROWS;
        }
        self
    }

    /// The same weights with metre and lookback rows added to the embedding.
    pub fn with_lookback(self, seed: u64) -> LstmWeights {
        let mut w = self.with_metre(seed);
        if w.lookback_rows == 0 {
            let rows = lookback::rows(w.vocab);
            w.add_rows(rows, seed ^ 0x6c6f_6f6b_6261_636b);
            w.lookback_rows = rows;
        }
        w
    }

    /// The same weights with harmony rows added to the embedding (after any others: add them
    /// last).
    pub fn with_harmony(mut self, seed: u64) -> LstmWeights {
        if self.harmony_rows == 0 {
            self.add_rows(accompaniment::ROWS, seed ^ 0x0068_6172_6d6f_6e79);
            self.harmony_rows = accompaniment::ROWS;
        }
        self
    }

    /// The embedding rows an input code ([`crate::codes`]) reads: the token's, and its metre
    /// rows and lookback rows in a network that has them.
    pub fn input_rows(&self, code: Code) -> impl Iterator<Item = usize> + use<'_> {
        let metre = crate::codes::rows(code).map(|r| self.vocab + r as usize);
        let lookback_base = self.vocab + self.metre_rows;
        let lookback = crate::codes::lookback_rows(code, self.vocab).map(|r| lookback_base + r as usize);
        let harmony_base = lookback_base + self.lookback_rows;
        let harmony = accompaniment::rows(crate::codes::harmony(code)).map(|r| harmony_base + r as usize);
        std::iter::once(crate::codes::token(code) as usize)
            .chain(metre.into_iter().filter(move |_| self.metre_rows > 0))
            .chain(lookback.into_iter().filter(move |_| self.lookback_rows > 0))
            .chain(harmony.into_iter().filter(move |_| self.harmony_rows > 0))
    }

    /// The network's input for an input code: the sum of the embedding rows it reads, into
    /// `x` [E].
    pub fn embed_code(&self, code: Code, x: &mut [f32]) {
        let e = self.embed;
        x.fill(0.0);
        for r in self.input_rows(code) {
            x.iter_mut().zip(&self.embedding[r * e..(r + 1) * e]).for_each(|(x, m)| *x += m);
        }
    }

    /// One input code ([`crate::codes`]: a token id, with its metre and lookback) through
    /// the network, updating `state`; the logits go into `logits` [V].
    pub fn step(&self, code: Code, state: &mut LstmState, logits: &mut [f32]) {
        let (e, h) = (self.embed, self.hidden);
        let mut x = vec![0.0f32; e];
        self.embed_code(code, &mut x);
        let mut gates = vec![0.0f32; 4 * h];
        for (l, layer) in self.layers.iter().enumerate() {
            gates.copy_from_slice(&layer.b_ih);
            for (g, b) in gates.iter_mut().zip(&layer.b_hh) {
                *g += b;
            }
            matvec_add(&layer.w_ih, &x, &mut gates);
            matvec_add(&layer.w_hh, &state.h[l], &mut gates);
            let (hs, cs) = (&mut state.h[l], &mut state.c[l]);
            for j in 0..h {
                let i = sigmoid(gates[j]);
                let f = sigmoid(gates[h + j]);
                let g = gates[2 * h + j].tanh();
                let o = sigmoid(gates[3 * h + j]);
                cs[j] = f * cs[j] + i * g;
                hs[j] = o * cs[j].tanh();
            }
            x.clone_from(&state.h[l]);
        }
        logits.copy_from_slice(&self.out_b);
        matvec_add(&self.out_w, &x, logits);
    }

    /// Input codes through the network from `state`; logits after each, [T × V].
    pub fn forward(&self, codes: &[Code], state: &mut LstmState) -> Vec<f32> {
        let v = self.vocab;
        let mut out = vec![0.0; codes.len() * v];
        for (t, &code) in codes.iter().enumerate() {
            self.step(code, state, &mut out[t * v..(t + 1) * v]);
        }
        out
    }
}
