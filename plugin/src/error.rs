//! The plugin's one error type: why a model, a SoundFont, a learning or an answer could not
//! be had, naming the file where there is one, with the underlying error as its `source()`.
//! It becomes text only where it meets the musician (the editor's status lines). Any
//! thread but the audio thread, which has no errors to report.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// A model that cannot be loaded or run.
    #[error(transparent)]
    Model(#[from] continuo_core::inference::ModelError),
    /// What the core could not do: read a card, the takes as a corpus.
    #[error(transparent)]
    Core(#[from] continuo_core::Error),
    /// A fine-tuning that failed (Learn).
    #[error(transparent)]
    Trainer(#[from] continuo_trainer::error::TrainerError),
    /// A file or folder that cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A FIFO, a device or a folder where a file was wanted (opening it could block).
    #[error("{}: not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("{}: not a SoundFont ({source})", path.display())]
    NotASoundFont {
        path: PathBuf,
        #[source]
        source: rustysynth::SoundFontError,
    },
    /// A SoundFont whose chunks do not fit its file (checked before it is read).
    #[error("{}: a damaged SoundFont: {source}", path.display())]
    BrokenSoundFont {
        path: PathBuf,
        #[source]
        source: crate::sf2_file::StructureError,
    },
    /// A SoundFont that made its reader panic (the panic was caught on the loader thread).
    #[error("{}: the SoundFont could not be read (its reader failed: {message})", path.display())]
    SoundFontPanicked { path: PathBuf, message: String },
    #[error("{}: the SoundFont has no instruments", path.display())]
    NoInstruments { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Synthesizer {
        path: PathBuf,
        #[source]
        source: rustysynth::SynthesizerError,
    },
    /// The standalone's settings file is not what it writes.
    #[error("{}: not Continuo's standalone settings ({source})", path.display())]
    Settings {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Learn was asked for with no takes kept.
    #[error("nothing to learn from yet: keep a take first")]
    NoTakes,
    /// Learn's fine-tuning did not beat the model on the takes held out.
    #[error("the takes held out were answered no better after learning, so nothing was learnt")]
    NothingLearnt,
    /// Learn's one-thread pool could not start.
    #[error("the learning's thread could not start: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    /// "Regenerate" before any phrase was answered.
    #[error("nothing to answer again yet: play a phrase first")]
    NothingToAnswer,
    /// An answer asked for before any model loaded.
    #[error("no model plays yet")]
    NoModel,
}

impl PluginError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PluginError {
        let path = path.into();
        move |source| PluginError::Io { path, source }
    }
}
