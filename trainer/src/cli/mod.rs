//! The `trainer` subcommands, one module each; `main.rs` dispatches to them.

pub mod benchmark;
pub mod eval;
pub mod export;
pub mod finetune;
pub mod generate;
pub mod inspect;
pub mod prepare;
pub mod shared;
pub mod train;

/// The command line as typed, for model cards and checkpoints.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut out = vec!["trainer".to_string()];
    out.extend(args.into_iter().skip(1).map(|a| if a.contains(' ') { format!("'{a}'") } else { a }));
    out.join(" ")
}
