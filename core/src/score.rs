//! The common in-memory form of a piece: notes in beats plus tempo, metre, key and phrases.
//! Every reader produces a [`Score`]; the grid, encodings and MIDI writer consume it.
//! Plain data, no I/O; used by the trainer and by the plugin's worker thread.

use crate::key::Key;
pub use crate::note::Note;
use serde::{Deserialize, Serialize};

/// A tempo change at a beat position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TempoChange {
    pub beat: f64,
    /// Quarter notes per minute.
    pub bpm: f64,
}

/// A time signature starting at a beat position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    /// Position in beats, stored in 1/1000 beat so the type stays `Eq`.
    pub beat_milli: i64,
    pub numerator: u8,
    pub denominator: u8,
}

impl TimeSignature {
    pub fn beat(&self) -> f64 {
        self.beat_milli as f64 / 1000.0
    }
    /// Length of one bar in beats (quarter notes).
    pub fn bar_beats(&self) -> f64 {
        self.numerator as f64 * 4.0 / self.denominator as f64
    }
}

/// A whole piece as read from one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub title: Option<String>,
    /// Sorted by onset, then pitch.
    pub notes: Vec<Note>,
    /// Sorted by beat; empty means 120 BPM throughout.
    pub tempi: Vec<TempoChange>,
    /// Sorted by beat; empty means 4/4.
    pub time_signatures: Vec<TimeSignature>,
    /// The key the file declares, if it declares one.
    pub declared_key: Option<Key>,
    /// Beat positions of bar lines, where the format has them.
    pub bar_lines: Vec<f64>,
    /// (start, end) of each marked phrase, in beats.
    pub phrases: Vec<(f64, f64)>,
    /// Where the piece ends, in beats, when the file says, rests included (MIDI: its last
    /// End of Track; **kern: the end of its last data line). At least the last note's end.
    #[serde(default)]
    pub length: Option<f64>,
}

pub const DEFAULT_BPM: f64 = 120.0;

/// The longest piece a reader accepts: 100,000 beats (almost 14 hours at 120 BPM). Longer
/// "music" is a broken or hostile file, and encoding it would take a token per step.
pub const MAX_BEATS: f64 = 100_000.0;

impl Score {
    /// Sort notes into the canonical order (onset, pitch, voice).
    pub fn sort(&mut self) {
        self.notes.sort_by(|a, b| a.onset.total_cmp(&b.onset).then(a.pitch.cmp(&b.pitch)).then(a.voice.cmp(&b.voice)));
    }

    /// The beat at which the last note ends.
    pub fn end_beat(&self) -> f64 {
        self.notes.iter().map(Note::end).fold(0.0, f64::max)
    }

    /// Where the piece ends: its stated length, else where the last note ends.
    pub fn end(&self) -> f64 {
        self.length.unwrap_or(0.0).max(self.end_beat())
    }

    /// The time signature in force at `beat` (4/4 from 0 when none is).
    pub fn time_signature_at(&self, beat: f64) -> TimeSignature {
        let four_four = TimeSignature { beat_milli: 0, numerator: 4, denominator: 4 };
        self.time_signatures.iter().take_while(|t| t.beat() <= beat + 1e-9).last().copied().unwrap_or(four_four)
    }

    /// A reader's last check: no longer than [`MAX_BEATS`].
    pub fn check_length(&self) -> Result<(), crate::read_error::ReadProblem> {
        let beats = self.end_beat();
        if beats > MAX_BEATS {
            return Err(crate::read_error::ReadProblem::TooLong { beats, limit: MAX_BEATS });
        }
        Ok(())
    }

    /// Tempo at the start of the piece.
    pub fn initial_bpm(&self) -> f64 {
        match self.tempi.first() {
            Some(t) if t.beat <= 0.0 => t.bpm,
            _ => DEFAULT_BPM,
        }
    }

    /// Transpose every note by `semitones`, dropping none: pitches are clamped to 0..=127
    /// only if they would leave MIDI's range (callers check [`Score::can_transpose`] first
    /// when exactness matters).
    pub fn transpose(&mut self, semitones: i32) {
        for n in &mut self.notes {
            n.pitch = (n.pitch as i32 + semitones).clamp(0, 127) as u8;
        }
        if let Some(k) = self.declared_key {
            self.declared_key = Some(k.transposed(semitones));
        }
    }

    /// Whether every note stays inside MIDI's range when transposed by `semitones`.
    pub fn can_transpose(&self, semitones: i32) -> bool {
        self.notes.iter().all(|n| (0..=127).contains(&(n.pitch as i32 + semitones)))
    }

    /// The lowest and highest pitch, if there are notes.
    pub fn pitch_range(&self) -> Option<(u8, u8)> {
        let lo = self.notes.iter().map(|n| n.pitch).min()?;
        let hi = self.notes.iter().map(|n| n.pitch).max()?;
        Some((lo, hi))
    }
}
