//! What the audio thread, the editor and the inference worker share: bounded lock-free
//! queues (requests, the player's notes and commands one way; answered steps and loop takes
//! the other), a health struct of counters, and a few atomics.
//! Fixed-size messages only. The worker parks when it has nothing to do; the audio thread
//! wakes it (an unpark: no lock, no allocation) when it asks for an answer or moves on.

use crate::capture::{HeardNote, Phrase};
use crate::events::StepToken;
use atomic_float::AtomicF32;
use crossbeam_queue::ArrayQueue;
use nice_plug_egui::RepaintNotifier;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

/// Answered steps the queue can hold (the worker stays a few steps ahead, so few are used).
pub const TOKEN_QUEUE: usize = 64;
/// How many steps past the audio thread's horizon (`Link::now_step`) the worker may sample.
pub const AHEAD: i64 = 2;

/// Steps a take (the answer recorded for the loop mode) holds at most: the audio thread's
/// take buffers and the loop-take queue are this long.
pub const TAKE_CAPACITY: usize = 4096;

/// Player's notes the worker has not read yet (continuous mode); more are dropped.
pub const HEARD_QUEUE: usize = 256;

/// One step of a take for loop mode to play instead of its last answer (a take chosen or
/// answered again in the editor): step `index` of `len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopStep {
    pub index: u16,
    pub len: u16,
    pub token: StepToken,
}

/// Continue a phrase: answer steps `start_step .. start_step + steps`, or from `start_step`
/// on until the generation changes if `continuous`.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub generation: u32,
    pub phrase: Phrase,
    pub start_step: i64,
    pub steps: u32,
    /// Keep answering, conditioned on the player's notes (sent through `Link::heard`) and on
    /// the answer itself, re-read at every bar line of `bar_steps` steps.
    pub continuous: bool,
    pub bar_steps: u32,
    /// Where `start_step` falls in its bar (steps after the host's bar line).
    pub bar_position: u32,
    /// Random seed for this answer (from the seed parameter, or fresh).
    pub seed: u64,
    /// Answer in the player's key (else in the model's key frame).
    pub follow_key: bool,
}

/// A note the player finished while a continuous answer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    pub generation: u32,
    pub note: HeardNote,
}

/// What the editor and the audio thread ask the worker to do, besides answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Forget the session memory (the editor's Forget button).
    Forget,
    /// Keep the last phrase and its answer (the Keep parameter's rising edge, or the editor).
    Keep,
    /// Learn from the takes (the Learn parameter's rising edge).
    Learn,
    /// Answer the chosen take's phrase again with a new random seed (the editor).
    Regenerate,
    /// Answer the chosen take's phrase this many times more, each with its own random seed,
    /// and choose the first of them (the editor's Answer ×4).
    Variations(u8),
    /// Choose the take this many places later (earlier if negative: the editor).
    Choose(i32),
}

/// Commands the worker has not read yet; more are dropped (a button pressed 64 times
/// between two looks of the worker).
pub const COMMAND_QUEUE: usize = 64;

/// Counters for the editor's health line and memory display, written by the audio thread
/// and the worker.
#[derive(Debug, Default)]
pub struct Health {
    /// Steps the audio thread had to hold because the worker was late.
    pub late_steps: AtomicU64,
    /// Events dropped because a block held more than the plugin keeps.
    pub dropped_events: AtomicU64,
    /// What a full queue between the threads could not take: the player's notes for the
    /// worker (continuous mode), steps of a take for loop mode, the voice's note-ons.
    pub lost: AtomicU64,
    /// Steps the sampling guard took over because the model was near-uniform (the music was
    /// unlike anything it learnt), since the model was loaded.
    pub guarded_steps: AtomicU64,
    /// Tokens the session memory holds.
    pub remembered: AtomicU64,
}

/// One answered step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    pub generation: u32,
    pub step: i64,
    pub token: StepToken,
}

/// Sampling settings the worker reads before every step, so a change shapes the next note.
pub struct SamplingShared {
    pub temperature: AtomicF32,
    pub rest_bias: AtomicF32,
    pub entropy_adaptive: AtomicF32,
    /// How much the session memory is blended in (0..=1).
    pub memory: AtomicF32,
    /// How often an answer's bar takes up a bar of the call (0..=1).
    pub develop: AtomicF32,
    /// Steering: density, step / leap and repetition (−1..=1); the register as its lowest
    /// and highest MIDI pitch (width 0: `register_high` < `register_low`, off); the hard
    /// register; the scale lock (0: off, else 1 + the index in `Scale::ALL`).
    pub density: AtomicF32,
    pub leap: AtomicF32,
    pub repetition: AtomicF32,
    pub register_low: AtomicI32,
    pub register_high: AtomicI32,
    pub register_hard: AtomicBool,
    pub scale: AtomicU32,
    /// How closely the answer fits the chord the player holds (0..=1).
    pub follow_chords: AtomicF32,
}

