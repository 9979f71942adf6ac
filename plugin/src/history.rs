//! The last phrase heard and its answer: what the editor's piano roll draws and exports,
//! what a take is written from, and what each recent take keeps. Plain data; the worker
//! thread writes it (behind `Shared::history`), the editor and the takes' thread read
//! copies of it.

use crate::capture::HeardNote;
use continuo_core::Token;

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
    /// The chords the answer followed: from each step (counted like the phrase's) on, the
    /// chord word of [`crate::harmony_input::HeldChord::word`] (its changes only).
    pub chords: Vec<(i64, u32)>,
}

/// How many answered tokens the history keeps (a continuous answer never ends).
pub const HISTORY_TOKENS: usize = 4096;

impl History {
    /// The next answered token (the last `HISTORY_TOKENS` at most are kept).
    pub fn push_answered(&mut self, token: &Token) {
        if self.answer.len() >= HISTORY_TOKENS {
            self.answer.drain(..HISTORY_TOKENS / 2);
            self.answer_start += (HISTORY_TOKENS / 2) as i64;
        }
        self.answer.push(token.clone());
    }

    /// The chord that sounds at `step` (counted like the phrase's), kept when it changes
    /// (the last [`HISTORY_TOKENS`] changes at most).
    pub fn heard_chord(&mut self, step: i64, word: u32) {
        if self.chords.last().map_or(word != crate::harmony_input::NO_CHORD, |&(_, w)| w != word) {
            if self.chords.len() >= HISTORY_TOKENS {
                self.chords.drain(..HISTORY_TOKENS / 2);
            }
            self.chords.push((step, word));
        }
    }
}
