//! `trainer eval`: test-split figures and continuation statistics for a checkpoint, as a
//! JSON report (`eval.json`) and PNG plots (`loss.png`, `continuation.png`); or, with
//! `--model`, the test-split figures of an exported model run as the plugin runs it,
//! optionally with the session memory blended in (`--memory`), printed (`--json`: as JSON).

use super::shared::Defaults;
use clap::Args;
use continuo_core::continuation::Continuer;
use continuo_core::corpus::{Corpus, Split};
use continuo_core::encoding::decode;
use continuo_core::inference::ContinuationModel;
use continuo_core::{Key, Token};
use continuo_trainer::checkpoint::Checkpoint;
use continuo_trainer::evaluate::{
    evaluate_model, model_figures, speed_robustness, Continuations, SpeedFigures, NOISE_IN_SCALE,
};
use continuo_trainer::export::check_weights_finite;
use continuo_trainer::plots::{loss_curves, piano_roll, RollNote};
use continuo_trainer::train::Songs;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A training checkpoint: full report with plots into --out.
    #[arg(long, conflicts_with = "model", requires = "out")]
    checkpoint: Option<PathBuf>,
    /// An exported model (NAME.onnx with its card): its test-split figures, run through
    /// ONNX Runtime as the plugin runs it.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The prepared corpus whose test split is evaluated (with --model: any corpus of the
    /// model's encoding and grid; its pitches and chords are mapped into the model's
    /// vocabulary).
    #[arg(long)]
    corpus: PathBuf,
    /// Folder for eval.json, loss.png and continuation.png (with --checkpoint).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A harmony model's figures with no chord known (the harmony the corpus records hidden).
    #[arg(long)]
    without_harmony: bool,
    /// With --model: print the figures as one JSON object.
    #[arg(long)]
    json: bool,
    /// With --model: also continue the start (--seed-bars) of each song (up to --songs) by
    /// --bars at normal, double and half speed, and report how much is in key.
    #[arg(long)]
    speeds: bool,
    /// With --model: the songs to evaluate.
    #[arg(long, value_enum, default_value = "test")]
    split: SplitChoice,
    /// Seed length in bars of 4 beats.
    #[arg(long, default_value_t = 2)]
    seed_bars: usize,
    /// Continuation length in bars of 4 beats.
    #[arg(long, default_value_t = 4)]
    bars: usize,
    /// How many test songs to continue.
    #[arg(long, default_value_t = 200)]
    songs: usize,
    /// With --model: the continuation benchmark on N songs of the split: each song's first
    /// --call-bars bars (in its own metre) answered by --bars bars, beside the composer's
    /// own next bars and the call replayed (definitions: models/README.md).
    #[arg(long, value_name = "N")]
    continuations: Option<usize>,
    /// With --model: the chord-following benchmark: N answers in each of four keys over each
    /// of two held progressions, from the split's songs in 4/4 and a major key, without and
    /// with --follow-chords.
    #[arg(long, value_name = "N", conflicts_with = "continuations")]
    chords: Option<usize>,
    /// With --continuations: the call's length in bars of the song's metre.
    #[arg(long, default_value_t = 4)]
    call_bars: usize,
    #[command(flatten)]
    sampling: super::shared::SamplingArgs,
}

impl EvalArgs {
    /// The continuations asked for: seeds of `--seed-bars` and answers of `--bars` bars of 4
    /// beats on a grid of `steps_per_beat`, for up to `--songs` songs.
    fn continuations(&self, steps_per_beat: u32) -> Continuations {
        let steps_per_bar = 4 * steps_per_beat as usize;
        Continuations {
            seed_steps: self.seed_bars * steps_per_bar,
            steps: self.bars * steps_per_bar,
            max_songs: self.songs,
            settings: self.sampling.settings(Defaults::Measure),
            random_seed: self.sampling.random_seed(Defaults::Measure),
        }
    }
}

fn roll(tokens: &[Token], offset: u32) -> Vec<RollNote> {
    decode(tokens, 80).iter().filter(|n| n.steps > 0).map(|n| (n.step + offset, n.steps, n.pitch)).collect()
}

