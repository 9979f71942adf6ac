//! The models shipped in `models/`: each card is valid and matches its ONNX file, and the
//! ONNX model run through ONNX Runtime (the plugin's path) reproduces the trainer's logits
//! in its golden file to within 1e-4 — fed whole, and token by token with state carried.
//! Needs the ONNX Runtime library (`cargo xtask ort`).

use continuo_core::card::{card_path_for, ModelCard};
use continuo_core::inference::ContinuationModel;
use continuo_core::EncodingKind;
use std::path::{Path, PathBuf};

fn models() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
        .collect();
    out.sort();
    out
}

#[test]
fn shipped_models_agree_with_their_golden_files() {
    let models = models();
    let kinds: Vec<EncodingKind> =
        models.iter().map(|m| ModelCard::load(&card_path_for(m)).unwrap().encoding.kind).collect();
    assert!(
        kinds.contains(&EncodingKind::Melody) && kinds.contains(&EncodingKind::Chords),
        "models/ must ship a melody and a chords model: {models:?}"
    );
    for path in models {
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 8 << 20, "{}: {size} bytes", path.display());
        let mut model =
            ContinuationModel::load(&path).unwrap_or_else(|e| panic!("{e} (run `cargo xtask ort` for the runtime)"));
        let golden_path = path.with_extension("golden.json");
        let golden: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&golden_path).unwrap_or_else(|e| panic!("{}: {e}", golden_path.display())),
        )
        .unwrap();
        let ids: Vec<u32> = golden["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let expected: Vec<f32> = golden["logits"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32))
            .collect();
        let whole = model.feed_all(&ids).unwrap();
        let worst = whole.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "{}: whole sequence differs by {worst}", path.display());
        model.reset();
        let mut stepped = Vec::new();
        for &id in &ids {
            stepped.extend_from_slice(model.feed(&[id]).unwrap());
        }
        let worst = stepped.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "{}: token by token differs by {worst}", path.display());
        println!("{}: {} tokens agree with the trainer to {worst:.1e}", path.display(), ids.len());
    }
}
