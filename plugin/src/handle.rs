//! The worker's editor-facing handle: what the editor, the plugin's saved state and the
//! worker share (never the audio thread): the model wanted and the one playing, the last
//! phrase and answer, the recent takes, and the editor's commands that run off the worker
//! thread (load a model, keep a take on the takes' thread, learn on the Learn thread, go
//! back to the original model). Called from the editor (GUI thread), the plugin (main
//! thread) and the worker thread; every call returns at once.

use crate::history::History;
use crate::learn::{LearnJob, LearnState, Learner};
use crate::recent::RecentTakes;
use crate::soundfont::Loader;
use crate::sync::{Locked, ReadWrite};
use crate::takes::{take_of, takes_folder, TakeKind, TakeWriter, TakesStatus};
use nice_plug_egui::RepaintNotifier;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

/// What the editor shows about the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelStatus {
    /// The model playing, by its card's name, and its file.
    pub name: Option<String>,
    pub path: Option<PathBuf>,
    /// A one-line summary of its card.
    pub summary: String,
    /// Why the last load failed (the model before it keeps playing).
    pub error: Option<String>,
}

/// What the worker shares with the editor and the plugin's state (never with the audio
/// thread).
pub struct Shared {
    pub status: Mutex<ModelStatus>,
    pub history: Mutex<History>,
    /// The last answers and the chosen one (whose history `history` then shows).
    pub recent: Mutex<RecentTakes>,
    /// The model file to play; empty: `default_model`. Saved with the plugin's state.
    pub model_path: Arc<RwLock<String>>,
    pub default_model: PathBuf,
    /// The model a learnt model came from, to go back to (empty: none). Saved with the
    /// plugin's state.
    pub original_model: Arc<RwLock<String>>,
    /// The takes' writer thread, started with the first take.
    takes: Mutex<Option<TakeWriter>>,
    /// The Learn action's thread.
    learner: Learner,
    /// The SoundFont voice's file and its loader thread.
    pub fonts: Loader,
}

impl Shared {
    pub fn new(
        model_path: Arc<RwLock<String>>,
        original_model: Arc<RwLock<String>>,
        soundfont: Arc<RwLock<String>>,
        default_model: PathBuf,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            status: Mutex::new(ModelStatus::default()),
            history: Mutex::new(History::default()),
            recent: Mutex::new(RecentTakes::default()),
            model_path,
            default_model,
            original_model,
            takes: Mutex::new(None),
            learner: Learner::default(),
            fonts: Loader::new(soundfont),
        })
    }

    /// Fine-tune the model playing on the takes folder in the background, then play the
    /// new model (the one before it stays the original to go back to). Nothing happens
    /// while a learning runs; why it could not start or failed is in [`Shared::learning`].
    pub fn learn(&self, repaint: RepaintNotifier) {
        let Some(parent) = self.status().path else {
            return self.fail("no model plays yet: nothing to learn from".into());
        };
        let Some(home) = continuo_core::inference::data_dir() else {
            return self.fail("no folder for the takes: set CONTINUO_HOME".into());
        };
        let job =
            LearnJob { parent: parent.clone(), takes: home.join("takes"), models: home.join("models").join("learnt") };
        let (model_path, original) = (self.model_path.clone(), self.original_model.clone());
        let changed = repaint.clone();
        self.learner.start(
            job,
            move || changed.request_repaint(),
            move |learnt| {
                let mut original = original.writing();
                if original.is_empty() {
                    *original = parent.to_string_lossy().into_owned();
                }
                *model_path.writing() = learnt.to_string_lossy().into_owned();
                repaint.request_repaint();
            },
        );
    }

    /// What the Learn action is doing.
    pub fn learning(&self) -> LearnState {
        self.learner.state()
    }

    /// Stop a learning under way (deactivation); returns at once.
    pub fn cancel_learning(&self) {
        self.learner.cancel();
    }

    /// Play the model that the learnt one came from again (nothing if none was learnt).
    pub fn revert_learning(&self) {
        let original = std::mem::take(&mut *self.original_model.writing());
        if !original.is_empty() {
            *self.model_path.writing() = original;
        }
    }

    /// Write the take of the history (on the takes' own thread); a take with no notes is
    /// not written.
    pub fn keep(&self, kind: TakeKind) {
        let history = self.history.locked().clone();
        let Some(take) = take_of(&history, kind, SystemTime::now()) else { return };
        let mut takes = self.takes.locked();
        if takes.is_none() {
            let Some(folder) = takes_folder() else {
                return self.fail("no folder for the takes: set CONTINUO_HOME".into());
            };
            match TakeWriter::start(folder) {
                Ok(writer) => *takes = Some(writer),
                Err(e) => return self.fail(format!("the takes' thread could not start ({e})")),
            }
        }
        if let Some(writer) = takes.as_ref() {
            writer.send(take);
        }
    }

    /// What the takes' writer has done, if it started.
    pub fn takes_status(&self) -> Option<TakesStatus> {
        self.takes.locked().as_ref().map(TakeWriter::status)
    }

    /// Play the model in `path` (loaded on the worker thread, now or when it starts). If it
    /// cannot be loaded, the model before it keeps playing and `status.error` says why.
    pub fn load(&self, path: PathBuf) {
        *self.model_path.writing() = path.to_string_lossy().into_owned();
    }

    /// The model file wanted now, if it is not `current` (the path last acted on).
    pub(crate) fn wanted_model(&self, current: Option<&str>) -> Option<(String, PathBuf)> {
        let path = self.model_path.reading();
        if current == Some(path.as_str()) {
            return None;
        }
        let file = if path.is_empty() { self.default_model.clone() } else { PathBuf::from(&*path) };
        Some((path.clone(), file))
    }

    pub fn status(&self) -> ModelStatus {
        self.status.locked().clone()
    }

    /// Show `why` as the error in the editor.
    pub fn fail(&self, why: String) {
        self.status.locked().error = Some(why);
    }
}

/// A grid of `steps_per_beat` in a musician's words: "sixteenth notes".
pub fn grid_notes(steps_per_beat: u32) -> String {
    match steps_per_beat {
        1 => "quarter notes".to_string(),
        2 => "eighth notes".to_string(),
        3 => "eighth-note triplets".to_string(),
        4 => "sixteenth notes".to_string(),
        6 => "sixteenth-note triplets".to_string(),
        8 => "thirty-second notes".to_string(),
        n => format!("{n} steps a beat"),
    }
}

/// The model in a musician's words: what it plays, on which notes, and its card's
/// description.
pub fn summary(card: &continuo_core::card::ModelCard) -> String {
    let plays = match card.encoding.kind {
        continuo_core::EncodingKind::Melody => "melodies",
        continuo_core::EncodingKind::Chords => "chords",
    };
    let notes = grid_notes(card.grid().steps_per_beat);
    let about = if card.description.is_empty() { String::new() } else { format!(". {}", card.description) };
    format!("{} plays {plays} in {notes}{about}", card.name)
}