pub fn run(args: &EvalArgs) -> Result<(), String> {
    if (args.continuations.is_some() || args.chords.is_some()) && args.model.is_none() {
        return Err("--continuations and --chords need an exported model: give --model NAME.onnx".into());
    }
    match (&args.checkpoint, &args.model, &args.out) {
        (Some(checkpoint), _, Some(out)) => run_checkpoint(args, checkpoint, out),
        (_, Some(model), _) => run_model(args, model),
        _ => {
            Err("give --model NAME.onnx (an exported model), or --checkpoint FILE --out FOLDER (a training run)".into())
        }
    }
}

/// Which songs of the corpus `--model` evaluates.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum SplitChoice {
    Test,
    Validation,
    Train,
    All,
}

/// The corpus's songs in `split`.
fn songs_of(songs: Songs, split: SplitChoice) -> Vec<Vec<continuo_trainer::codes::Code>> {
    match split {
        SplitChoice::Test => songs.test,
        SplitChoice::Validation => songs.validation,
        SplitChoice::Train => songs.train,
        SplitChoice::All => songs.train.into_iter().chain(songs.validation).chain(songs.test).collect(),
    }
}

/// `--model`: NLL, accuracy and per-note figures on a split, with the session memory blended
/// in at `--memory` as the plugin's Memory control does (it hears each song from its start).
fn run_model(args: &EvalArgs, path: &Path) -> Result<(), String> {
    check_weights_finite(path).map_err(|e| e.to_string())?;
    let mut model =
        ContinuationModel::load(path).map_err(|e| format!("{e} (run `cargo xtask ort` for the runtime)"))?;
    let corpus = Corpus::read(&args.corpus)?;
    super::shared::check_compatible(&corpus, &args.corpus, model.card(), path)?;
    let mut songs = Songs::from_corpus_in(&corpus, model.vocab(), model.has_metre());
    if args.without_harmony {
        songs.hide_all_harmony();
    }
    let songs = songs_of(songs, args.split);
    if songs.is_empty() {
        return Err(format!("{}: no songs in the {:?} split", args.corpus.display(), args.split));
    }
    let memory = args.sampling.memory(Defaults::Measure);
    let figures = model_figures(&mut model, &songs, memory).map_err(|e| e.to_string())?;
    if !figures.nll_nats.is_finite() {
        return Err(format!("{}: the NLL is {} (a NaN or zero probability)", path.display(), figures.nll_nats));
    }
    if let Some(n) = args.continuations {
        return super::benchmark::run(args_benchmark(args, n), &args.corpus, &corpus, path, model, args.json);
    }
    if let Some(n) = args.chords {
        let mut bench = args_benchmark(args, n);
        bench.call_bars = continuo_trainer::chord_bench::CALL_BARS;
        return super::benchmark::run_chords(bench, &args.corpus, &corpus, path, model, args.json);
    }
    let speeds = if args.speeds { Some(speed_table(args, &corpus, model)?) } else { None };
    if args.json {
        let mut report = serde_json::to_value(&figures).map_err(|e| e.to_string())?;
        if let Some(speeds) = &speeds {
            report["speeds"] = serde_json::to_value(speeds).map_err(|e| e.to_string())?;
        }
        report["model"] = path.display().to_string().into();
        report["corpus"] = args.corpus.display().to_string().into();
        report["split"] = format!("{:?}", args.split).to_lowercase().into();
        report["memory"] = memory.into();
        println!("{report}");
    } else {
        println!(
            "{}: {:?} split, {} songs, {} tokens, memory {}: NLL {:.4} nats/token (perplexity {:.3}), \
             accuracy {:.4} ({:.4} without holds), {:.4} nats per note, pitch {:.3} bits per note",
            path.display(),
            args.split,
            figures.songs,
            figures.tokens,
            memory,
            figures.nll_nats,
            figures.perplexity,
            figures.accuracy,
            figures.accuracy_no_hold,
            figures.nll_per_onset,
            figures.pitch_bits_per_note
        );
        for s in speeds.iter().flatten() {
            println!(
                "  seeds at {:>3}x speed: {} continuations, {:.3} in key, {:.1} % noise (under {} in key), {:.2} % of \
                 steps guarded",
                s.speed,
                s.continuations,
                s.in_scale,
                s.noise_share * 100.0,
                NOISE_IN_SCALE,
                s.guarded_share * 100.0
            );
        }
        if let Some(s) = speeds.iter().flatten().next() {
            println!(
                "  the songs' own continuations (the reference): {:.3} in key, {:.1} % under {} in key",
                s.real_in_scale,
                s.real_noise_share * 100.0,
                NOISE_IN_SCALE
            );
        }
    }
    Ok(())
}

