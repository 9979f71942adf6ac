//! `trainer`: Continuo's offline command line for people who train their own models.
//! Each subcommand lives in its own module under `cli/`; this file only parses and dispatches.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "trainer", version, about = "Prepare corpora and train Continuo's continuation models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import folders of MIDI / **kern files into a prepared corpus (songs.jsonl + corpus.json).
    Prepare(cli::prepare::PrepareArgs),
    /// Show how one file is read: tempo, metre, key, notes and tokens.
    Inspect(cli::inspect::InspectArgs),
    /// Train a model on a prepared corpus.
    Train(cli::train::TrainArgs),
    /// Test-split figures, continuation statistics and plots for a checkpoint.
    Eval(cli::eval::EvalArgs),
    /// Export a checkpoint as a stateful ONNX model with its model card.
    Export(cli::export::ExportArgs),
    /// Adapt an exported model to a prepared corpus of your own music; writes a new model.
    Finetune(cli::finetune::FinetuneArgs),
    /// Continue a MIDI or **kern file with a model and write a MIDI file.
    Generate(cli::generate::GenerateArgs),
}

fn main() -> ExitCode {
    // Before any thread starts (`continuo_core::inference::TELEMETRY_SWITCH`).
    if std::env::var_os(continuo_core::inference::TELEMETRY_SWITCH).is_none() {
        std::env::set_var(continuo_core::inference::TELEMETRY_SWITCH, "1");
    }
    let result = match Cli::parse().command {
        Command::Prepare(args) => cli::prepare::run(&args),
        Command::Inspect(args) => cli::inspect::run(&args),
        Command::Train(args) => cli::train::run(&args),
        Command::Eval(args) => cli::eval::run(&args),
        Command::Export(args) => cli::export::run(&args),
        Command::Finetune(args) => cli::finetune::run(&args),
        Command::Generate(args) => cli::generate::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
