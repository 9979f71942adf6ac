//! `trainer finetune`: adapt an exported model to a prepared corpus of the user's own music
//! (their takes, their files) with [`continuo_trainer::finetune`], printing each epoch.

use clap::Args;
use continuo_core::card::{card_path_for, ModelCard};
use continuo_core::corpus::Corpus;
use continuo_trainer::finetune::{Finetune, FinetuneOptions, FINETUNE_LR};
use continuo_trainer::train::Progress;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

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
    #[arg(long, default_value_t = FINETUNE_LR)]
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
    let corpus = Corpus::read(&args.corpus)?;
    super::shared::check_compatible(&corpus, &args.corpus, &parent, &args.model)?;
    let (_, name) = super::shared::file_and_name(&args.out, args.name.as_deref())?;
    let started = Instant::now();
    let options = FinetuneOptions {
        parent: args.model.clone(),
        out: args.out.clone(),
        name,
        description: None,
        work: args.work.clone().unwrap_or_else(|| args.out.with_extension("runs")),
        corpus_label: args.corpus.display().to_string(),
        command: super::command_line(),
        lr: args.lr,
        max_epochs: args.epochs as usize,
        patience: args.patience,
        deadline: args.minutes.map(|m| started + Duration::from_secs_f64(m * 60.0)),
    };
    let job = Finetune::new(&corpus, &options)?;
    println!(
        "fine-tuning {} on {}: {} training songs, {} validation songs{}",
        job.parent_name(),
        args.corpus.display(),
        job.songs.train.len(),
        job.songs.validation.len(),
        if job.songs.validation.is_empty() { " (too few to stop on: the budget stops it)" } else { "" }
    );
    let report = job.run(&AtomicBool::new(false), &mut |p| {
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
    let beaten = match (report.parent_validation_nll, report.validation_nll) {
        (Some(parent), Some(best)) => format!("; held-out loss {best:.4} against the parent's {parent:.4}"),
        _ => String::new(),
    };
    println!(
        "wrote {} (from {} after {} epochs, {:.0} s{beaten})",
        args.out.display(),
        report.parent_name,
        report.epochs,
        report.seconds
    );
    Ok(())
}
