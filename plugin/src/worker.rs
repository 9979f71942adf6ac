//! The inference worker: its own thread, owning the model (loaded here, never on the audio
//! thread). It takes continuation requests from the audio thread, primes the model with the
//! phrase in the model's key frame, and samples one step at a time, at most `AHEAD` steps
//! before the music, so a change of temperature or rest bias shapes the very next notes.
//! In continuous mode it also reads the player's notes and, at each bar line after the
//! player has played, primes the model again with the last bars of both voices.
//! The model to play is the path in `Shared::model_path` (the plugin's saved state): the
//! worker loads it whenever it changes, and during a continuous answer at the next bar line.
//! With nothing to do the worker parks; the audio thread wakes it (`Link::wake`), and it
//! looks at the model path again at least every `IDLE_CHECK`.
//! Each answer it finishes becomes a recent take (`recent`); between answers it answers the
//! chosen take's phrase again or chooses another when the editor asks, and sends the chosen
//! take to the audio thread for loop mode. Keeping takes (written by the takes' thread) and
//! learning from them (the Learn thread) are started from here or the editor, never run here.

use crate::capture::{HeardNote, Phrase};
use crate::events::StepToken;
use crate::learn::{LearnJob, LearnState, Learner};
use crate::link::{Answered, Link, LoopStep, Request, SamplingShared, AHEAD};
use crate::recent::RecentTakes;
use crate::soundfont::Loader;
use crate::sync::{Locked, ReadWrite};
use crate::takes::{take_of, takes_folder, TakeKind, TakeWriter, TakesStatus};
use continuo_core::continuation::{AnswerShape, Continuer};
use continuo_core::encoding::encode;
use continuo_core::grid::StepNote;
use continuo_core::inference::{ContinuationModel, ModelError};
use continuo_core::key::estimate_key;
use continuo_core::metre::Metre;
use continuo_core::sampler::SamplerSettings;
use continuo_core::song::shift_for;
use continuo_core::song::ESTIMATION_PROFILE;
use continuo_core::steering::{Scale, Steering};
use continuo_core::{Note, Token};
use nice_plug_egui::RepaintNotifier;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How often a parked worker looks for a new model path (set by the editor or a restored
/// project) without being woken.
const IDLE_CHECK: Duration = Duration::from_millis(100);
/// How long a worker that waits for the music to move on sleeps at most between looks.
const JUST_IN_TIME_CHECK: Duration = Duration::from_millis(2);

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

/// The last phrase heard and the last answer, for the editor's piano roll, export and the
/// takes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// The phrase's notes, steps counted from its first onset.
    pub phrase: Vec<HeardNote>,
    /// The answer's tokens (in the key it was played in, before the octave shift) and the
    /// step it started on, counted like the phrase's.
    pub answer: Vec<Token>,
    pub answer_start: i64,
    /// Where the answer's first step fell in the host's bar, as the model was told.
    pub bar_position: usize,
    /// The engine's step that the history's step 0 is (where the playhead is drawn from).
    pub origin_step: i64,
    pub steps_per_beat: u32,
    /// The host's tempo, the answer's velocity and octave shift as played.
    pub bpm: f64,
    pub velocity: u8,
    pub octave: i32,
    /// The model's name and the sampling settings, for the takes' meta events.
    pub model: String,
    pub settings: String,
}

