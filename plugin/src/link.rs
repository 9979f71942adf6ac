//! What the audio thread and the inference worker share: two bounded lock-free queues
//! (requests one way, answered steps the other) and a few atomics. Fixed-size messages only.

use crate::capture::Phrase;
use crate::events::StepToken;
use atomic_float::AtomicF32;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Answered steps the queue can hold (the worker stays a few steps ahead, so few are used).
pub const TOKEN_QUEUE: usize = 64;
/// How many steps past the audio thread's horizon (`Link::now_step`) the worker may sample.
pub const AHEAD: i64 = 2;

/// Continue a phrase: answer steps `start_step .. start_step + steps`.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub generation: u32,
    pub phrase: Phrase,
    pub start_step: i64,
    pub steps: u32,
    /// Random seed for this answer (from the seed parameter, or fresh).
    pub seed: u64,
    /// Answer in the player's key (else in the model's key frame).
    pub follow_key: bool,
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
}

pub struct Link {
    pub requests: ArrayQueue<Request>,
    pub tokens: ArrayQueue<Answered>,
    /// The last grid step the audio thread expects to reach in its next block.
    pub now_step: AtomicI64,
    /// Answers of older generations are abandoned.
    pub generation: AtomicU32,
    /// The last step the worker has answered (of the current generation).
    pub ready_until: AtomicI64,
    /// The worker has a model loaded.
    pub model_ready: AtomicBool,
    /// Steps the audio thread had to hold because the worker was late.
    pub late_steps: AtomicU64,
    pub sampling: SamplingShared,
    /// Ask the worker to stop.
    pub shutdown: AtomicBool,
    /// The audio thread is playing an answer (for the editor).
    pub answering: AtomicBool,
}

impl Link {
    pub fn new() -> Arc<Link> {
        Arc::new(Link {
            requests: ArrayQueue::new(4),
            tokens: ArrayQueue::new(TOKEN_QUEUE),
            now_step: AtomicI64::new(i64::MIN),
            generation: AtomicU32::new(0),
            ready_until: AtomicI64::new(i64::MIN),
            model_ready: AtomicBool::new(false),
            late_steps: AtomicU64::new(0),
            sampling: SamplingShared {
                temperature: AtomicF32::new(1.0),
                rest_bias: AtomicF32::new(0.0),
                entropy_adaptive: AtomicF32::new(0.0),
            },
            shutdown: AtomicBool::new(false),
            answering: AtomicBool::new(false),
        })
    }

    pub fn current_generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// Abandon the answer in progress (called from the audio thread: no allocation).
    pub fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        while self.tokens.pop().is_some() {}
    }
}
