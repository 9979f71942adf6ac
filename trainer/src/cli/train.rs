//! `trainer train`: train a model on a prepared corpus with a named preset, showing
//! progress (epoch, window, loss, tokens/s, ETA), and resume an interrupted run.

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::Args;
use continuo_core::card::EncodingSpec;
use continuo_core::corpus::Corpus;
use continuo_core::vocab::Vocabulary;
use continuo_trainer::checkpoint::{Checkpoint, EpochRecord, Schedule, TrainConfig, WindowOrder};
use continuo_trainer::presets::{preset, PRESETS};
use continuo_trainer::train::{throughput, train, Progress, Songs};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// The preset names, each with its description, as `--help` shows them.
fn preset_names() -> PossibleValuesParser {
    PossibleValuesParser::new(PRESETS.iter().map(|p| PossibleValue::new(p.name).help(p.description)))
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A prepared corpus folder (from `trainer prepare`).
    #[arg(long)]
    corpus: PathBuf,
    /// Where checkpoints and the training history go.
    #[arg(long)]
    out: PathBuf,
    /// The network and learning rate to start from (any value can be overridden below).
    /// [default: default]
    #[arg(long, value_parser = preset_names())]
    preset: Option<String>,
    /// The width of each token's embedding.
    #[arg(long)]
    embed: Option<usize>,
    /// The width of each LSTM layer.
    #[arg(long)]
    hidden: Option<usize>,
    /// LSTM layers (1 to 3 in the seed studies).
    #[arg(long)]
    layers: Option<usize>,
    /// Dropout between the layers while training (0 to 1).
    #[arg(long)]
    dropout: Option<f32>,
    /// Parallel streams per batch.
    #[arg(long)]
    batch: Option<usize>,
    /// Steps per truncated-BPTT window.
    #[arg(long)]
    window: Option<usize>,
    /// The learning rate (Adam) at its peak, after the warm-up.
    #[arg(long)]
    lr: Option<f32>,
    /// Global gradient-norm clipping.
    #[arg(long)]
    clip: Option<f32>,
    /// The learning-rate schedule.
    #[arg(long, value_enum)]
    schedule: Option<Schedule>,
    /// How each epoch cuts the training songs into windows.
    #[arg(long, value_enum)]
    windows: Option<WindowOrder>,
    /// Decoupled weight decay (AdamW).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Passes over the training songs at most (with --resume: a new limit for the run).
    #[arg(long)]
    max_epochs: Option<usize>,
    /// Epochs without a better validation NLL before training stops.
    #[arg(long)]
    patience: Option<usize>,
    /// The random seed of the weights, the dropout and the order of the windows.
    #[arg(long)]
    seed: Option<u64>,
    /// Give the network each step's metre (position in the bar, bar in a four-bar group):
    /// true or false (default: the preset's).
    #[arg(long)]
    metre: Option<bool>,
    /// Give the network each step's lookback (the tokens four and eight bars back, and whether
    /// the music repeats them; needs the metre): true or false (default: the preset's).
    #[arg(long)]
    lookback: Option<bool>,
    /// Give the network the harmony under each step (the notes under the melody, from a corpus
    /// prepared with `--harmony`; at play, the chord the player holds): true or false
    /// (default: false).
    #[arg(long)]
    harmony: Option<bool>,
    /// Threads for the matrix products (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Continue from OUT/last.ckpt, with the run's own recipe (only --max-epochs, --patience
    /// and --threads may change).
    #[arg(long)]
    resume: bool,
    /// Start a new run in an --out that holds one, replacing its checkpoints.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// Do not train: time this many training windows (after 2 untimed ones) and print the
    /// speed as one line of JSON. Nothing is written.
    #[arg(long, value_name = "WINDOWS")]
    benchmark: Option<usize>,
}

