//! `cargo xtask`: project chores that are not part of any product binary.
//!
//! - `cargo xtask ort [--target windows] [--dest DIR]` puts the ONNX Runtime shared library
//!   that Continuo loads at run time into `target/onnxruntime/` (Windows':
//!   `target/onnxruntime-windows/`; or DIR), taking it from the PyPI wheel of the pinned
//!   `onnxruntime` (core's `ORT_VERSION`) through pip when it is not there yet, and prints
//!   its path.
//! - `cargo xtask install` puts the bundles, the ONNX Runtime library and the models where
//!   hosts and the plugin find them (see `install.rs`).
//! - `cargo xtask perf [--quick] [--time-to-model PRESET]... [--corpus DIR]` runs the benchmarks and writes
//!   `docs/PERFORMANCE.md` (see `perf.rs`).
//! - `cargo xtask finetune [--model FILE] [--corpus DIR]` measures how fast a shipped model
//!   adapts to an unseen style and writes `docs/perf/finetune-MODEL-on-CORPUS.md` (see
//!   `finetune.rs`).
//! - `cargo xtask windows [--no-build]` cross-builds Continuo for Windows and zips the
//!   plugin, the standalone, the trainer, ONNX Runtime and the models (see `windows.rs`).
//! - `cargo xtask bundle continuo --release` (and nice-plug-xtask's other commands) builds
//!   `target/bundled/Continuo.clap`, `Continuo.vst3` and the standalone binary.

mod finetune;
mod install;
mod ort;
mod perf;
mod windows;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ort") => ort::run(&args[1..]),
        Some("install") => install::run(&ort::workspace_root()),
        Some("perf") => perf::run(&ort::workspace_root(), &args[1..]),
        Some("finetune") => finetune::run(&ort::workspace_root(), &args[1..]),
        Some("windows") => windows::run(&ort::workspace_root(), &args[1..]),
        Some(_) => nice_plug_xtask::main_with_args("cargo xtask", args).map_err(|e| format!("{e:#}")),
        None => Err("usage: cargo xtask ort [--target windows] [--dest DIR] | install | windows [--no-build] | perf [--quick] [--time-to-model PRESET]... [--corpus DIR] | finetune [--model FILE] [--corpus DIR] | bundle continuo --release".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
