//! The inference worker: its own thread, owning the model (loaded here, never on the audio
//! thread). It takes continuation requests from the audio thread, primes the model with the
//! phrase in the model's key frame, and samples one step at a time, at most `AHEAD` steps
//! before the music, so a change of temperature or rest bias shapes the very next notes.

use crate::capture::Phrase;
use crate::events::StepToken;
use crate::link::{Answered, Link, Request, AHEAD};
use continuo_core::continuation::{shift_for, Continuer};
use continuo_core::encoding::encode;
use continuo_core::grid::StepNote;
use continuo_core::inference::ContinuationModel;
use continuo_core::key::estimate_key;
use continuo_core::sampler::SamplerSettings;
use continuo_core::song::ESTIMATION_PROFILE;
use continuo_core::{Note, Token};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// The last phrase heard and the last answer, for the editor's piano roll and export.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// (step, steps, pitch) of the phrase's notes, steps from the phrase's first onset.
    pub phrase: Vec<(i64, u32, u8)>,
    /// The answer's tokens (in the key it was played in) and the step it started on,
    /// counted like the phrase's.
    pub answer: Vec<Token>,
    pub answer_start: i64,
    pub steps_per_beat: u32,
}

/// What the worker shares with the editor (never with the audio thread).
pub struct Shared {
    pub status: Mutex<ModelStatus>,
    pub history: Mutex<History>,
    loads: Sender<PathBuf>,
    pending: Mutex<Option<Receiver<PathBuf>>>,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        let (loads, pending) = channel();
        Arc::new(Shared {
            status: Mutex::new(ModelStatus::default()),
            history: Mutex::new(History::default()),
            loads,
            pending: Mutex::new(Some(pending)),
        })
    }

    /// Load a model on the worker thread (now, or when it starts). If it cannot be loaded,
    /// the model before it keeps playing and `status.error` says why.
    pub fn load(&self, path: PathBuf) {
        let _ = self.loads.send(path);
    }

    pub fn status(&self) -> ModelStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub struct Worker {
    link: Arc<Link>,
    handle: Option<JoinHandle<()>>,
    pub shared: Arc<Shared>,
}

impl Worker {
    /// Start the worker thread with `model` as the first model to load.
    pub fn spawn(link: Arc<Link>, model: PathBuf) -> Worker {
        let shared = Shared::new();
        shared.load(model);
        Worker::start(link, shared)
    }

    /// Start the worker thread for `shared`, whose load requests it serves (once only).
    pub fn start(link: Arc<Link>, shared: Arc<Shared>) -> Worker {
        let requests = shared.pending.lock().unwrap_or_else(|e| e.into_inner()).take().expect("one worker per Shared");
        let (l, s) = (link.clone(), shared.clone());
        let handle = std::thread::Builder::new()
            .name("continuo-inference".into())
            .spawn(move || run(l, s, requests))
            .expect("the inference thread starts");
        Worker { link, handle: Some(handle), shared }
    }

