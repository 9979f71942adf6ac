//! `trainer finetune`: adapt an exported model to a prepared corpus of the user's own music
//! (their takes, their files) and write a new model beside it: ONNX file, card (naming the
//! parent model, the corpus and the command) and golden file. The weights come back from the
//! ONNX file; the corpus is read in the model's own vocabulary (pitches outside its range fold
//! by octaves, rare chords fall back, as `prepare` does).

use clap::Args;
use continuo_core::card::{card_path_for, ModelCard, Training};
use continuo_core::corpus::{Corpus, SPLIT_RULE};
use continuo_core::vocab::Vocabulary;
use continuo_trainer::checkpoint::{Checkpoint, Schedule, TrainConfig, WindowOrder};
use continuo_trainer::export::{model_card, read_weights, write_golden, write_model};
use continuo_trainer::network::Model;
use continuo_trainer::train::{train_until, Progress, Songs};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Validation songs needed to stop early on them. A corpus with fewer has every fifth song
/// held out for that instead; with fewer than this many held out, every song is trained on
/// and the time or epoch budget stops training.
const MIN_VALIDATION_SONGS: usize = 3;

#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// The exported model to start from (its card NAME.json beside it).
    #[arg(long)]
    model: PathBuf,
    /// A prepared corpus of the music to adapt to (any corpus of the model's encoding and
    /// grid, e.g. `trainer prepare --input ~/.local/share/continuo/takes`).
    #[arg(long)]
    corpus: PathBuf,
    /// The new ONNX file; its card and golden file go beside it.
    #[arg(long)]
    out: PathBuf,
    /// Stop after this many minutes of training (the epoch under way is cut short).
    #[arg(long, value_parser = positive_minutes)]
    minutes: Option<f64>,
    /// At most this many passes over the corpus.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    epochs: u64,
    /// Adam's learning rate, constant: a tenth of a training run's, so that what the model
    /// knows is adapted rather than overwritten.
    #[arg(long, default_value_t = 2e-4)]
    lr: f32,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// The new model's name (default: the file name).
    #[arg(long)]
    name: Option<String>,
    /// Where the fine-tuning checkpoints go (default: NEW.runs beside the new model).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Threads for the matrix products (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn positive_minutes(s: &str) -> Result<f64, String> {
    let m: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of minutes"))?;
    (m.is_finite() && m > 0.0).then_some(m).ok_or_else(|| format!("{m} minutes: expected a number above 0"))
}

pub fn run(args: &FinetuneArgs) -> Result<(), String> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| e.to_string())?;
    }
    let parent = ModelCard::load(&card_path_for(&args.model)).map_err(|e| e.to_string())?;
    let weights = read_weights(&args.model)?;
    let corpus = Corpus::read(&args.corpus)?;
    super::shared::check_compatible(&corpus, &args.corpus, &parent, &args.model)?;
    let vocab = Vocabulary::from_tokens(parent.encoding.vocabulary.clone()).map_err(|e| e.to_string())?;
    let mut songs = Songs::from_corpus(&corpus, &vocab);
    if songs.validation.len() < MIN_VALIDATION_SONGS {
        // Too few to stop on: every fifth song is held out instead, when that gives enough
        // (a few phrases fine-tuned for minutes learn them by heart and forget the rest).
        songs.train.append(&mut songs.validation);
        let (kept, held): (Vec<_>, Vec<_>) =
            std::mem::take(&mut songs.train).into_iter().enumerate().partition(|(i, _)| i % 5 != 4);
        if held.len() >= MIN_VALIDATION_SONGS {
            songs.train = kept.into_iter().map(|(_, s)| s).collect();
            songs.validation = held.into_iter().map(|(_, s)| s).collect();
        } else {
            songs.train = kept.into_iter().chain(held).map(|(_, s)| s).collect();
        }
    }
    let dropout = parent.training.details.get("dropout").and_then(|d| d.as_f64()).unwrap_or(0.2) as f32;
    let config = TrainConfig {
        preset: "finetune".into(),
        embed: weights.embed,
        hidden: weights.hidden,
        layers: weights.num_layers(),
        dropout,
        batch_norm: false,
        batch: 64.min(songs.train.len()).max(1),
        window: 64,
        lr: args.lr,
        clip: 1.0,
        max_epochs: args.epochs as usize,
        patience: args.patience.max(1),
        seed: 1,
        schedule: Schedule::Constant,
        windows: WindowOrder::Carried,
        weight_decay: 0.0,
    };
    let mut ckpt =
        Checkpoint::fresh(config, parent.encoding.clone(), args.corpus.display().to_string(), super::command_line());
    ckpt.model = Model::new(weights, false, dropout);
    let work = args.work.clone().unwrap_or_else(|| args.out.with_extension("runs"));
    println!(
        "fine-tuning {} on {}: {} training songs, {} validation songs{}",
        parent.name,
        args.corpus.display(),
        songs.train.len(),
        songs.validation.len(),
        if songs.validation.is_empty() { " (too few to stop on: the budget stops it)" } else { "" }
    );
    let started = Instant::now();
    let deadline = args.minutes.map(|m| started + Duration::from_secs_f64(m * 60.0));
    train_until(&mut ckpt, &songs, &work, deadline, &mut |p| {
        if let Progress::EpochDone(r) = p {
            println!(
                "epoch {:3}  train {:.4}  validation {:.4}  {:.0} s",
                r.epoch,
                r.train_nll,
                r.validation_nll,
                started.elapsed().as_secs_f64()
            );
        }
    })?;
    let best = Checkpoint::load(&work.join("best.ckpt"))?;
    let h = &best.header;
    let mut details = BTreeMap::new();
    details.insert("parent".into(), serde_json::json!(args.model.display().to_string()));
    details.insert("parent_name".into(), serde_json::json!(parent.name));
    details.insert("parent_command".into(), serde_json::json!(parent.training.command));
    details.insert("epochs".into(), h.epoch.into());
    details.insert("train_seconds".into(), serde_json::json!(h.train_seconds.round()));
    details.insert("lr".into(), serde_json::json!(args.lr));
    details.insert("dropout".into(), serde_json::json!(dropout));
    let mut evaluation = BTreeMap::new();
    if let (Some(nll), false) = (h.best_validation_nll, songs.validation.is_empty()) {
        evaluation.insert("validation_nll".into(), nll);
    }
    let training = Training {
        corpus: vec![args.corpus.display().to_string()],
        split: SPLIT_RULE.into(),
        command: super::command_line(),
        preset: Some("finetune".into()),
        seed: Some(1),
        details,
    };
    let (file, name) = super::shared::file_and_name(&args.out, args.name.as_deref())?;
    let weights = best.model.inference_weights();
    let mut card = model_card(&weights, &name, &file, parent.encoding.clone(), training, evaluation);
    card.description = format!("{}, fine-tuned on {}", parent.name, args.corpus.display());
    write_model(&weights, &args.out, &card)?;
    write_golden(&weights, &vocab, &corpus, &args.out)?;
    println!(
        "wrote {} (from {} after {} epochs, {:.0} s)",
        args.out.display(),
        parent.name,
        h.epoch,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
