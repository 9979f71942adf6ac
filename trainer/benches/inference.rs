//! Per-token inference, the plugin's path, on one thread: the stateful ONNX session stepping
//! one token (ours) against the seed studies' way — re-running the model over the last 100
//! (and 64) tokens for every next token — and against a plain-Rust LSTM step on the same
//! weights (the floor). For the shipped melody model and for a 3 × 512 network with random
//! weights. Also the plugin worker's whole step (`Continuer::next`: the model, sampling and
//! the session memory's learning) with the memory blended in and without, for both shipped
//! models. Run: `cargo bench -p continuo-trainer --bench inference` (needs `cargo xtask ort`).

mod common;

use common::{random_model, shipped};
use continuo_core::continuation::Continuer;
use continuo_core::inference::ContinuationModel;
use continuo_core::sampler::SamplerSettings;
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
            weights.step(k, &mut state, &mut logits);
            black_box(logits[0])
        })
    });
    group.finish();
}

/// A continuation step with and without the session memory, after a session of 2,000
/// tokens (the memory keeps learning from every step it plays).
fn bench_memory(c: &mut Criterion, name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../models/{name}.onnx"));
    let model = ContinuationModel::load(&path).expect("run `cargo xtask ort` first");
    let session: Vec<_> = model.vocab().tokens().iter().cycle().skip(3).step_by(7).take(2000).cloned().collect();
    let mut continuer = Continuer::new(model, 1);
    continuer.prime(&session[..64], 0).unwrap();
    continuer.remember(&session);
    let mut group = c.benchmark_group(format!("{name} continuation step"));
    for memory in [0.0, 0.4] {
        let settings = SamplerSettings { memory, ..SamplerSettings::default() };
        group.bench_function(format!("memory {memory}"), |b| b.iter(|| black_box(continuer.next(&settings).unwrap())));
    }
    group.finish();
}

fn inference(c: &mut Criterion) {
    bench_memory(c, "essen-melody");
    bench_memory(c, "bach-chords");
    let (path, weights) = shipped();
    bench_model(c, "essen-melody (1 x 256)", path, weights);
    let (path, weights) = random_model("criterion-3x512", 130, 64, 512, 3);
    bench_model(c, "3 x 512", path, weights);
}

criterion_group!(benches, inference);
criterion_main!(benches);