/// How many answered tokens the history keeps (a continuous answer never ends).
pub const HISTORY_TOKENS: usize = 4096;
/// Bars of both voices a continuous answer is primed with again.
pub const CONTINUOUS_WINDOW_BARS: i64 = 4;

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
            return self.fail("no folder for the takes: set CONTINUO_HOME or HOME".into());
        };
        let job = LearnJob { parent: parent.clone(), takes: home.join("takes"), models: home.join("models/learnt") };
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
                return self.fail("no folder for the takes: set CONTINUO_HOME or HOME".into());
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
    fn wanted_model(&self, current: Option<&str>) -> Option<(String, PathBuf)> {
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

pub struct Worker {
    link: Arc<Link>,
    handle: Option<JoinHandle<()>>,
    pub shared: Arc<Shared>,
}

impl Worker {
    /// Start the worker thread with `model` as the model to play.
    pub fn spawn(link: Arc<Link>, model: PathBuf) -> std::io::Result<Worker> {
        Worker::start(link, Shared::new(Arc::default(), Arc::default(), Arc::default(), model))
    }

    /// Start the worker thread for `shared`, whose model it loads and plays. Fails when the
    /// system cannot start a thread.
    pub fn start(link: Arc<Link>, shared: Arc<Shared>) -> std::io::Result<Worker> {
        let (l, s) = (link.clone(), shared.clone());
        let handle = std::thread::Builder::new().name("continuo-inference".into()).spawn(move || run(l, s))?;
        // Set once per link: a second worker on the same link is woken through the first's
        // handle, which no longer parks.
        let _ = link.worker.set(handle.thread().clone());
        Ok(Worker { link, handle: Some(handle), shared })
    }

    pub fn load(&self, path: PathBuf) {
        self.shared.load(path);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.link.shutdown.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

/// The model in a musician's words: what it plays, on which notes, and its card's
/// description.
pub fn summary(card: &continuo_core::card::ModelCard) -> String {
    let plays = match card.encoding.kind {
        continuo_core::EncodingKind::Melody => "melodies",
        continuo_core::EncodingKind::Chords => "chords",
    };
    let notes = match card.grid().steps_per_beat {
        1 => "quarter notes".to_string(),
        2 => "eighth notes".to_string(),
        3 => "eighth-note triplets".to_string(),
        4 => "sixteenth notes".to_string(),
        6 => "sixteenth-note triplets".to_string(),
        8 => "thirty-second notes".to_string(),
        n => format!("{n} steps a beat"),
    };
    let about = if card.description.is_empty() { String::new() } else { format!(". {}", card.description) };
    format!("{} plays {plays} in {notes}{about}", card.name)
}

/// The model playing, and the saved path it was loaded for ("" is the default model).
#[derive(Default)]
struct Slot {
    continuer: Option<Continuer>,
    loaded: Option<String>,
}

impl Slot {
    /// Load the model the plugin wants, if it changed: true when another model now plays.
    fn follow(&mut self, link: &Link, shared: &Shared) -> bool {
        let Some((path, file)) = shared.wanted_model(self.loaded.as_deref()) else { return false };
        self.loaded = Some(path);
        load(file, &mut self.continuer, link, shared)
    }
}

/// Load `path`; on failure the model before keeps playing (or, if there is none, the
/// default model is tried) and the status says why. True when a model was loaded.
fn load(path: PathBuf, continuer: &mut Option<Continuer>, link: &Link, shared: &Shared) -> bool {
    let loaded = ContinuationModel::load(&path);
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
            st.error = Some(e.to_string());
            drop(st);
            continuer.is_none()
                && path != shared.default_model
                && load(shared.default_model.clone(), continuer, link, shared)
        }
    }
}

fn run(link: Arc<Link>, shared: Arc<Shared>) {
    let mut slot = Slot::default();
    while !link.shutdown.load(Ordering::Acquire) {
        slot.follow(&link, &shared);
        // A SoundFont, if the audio thread wants one (a loader thread reads it).
        shared.fonts.follow(&link.fonts, &link.repaint);
        // Only the newest request of the current generation matters.
        let mut newest = None;
        while let Some(r) = link.requests.pop() {
            newest = Some(r);
        }
        let Some(request) = newest.filter(|r| r.generation == link.current_generation()) else {
            if let Some(continuer) = slot.continuer.as_mut() {
                follow_memory(continuer, &link, &shared);
            }
            follow_recent(&mut slot, &link, &shared);
            std::thread::park_timeout(IDLE_CHECK);
            continue;
        };
        let started = slot.continuer.is_some();
        match answer(&mut slot, &link, &request, &shared) {
            Ok(()) if started && !request.continuous => record(&link, &request, &shared),
            Ok(()) => {}
            Err(e) => {
                shared.fail(e.to_string());
                link.repaint.request_repaint();
            }
        }
    }
}

/// Keep the answer just played (or cut short) among the recent takes.
fn record(link: &Link, request: &Request, shared: &Shared) {
    let history = shared.history.locked().clone();
    if !history.answer.is_empty() {
        shared.recent.locked().add(*request, sampler_settings(link), history);
    }
}

/// Choose another recent take, or answer the chosen one's phrase again, if the editor asked.
fn follow_recent(slot: &mut Slot, link: &Link, shared: &Shared) {
    let by = link.choose.swap(0, Ordering::AcqRel);
    if by != 0 {
        let chosen = shared.recent.locked().choose(by).map(|t| t.history.clone());
        if let Some(history) = chosen {
            show_and_loop(link, shared, history);
        }
    }
    if link.regenerate.swap(false, Ordering::AcqRel) {
        if let Err(why) = regenerate(slot, link, shared) {
            shared.fail(why);
            link.repaint.request_repaint();
        }
    }
}

/// The chosen take is what the editor shows and exports, and what loop mode plays.
fn show_and_loop(link: &Link, shared: &Shared, history: History) {
    send_loop_take(link, &history.answer);
    *shared.history.locked() = history;
    link.repaint.request_repaint();
}

/// Answer the chosen take's phrase again, all at once (nothing waits for it to play), with
/// a new random seed and the sampling settings of now; the new take is chosen.
fn regenerate(slot: &mut Slot, link: &Link, shared: &Shared) -> Result<(), String> {
    let take = shared.recent.locked().chosen().cloned();
    let Some(take) = take else { return Err("nothing to answer again yet: play a phrase first".into()) };
    let Some(continuer) = slot.continuer.as_mut() else { return Err("no model plays yet".into()) };
    let mut request = take.request;
    request.seed = take.request.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(take.number as u64);
    continuer.reseed(request.seed);
    continuer.follow_key = request.follow_key;
    let max_steps = Some(request.steps as usize);
    prime(continuer, &request.phrase, request.start_step, &request, max_steps).map_err(|e| e.to_string())?;
    let settings = sampler_settings(link);
    let answer: Vec<Token> =
        (0..request.steps).map(|_| continuer.next(&settings)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let history =
        History { answer, model: continuer.model.card().name.clone(), settings: describe(&settings), ..take.history };
    let history = shared.recent.locked().add(request, settings, history).history.clone();
    show_and_loop(link, shared, history);
    Ok(())
}

/// Send a take's tokens to the audio thread for loop mode (waiting, a second at most, while
/// its queue is full).
fn send_loop_take(link: &Link, tokens: &[Token]) {
    let len = tokens.len().min(crate::engine::TAKE_CAPACITY).min(u16::MAX as usize);
    for (index, token) in tokens[..len].iter().enumerate() {
        let mut step = LoopStep { index: index as u16, len: len as u16, token: StepToken::from_token(token) };
        let waited = Instant::now();
        while let Err(back) = link.loop_take.push(step) {
            if link.shutdown.load(Ordering::Acquire) || waited.elapsed() > Duration::from_secs(1) {
                return;
            }
            step = back;
            std::thread::park_timeout(JUST_IN_TIME_CHECK);
        }
    }
}

/// The phrase as the model's tokens: notes from its first onset, then rests up to the
/// first answered step. Also the notes in beats, for key estimation.
pub fn phrase_tokens(
    phrase: &Phrase,
    start_step: i64,
    steps_per_beat: u32,
    kind: continuo_core::EncodingKind,
) -> (Vec<Token>, Vec<Note>) {
    let notes = phrase.notes();
    let Some(first) = notes.iter().map(|n| n.step).min() else { return (vec![], vec![]) };
    let step_notes: Vec<StepNote> = notes
        .iter()
        .map(|n| StepNote {
            step: (n.step - first) as u32,
            steps: n.steps.max(1),
            pitch: n.pitch,
            velocity: n.velocity,
            voice: 0,
        })
        .collect();
    let mut tokens = encode(&step_notes, kind);
    let wanted = (start_step - first).max(0) as usize;
    tokens.truncate(wanted.max(1));
    tokens.resize(wanted, Token::Rest);
    let beats = notes
        .iter()
        .map(|n| Note {
            onset: (n.step - first) as f64 / steps_per_beat as f64,
            duration: n.steps as f64 / steps_per_beat as f64,
            pitch: n.pitch,
            velocity: n.velocity,
            voice: 0,
        })
        .collect();
    (tokens, beats)
}

/// Prime the model with `notes` (in the piece's key) up to `start_step`, in the key frame
/// the notes suggest, and tell it where `start_step` is in the host's bar and how long the
/// answer may be (`None`: it goes on). Returns the tokens primed.
fn prime(
    continuer: &mut Continuer,
    notes: &Phrase,
    start_step: i64,
    request: &Request,
    max_steps: Option<usize>,
) -> Result<Vec<Token>, ModelError> {
    let card = continuer.model.card();
    let (kind, normalisation, spb) = (card.encoding.kind, card.encoding.key_normalisation, card.grid().steps_per_beat);
    let (tokens, beats) = phrase_tokens(notes, start_step, spb, kind);
    let key = estimate_key(&beats, ESTIMATION_PROFILE).map(|e| e.key);
    // The host's bar: `start_step` is `position` steps after a downbeat.
    let bar_steps = request.bar_steps.max(1);
    let position = (request.bar_position as i64 + start_step - request.start_step).rem_euclid(bar_steps as i64);
    let metre = Metre { bar_steps, downbeat: tokens.len() as i64 - position };
    continuer.prime_in(&tokens, shift_for(normalisation, key), metre)?;
    continuer.shape_answer(&AnswerShape { max_steps, key });
    Ok(tokens)
}

/// Forget the session if the editor asked to; tell the editor how much is remembered; keep
/// the last phrase and answer, and learn from the takes, if the player asked to.
fn follow_memory(continuer: &mut Continuer, link: &Link, shared: &Shared) {
    if link.forget.swap(false, Ordering::AcqRel) {
        continuer.forget();
    }
    link.remembered.store(continuer.remembered(), Ordering::Relaxed);
    if link.keep.swap(false, Ordering::AcqRel) {
        shared.keep(TakeKind::Kept);
    }
    if link.learn.swap(false, Ordering::AcqRel) {
        shared.learn(link.repaint.clone());
    }
}

/// The sampling settings in words, for a take's meta events.
fn describe(s: &SamplerSettings) -> String {
    format!(
        "temperature {:.2}, entropy {:.2}, rest bias {:.2}, memory {:.2}, {:?}",
        s.temperature, s.entropy_adaptive, s.rest_bias, s.memory, s.steering
    )
}

/// The notes of the last `window` steps before `step` of both voices, in order of onset.
fn recent(player: &[HeardNote], own: &[HeardNote], step: i64, window: i64) -> Phrase {
    let mut notes: Vec<HeardNote> =
        player.iter().chain(own).filter(|n| n.step >= step - window && n.step < step).copied().collect();
    notes.sort_by_key(|n| (n.step, n.pitch));
    Phrase::from_notes(&notes)
}

/// Whether the answer of `request` is still wanted.
fn wanted(link: &Link, request: &Request) -> bool {
    link.current_generation() == request.generation && !link.shutdown.load(Ordering::Acquire)
}

/// Answer `request` step by step, just in time. A continuous answer keeps the last
/// `CONTINUOUS_WINDOW_BARS` bars of both voices (nothing older), and at each bar line primes
/// the model again with them when the player has played, or when another model was chosen.
fn answer(slot: &mut Slot, link: &Link, request: &Request, shared: &Shared) -> Result<(), ModelError> {
    let Some(continuer) = slot.continuer.as_mut() else { return Ok(()) };
    let steps_per_beat = continuer.model.card().grid().steps_per_beat;
    // Nothing of this answer is ready yet.
    link.ready_until.store(request.start_step - 1, Ordering::Release);
    continuer.reseed(request.seed);
    continuer.follow_key = request.follow_key;
    // The session memory hears the player's phrase, then everything answered.
    follow_memory(continuer, link, shared);
    let max_steps = (!request.continuous).then_some(request.steps as usize);
    let phrase = prime(continuer, &request.phrase, request.start_step, request, max_steps)?;
    // The gap before the answer is waiting, not music: the memory hears the phrase up to
    // its last sound (else it learns that rests follow rests, and answers with silence).
    let sounding = phrase.iter().rposition(|t| *t != Token::Rest).map_or(0, |i| i + 1);
    continuer.remember(&phrase[..sounding]);
    let bar_position = continuer.bar_position();
    let first = request.phrase.notes().iter().map(|n| n.step).min().unwrap_or(request.start_step);
    {
        let mut h = shared.history.locked();
        h.phrase = request.phrase.notes().iter().map(|n| HeardNote { step: n.step - first, ..*n }).collect();
        h.answer.clear();
        h.answer_start = request.start_step - first;
        h.bar_position = bar_position;
        h.origin_step = first;
        h.steps_per_beat = steps_per_beat;
        h.bpm = link.bpm.load(Ordering::Relaxed) as f64;
        h.velocity = match link.answer_velocity.load(Ordering::Relaxed) {
            0 => (h.phrase.iter().map(|n| n.velocity as u32).sum::<u32>() / h.phrase.len().max(1) as u32).max(1) as u8,
            v => v.min(127) as u8,
        };
        h.octave = link.octave.load(Ordering::Relaxed);
        h.model = continuer.model.card().name.clone();
        h.settings = describe(&sampler_settings(link));
    }
    if link.save_phrases.load(Ordering::Relaxed) {
        shared.keep(TakeKind::Phrase);
    }
    // Continuous mode: both voices' notes, and whether the player has played since the
    // model was last primed.
    let bar_steps = request.bar_steps.max(1) as i64;
    let window = CONTINUOUS_WINDOW_BARS * bar_steps;
    let mut player: Vec<HeardNote> = request.phrase.notes().to_vec();
    let mut own: Vec<HeardNote> = Vec::new();
    let mut heard_new = false;
    let end = if request.continuous { i64::MAX } else { request.start_step + request.steps as i64 };
    for step in request.start_step..end {
        // Just in time: no further ahead of the music than AHEAD steps.
        while link.now_step.load(Ordering::Acquire) < step - AHEAD {
            if !wanted(link, request) {
                return Ok(());
            }
            shared.fonts.follow(&link.fonts, &link.repaint);
            std::thread::park_timeout(JUST_IN_TIME_CHECK);
        }
        if !wanted(link, request) {
            return Ok(());
        }
        if request.continuous {
            while let Some(h) = link.heard.pop() {
                if h.generation == request.generation {
                    player.push(h.note);
                    heard_new = true;
                }
            }
            if (step - request.start_step) % bar_steps == 0 {
                player.retain(|n| n.step >= step - window);
                own.retain(|n| n.step >= step - window);
                let swapped = slot.follow(link, shared);
                if heard_new || swapped {
                    let continuer = slot.continuer.as_mut().expect("a model once loaded stays");
                    if swapped {
                        continuer.reseed(request.seed ^ step as u64);
                        continuer.follow_key = request.follow_key;
                    }
                    prime(continuer, &recent(&player, &own, step, window), step, request, None)?;
                    heard_new = false;
                }
            }
        }
        let continuer = slot.continuer.as_mut().expect("a model once loaded stays");
        follow_memory(continuer, link, shared);
        let token = continuer.next(&sampler_settings(link))?;
        link.guarded_steps.store(continuer.guarded(), Ordering::Relaxed);
        match &token {
            Token::Onset(pitches) => {
                own.extend(pitches.iter().map(|&pitch| HeardNote { step, steps: 1, pitch, velocity: 90 }))
            }
            Token::Hold => {
                own.iter_mut().rev().take_while(|n| n.step + n.steps as i64 == step).for_each(|n| n.steps += 1)
            }
            _ => {}
        }
        remember(shared, &token);
        link.repaint.request_repaint();
        let mut answered = Answered { generation: request.generation, step, token: StepToken::from_token(&token) };
        while let Err(back) = link.tokens.push(answered) {
            if !wanted(link, request) {
                return Ok(());
            }
            answered = back;
            std::thread::park_timeout(JUST_IN_TIME_CHECK);
        }
        link.ready_until.store(step, Ordering::Release);
    }
    Ok(())
}

/// The sampling settings as the audio thread last set them.
fn sampler_settings(link: &Link) -> SamplerSettings {
    SamplerSettings {
        temperature: link.sampling.temperature.load(Ordering::Relaxed),
        rest_bias: link.sampling.rest_bias.load(Ordering::Relaxed),
        entropy_adaptive: link.sampling.entropy_adaptive.load(Ordering::Relaxed),
        top_p: 1.0,
        allow_song_end: false,
        memory: link.sampling.memory.load(Ordering::Relaxed),
        develop: link.sampling.develop.load(Ordering::Relaxed),
        cadence: true,
        steering: steering(&link.sampling),
        guard: true,
    }
}

/// The steering controls as the audio thread last set them.
fn steering(s: &SamplingShared) -> Steering {
    let (low, high) = (s.register_low.load(Ordering::Relaxed), s.register_high.load(Ordering::Relaxed));
    Steering {
        density: s.density.load(Ordering::Relaxed),
        register: (high >= low).then(|| (low.clamp(0, 127) as u8, high.clamp(0, 127) as u8)),
        register_hard: s.register_hard.load(Ordering::Relaxed),
        leap: s.leap.load(Ordering::Relaxed),
        repetition: s.repetition.load(Ordering::Relaxed),
        scale: Scale::ALL.get(s.scale.load(Ordering::Relaxed).wrapping_sub(1) as usize).copied(),
    }
}

/// The answered token into the editor's history (the last `HISTORY_TOKENS` at most).
fn remember(shared: &Shared, token: &Token) {
    let mut h = shared.history.locked();
    if h.answer.len() >= HISTORY_TOKENS {
        h.answer.drain(..HISTORY_TOKENS / 2);
        h.answer_start += (HISTORY_TOKENS / 2) as i64;
    }
    h.answer.push(token.clone());
}
