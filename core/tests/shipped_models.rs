//! The models shipped in `models/`: each card is valid and matches its ONNX file, and the
//! ONNX model run through ONNX Runtime (the plugin's path) reproduces the trainer's logits
//! in its golden file to within 1e-4 — fed whole, and token by token with state carried.
//! Needs the ONNX Runtime library (`cargo xtask ort`).

use continuo_core::card::{card_path_for, ModelCard};
use continuo_core::golden::Golden;
use continuo_core::inference::ContinuationModel;
use continuo_core::parity::agree;
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
        let golden = std::fs::read_to_string(&golden_path).unwrap_or_else(|e| panic!("{}: {e}", golden_path.display()));
        let (tokens, worst) =
            check_golden(&mut model, &golden).unwrap_or_else(|e| panic!("{}: {e}", golden_path.display()));
        println!("{}: {} tokens agree with the trainer to {worst:.1e}", path.display(), tokens);
    }
}

/// Feeds a golden file's ids (with their metre rows and harmony, for a model that reads them) to the model,
/// whole and token by token with state carried, and compares the logits with the file's,
/// from a fresh state: (tokens, worst difference). A `null` logit reads as NaN.
fn check_golden(model: &mut ContinuationModel, golden: &str) -> Result<(usize, f32), String> {
    let golden: Golden = serde_json::from_str(golden).map_err(|e| e.to_string())?;
    let (ids, metre, expected) = (&golden.ids, golden.metre_rows(), golden.flat_logits());
    let harmony = golden.harmony_masks();
    model.reset();
    let whole = if ids.is_empty() {
        Vec::new()
    } else {
        model.feed_all_over(ids, &metre, &harmony).map_err(|e| e.to_string())?
    };
    agree(&whole, &expected, 1e-4).map_err(|e| format!("whole sequence: {e}"))?;
    model.reset();
    let mut stepped = Vec::new();
    for ((&id, &rows), &under) in ids.iter().zip(&metre).zip(&harmony) {
        model.set_harmony(under);
        stepped.extend_from_slice(model.feed_at(&[id], &[rows]).map_err(|e| e.to_string())?);
    }
    let worst = agree(&stepped, &expected, 1e-4).map_err(|e| format!("token by token: {e}"))?;
    Ok((ids.len(), worst))
}

/// The check above cannot pass by accident: an empty golden file, a missing row, a NaN
/// (`null`) or a changed logit each fail it.
#[test]
fn a_bad_golden_file_fails_the_check() {
    let path = models().into_iter().next().expect("a shipped model");
    let mut model =
        ContinuationModel::load(&path).unwrap_or_else(|e| panic!("{e} (run `cargo xtask ort` for the runtime)"));
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("golden.json")).unwrap()).unwrap();
    assert!(check_golden(&mut model, &golden.to_string()).is_ok());
    let broken = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut g = golden.clone();
        change(&mut g);
        g.to_string()
    };
    let cases = [
        ("empty", r#"{"tokens": [], "ids": [], "logits": []}"#.to_string()),
        ("a row short", broken(&|g| drop(g["logits"].as_array_mut().unwrap().pop()))),
        ("a NaN logit", broken(&|g| g["logits"][1][2] = serde_json::Value::Null)),
        ("a changed logit", broken(&|g| g["logits"][0][0] = (g["logits"][0][0].as_f64().unwrap() + 0.01).into())),
    ];
    for (what, text) in cases {
        let result = check_golden(&mut model, &text);
        assert!(result.is_err(), "{what}: passed with {result:?}");
        println!("{what}: {}", result.unwrap_err());
    }
}

/// A copy of a shipped model's three files in a folder of its own.
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    for ext in ["onnx", "json", "golden.json"] {
        std::fs::copy(models.join(format!("{name}.{ext}")), dir.path().join(format!("{name}.{ext}"))).unwrap();
    }
    let path = dir.path().join(format!("{name}.onnx"));
    (dir, path)
}

/// A card of the right size with the wrong tokens (two pitches swapped), or a golden file
/// whose logits the model does not reproduce, is refused when the model loads: it would
/// play wrong pitches (issue #24). Without its golden file the model loads.
#[test]
fn a_model_that_does_not_match_its_golden_file_is_refused_at_load() {
    let (_dir, path) = copy_of("folk-melody");
    assert!(ContinuationModel::load(&path).is_ok(), "the copy loads");
    let card_path = card_path_for(&path);
    let original = std::fs::read_to_string(&card_path).unwrap();
    let mut card: serde_json::Value = serde_json::from_str(&original).unwrap();
    let vocabulary = card["encoding"]["vocabulary"].as_array_mut().unwrap();
    let (a, b) =
        (vocabulary.iter().position(|t| t == "60").unwrap(), vocabulary.iter().position(|t| t == "62").unwrap());
    vocabulary.swap(a, b);
    std::fs::write(&card_path, card.to_string()).unwrap();
    let err = ContinuationModel::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("folk-melody.onnx") && err.contains("golden file") && err.contains("not the model's"),
        "{err}"
    );

    std::fs::write(&card_path, original).unwrap();
    let golden_path = continuo_core::golden::golden_path_for(&path);
    let mut golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&golden_path).unwrap()).unwrap();
    golden["logits"][3][7] = (golden["logits"][3][7].as_f64().unwrap() + 0.1).into();
    std::fs::write(&golden_path, golden.to_string()).unwrap();
    let err = ContinuationModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("does not reproduce its golden file's logits"), "{err}");

    std::fs::remove_file(&golden_path).unwrap();
    assert!(ContinuationModel::load(&path).is_ok(), "a model without a golden file loads");
}