/// What `--continuations` asks for.
fn args_benchmark(args: &EvalArgs, songs: usize) -> super::benchmark::Benchmark {
    super::benchmark::Benchmark {
        songs,
        call_bars: args.call_bars,
        answer_bars: args.bars,
        split: split_of(args.split),
        settings: args.sampling.settings(Defaults::Measure),
        random_seed: args.sampling.random_seed(Defaults::Measure),
    }
}

/// The corpus split a choice names (`None`: all songs).
fn split_of(choice: SplitChoice) -> Option<Split> {
    match choice {
        SplitChoice::Test => Some(Split::Test),
        SplitChoice::Validation => Some(Split::Validation),
        SplitChoice::Train => Some(Split::Train),
        SplitChoice::All => None,
    }
}

/// Continuations of the chosen split's songs with their seeds at normal, double and half speed.
fn speed_table(args: &EvalArgs, corpus: &Corpus, model: ContinuationModel) -> Result<Vec<SpeedFigures>, String> {
    let chosen = split_of(args.split);
    let split = |s: Split| chosen.is_none_or(|c| c == s);
    let songs: Vec<(Vec<Token>, Key)> = corpus
        .songs
        .iter()
        .filter(|s| split(s.split))
        .map(|s| (s.tokens.clone(), s.key.map_or(Key::C_MAJOR, |k| k.transposed(s.shift))))
        .collect();
    let continuations = args.continuations(model.card().encoding.steps_per_beat.steps_per_beat);
    let mut continuer = Continuer::new(model, args.sampling.random_seed(Defaults::Measure));
    speed_robustness(&mut continuer, &songs, &[1.0, 2.0, 0.5], &continuations).map_err(|e| e.to_string())
}

fn run_checkpoint(args: &EvalArgs, checkpoint: &Path, out: &Path) -> Result<(), String> {
    let mut ckpt = Checkpoint::load(checkpoint)?;
    let corpus = Corpus::read(&args.corpus)?;
    if corpus.manifest.vocabulary != ckpt.header.encoding.vocabulary {
        return Err(format!("{}: the corpus's vocabulary is not the checkpoint's", args.corpus.display()));
    }
    let vocab = corpus.vocabulary()?;
    let mut songs = Songs::from_corpus_in(&corpus, &vocab, ckpt.header.config.metre);
    if args.without_harmony {
        songs.hide_all_harmony();
    }
    if songs.test.is_empty() {
        return Err(format!("{}: no songs in the test split", args.corpus.display()));
    }
    let keys: Vec<Key> =
        corpus.split(Split::Test).map(|s| s.key.map_or(Key::C_MAJOR, |k| k.transposed(s.shift))).collect();
    let continuations = args.continuations(ckpt.header.encoding.steps_per_beat.steps_per_beat);
    let report = evaluate_model(&mut ckpt.model, &vocab, &songs, &keys, &continuations);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("eval.json"), json).map_err(|e| format!("{}: {e}", out.display()))?;
    let name = checkpoint.display().to_string();
    loss_curves(&ckpt.header.history, &out.join("loss.png"), &format!("loss by epoch: {name}"))?;
    if let Some(ex) = &report.example {
        let offset = ex.seed.len() as u32;
        piano_roll(
            &roll(&ex.seed, 0),
            &roll(&ex.generated, offset),
            &roll(&ex.real, offset),
            &out.join("continuation.png"),
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
    println!("wrote eval.json, loss.png and continuation.png to {}", out.display());
    Ok(())
}
