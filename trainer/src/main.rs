//! `trainer`: Continuo's offline command line for people who train their own models.
//! Each subcommand lives in its own module; this file only parses the command line.

mod inspect;
mod prepare;

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
    Prepare(prepare::PrepareArgs),
    /// Show how one file is read: tempo, metre, key, notes and tokens.
    Inspect(inspect::InspectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(args) => prepare::run(&args),
        Command::Inspect(args) => inspect::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
