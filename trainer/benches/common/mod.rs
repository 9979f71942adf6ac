//! The models both inference benchmarks run: the shipped default, and networks of any shape
//! with random weights, exported to a temporary folder.

use continuo_core::card::{EncodingSpec, Training};
use continuo_trainer::export::{model_card, write_model};
use continuo_trainer::weights::LstmWeights;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A model of the given shape with random weights, exported as `NAME.onnx`.
pub fn random_model(name: &str, vocab: usize, embed: usize, hidden: usize, layers: usize) -> (PathBuf, LstmWeights) {
    let weights = LstmWeights::random(vocab, embed, hidden, layers, 1);
    let dir = std::env::temp_dir().join("continuo-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.onnx"));
    let encoding = EncodingSpec::melody(0..=(vocab - 4) as u8);
    let card = model_card(&weights, name, &format!("{name}.onnx"), encoding, Training::default(), BTreeMap::new());
    write_model(&weights, &path, &card).unwrap();
    (path, weights)
}

/// The shipped default model, and its weights read back from the ONNX file (for the
/// plain-Rust floor).
pub fn shipped() -> (PathBuf, LstmWeights) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");
    let weights = continuo_trainer::export::read_weights(&path).unwrap();
    (path, weights)
}
