//! Quantisation of unquantised playing: swung, humanised eighths written to a MIDI file the
//! way a keyboard capture would be, read back and snapped to straight and triplet grids;
//! and a real tune, humanised, quantised back to its own score.

mod common;

use continuo_core::grid::{quantise, StepNote};
use continuo_core::midi::{parse_midi, write_midi, MidiOptions};
use continuo_core::{Grid, Note, Score};

/// A tiny deterministic generator (xorshift) for the timing jitter.
struct Jitter(u64);
impl Jitter {
    /// Uniform in [-amount, amount].
    fn next(&mut self, amount: f64) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 % 10_001) as f64 / 5_000.0 - 1.0) * amount
    }
}

fn through_midi(notes: Vec<Note>) -> Vec<Note> {
    let score = Score { notes, ..Score::default() };
    parse_midi(&write_midi(&score), &MidiOptions::default()).unwrap().notes
}

fn steps(q: &[StepNote]) -> Vec<(u32, u32, u8)> {
    q.iter().map(|n| (n.step, n.steps, n.pitch)).collect()
}

#[test]
fn swung_eighths_snap_to_triplets_or_straighten() {
    // Eight bars of swung eighths (2:1), each onset off by up to ±30 ms at 120 BPM
    // (±0.06 beats), each note released a little early, as played.
    let mut jitter = Jitter(0x5eed);
    let mut played = Vec::new();
    for i in 0..64u32 {
        let beat = (i / 2) as f64;
        let (start, len) = if i % 2 == 0 { (beat, 2.0 / 3.0) } else { (beat + 2.0 / 3.0, 1.0 / 3.0) };
        let onset = (start + jitter.next(0.06)).max(0.0);
        played.push(Note { onset, duration: len * 0.85, pitch: 60 + (i % 12) as u8, velocity: 90, voice: 0 });
    }
    let read = through_midi(played);

    // On the eighth-triplet grid, the swing is kept: long notes 2 steps, short ones 1.
    let triplets = quantise(&read, Grid::EIGHTH_TRIPLET);
    let expected: Vec<(u32, u32, u8)> =
        (0..64u32)
            .map(|i| {
                if i % 2 == 0 {
                    (3 * (i / 2), 2, 60 + (i % 12) as u8)
                } else {
                    (3 * (i / 2) + 2, 1, 60 + (i % 12) as u8)
                }
            })
            .collect();
    assert_eq!(steps(&triplets), expected);

    // On the straight eighth grid, it is straightened: every note one eighth.
    let straight = quantise(&read, Grid::EIGHTH);
    let expected: Vec<(u32, u32, u8)> = (0..64u32).map(|i| (i, 1, 60 + (i % 12) as u8)).collect();
    assert_eq!(steps(&straight), expected);
}

#[test]
fn a_humanised_real_tune_quantises_back_to_its_score() {
    let Some(dir) = common::data_dir("essen-kern") else { return };
    let score = continuo_core::kern::read_kern_file(&dir.join("altdeu2/deut4181.krn")).unwrap();
    let exact = quantise(&score.notes, Grid::SIXTEENTH);
    // Played at 120 BPM: onsets ±50 ms, releases 20-50 % early (legato or detached).
    let mut jitter = Jitter(42);
    let played: Vec<Note> = score
        .notes
        .iter()
        .map(|n| Note { onset: n.onset + jitter.next(0.1), duration: n.duration * (0.65 + jitter.next(0.15)), ..*n })
        .collect();
    let back = quantise(&through_midi(played), Grid::SIXTEENTH);
    let onsets = |q: &[StepNote]| q.iter().map(|n| (n.step, n.pitch)).collect::<Vec<_>>();
    assert_eq!(onsets(&back), onsets(&exact));
}
