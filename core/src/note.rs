//! One note in beats: what every reader produces (inside a [`crate::score::Score`]), what
//! key estimation and the grid read. Plain data; any thread.

use serde::{Deserialize, Serialize};

/// One note. Times are in beats (quarter notes) from the start of the piece.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub onset: f64,
    pub duration: f64,
    /// MIDI pitch, 0..=127 (60 = middle C).
    pub pitch: u8,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
    /// The MIDI channel (0-based) or the **kern spine the note came from.
    pub voice: u8,
}

impl Note {
    pub fn end(&self) -> f64 {
        self.onset + self.duration
    }
}
