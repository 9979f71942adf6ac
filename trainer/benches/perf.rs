//! Inference figures for the performance report (`cargo xtask perf` runs this and writes
//! `docs/PERFORMANCE.md`): every next token timed on its own, on one thread, so the report
//! gives medians and 99th percentiles, each beside its baseline from the same run:
//! - the stateful ONNX step (the plugin's path) against re-running the model over the last
//!   100 and 64 tokens for every next token (the seed studies' way), and against a
//!   plain-Rust LSTM step on weights of the same shape (the floor);
//! - the step's cost as the hidden size and the number of layers grow;
//! - a whole continuation step (model, sampling, steering) with the session memory blended
//!   in at the plugin's default, against the same step without it;
//! - the plugin's answer step today (the metre-aware default model with its metre, Memory,
//!   Develop and the cadence at their defaults) against the step before them (a model of
//!   the same shape without metre inputs, Memory only).
//!
//! Run: `cargo bench -p continuo-trainer --bench perf -- [--quick] [--json FILE]`.

mod common;

use common::{random_model, shipped};
use continuo_core::continuation::Continuer;
use continuo_core::inference::ContinuationModel;
use continuo_core::sampler::SamplerSettings;
use continuo_trainer::weights::{LstmState, LstmWeights};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

/// Rounds of alternating measurements in [`per_token`].
const ROUNDS: usize = 10;

/// Microseconds per call of `f`, `n` calls, each timed on its own, sorted.
fn timings(n: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..n.div_ceil(10) {
        f(); // warm up
    }
    let mut t: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t
}

fn summary(sorted: &[f64]) -> Value {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    json!({ "median_us": at(0.5), "p99_us": at(0.99), "n": sorted.len() })
}

fn plain_step(weights: &LstmWeights, n: usize) -> Vec<f64> {
    let mut state = LstmState::zeros(weights.num_layers(), weights.hidden);
    let mut logits = vec![0.0; weights.vocab];
    let mut k = 0u32;
    timings(n, || {
        k = (k + 1) % weights.vocab as u32;
        weights.step(k as continuo_trainer::codes::Code, &mut state, &mut logits);
        black_box(logits[0]);
    })
}

fn onnx_step(model: &mut ContinuationModel, vocab: u32, n: usize) -> Vec<f64> {
    let mut k = 0u32;
    timings(n, || {
        k = (k + 1) % vocab;
        black_box(model.feed(&[k]).unwrap()[0]);
    })
}

fn per_token(name: &str, path: PathBuf, weights: LstmWeights, scale: usize) -> Value {
    let mut model = ContinuationModel::load(&path).expect("run `cargo xtask ort` first");
    let v = weights.vocab as u32;
    let history: Vec<u32> = (0..100).map(|i| (i * 7 % v as usize) as u32).collect();
    // Steps and re-runs alternate in rounds, so that a change in the machine's load during
    // the run falls on both sides of the ratio.
    let (mut step, mut w100, mut w64) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        step.extend(onnx_step(&mut model, v, (4000 / scale / ROUNDS).max(2)));
        for (w, out) in [(100, &mut w100), (64, &mut w64)] {
            out.extend(timings((400 / scale / ROUNDS).max(2), || {
                model.reset();
                black_box(model.feed(&history[100 - w..]).unwrap()[0]);
            }));
        }
    }
    for t in [&mut step, &mut w100, &mut w64] {
        t.sort_by(f64::total_cmp);
    }
    let plain = plain_step(&weights, 4000 / scale);
    let median = |t: &[f64]| t[t.len() / 2];
    eprintln!(
        "{name}: step {:.1} µs, 100-token re-run {:.1} µs ({:.1}x), plain-Rust step {:.1} µs",
        median(&step),
        median(&w100),
        median(&w100) / median(&step),
        median(&plain)
    );
    json!({
        "model": name,
        "layers": weights.num_layers(),
        "hidden": weights.hidden,
        "embed": weights.embed,
        "onnx_step": summary(&step),
        "onnx_window_100": summary(&w100),
        "onnx_window_64": summary(&w64),
        "plain_step": summary(&plain),
    })
}

