//! Fine-tuning: adapt an exported model to a corpus of the user's own music (their takes,
//! their files) and write a new model beside it: ONNX file, card (naming the parent model,
//! the corpus and the command) and golden file. The weights come back from the ONNX file;
//! the corpus is read in the model's own vocabulary (pitches outside its range fold by
//! octaves, rare chords fall back, as `prepare` does). With songs held out, the parent's own
//! loss on them is the score to beat: a fine-tuning that never beats it writes nothing (a
//! few phrases learnt by heart make the model worse). `trainer finetune` and the plugin's
//! Learn action both run it, on the thread that calls it.

use crate::checkpoint::{Checkpoint, Schedule, TrainConfig, WindowOrder};
use crate::error::TrainerError;
use crate::export::{model_card, read_weights, write_golden, write_model};
use crate::network::Model;
use crate::train::{evaluate, special_id, train_until, Progress, Songs};
use continuo_core::card::{card_path_for, ModelCard, Training};
use continuo_core::corpus::{Corpus, SPLIT_RULE};
use continuo_core::vocab::Vocabulary;
use continuo_core::Token;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Validation songs needed to stop early on them. A corpus with fewer has every fifth song
/// held out for that instead; with fewer than this many held out, every song is trained on
/// and the time or epoch budget stops training.
const MIN_VALIDATION_SONGS: usize = 3;

/// Adam's learning rate for fine-tuning, constant: a tenth of a training run's, so that what
/// the model knows is adapted rather than overwritten.
pub const FINETUNE_LR: f32 = 2e-4;

/// How a fine-tuning runs and what it writes.
pub struct FinetuneOptions {
    /// The exported model to start from (its card beside it).
    pub parent: PathBuf,
    /// The new ONNX file; its card and golden file go beside it.
    pub out: PathBuf,
    /// The new model's name and description.
    pub name: String,
    pub description: Option<String>,
    /// Where the checkpoints go.
    pub work: PathBuf,
    /// What the card records as the corpus and the command.
    pub corpus_label: String,
    pub command: String,
    pub lr: f32,
    pub max_epochs: usize,
    pub patience: usize,
    /// Training stops when this passes (the epoch under way is cut short and kept).
    pub deadline: Option<Instant>,
}

/// What a fine-tuning did.
#[derive(Debug, Clone, PartialEq)]
pub struct FinetuneReport {
    pub parent_name: String,
    pub train_songs: usize,
    pub validation_songs: usize,
    pub epochs: usize,
    pub seconds: f64,
    /// The best validation loss and the parent's, when songs were held out for it.
    pub validation_nll: Option<f64>,
    pub parent_validation_nll: Option<f64>,
}

/// The corpus's training and validation songs in `vocab`: its own split when it has enough
/// validation songs, else every fifth song held out when that gives enough, else every song
/// trained on (a few phrases fine-tuned for minutes learn them by heart and forget the rest,
/// so a validation set is kept whenever there is one).
pub fn finetune_songs(corpus: &Corpus, vocab: &Vocabulary, metre: bool) -> Songs {
    let mut songs = Songs::from_corpus_in(corpus, vocab, metre);
    if songs.validation.len() < MIN_VALIDATION_SONGS {
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
    songs
}

/// A fine-tuning set up: the parent model read back, the corpus in its vocabulary.
pub struct Finetune<'a> {
    corpus: &'a Corpus,
    options: &'a FinetuneOptions,
    parent: ModelCard,
    vocab: Vocabulary,
    ckpt: Checkpoint,
    pub songs: Songs,
}