    pub fn load(&self, path: PathBuf) {
        self.shared.load(path);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.link.shutdown.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn summary(card: &continuo_core::card::ModelCard) -> String {
    let nll = card.evaluation.get("test_nll_nats").map(|v| format!(", test NLL {v:.3}")).unwrap_or_default();
    format!(
        "{}: {} encoding, {} grid, {} x {} LSTM, {} tokens{nll}",
        card.name,
        card.encoding.kind,
        card.grid(),
        card.onnx.layers,
        card.onnx.hidden_size,
        card.encoding.vocabulary.len()
    )
}

fn run(link: Arc<Link>, shared: Arc<Shared>, loads: Receiver<PathBuf>) {
    let mut continuer: Option<Continuer> = None;
    while !link.shutdown.load(Ordering::Acquire) {
        while let Ok(path) = loads.try_recv() {
            let mut st = shared.status.lock().unwrap_or_else(|e| e.into_inner());
            match ContinuationModel::load(&path) {
                Ok(model) => {
                    let summary = summary(model.card());
                    *st = ModelStatus { name: Some(model.card().name.clone()), path: Some(path), summary, error: None };
                    // The old model is dropped here, on the worker thread.
                    continuer = Some(Continuer::new(model, 1));
                    link.model_ready.store(true, Ordering::Release);
                }
                Err(e) => st.error = Some(e.to_string()),
            }
        }
        // Only the newest request of the current generation matters.
        let mut newest = None;
        while let Some(r) = link.requests.pop() {
            newest = Some(r);
        }
        let Some(request) = newest.filter(|r| r.generation == link.current_generation()) else {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        };
        if let Some(c) = continuer.as_mut() {
            if let Err(e) = answer(c, &link, &request, &shared) {
                shared.status.lock().unwrap_or_else(|e| e.into_inner()).error = Some(e);
            }
        }
    }
}

/// The phrase as the model's tokens: notes from its first onset, then rests up to the
/// first answered step. Also the notes in beats, for key estimation.
pub fn phrase_tokens(phrase: &Phrase, start_step: i64, steps_per_beat: u32, kind: continuo_core::EncodingKind) -> (Vec<Token>, Vec<Note>) {
    let notes = phrase.notes();
    let Some(first) = notes.iter().map(|n| n.step).min() else { return (vec![], vec![]) };
    let step_notes: Vec<StepNote> = notes
        .iter()
        .map(|n| StepNote { step: (n.step - first) as u32, steps: n.steps.max(1), pitch: n.pitch, velocity: n.velocity, voice: 0 })
        .collect();
    let mut tokens = encode(&step_notes, kind);
    let wanted = (start_step - first).max(0) as usize;
    tokens.truncate(wanted.max(1));
    tokens.resize(wanted, Token::Rest);
    let beats = notes
        .iter()
        .map(|n| Note { onset: (n.step - first) as f64 / steps_per_beat as f64, duration: n.steps as f64 / steps_per_beat as f64, pitch: n.pitch, velocity: n.velocity, voice: 0 })
        .collect();
    (tokens, beats)
}

fn answer(continuer: &mut Continuer, link: &Link, request: &Request, shared: &Shared) -> Result<(), String> {
    let card = continuer.model.card().clone();
    let (tokens, notes) = phrase_tokens(&request.phrase, request.start_step, card.grid().steps_per_beat, card.encoding.kind);
    let key = estimate_key(&notes, ESTIMATION_PROFILE).map(|e| e.key);
    continuer.reseed(request.seed);
    continuer.follow_key = request.follow_key;
    continuer.prime(&tokens, shift_for(card.encoding.key_normalisation, key)).map_err(|e| e.to_string())?;
    let first = request.phrase.notes().iter().map(|n| n.step).min().unwrap_or(request.start_step);
    {
        let mut h = shared.history.lock().unwrap_or_else(|e| e.into_inner());
        h.phrase = request.phrase.notes().iter().map(|n| (n.step - first, n.steps, n.pitch)).collect();
        h.answer.clear();
        h.answer_start = request.start_step - first;
        h.steps_per_beat = card.grid().steps_per_beat;
    }
    for step in request.start_step..request.start_step + request.steps as i64 {
        // Just in time: no further ahead of the music than AHEAD steps.
        while link.now_step.load(Ordering::Acquire) < step - AHEAD {
            if link.current_generation() != request.generation || link.shutdown.load(Ordering::Acquire) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if link.current_generation() != request.generation {
            return Ok(());
        }
        let settings = SamplerSettings {
            temperature: link.sampling.temperature.load(Ordering::Relaxed),
            rest_bias: link.sampling.rest_bias.load(Ordering::Relaxed),
            entropy_adaptive: link.sampling.entropy_adaptive.load(Ordering::Relaxed),
            top_p: 1.0,
            allow_song_end: false,
        };
        let token = continuer.next(&settings).map_err(|e| e.to_string())?;
        shared.history.lock().unwrap_or_else(|e| e.into_inner()).answer.push(token.clone());
        let mut answered = Answered { generation: request.generation, step, token: StepToken::from_token(&token) };
        while let Err(back) = link.tokens.push(answered) {
            if link.current_generation() != request.generation || link.shutdown.load(Ordering::Acquire) {
                return Ok(());
            }
            answered = back;
            std::thread::sleep(Duration::from_micros(200));
        }
        link.ready_until.store(step, Ordering::Release);
    }
    Ok(())
}
