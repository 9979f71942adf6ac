//! Continuo's trainer as a library: the network's weights and reference forward pass, ONNX
//! export, training, evaluation and generation. `main.rs` is the command line over it.

pub mod activation;
pub mod checkpoint;
pub mod chord_bench;
pub mod codes;
pub mod continuations;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod finetune;
pub mod gemm;
pub mod network;
pub mod optim;
#[cfg(feature = "cli")]
pub mod plots;
pub mod presets;
pub mod train;
pub mod weights;
