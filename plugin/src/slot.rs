//! The model playing, on the inference worker's thread: loaded there (never on the audio
//! thread) whenever the path the plugin wants changes. A model that cannot be loaded leaves
//! the one before it playing (or, with none, the default model is tried), and the status
//! says why.

use crate::handle::{summary, ModelStatus, Shared};
use crate::link::Link;
use crate::sync::Locked;
use continuo_core::continuation::Continuer;
use continuo_core::inference::ContinuationModel;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

/// The model playing, and the saved path it was loaded for ("" is the default model).
#[derive(Default)]
pub struct Slot {
    pub continuer: Option<Continuer>,
    loaded: Option<String>,
}

impl Slot {
    /// Load the model the plugin wants, if it changed: true when another model now plays.
    pub fn follow(&mut self, link: &Link, shared: &Shared) -> bool {
        let Some((path, file)) = shared.wanted_model(self.loaded.as_deref()) else { return false };
        self.loaded = Some(path);
        load(file, &mut self.continuer, link, shared)
    }
}

/// Load `path`; on failure the model before keeps playing (or, if there is none, the
/// default model is tried) and the status says why. True when a model was loaded.
fn load(path: PathBuf, continuer: &mut Option<Continuer>, link: &Link, shared: &Shared) -> bool {
    let loaded = continuo_trainer::export::check_weights_finite(&path)
        .map_err(|e| e.to_string())
        .and_then(|()| ContinuationModel::load(&path).map_err(|e| e.to_string()));
    link.repaint.request_repaint();
    let mut st = shared.status.locked();
    match loaded {
        Ok(model) => {
            let summary = summary(model.card());
            let error = st.error.take().filter(|_| continuer.is_none());
            *st = ModelStatus { name: Some(model.card().name.clone()), path: Some(path), summary, error };
            link.model_steps_per_beat.store(model.card().grid().steps_per_beat, Ordering::Release);
            // The old model is dropped here, on the worker thread.
            *continuer = Some(Continuer::new(model, 1));
            link.model_ready.store(true, Ordering::Release);
            true
        }
        Err(e) => {
            st.error = Some(e);
            drop(st);
            continuer.is_none()
                && path != shared.default_model
                && load(shared.default_model.clone(), continuer, link, shared)
        }
    }
}
