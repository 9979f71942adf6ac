//! Per-token inference, the plugin's path, on one thread: the stateful ONNX session stepping
//! one token (ours) against the seed studies' way — re-running the model over the last 100
//! (and 64) tokens for every next token — and against a plain-Rust LSTM step on the same
//! weights (the floor). For the shipped melody model and for a 3 × 512 network with random
//! weights (the worker's whole step with and without the session memory is in `perf.rs`).
//! Run: `cargo bench -p continuo-trainer --bench inference` (needs `cargo xtask ort`).

mod common;

use common::{random_model, shipped};
use continuo_core::inference::ContinuationModel;
use continuo_trainer::weights::{LstmState, LstmWeights};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::PathBuf;

fn bench_model(c: &mut Criterion, name: &str, path: PathBuf, weights: LstmWeights) {
    let mut model = ContinuationModel::load(&path).expect("run `cargo xtask ort` first");
    let v = weights.vocab as u32;
    let history: Vec<u32> = (0..100).map(|i| (i * 7 % v as usize) as u32).collect();
    let mut group = c.benchmark_group(name);
    let mut k = 0u32;
    group.bench_function("onnx stateful step", |b| {
        b.iter(|| {
            k = (k + 1) % v;
            black_box(model.feed(&[k]).unwrap()[0])
        })
    });
    for window in [100usize, 64] {
        group.bench_function(format!("onnx re-run over {window} tokens"), |b| {
            b.iter(|| {
                model.reset();
                black_box(model.feed(&history[100 - window..]).unwrap()[0])
            })
        });
    }
    let mut state = LstmState::zeros(weights.num_layers(), weights.hidden);
    let mut logits = vec![0.0; weights.vocab];
    group.bench_function("plain-Rust step (floor)", |b| {
        b.iter(|| {
            k = (k + 1) % v;
            weights.step(k as continuo_trainer::codes::Code, &mut state, &mut logits);
            black_box(logits[0])
        })
    });
    group.finish();
}

fn inference(c: &mut Criterion) {
    let (path, weights) = shipped();
    bench_model(c, "essen-melody (1 x 256)", path, weights);
    let (path, weights) = random_model("criterion-3x512", 130, 64, 512, 3);
    bench_model(c, "3 x 512", path, weights);
}

criterion_group!(benches, inference);
criterion_main!(benches);
