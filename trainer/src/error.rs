//! The trainer's one error type: every way a library call can fail, naming the file (or the
//! epoch) and the cause, with the underlying error as its `source()`. The command line turns
//! it into its message; nothing else is stringly typed. Any thread.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint that cannot be read back, or would not be.
    #[error("{path}: not a usable checkpoint: {why}")]
    Checkpoint { path: PathBuf, why: String },
    /// An ONNX file that this exporter did not write, or that is damaged.
    #[error("{path}: {why}")]
    Onnx { path: PathBuf, why: String },
    /// The training run blew up: the loss, a gradient or a parameter stopped being a number.
    #[error("training diverged in epoch {epoch}, {during}: {cause}; lower the learning rate (--lr)")]
    Diverged { epoch: usize, during: String, cause: Divergence },
    /// What the core could not do: read music or a corpus, a card, a vocabulary.
    #[error(transparent)]
    Core(#[from] continuo_core::Error),
    /// A corpus, vocabulary or setting that cannot be trained on.
    #[error("{0}")]
    Invalid(String),
    /// No epoch of a fine-tuning beat the parent model on the held-out songs; nothing was
    /// written.
    #[error(
        "fine-tuning did not beat the parent on the held-out songs (parent {parent:.4} nats/token, best epoch {best:.4}): nothing written, the parent stays as it was. Try a lower learning rate (half of it), more tunes (15 or more hold some out to judge on), or more epochs"
    )]
    NotImproved { parent: f64, best: f64 },
    /// The caller asked a fine-tuning to stop; nothing was written.
    #[error("cancelled")]
    Cancelled,
    /// A plot could not be drawn.
    #[error("{path}: cannot draw the plot: {why}")]
    Plot { path: PathBuf, why: String },
}

/// What showed that a training diverged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Divergence {
    /// A mean loss that is not a number, or far worse than guessing every token uniformly.
    #[error("the {what} loss is {nll:.4e} nats/token (a uniform guess scores {uniform:.2})")]
    Loss { what: &'static str, nll: f64, uniform: f64 },
    /// A gradient norm that is not a number.
    #[error("the gradient norm is {0}")]
    GradientNorm(f32),
}

/// A vocabulary the core refused (a card's or a checkpoint's), as the core's error.
impl From<continuo_core::vocab::VocabError> for TrainerError {
    fn from(e: continuo_core::vocab::VocabError) -> TrainerError {
        TrainerError::Core(e.into())
    }
}

impl TrainerError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainerError {
        let path = path.into();
        move |source| TrainerError::Io { path, source }
    }
}

/// The command line's edge: its commands report errors as text.
impl From<TrainerError> for String {
    fn from(e: TrainerError) -> String {
        e.to_string()
    }
}
