//! The hand-written backward pass against central finite differences (in every tensor of a
//! small network, with and without batch norm, over a window that carries state in and
//! has padding), and against candle's autograd on the same network built from plain ops.

use candle_core::{DType, Device, Tensor, Var};
use continuo_trainer::codes::Code;
use continuo_trainer::network::{Batch, Grads, Model, State, Workspace};
use continuo_trainer::weights::LstmWeights;
use rand_core::SeedableRng;
use rand_pcg::Pcg64Mcg;

const HOLD: u32 = 2;

struct Case {
    inputs: Vec<Code>,
    targets: Vec<i32>,
    steps: usize,
    streams: usize,
    state: State,
}

fn case(model: &Model, steps: usize, streams: usize, seed: u64) -> Case {
    let v = model.weights.vocab as u64;
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x >> 33
    };
    // A metre-aware network's inputs carry a metre of 2/4 (codes with rows), and each
    // stream's window comes after 64 steps (eight bars) of its song, so that its lookback
    // reaches back into them.
    let metre = continuo_core::metre::Metre { bar_steps: 8, downbeat: 1 };
    let rows = |k: usize| (model.weights.metre_rows > 0).then(|| metre.rows(k as i64));
    let lanes: Vec<Vec<Code>> = (0..streams)
        .map(|_| {
            let ids: Vec<u32> = (0..64 + steps).map(|_| (next() % v) as u32 % 3).collect();
            let mut codes = continuo_trainer::codes::with_lookback(&ids, rows, 99);
            // A harmony network's: some classes under each step, none under some.
            let harmony: Vec<u16> =
                (0..ids.len()).map(|k| if k % 5 == 0 { 0 } else { (next() % 4096) as u16 }).collect();
            continuo_trainer::codes::with_harmony(&mut codes, &harmony, |_| true);
            codes[64..].to_vec()
        })
        .collect();
    let inputs: Vec<Code> = (0..steps * streams).map(|i| lanes[i % streams][i / streams]).collect();
    let targets: Vec<i32> = (0..steps * streams).map(|i| if i % 7 == 3 { -1 } else { (next() % v) as i32 }).collect();
    let (l, h) = (model.weights.num_layers(), model.weights.hidden);
    let mut state = State::zeros(l, streams, h);
    for layer in 0..l {
        for k in 0..streams * h {
            state.h[layer][k] = ((next() % 1000) as f32 / 1000.0 - 0.5) * 0.8;
            state.c[layer][k] = ((next() % 1000) as f32 / 1000.0 - 0.5) * 1.6;
        }
    }
    Case { inputs, targets, steps, streams, state }
}

fn loss(model: &mut Model, c: &Case) -> (f64, Grads) {
    let batch = Batch { inputs: &c.inputs, targets: &c.targets, steps: c.steps, streams: c.streams };
    let mut ws = Workspace::default();
    let mut state = c.state.clone();
    let mut rng = Pcg64Mcg::seed_from_u64(1);
    let stats = model.forward(&batch, &mut state, &mut ws, Some(&mut rng), HOLD);
    let mut grads = Grads::zeros_like(model);
    model.backward(&batch, &mut ws, &mut grads, stats.count);
    (stats.mean_nll(), grads)
}

fn finite_differences(batch_norm: bool, dropout: f32) {
    finite_differences_of(LstmWeights::random(7, 3, 4, 2, 11), batch_norm, dropout);
}