/// A continuation step with and without the session memory, after a session of 2,000
/// tokens (the memory keeps learning from every step it plays), alternating in rounds.
fn memory_step(name: &str, scale: usize) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../models/{name}.onnx"));
    let model = ContinuationModel::load(&path).expect("run `cargo xtask ort` first");
    let session: Vec<_> = model.vocab().tokens().iter().cycle().skip(3).step_by(7).take(2000).cloned().collect();
    let mut continuer = Continuer::new(model, 1);
    continuer.prime(&session[..64], 0).unwrap();
    continuer.remember(&session);
    let (plain, blended) =
        (SamplerSettings::default(), SamplerSettings { memory: MEMORY, ..SamplerSettings::default() });
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        without.extend(timings((2000 / scale / ROUNDS).max(2), || drop(black_box(continuer.next(&plain).unwrap()))));
        with.extend(timings((2000 / scale / ROUNDS).max(2), || drop(black_box(continuer.next(&blended).unwrap()))));
    }
    without.sort_by(f64::total_cmp);
    with.sort_by(f64::total_cmp);
    eprintln!(
        "{name} continuation step: {:.1} µs, with memory {MEMORY} {:.1} µs",
        without[without.len() / 2],
        with[with.len() / 2]
    );
    json!({ "model": name, "memory": MEMORY, "without": summary(&without), "with": summary(&with) })
}

/// The Memory control's default in the plugin.
const MEMORY: f32 = 0.4;

/// A continuer for `name` after a 4-bar call of 3/4, answering up to 4 bars.
fn answering(name: &str, metre: continuo_core::metre::Metre) -> Continuer {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../models/{name}.onnx"));
    let model = ContinuationModel::load(&path).expect("run `cargo xtask ort` first");
    let call: Vec<_> = model.vocab().tokens().iter().cycle().skip(5).step_by(5).take(48).cloned().collect();
    let mut continuer = Continuer::new(model, 1);
    continuer.prime_in(&call, 0, metre).unwrap();
    continuer.remember(&call);
    continuer
}

/// The answer step with the default model (metre and lookback inputs) and every control at
/// its default, against the step before them, alternating in rounds (the first 48 steps of
/// the answer hold its cadence).
fn answer_step(scale: usize) -> Value {
    use continuo_core::continuation::AnswerShape;
    use continuo_core::develop::DEFAULT_DEVELOP;
    let metre = continuo_core::metre::Metre { bar_steps: 12, downbeat: 0 };
    let (mut today, mut before) = (answering("folk-melody", metre), answering("essen-melody", metre));
    let shape = AnswerShape { max_steps: Some(48), key: Some(continuo_core::Key::C_MAJOR) };
    today.shape_answer(&shape);
    let now = SamplerSettings { memory: MEMORY, develop: DEFAULT_DEVELOP, ..SamplerSettings::default() };
    let old = SamplerSettings { memory: MEMORY, cadence: false, ..SamplerSettings::default() };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let n = (480 / scale / ROUNDS).max(2);
    for _ in 0..ROUNDS {
        without.extend(timings(n, || drop(black_box(before.next(&old).unwrap()))));
        with.extend(timings(n, || drop(black_box(today.next(&now).unwrap()))));
    }
    without.sort_by(f64::total_cmp);
    with.sort_by(f64::total_cmp);
    let (a, b) = (with[with.len() / 2], without[without.len() / 2]);
    eprintln!("answer step: folk-melody (metre, lookback, cadence) {a:.1} µs, before {b:.1} µs ({:.2}x)", a / b);
    json!({ "today": "folk-melody", "before": "essen-melody", "with": summary(&with), "without": summary(&without),
            "ratio_of_medians": a / b })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json_out = args.iter().position(|a| a == "--json").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let q = if quick { 10 } else { 1 };

    let (path, weights) = shipped();
    let mut inference = vec![per_token("essen-melody (shipped, 1 x 256)", path, weights, q)];
    let (path, weights) = random_model("lstm-3x512", 130, 128, 512, 3);
    inference.push(per_token("3 x 512, random weights", path, weights, 4 * q));

    let mut scale = Vec::new();
    for layers in [1, 2, 3] {
        for hidden in [128, 256, 512] {
            let (path, weights) = random_model(&format!("scale-{layers}x{hidden}"), 64, 64, hidden, layers);
            let mut model = ContinuationModel::load(&path).unwrap();
            let n = 2000 / q / layers / (hidden / 128);
            let step = onnx_step(&mut model, 64, n);
            let plain = plain_step(&weights, n);
            eprintln!(
                "{layers} x {hidden}: step {:.1} µs, plain {:.1} µs",
                step[step.len() / 2],
                plain[plain.len() / 2]
            );
            scale.push(json!({ "layers": layers, "hidden": hidden, "onnx_step": summary(&step), "plain_step": summary(&plain) }));
        }
    }
    let memory: Vec<Value> = ["essen-melody", "bach-chords"].iter().map(|m| memory_step(m, q)).collect();
    let answer = answer_step(q);
    let report =
        json!({ "inference": inference, "scale_inference": scale, "memory_step": memory, "answer_step": answer });
    let text = serde_json::to_string_pretty(&report).unwrap();
    match json_out {
        Some(p) => std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        None => println!("{text}"),
    }
}