pub fn run(args: &TrainArgs) -> Result<(), String> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| e.to_string())?;
    }
    let corpus = Corpus::read(&args.corpus)?;
    let vocab = corpus.vocabulary()?;
    let mut ckpt = if args.resume { resumed(args, &corpus)? } else { fresh(args, &corpus, &vocab)? };
    let metre = ckpt.header.config.metre;
    if metre && corpus.songs.iter().all(|s| s.metre.is_empty()) {
        return Err(format!(
            "{}: the corpus records no metre (prepared by an older trainer): prepare it again, or train with \
             `--metre false`",
            args.corpus.display()
        ));
    }
    if ckpt.header.config.harmony && corpus.songs.iter().all(|s| s.harmony.is_empty()) {
        return Err(format!(
            "{}: the corpus records no harmony: prepare it with `--harmony` (polyphonic music), or train with \
             `--harmony false`",
            args.corpus.display()
        ));
    }
    let mut songs = Songs::from_corpus_in(&corpus, &vocab, metre);
    if ckpt.header.config.harmony {
        songs.hide_some_harmony();
    }
    if let Some(windows) = args.benchmark {
        return benchmark(&mut ckpt, &songs, vocab.len(), windows);
    }
    let c = &ckpt.header.config;
    println!(
        "training `{}`: {} x {} LSTM, embedding {}, dropout {}{}, vocabulary {}, {} training songs, {} validation songs",
        c.preset,
        c.layers,
        c.hidden,
        c.embed,
        c.dropout,
        if c.batch_norm { ", batch norm" } else { "" },
        vocab.len(),
        songs.train.len(),
        songs.validation.len()
    );
    let bar = progress_bar();
    let log = args.out.join("history.csv");
    let max_epochs = c.max_epochs;
    train(&mut ckpt, &songs, &args.out, &mut |p| show(&bar, p, max_epochs, &log))?;
    bar.finish_and_clear();
    let h = &ckpt.header;
    let best =
        h.best_validation_nll.map_or("none".into(), |nll| format!("{nll:.4} nats/token at epoch {}", h.best_epoch));
    println!(
        "done after {} epoch{} ({:.0} s): best validation NLL {best}; checkpoints and history.csv in {}",
        h.epoch,
        if h.epoch == 1 { "" } else { "s" },
        h.train_seconds,
        args.out.display()
    );
    Ok(())
}

/// The options that set a run's recipe, where given: `--resume` keeps the run's own.
fn recipe_options(args: &TrainArgs) -> Vec<&'static str> {
    let given = [
        ("--preset", args.preset.is_some()),
        ("--embed", args.embed.is_some()),
        ("--hidden", args.hidden.is_some()),
        ("--layers", args.layers.is_some()),
        ("--dropout", args.dropout.is_some()),
        ("--batch", args.batch.is_some()),
        ("--window", args.window.is_some()),
        ("--lr", args.lr.is_some()),
        ("--clip", args.clip.is_some()),
        ("--schedule", args.schedule.is_some()),
        ("--windows", args.windows.is_some()),
        ("--weight-decay", args.weight_decay.is_some()),
        ("--seed", args.seed.is_some()),
        ("--metre", args.metre.is_some()),
        ("--lookback", args.lookback.is_some()),
        ("--harmony", args.harmony.is_some()),
    ];
    given.into_iter().filter(|(_, g)| *g).map(|(name, _)| name).collect()
}

/// The run in `--out` to go on with, with a new epoch limit and patience if given.
fn resumed(args: &TrainArgs, corpus: &Corpus) -> Result<Checkpoint, String> {
    let path = args.out.join("last.ckpt");
    let mut c = Checkpoint::load(&path)?;
    if let Some(option) = recipe_options(args).first() {
        return Err(format!(
            "{option}: --resume goes on with the run's own recipe (preset `{}`); leave it out, or start a new run \
             in another --out",
            c.header.config.preset
        ));
    }
    if c.header.encoding.vocabulary != corpus.manifest.vocabulary {
        return Err(format!("{}: its vocabulary differs from the corpus {}", path.display(), args.corpus.display()));
    }
    if let Some(n) = args.max_epochs {
        c.header.config.max_epochs = n;
    }
    if let Some(n) = args.patience {
        c.header.config.patience = n;
    }
    eprintln!("resuming {} after epoch {}", path.display(), c.header.epoch);
    Ok(c)
}

/// A new run: the preset's recipe with the options given, in the corpus's encoding. An
/// --out that holds a run is refused without --force (then its history starts afresh).
fn fresh(args: &TrainArgs, corpus: &Corpus, vocab: &Vocabulary) -> Result<Checkpoint, String> {
    let held: Vec<&str> = ["last.ckpt", "best.ckpt"].into_iter().filter(|f| args.out.join(f).exists()).collect();
    if !held.is_empty() && !args.force && args.benchmark.is_none() {
        return Err(format!(
            "{} already holds a training run ({}): --resume to go on with it, --force to start over and replace it, \
             or another --out",
            args.out.display(),
            held.join(", ")
        ));
    }
    if args.force {
        let _ = std::fs::remove_file(args.out.join("history.csv"));
    }
    let config = config_of(args)?;
    let m = &corpus.manifest;
    let (lo, hi) = vocab.pitch_range();
    let encoding = EncodingSpec {
        kind: m.encoding,
        steps_per_beat: m.steps_per_beat,
        min_chord_count: Some(m.min_chord_count),
        key_normalisation: m.key_normalisation,
        pitch_range: [lo, hi],
        vocabulary: m.vocabulary.clone(),
    };
    Ok(Checkpoint::fresh(config, encoding, m.summary.roots.join(", "), super::command_line()))
}