fn finite_differences_of(weights: LstmWeights, batch_norm: bool, dropout: f32) {
    let mut model = Model::new(weights, batch_norm, dropout);
    if let Some(bn) = &mut model.batch_norm {
        bn.gamma = vec![1.3, 0.7, -0.4, 1.1];
        bn.beta = vec![0.1, -0.2, 0.3, 0.0];
    }
    let c = case(&model, 5, 3, 99);
    let (_, grads) = loss(&mut model, &c);
    let mut analytic = grads.clone();
    let analytic: Vec<Vec<f32>> = analytic.tensors_mut().into_iter().map(|t| t.clone()).collect();
    let eps = 1e-2f32;
    let mut worst = 0.0f64;
    for (ti, grad) in analytic.iter().enumerate() {
        for (k, &g) in grad.iter().enumerate() {
            let original = model.tensors_mut()[ti][k];
            model.tensors_mut()[ti][k] = original + eps;
            let (up, _) = loss(&mut model, &c);
            model.tensors_mut()[ti][k] = original - eps;
            let (down, _) = loss(&mut model, &c);
            model.tensors_mut()[ti][k] = original;
            let numeric = (up - down) / (2.0 * eps as f64);
            let err = (numeric - g as f64).abs() / (1e-3 + numeric.abs().max(g.abs() as f64));
            worst = worst.max(err);
            assert!(err < 2e-2, "tensor {ti} index {k}: numeric {numeric} analytic {g}");
        }
    }
    println!("finite differences (batch norm {batch_norm}, dropout {dropout}): worst relative error {worst:.2e}");
}

#[test]
fn backward_matches_finite_differences() {
    finite_differences(false, 0.0);
}

/// Dropout masks come from a seeded RNG, so every evaluation drops the same units.
#[test]
fn backward_with_dropout_matches_finite_differences() {
    finite_differences(false, 0.3);
}

/// The metre rows' gradients: each step's two rows get its input's gradient.
#[test]
fn backward_with_metre_inputs_matches_finite_differences() {
    finite_differences_of(LstmWeights::random(7, 3, 4, 1, 12).with_metre(12), false, 0.0);
}

/// The lookback rows' gradients: each step's four rows get its input's gradient.
#[test]
fn backward_with_lookback_inputs_matches_finite_differences() {
    finite_differences_of(LstmWeights::random(7, 3, 4, 1, 13).with_lookback(13), false, 0.0);
}

/// The harmony rows' gradients: each step's twelve rows get its input's gradient.
#[test]
fn backward_with_harmony_inputs_matches_finite_differences() {
    finite_differences_of(LstmWeights::random(7, 3, 4, 1, 14).with_lookback(14).with_harmony(14), false, 0.0);
}

#[test]
fn backward_with_batch_norm_matches_finite_differences() {
    finite_differences(true, 0.2);
}