impl<'a> Finetune<'a> {
    /// Read the parent model (its ONNX weights and card) and lay out `corpus`, in the
    /// parent's encoding, for it.
    pub fn new(corpus: &'a Corpus, options: &'a FinetuneOptions) -> Result<Finetune<'a>, TrainerError> {
        let parent = ModelCard::load(&card_path_for(&options.parent)).map_err(continuo_core::Error::from)?;
        let weights = read_weights(&options.parent)?;
        let vocab = Vocabulary::from_tokens(parent.encoding.vocabulary.clone())?;
        let songs = finetune_songs(corpus, &vocab, weights.metre_rows > 0);
        let config = TrainConfig {
            preset: "finetune".into(),
            embed: weights.embed,
            hidden: weights.hidden,
            layers: weights.num_layers(),
            dropout: parent_dropout(&parent),
            batch_norm: false,
            batch: 64.min(songs.train.len()).max(1),
            window: 64,
            lr: options.lr,
            clip: 1.0,
            max_epochs: options.max_epochs,
            patience: options.patience.max(1),
            seed: 1,
            schedule: Schedule::Constant,
            windows: WindowOrder::Carried,
            weight_decay: 0.0,
            metre: weights.metre_rows > 0,
            lookback: weights.lookback_rows > 0,
            harmony: weights.harmony_rows > 0,
        };
        let dropout = config.dropout;
        let mut ckpt =
            Checkpoint::fresh(config, parent.encoding.clone(), options.corpus_label.clone(), options.command.clone());
        ckpt.model = Model::new(weights, false, dropout);
        Ok(Finetune { corpus, options, parent, vocab, ckpt, songs })
    }

    pub fn parent_name(&self) -> &str {
        &self.parent.name
    }

    /// Train, then write the new model from the best epoch. `cancel` stops it at the next
    /// window without writing anything ([`TrainerError::Cancelled`]); a diverging run stops
    /// with its cause and writes nothing.
    pub fn run(
        mut self,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<FinetuneReport, TrainerError> {
        let (options, started) = (self.options, Instant::now());
        // A best checkpoint of an earlier run in the same folder is not this run's.
        let best_path = options.work.join("best.ckpt");
        let _ = std::fs::remove_file(&best_path);
        let parent_validation_nll = self.parent_validation_nll();
        self.ckpt.header.best_validation_nll = parent_validation_nll;
        let stop = || cancel.load(Ordering::Relaxed) || options.deadline.is_some_and(|d| Instant::now() >= d);
        train_until(&mut self.ckpt, &self.songs, &options.work, &stop, progress)?;
        if cancel.load(Ordering::Relaxed) {
            clean_up(&options.work);
            return Err(TrainerError::Cancelled);
        }
        if let (Some(parent), false) = (parent_validation_nll, best_path.is_file()) {
            let best = self.ckpt.header.history.iter().map(|r| r.validation_nll).fold(f64::INFINITY, f64::min);
            clean_up(&options.work);
            return Err(TrainerError::NotImproved { parent, best });
        }
        let best = Checkpoint::load(&best_path)?;
        let h = &best.header;
        let validation_nll = h.best_validation_nll.filter(|_| !self.songs.validation.is_empty());
        let mut evaluation = BTreeMap::new();
        if let Some(nll) = validation_nll {
            evaluation.insert("validation_nll".into(), nll);
        }
        if let Some(nll) = parent_validation_nll {
            evaluation.insert("parent_validation_nll".into(), nll);
        }
        let weights = best.model.inference_weights();
        let file = file_name(&options.out)?;
        let training = self.training(h.epoch, h.train_seconds);
        let mut card = model_card(&weights, &options.name, &file, self.parent.encoding.clone(), training, evaluation);
        card.description = options
            .description
            .clone()
            .unwrap_or_else(|| format!("{}, fine-tuned on {}", self.parent.name, options.corpus_label));
        write_model(&weights, &options.out, &card)?;
        write_golden(&weights, &self.vocab, self.corpus, &options.out)?;
        Ok(FinetuneReport {
            parent_name: self.parent.name,
            train_songs: self.songs.train.len(),
            validation_songs: self.songs.validation.len(),
            epochs: h.epoch,
            seconds: started.elapsed().as_secs_f64(),
            validation_nll,
            parent_validation_nll,
        })
    }

    /// The parent's loss on the held-out songs, if there are any: the score to beat.
    fn parent_validation_nll(&mut self) -> Option<f64> {
        if self.songs.validation.is_empty() {
            return None;
        }
        let (hold, song_end) = (special_id(&self.vocab, Token::Hold), special_id(&self.vocab, Token::SongEnd));
        let c = &self.ckpt.header.config;
        let (batch, window) = (c.batch, c.window);
        Some(evaluate(&mut self.ckpt.model, &self.songs.validation, batch, window, hold, song_end).mean_nll())
    }

    /// How the new model was made, for its card.
    fn training(&self, epochs: usize, seconds: f64) -> Training {
        let o = self.options;
        let mut details = BTreeMap::new();
        details.insert("parent".into(), serde_json::json!(o.parent.display().to_string()));
        details.insert("parent_name".into(), serde_json::json!(self.parent.name));
        details.insert("parent_command".into(), serde_json::json!(self.parent.training.command));
        details.insert("epochs".into(), epochs.into());
        details.insert("train_seconds".into(), serde_json::json!(seconds.round()));
        details.insert("lr".into(), serde_json::json!(o.lr));
        details.insert("dropout".into(), serde_json::json!(parent_dropout(&self.parent)));
        Training {
            corpus: vec![o.corpus_label.clone()],
            split: SPLIT_RULE.into(),
            command: o.command.clone(),
            preset: Some("finetune".into()),
            seed: Some(1),
            details,
        }
    }
}

/// The dropout the parent was trained with (its card's), else 0.2.
fn parent_dropout(parent: &ModelCard) -> f32 {
    parent.training.details.get("dropout").and_then(|d| d.as_f64()).unwrap_or(0.2) as f32
}

/// The file name of an ONNX path, for its card.
pub fn file_name(out: &Path) -> Result<String, TrainerError> {
    out.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| TrainerError::Invalid(format!("{}: not a file name for a model", out.display())))
}

/// A fine-tuning that wrote no model leaves no checkpoints behind: its run folder goes too,
/// where nothing else is in it.
fn clean_up(work: &std::path::Path) {
    for file in ["best.ckpt", "last.ckpt"] {
        let _ = std::fs::remove_file(work.join(file));
    }
    let _ = std::fs::remove_dir(work);
}
