//! `trainer eval`: test-split figures and continuation statistics for a checkpoint, as a
//! JSON report (`eval.json`) and PNG plots (`loss.png`, `continuation.png`).

use clap::Args;
use continuo_core::corpus::{Corpus, Split};
use continuo_core::encoding::decode;
use continuo_core::{Key, Token};
use continuo_trainer::checkpoint::Checkpoint;
use continuo_trainer::evaluate::{evaluate_model, Continuations};
use continuo_trainer::plots::{loss_curves, piano_roll, RollNote};
use continuo_trainer::train::Songs;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[arg(long)]
    checkpoint: PathBuf,
    /// The prepared corpus the checkpoint was trained on.
    #[arg(long)]
    corpus: PathBuf,
    /// Folder for eval.json, loss.png and continuation.png.
    #[arg(long)]
    out: PathBuf,
    /// Seed length in bars of 4 beats.
    #[arg(long, default_value_t = 2)]
    seed_bars: usize,
    /// Continuation length in bars of 4 beats.
    #[arg(long, default_value_t = 4)]
    bars: usize,
    /// How many test songs to continue.
    #[arg(long, default_value_t = 200)]
    songs: usize,
    #[command(flatten)]
    sampling: super::shared::SamplingArgs,
}

fn roll(tokens: &[Token], offset: u32) -> Vec<RollNote> {
    decode(tokens, 80).iter().filter(|n| n.steps > 0).map(|n| (n.step + offset, n.steps, n.pitch)).collect()
}

pub fn run(args: &EvalArgs) -> Result<(), String> {
    let mut ckpt = Checkpoint::load(&args.checkpoint)?;
    let corpus = Corpus::read(&args.corpus)?;
    if corpus.manifest.vocabulary != ckpt.header.encoding.vocabulary {
        return Err(format!("{}: the corpus's vocabulary is not the checkpoint's", args.corpus.display()));
    }
    let vocab = corpus.vocabulary()?;
    let songs = Songs::from_corpus(&corpus, &vocab);
    if songs.test.is_empty() {
        return Err(format!("{}: no songs in the test split", args.corpus.display()));
    }
    let keys: Vec<Key> =
        corpus.split(Split::Test).map(|s| s.key.map_or(Key::C_MAJOR, |k| k.transposed(s.shift))).collect();
    let steps_per_bar = 4 * ckpt.header.encoding.steps_per_beat.steps_per_beat as usize;
    let continuations = Continuations {
        seed_steps: args.seed_bars * steps_per_bar,
        steps: args.bars * steps_per_bar,
        max_songs: args.songs,
        settings: args.sampling.settings(),
        random_seed: args.sampling.random_seed,
    };
    let report = evaluate_model(&mut ckpt.model, &vocab, &songs, &keys, &continuations);
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(args.out.join("eval.json"), json).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let name = args.checkpoint.display().to_string();
    loss_curves(&ckpt.header.history, &args.out.join("loss.png"), &format!("loss by epoch: {name}"))?;
    if let Some(ex) = &report.example {
        let offset = ex.seed.len() as u32;
        piano_roll(
            &roll(&ex.seed, 0),
            &roll(&ex.generated, offset),
            &roll(&ex.real, offset),
            &args.out.join("continuation.png"),
            "seed (grey), continuation (red), real continuation (blue outline)",
        )?;
    }
    println!(
        "test split: {} songs, {} tokens; {} songs continued ({} + {} steps)",
        report.test_songs, report.test_tokens, report.continued_songs, report.seed_steps, report.continuation_steps
    );
    for (k, v) in &report.figures {
        println!("  {k:32} {v:.4}");
    }
    println!("wrote eval.json, loss.png and continuation.png to {}", args.out.display());
    Ok(())
}
