//! Per-token inference, the plugin's path, on one thread: the stateful ONNX session stepping
//! one token (ours) against the seed studies' way — re-running the model over the last 100
//! (and 64) tokens for every next token — and against a plain-Rust LSTM step on the same
//! weights (the floor). For the shipped melody model and for a 3 × 512 network with random
//! weights. Run: `cargo bench -p continuo-trainer --bench inference` (needs `cargo xtask ort`).

use continuo_core::card::{EncodingSpec, Training};
use continuo_core::inference::ContinuationModel;
use continuo_core::song::KeyNormalisation;
use continuo_core::{EncodingKind, Grid, Token};
use continuo_trainer::export::{model_card, write_model};
use continuo_trainer::weights::{LstmState, LstmWeights};
use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;

/// A 3 × 512 model with random weights, exported to a temporary folder.
fn big_model() -> (PathBuf, LstmWeights) {
    let weights = LstmWeights::random(130, 64, 512, 3, 1);
    let dir = std::env::temp_dir().join("continuo-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.onnx");
    let mut vocabulary = vec![Token::SongEnd, Token::Rest, Token::Hold];
    vocabulary.extend((0..127u8).map(Token::note));
    let encoding = EncodingSpec {
        kind: EncodingKind::Melody,
        steps_per_beat: Grid::SIXTEENTH,
        min_chord_count: None,
        key_normalisation: KeyNormalisation::CMajorAMinor,
        pitch_range: [0, 126],
        vocabulary,
    };
    let card = model_card(&weights, "big", "big.onnx", encoding, Training::default(), BTreeMap::new());
    write_model(&weights, &path, &card).unwrap();
    (path, weights)
}

/// The shipped melody model. Its weights live in the ONNX file, so the plain-Rust floor uses
/// random weights of the same shape: the arithmetic per token is the same.
fn shipped() -> (PathBuf, LstmWeights) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");
    let card = continuo_core::card::ModelCard::load(&continuo_core::card::card_path_for(&path)).unwrap();
    let o = &card.onnx;
    let weights = LstmWeights::random(card.encoding.vocabulary.len(), o.embedding_size as usize, o.hidden_size as usize, o.layers as usize, 2);
    (path, weights)
}

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

fn inference(c: &mut Criterion) {
    let (path, weights) = shipped();
    bench_model(c, "essen-melody (1 x 256)", path, weights);
    let (path, weights) = big_model();
    bench_model(c, "3 x 512", path, weights);
}

criterion_group!(benches, inference);
criterion_main!(benches);
