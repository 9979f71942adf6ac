//! The steering controls on the shipped melody model: sweeping each control moves what it
//! steers in its direction, over 100 random seeds of a continuation of a C major phrase.
//! Prints a sweep table per control (`-- --nocapture`). Needs the ONNX Runtime library
//! (`cargo xtask ort`).

use continuo_core::continuation::Continuer;
use continuo_core::inference::ContinuationModel;
use continuo_core::sampler::SamplerSettings;
use continuo_core::steering::{Scale, Steering};
use continuo_core::Token;
use std::path::Path;

const SEEDS: u64 = 100;
const STEPS: usize = 64;

fn continuer() -> Continuer {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");
    let model = ContinuationModel::load(&path).unwrap_or_else(|e| panic!("{e} (run `cargo xtask ort`)"));
    Continuer::new(model, 1)
}

/// Two bars in C major: the seed of every continuation.
fn phrase() -> Vec<Token> {
    let text = "60 _ 62 _ 64 _ 65 _ 67 _ _ _ 72 _ _ _ 71 _ 69 _ 67 _ 65 _ 64 _ _ _ 62 _ _ _";
    text.split(' ').map(|t| t.parse().unwrap()).collect()
}

/// 64 steps after the phrase for each of 100 seeds, steered by `steering`.
fn continuations(continuer: &mut Continuer, steering: Steering) -> Vec<Vec<Token>> {
    let settings = SamplerSettings { steering, ..SamplerSettings::default() };
    (0..SEEDS)
        .map(|seed| {
            continuer.reseed(seed);
            continuer.prime(&phrase(), 0).unwrap();
            (0..STEPS).map(|_| continuer.next(&settings).unwrap()).collect()
        })
        .collect()
}

fn onsets(tokens: &[Token]) -> Vec<u8> {
    tokens.iter().filter_map(|t| t.pitches().last().copied()).collect()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    assert!(!v.is_empty(), "nothing to measure");
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sweeps `values` of one control, printing and returning the statistic at each.
fn sweep(
    name: &str,
    statistic: &str,
    values: &[f32],
    steer: impl Fn(f32) -> Steering,
    measure: impl Fn(&[Vec<Token>]) -> f64,
) -> Vec<f64> {
    let mut c = continuer();
    println!("\n| {name} | {statistic} |\n|---|---|");
    values
        .iter()
        .map(|&v| {
            let m = measure(&continuations(&mut c, steer(v)));
            println!("| {v} | {m:.3} |");
            m
        })
        .collect()
}

fn increasing(name: &str, measured: &[f64]) {
    assert!(measured.windows(2).all(|w| w[0] < w[1]), "{name} does not rise with its control: {measured:?}");
}

#[test]
fn density_sets_the_onsets_per_bar() {
    let per_bar = |all: &[Vec<Token>]| mean(all.iter().map(|c| onsets(c).len() as f64 * 16.0 / STEPS as f64));
    let m = sweep(
        "Density",
        "onsets per bar",
        &[-1.0, -0.5, 0.0, 0.5, 1.0],
        |v| Steering { density: v, ..Steering::default() },
        per_bar,
    );
    increasing("onsets per bar", &m);
}

#[test]
fn the_register_moves_the_pitches() {
    let mean_pitch = |all: &[Vec<Token>]| mean(all.iter().flat_map(|c| onsets(c)).map(f64::from));
    let centres = [52.0, 60.0, 67.0, 74.0, 81.0];
    let register =
        |centre: f32| Steering { register: Some((centre as u8 - 4, centre as u8 + 4)), ..Steering::default() };
    let m = sweep("Register (centre, ±4 semitones)", "mean pitch", &centres, register, mean_pitch);
    increasing("mean pitch", &m);
    // Hard: nothing outside.
    let mut c = continuer();
    let hard = Steering { register: Some((64, 72)), register_hard: true, ..Steering::default() };
    let all = continuations(&mut c, hard);
    assert!(all.iter().flat_map(|c| onsets(c)).all(|p| (64..=72).contains(&p)));
}

#[test]
fn step_leap_sets_the_intervals() {
    let mean_interval = |all: &[Vec<Token>]| {
        mean(all.iter().flat_map(|c| {
            let p = onsets(c);
            p.windows(2).map(|w| (w[1] as f64 - w[0] as f64).abs()).collect::<Vec<_>>()
        }))
    };
    let m = sweep(
        "Step / leap",
        "mean interval (semitones)",
        &[-1.0, -0.5, 0.0, 0.5, 1.0],
        |v| Steering { leap: v, ..Steering::default() },
        mean_interval,
    );
    increasing("mean interval", &m);
}

#[test]
fn repetition_brings_recent_pitches_back() {
    // The share of onsets whose pitch stood among the 8 onsets before.
    let repeated = |all: &[Vec<Token>]| {
        mean(all.iter().flat_map(|c| {
            let p = onsets(c);
            (8..p.len()).map(|i| p[i - 8..i].contains(&p[i]) as u8 as f64).collect::<Vec<_>>()
        }))
    };
    let m = sweep(
        "Repetition",
        "onsets repeating one of the last 8",
        &[-1.0, -0.5, 0.0, 0.5, 1.0],
        |v| Steering { repetition: v, ..Steering::default() },
        repeated,
    );
    increasing("repeated onsets", &m);
    // Patterns: the share of 4-token windows (rhythm and pitch) that stood in the 32 steps
    // before.
    let patterns = |all: &[Vec<Token>]| {
        mean(all.iter().flat_map(|c| {
            (36..c.len())
                .map(|i| c[i - 36..i - 1].windows(4).any(|w| w == &c[i - 3..=i]) as u8 as f64)
                .collect::<Vec<_>>()
        }))
    };
    let m = sweep(
        "Repetition",
        "4-token patterns repeating from the last 32 steps",
        &[-1.0, -0.5, 0.0, 0.5, 1.0],
        |v| Steering { repetition: v, ..Steering::default() },
        patterns,
    );
    increasing("repeated patterns", &m);
}

#[test]
fn scale_lock_keeps_to_the_key() {
    let in_scale =
        |all: &[Vec<Token>]| mean(all.iter().flat_map(|c| onsets(c)).map(|p| Scale::Key.contains(p) as u8 as f64));
    let m = sweep(
        "Scale lock",
        "onsets in C major",
        &[0.0, 1.0],
        |v| Steering { scale: (v > 0.0).then_some(Scale::Key), ..Steering::default() },
        in_scale,
    );
    assert!(m[1] == 1.0 && m[1] >= m[0], "{m:?}");
}

#[test]
fn every_scale_locks_to_its_pitches() {
    let mut c = continuer();
    for scale in Scale::ALL {
        let all = continuations(&mut c, Steering { scale: Some(scale), ..Steering::default() });
        let notes: Vec<u8> = all.iter().flat_map(|c| onsets(c)).collect();
        assert!(!notes.is_empty() && notes.iter().all(|&p| scale.contains(p)), "{}", scale.name());
    }
}
