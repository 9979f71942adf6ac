//! ONNX Runtime's telemetry stays off in a program that turns it off first thing in `main`
//! (as `trainer` and the standalone do): loading a model with a fresh `HOME` leaves no
//! telemetry store (`~/.cache/Microsoft/DeveloperTools/.onnxruntime/`). Its own test binary,
//! so that this process starts ONNX Runtime with that `HOME`. Needs `cargo xtask ort`.

use continuo_core::inference::{ContinuationModel, TELEMETRY_SWITCH};
use std::path::Path;

#[test]
fn loading_a_model_writes_no_telemetry_store() {
    let temp = tempfile::Builder::new().prefix("continuo-telemetry-").tempdir().unwrap();
    let home = temp.path();
    // The only test in this process: nothing else reads the environment meanwhile.
    std::env::set_var("HOME", home);
    std::env::set_var(TELEMETRY_SWITCH, "1");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");
    let mut m = ContinuationModel::load(&model).unwrap_or_else(|e| panic!("{e} (run `cargo xtask ort`)"));
    m.reset();
    let store = home.join(".cache/Microsoft/DeveloperTools/.onnxruntime");
    assert!(!store.exists(), "{} appeared", store.display());
}