/// The same network from candle's plain ops; returns the loss and candle's gradients for
/// every tensor in `Model::tensors_mut` order.
fn candle_gradients(model: &mut Model, c: &Case) -> (f64, Vec<Vec<f32>>) {
    let dev = Device::Cpu;
    let w = model.weights.clone();
    let (h, e, v) = (w.hidden, w.embed, w.vocab);
    let (tn, bn) = (c.steps, c.streams);
    let var =
        |data: &[f32], shape: &[usize]| Var::from_tensor(&Tensor::from_slice(data, shape, &dev).unwrap()).unwrap();
    let emb = var(&w.embedding, &[v, e]);
    let layers: Vec<[Var; 4]> = w
        .layers
        .iter()
        .enumerate()
        .map(|(l, lw)| {
            let input = if l == 0 { e } else { h };
            [
                var(&lw.w_ih, &[4 * h, input]),
                var(&lw.w_hh, &[4 * h, h]),
                var(&lw.b_ih, &[4 * h]),
                var(&lw.b_hh, &[4 * h]),
            ]
        })
        .collect();
    let out_w = var(&w.out_w, &[v, h]);
    let out_b = var(&w.out_b, &[v]);
    let ids: Vec<u32> = c.inputs.iter().map(|&code| continuo_trainer::codes::token(code)).collect();
    let ids = Tensor::from_slice(&ids, &[tn * bn], &dev).unwrap();
    let mut x = emb.as_tensor().index_select(&ids, 0).unwrap(); // [TB, E]
    let sig = |t: &Tensor| ((t.neg().unwrap().exp().unwrap() + 1.0).unwrap()).recip().unwrap();
    for (l, [w_ih, w_hh, b_ih, b_hh]) in layers.iter().enumerate() {
        let mut hs = Tensor::from_slice(&c.state.h[l], &[bn, h], &dev).unwrap();
        let mut cs = Tensor::from_slice(&c.state.c[l], &[bn, h], &dev).unwrap();
        let mut outs = Vec::new();
        for t in 0..tn {
            let xt = x.narrow(0, t * bn, bn).unwrap();
            let g = xt
                .matmul(&w_ih.as_tensor().t().unwrap())
                .unwrap()
                .add(&hs.matmul(&w_hh.as_tensor().t().unwrap()).unwrap())
                .unwrap()
                .broadcast_add(b_ih.as_tensor())
                .unwrap()
                .broadcast_add(b_hh.as_tensor())
                .unwrap();
            let i = sig(&g.narrow(1, 0, h).unwrap());
            let f = sig(&g.narrow(1, h, h).unwrap());
            let gg = g.narrow(1, 2 * h, h).unwrap().tanh().unwrap();
            let o = sig(&g.narrow(1, 3 * h, h).unwrap());
            cs = f.mul(&cs).unwrap().add(&i.mul(&gg).unwrap()).unwrap();
            hs = o.mul(&cs.tanh().unwrap()).unwrap();
            outs.push(hs.clone());
        }
        x = Tensor::cat(&outs, 0).unwrap();
    }
    let logits = x.matmul(&out_w.as_tensor().t().unwrap()).unwrap().broadcast_add(out_b.as_tensor()).unwrap();
    let max = logits.max_keepdim(1).unwrap();
    let shifted = logits.broadcast_sub(&max).unwrap();
    let log_sum = shifted.exp().unwrap().sum_keepdim(1).unwrap().log().unwrap();
    let log_probs = shifted.broadcast_sub(&log_sum).unwrap();
    let counted: Vec<usize> = (0..tn * bn).filter(|&r| c.targets[r] >= 0).collect();
    let mut picks = vec![0f32; tn * bn * v];
    for &r in &counted {
        picks[r * v + c.targets[r] as usize] = -1.0 / counted.len() as f32;
    }
    let picks = Tensor::from_slice(&picks, &[tn * bn, v], &dev).unwrap();
    let loss = log_probs.mul(&picks).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let get = |v: &Var| {
        grads.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap()
    };
    let mut out = vec![get(&emb)];
    for [a, b, cc, d] in &layers {
        out.extend([get(a), get(b), get(cc), get(d)]);
    }
    out.push(get(&out_w));
    out.push(get(&out_b));
    (loss.to_scalar::<f32>().unwrap() as f64, out)
}

#[test]
fn backward_matches_candle_autograd() {
    matches_candle(4);
}

/// 37 streams on four threads: the recurrence runs in four parts of 9 or 10 streams.
#[test]
fn backward_matches_candle_autograd_with_the_streams_split_over_four_threads() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    pool.install(|| matches_candle(37));
}

fn matches_candle(streams: usize) {
    let weights = LstmWeights::random(23, 8, 16, 3, 5);
    let mut model = Model::new(weights, false, 0.0);
    let c = case(&model, 12, streams, 7);
    let (ours_loss, mut grads) = loss(&mut model, &c);
    let (candle_loss, theirs) = candle_gradients(&mut model, &c);
    assert!((ours_loss - candle_loss).abs() < 1e-4, "loss {ours_loss} vs {candle_loss}");
    for (ti, (a, b)) in grads.tensors_mut().into_iter().zip(&theirs).enumerate() {
        // Relative to the tensor's largest gradient; element by element, so a NaN fails.
        let scale = b.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-6);
        if let Err(e) = continuo_core::parity::agree(a, b, 1e-4 * scale) {
            panic!("tensor {ti} (largest gradient {scale}): {e}");
        }
    }
}