/// The preset's training config, each option given on the command line in place of its own.
fn config_of(args: &TrainArgs) -> Result<TrainConfig, String> {
    let name = args.preset.as_deref().unwrap_or("default");
    let mut config = preset(name).ok_or_else(|| format!("unknown preset `{name}`"))?.config();
    config.embed = args.embed.unwrap_or(config.embed);
    config.hidden = args.hidden.unwrap_or(config.hidden);
    config.layers = args.layers.unwrap_or(config.layers).max(1);
    config.dropout = args.dropout.unwrap_or(config.dropout);
    config.batch = args.batch.unwrap_or(config.batch);
    config.window = args.window.unwrap_or(config.window);
    config.lr = args.lr.unwrap_or(config.lr);
    config.clip = args.clip.unwrap_or(config.clip);
    config.schedule = args.schedule.unwrap_or(config.schedule);
    config.windows = args.windows.unwrap_or(config.windows);
    config.weight_decay = args.weight_decay.unwrap_or(config.weight_decay);
    config.max_epochs = args.max_epochs.unwrap_or(config.max_epochs);
    config.patience = args.patience.unwrap_or(config.patience).max(1);
    config.seed = args.seed.unwrap_or(config.seed);
    config.metre = args.metre.unwrap_or(config.metre);
    config.lookback = args.lookback.unwrap_or(config.lookback);
    config.harmony = args.harmony.unwrap_or(config.harmony);
    if config.lookback && !config.metre {
        return Err("--lookback true needs the metre (--metre true): a lookback counts bars".into());
    }
    Ok(config)
}

/// `--benchmark N`: the training speed over N windows, as one JSON line.
fn benchmark(ckpt: &mut Checkpoint, songs: &Songs, vocab: usize, windows: usize) -> Result<(), String> {
    let (tokens, seconds) = throughput(ckpt, songs, 2, windows)?;
    let c = &ckpt.header.config;
    println!(
        "{}",
        serde_json::json!({
            "preset": c.preset, "layers": c.layers, "hidden": c.hidden, "embed": c.embed, "vocab": vocab,
            "batch": c.batch, "window": c.window, "dropout": c.dropout, "batch_norm": c.batch_norm,
            "threads": rayon::current_num_threads(), "windows": windows, "tokens": tokens, "seconds": seconds,
            "tokens_per_second": tokens as f64 / seconds,
        })
    );
    Ok(())
}

/// The bar that shows an epoch's windows.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} windows  {msg}  ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// The training's progress on the bar (epoch of at most `max_epochs`), and a line for each
/// epoch done, also appended to the run's CSV `log`.
fn show(bar: &ProgressBar, p: Progress, max_epochs: usize, log: &std::path::Path) {
    match p {
        Progress::Epoch { epoch, windows } => {
            bar.reset();
            bar.set_length(windows as u64);
            bar.set_prefix(format!("{epoch}/{max_epochs}"));
        }
        Progress::Window { done, nll, tokens_per_second } => {
            bar.set_position(done as u64);
            bar.set_message(format!("loss {nll:.4}  {tokens_per_second:.0} tokens/s"));
        }
        Progress::Validating => bar.set_message("validating …"),
        Progress::EpochDone(r) => bar.suspend(|| {
            if let Err(e) = log_epoch(log, r) {
                println!("warning: {}: the epoch was not logged: {e}", log.display());
            }
            println!(
                "epoch {:3}  train {:.4}  validation {:.4}  accuracy {:.1} % ({:.1} % without holds)  lr {:.2e}  \
                 {:.0} tokens/s  {:.0} s",
                r.epoch,
                r.train_nll,
                r.validation_nll,
                r.validation_accuracy * 100.0,
                r.validation_accuracy_no_hold * 100.0,
                r.lr,
                r.tokens_per_second,
                r.seconds
            )
        }),
    }
}

/// Append an epoch's figures to the run's CSV log (its header first, in a new file).
fn log_epoch(log: &std::path::Path, r: &EpochRecord) -> std::io::Result<()> {
    use std::io::Write;
    let new = !log.exists();
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    if new {
        writeln!(file, "epoch,train_nll,validation_nll,validation_accuracy,validation_accuracy_no_hold,lr,tokens_per_second,seconds")?;
    }
    writeln!(
        file,
        "{},{:.6},{:.6},{:.6},{:.6},{:e},{:.1},{:.1}",
        r.epoch,
        r.train_nll,
        r.validation_nll,
        r.validation_accuracy,
        r.validation_accuracy_no_hold,
        r.lr,
        r.tokens_per_second,
        r.seconds
    )
}