pub struct Link {
    pub requests: ArrayQueue<Request>,
    pub tokens: ArrayQueue<Answered>,
    pub heard: ArrayQueue<Heard>,
    /// The last grid step the audio thread expects to reach in its next block.
    pub now_step: AtomicI64,
    /// The step being played (the end of the last block), for the editor's playhead.
    pub play_step: AtomicI64,
    /// Answers of older generations are abandoned.
    pub generation: AtomicU32,
    /// The last step the worker has answered (of the current generation).
    pub ready_until: AtomicI64,
    /// The worker has a model loaded.
    pub model_ready: AtomicBool,
    /// The grid of the model playing, in steps per beat (from its card).
    pub model_steps_per_beat: AtomicU32,
    /// What went wrong or was held back, for the editor's health line.
    pub health: Health,
    /// What the editor and the audio thread ask of the worker besides answers
    /// ([`Link::send`]).
    pub commands: ArrayQueue<Command>,
    /// The worker's thread, once it runs: woken by [`Link::wake`].
    pub worker: OnceLock<Thread>,
    pub sampling: SamplingShared,
    /// The chord the player's harmony keys make, as [`crate::harmony_input::HeldChord::word`]
    /// packs it (the audio thread writes it; the worker follows it, the editor shows it).
    pub chord: AtomicU32,
    /// The answer's swing, as the off-beat eighth's position in the beat (0.5: straight),
    /// for the editor.
    pub swing: AtomicF32,
    /// Whether what swings is sixteenths (else eighths).
    pub swing_sixteenths: AtomicBool,
    /// The last phrase was played in triplets (for the editor).
    pub triplets: AtomicBool,
    /// Steps of a take for loop mode, from the worker (see [`LoopStep`]).
    pub loop_take: ArrayQueue<LoopStep>,
    /// Write every phrase played into the takes folder too.
    pub save_phrases: AtomicBool,
    /// The host's tempo, the answer's fixed velocity (0: the player's) and octave shift, as
    /// the audio thread last saw them (for the takes).
    pub bpm: AtomicF32,
    /// A MIDI clock on the input leads the time (for the editor).
    pub midi_clock: AtomicBool,
    pub answer_velocity: AtomicU32,
    /// Answers made for each phrase (the Answers per phrase parameter, 1..=4): the one played,
    /// and the others made at once beside it among the recent takes.
    pub answers_per_phrase: AtomicU32,
    /// The last program change on the input channel: its number (bits 0..7) and how many were
    /// heard (bits 7..), so that the editor recalls the same preset twice; 0 before any.
    pub program: AtomicU32,
    pub octave: AtomicI32,
    /// Ask the worker to stop.
    pub shutdown: AtomicBool,
    /// The audio thread is playing an answer (for the editor).
    pub answering: AtomicBool,
    /// Asks the editor to draw again (an atomic flag it polls): set when what it shows
    /// changes — the status, a phrase heard, a step answered — and by nothing else, so an
    /// idle editor stays idle.
    pub repaint: RepaintNotifier,
    /// SoundFont synthesisers to and from the audio thread (the SoundFont voice).
    pub fonts: Arc<crate::soundfont::Handoff>,
}

impl Link {
    pub fn new() -> Arc<Link> {
        Arc::new(Link {
            requests: ArrayQueue::new(4),
            tokens: ArrayQueue::new(TOKEN_QUEUE),
            heard: ArrayQueue::new(HEARD_QUEUE),
            loop_take: ArrayQueue::new(TAKE_CAPACITY),
            now_step: AtomicI64::new(i64::MIN),
            play_step: AtomicI64::new(i64::MIN),
            generation: AtomicU32::new(0),
            ready_until: AtomicI64::new(i64::MIN),
            model_ready: AtomicBool::new(false),
            model_steps_per_beat: AtomicU32::new(4),
            health: Health::default(),
            commands: ArrayQueue::new(COMMAND_QUEUE),
            worker: OnceLock::new(),
            sampling: SamplingShared {
                temperature: AtomicF32::new(1.0),
                rest_bias: AtomicF32::new(0.0),
                entropy_adaptive: AtomicF32::new(0.0),
                memory: AtomicF32::new(0.0),
                develop: AtomicF32::new(continuo_core::develop::DEFAULT_DEVELOP),
                density: AtomicF32::new(0.0),
                leap: AtomicF32::new(0.0),
                repetition: AtomicF32::new(0.0),
                register_low: AtomicI32::new(1),
                register_high: AtomicI32::new(0),
                register_hard: AtomicBool::new(false),
                scale: AtomicU32::new(0),
                follow_chords: AtomicF32::new(continuo_core::harmony::FOLLOW_CHORDS_DEFAULT),
            },
            chord: AtomicU32::new(crate::harmony_input::NO_CHORD),
            swing: AtomicF32::new(0.5),
            swing_sixteenths: AtomicBool::new(false),
            triplets: AtomicBool::new(false),
            save_phrases: AtomicBool::new(false),
            bpm: AtomicF32::new(120.0),
            midi_clock: AtomicBool::new(false),
            answer_velocity: AtomicU32::new(0),
            answers_per_phrase: AtomicU32::new(1),
            program: AtomicU32::new(0),
            octave: AtomicI32::new(0),
            shutdown: AtomicBool::new(false),
            answering: AtomicBool::new(false),
            repaint: RepaintNotifier::new(),
            fonts: Arc::default(),
        })
    }

    /// Whether an answer plays; the editor redraws when that changes.
    pub fn set_answering(&self, answering: bool) {
        if self.answering.swap(answering, Ordering::Relaxed) != answering {
            self.repaint.request_repaint();
        }
    }

    pub fn current_generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// Wake the worker if it is parked (any thread; no allocation, no lock).
    pub fn wake(&self) {
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }

    /// Ask the worker to do `command` and wake it (any thread, the audio thread too: no lock,
    /// no allocation); false when the queue is full (nothing sent).
    pub fn send(&self, command: Command) -> bool {
        let sent = self.commands.push(command).is_ok();
        self.wake();
        sent
    }

    /// Ask for an answer and wake the worker; false when the queue is full (nothing sent).
    pub fn request(&self, request: Request) -> bool {
        let sent = self.requests.push(request).is_ok();
        if sent {
            self.wake();
        }
        sent
    }

    /// Abandon the answer in progress (called from the audio thread: no allocation).
    pub fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        while self.tokens.pop().is_some() {}
        while self.heard.pop().is_some() {}
    }
}
