//! The session memory on a shipped model: a phrase that keeps coming back is continued with
//! more of its own material when the memory is blended in than without it, over many random
//! seeds. Needs the ONNX Runtime library (`cargo xtask ort`).

use continuo_core::continuation::Continuer;
use continuo_core::inference::ContinuationModel;
use continuo_core::sampler::SamplerSettings;
use continuo_core::Token;
use std::collections::HashSet;
use std::path::Path;

/// A two-bar motif on the 16th grid (notes and holds), four times over.
fn repeated_motif() -> Vec<Token> {
    let motif = "64 _ _ _ 67 _ 65 _ 64 _ 62 _ 60 _ _ _ 62 _ 64 _ 65 _ _ _ 64 _ 62 _ 60 _ _ _";
    let tokens: Vec<Token> = motif.split(' ').map(|t| t.parse().unwrap()).collect();
    tokens.iter().cycle().take(4 * tokens.len()).cloned().collect()
}

/// The share of the continuation's 8-token windows that also stand in the seed.
fn reuse(seed: &[Token], continuation: &[Token]) -> f64 {
    let known: HashSet<&[Token]> = seed.windows(8).collect();
    let windows: Vec<&[Token]> = continuation.windows(8).collect();
    windows.iter().filter(|w| known.contains(*w)).count() as f64 / windows.len() as f64
}

fn mean_reuse(memory: f32, seeds: u64) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");
    let model = ContinuationModel::load(&path).unwrap_or_else(|e| panic!("{e} (run `cargo xtask ort`)"));
    let mut continuer = Continuer::new(model, 1);
    let seed = repeated_motif();
    let settings = SamplerSettings { memory, ..SamplerSettings::default() };
    let mut total = 0.0;
    for s in 0..seeds {
        continuer.reseed(s);
        continuer.forget();
        continuer.prime(&seed, 0).unwrap();
        continuer.remember(&seed);
        let continuation: Vec<Token> = (0..64).map(|_| continuer.next(&settings).unwrap()).collect();
        total += reuse(&seed, &continuation);
    }
    total / seeds as f64
}

#[test]
fn the_memory_brings_the_players_motif_back() {
    let (without, with) = (mean_reuse(0.0, 40), mean_reuse(1.0, 40));
    println!("8-token windows of the continuation found in the seed: memory 0 {without:.3}, memory 1 {with:.3}");
    assert!(with > without + 0.05, "memory 0 {without:.3}, memory 1 {with:.3}");
}
