//! The step grid and quantisation: notes in beats → notes in whole steps. Plain functions,
//! any thread.

use crate::score::{Note, Score};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A step grid, as a number of steps per beat (quarter note).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grid {
    pub steps_per_beat: u32,
}

impl Grid {
    pub const EIGHTH: Grid = Grid { steps_per_beat: 2 };
    pub const EIGHTH_TRIPLET: Grid = Grid { steps_per_beat: 3 };
    pub const SIXTEENTH: Grid = Grid { steps_per_beat: 4 };
    pub const SIXTEENTH_TRIPLET: Grid = Grid { steps_per_beat: 6 };
    pub const THIRTY_SECOND: Grid = Grid { steps_per_beat: 8 };
    /// Every grid a model may be trained on, with its name.
    pub const ALL: [(Grid, &'static str); 5] = [
        (Grid::EIGHTH, "1/8"),
        (Grid::EIGHTH_TRIPLET, "1/8t"),
        (Grid::SIXTEENTH, "1/16"),
        (Grid::SIXTEENTH_TRIPLET, "1/16t"),
        (Grid::THIRTY_SECOND, "1/32"),
    ];

    /// Length of one step in beats.
    pub fn step_beats(self) -> f64 {
        1.0 / self.steps_per_beat as f64
    }

    /// The step nearest to a beat position (ties round up).
    pub fn step_of(self, beat: f64) -> i64 {
        (beat * self.steps_per_beat as f64 + 1e-9).round() as i64
    }

    pub fn beat_of(self, step: i64) -> f64 {
        step as f64 / self.steps_per_beat as f64
    }
}

impl Default for Grid {
    fn default() -> Grid {
        Grid::SIXTEENTH
    }
}

impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Grid::ALL.iter().find(|(g, _)| g == self) {
            Some((_, name)) => f.write_str(name),
            None => write!(f, "{} steps per beat", self.steps_per_beat),
        }
    }
}

impl FromStr for Grid {
    type Err = String;
    fn from_str(s: &str) -> Result<Grid, String> {
        Grid::ALL
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(g, _)| *g)
            .ok_or_else(|| format!("unknown grid `{s}` (expected one of 1/8, 1/8t, 1/16, 1/16t, 1/32)"))
    }
}

/// A note on the grid: whole steps from the start of the song.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepNote {
    pub step: u32,
    /// Length in steps, at least 1.
    pub steps: u32,
    pub pitch: u8,
    pub velocity: u8,
    pub voice: u8,
}

impl StepNote {
    pub fn end(&self) -> u32 {
        self.step + self.steps
    }
}

/// Snap every note's start and end to the nearest step. A note shorter than half a step
/// keeps one step, unless another, longer note of its voice lands on the same step: then it
/// is an ornament the grid cannot show (a grace note) and is left out. A note that would
/// overlap a later note of the same pitch is cut where that one starts, and two notes of
/// one pitch on one step become one (the longer). Result sorted by step, then pitch.
pub fn quantise(notes: &[Note], grid: Grid) -> Vec<StepNote> {
    let mut out: Vec<StepNote> = notes
        .iter()
        .map(|n| {
            let step = grid.step_of(n.onset).max(0);
            let end = grid.step_of(n.end()).max(step + 1);
            StepNote {
                step: step.min(u32::MAX as i64 / 2) as u32,
                steps: (end - step).min(u32::MAX as i64 / 2) as u32,
                pitch: n.pitch,
                velocity: n.velocity,
                voice: n.voice,
            }
        })
        .collect();
    // Ornaments: shorter than half a step and sharing their step with a longer note of their voice.
    let short: Vec<bool> = notes.iter().map(|n| n.duration < grid.step_beats() / 2.0).collect();
    let mut voice_steps: Vec<(u8, u32)> =
        out.iter().zip(&short).filter(|(_, &s)| !s).map(|(n, _)| (n.voice, n.step)).collect();
    voice_steps.sort_unstable();
    let keep: Vec<bool> =
        short.iter().zip(&out).map(|(&s, n)| !s || voice_steps.binary_search(&(n.voice, n.step)).is_err()).collect();
    let mut keep = keep.into_iter();
    out.retain(|_| keep.next().unwrap_or(true));
    // Same pitch: sort so that notes of one pitch are adjacent, in time order, longest first.
    out.sort_by_key(|n| (n.pitch, n.step, std::cmp::Reverse(n.steps)));
    out.dedup_by(|later, earlier| later.pitch == earlier.pitch && later.step == earlier.step);
    for i in 1..out.len() {
        let (a, b) = out.split_at_mut(i);
        let (prev, next) = (a.last_mut().unwrap(), &b[0]);
        if prev.pitch == next.pitch && prev.end() > next.step {
            prev.steps = next.step - prev.step;
        }
    }
    sort_steps(&mut out);
    out
}

/// The canonical order of step notes: by step, then pitch, then voice.
pub fn sort_steps(notes: &mut [StepNote]) {
    notes.sort_by_key(|n| (n.step, n.pitch, n.voice));
}

/// Back from steps to beats.
pub fn unquantise(notes: &[StepNote], grid: Grid) -> Vec<Note> {
    notes
        .iter()
        .map(|n| Note {
            onset: grid.beat_of(n.step as i64),
            duration: n.steps as f64 * grid.step_beats(),
            pitch: n.pitch,
            velocity: n.velocity,
            voice: n.voice,
        })
        .collect()
}

/// A copy of the score with its notes snapped to the grid.
pub fn quantise_score(score: &Score, grid: Grid) -> Score {
    let mut q = score.clone();
    q.notes = unquantise(&quantise(&score.notes, grid), grid);
    q.sort();
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(onset: f64, duration: f64, pitch: u8) -> Note {
        Note { onset, duration, pitch, velocity: 64, voice: 0 }
    }

    #[test]
    fn snaps_to_nearest_step_and_keeps_one_step_minimum() {
        let q = quantise(&[n(0.1, 0.9, 60), n(1.02, 0.01, 62)], Grid::SIXTEENTH);
        assert_eq!((q[0].step, q[0].steps), (0, 4));
        assert_eq!((q[1].step, q[1].steps), (4, 1));
    }

    #[test]
    fn same_pitch_overlaps_are_cut() {
        let q = quantise(&[n(0.0, 2.0, 60), n(1.0, 1.0, 60), n(1.0, 0.5, 60)], Grid::SIXTEENTH);
        assert_eq!(q.len(), 2);
        assert_eq!((q[0].step, q[0].steps), (0, 4));
        assert_eq!((q[1].step, q[1].steps), (4, 4));
    }

    #[test]
    fn grace_notes_sharing_a_step_are_left_out() {
        let q = quantise(&[n(1.0, 0.06, 74), n(1.06, 0.69, 72), n(2.0, 0.05, 70)], Grid::SIXTEENTH);
        let kept: Vec<(u32, u8)> = q.iter().map(|n| (n.step, n.pitch)).collect();
        assert_eq!(kept, vec![(4, 72), (8, 70)]);
    }

    #[test]
    fn grids_parse_and_print() {
        for (g, name) in Grid::ALL {
            assert_eq!(name.parse::<Grid>().unwrap(), g);
            assert_eq!(g.to_string(), name);
        }
        assert!("1/5".parse::<Grid>().is_err());
    }
}
