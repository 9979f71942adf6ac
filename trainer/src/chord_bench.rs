//! The chord-following benchmark: does an answer fit the chords the player holds? Calls (the
//! first two bars of songs in 4/4 and a major key, moved into each of four keys) are
//! answered over held progressions, one chord a bar; of the answers' notes on beats 1 and 3,
//! the share that are chord tones, and of all their notes, the share in the chord's scale
//! ([`continuo_core::chord::Chord::scale`]). Definitions: `models/README.md`, "Following
//! chords". Plain functions; runs on the trainer's thread.

use continuo_core::chord::{contains, parse_roman, Progression};
use continuo_core::continuation::{continue_score, first_bars, seed_key, Continuer};
use continuo_core::grid::StepNote;
use continuo_core::inference::ModelError;
use continuo_core::key::{Key, Mode};
use continuo_core::metre::first_downbeat;
use continuo_core::note::Note;
use continuo_core::sampler::SamplerSettings;
use continuo_core::score::{Score, TempoChange};
use continuo_core::{encoding::decode, Token};
use serde::Serialize;

/// The progressions, in roman numerals of the key, a chord a bar.
pub const PROGRESSIONS: [(&str, [&str; 4]); 2] =
    [("I-vi-IV-V", ["I", "vi", "IV", "V"]), ("ii-V-I", ["ii", "V", "I", "I"])];

/// The four keys the calls are moved into: C, G, F and D major.
pub const KEYS: [Key; 4] = [
    Key { tonic: 0, mode: Mode::Major },
    Key { tonic: 7, mode: Mode::Major },
    Key { tonic: 5, mode: Mode::Major },
    Key { tonic: 2, mode: Mode::Major },
];

/// Bars in a call.
pub const CALL_BARS: usize = 2;
/// Bars in an answer: the progression once.
pub const ANSWER_BARS: usize = 4;

/// One answer over a progression, in its key, starting on a bar line.
#[derive(Debug, Clone, PartialEq)]
pub struct ChordCase {
    pub answer: Vec<Token>,
    pub chords: Progression,
    pub key: Key,
    pub bar_steps: usize,
}

/// The figures of some answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChordFigures {
    pub answers: usize,
    /// Of the notes on beats 1 and 3, the share that are chord tones.
    pub strong_chord_tones: f64,
    /// Of all notes, the share in the chord's scale.
    pub in_chord_scale: f64,
    pub strong_notes: usize,
    pub notes: usize,
}

/// The call of a score moved into `key`: its first [`CALL_BARS`] bars after any pickup, if
/// the score is that long, in 4/4 throughout them, and in a major key (declared or
/// estimated). The call starts on its first downbeat and has its bar lines, so that the
/// answer's bars are the score's.
pub fn call_in(score: &Score, key: Key) -> Option<Score> {
    let call = first_bars(score, CALL_BARS)?;
    let four_four = |beat: f64| {
        let ts = call.time_signature_at(beat);
        (ts.numerator, ts.denominator) == (4, 4)
    };
    if !four_four(0.0) || !four_four(call.end() - 1e-6) {
        return None;
    }
    let downbeat = first_downbeat(score);
    let bars = (0..=CALL_BARS).map(|b| b as f64 * 4.0).collect();
    let notes =
        call.notes.iter().filter(|n| n.onset >= downbeat - 1e-9).map(|n| Note { onset: n.onset - downbeat, ..*n });
    let mut call = Score {
        notes: notes.collect(),
        tempi: call.tempi.first().map(|t| TempoChange { beat: 0.0, ..*t }).into_iter().collect(),
        time_signatures: Vec::new(),
        bar_lines: bars,
        phrases: Vec::new(),
        length: Some(CALL_BARS as f64 * 4.0),
        ..call
    };
    let own = seed_key(&call, continuo_core::song::KeyNormalisation::CMajorAMinor).key?;
    if own.mode != Mode::Major || call.notes.is_empty() {
        return None;
    }
    let up = (key.tonic as i32 - own.tonic as i32).rem_euclid(12);
    let shift = if up > 6 { up - 12 } else { up };
    if !call.can_transpose(shift) {
        return None;
    }
    call.transpose(shift);
    Some(call)
}

/// The progression `numerals` names in `key`.
pub fn progression_in(numerals: &[&str], key: Key) -> Progression {
    Progression(numerals.iter().map(|r| parse_roman(r, key).expect("the benchmark's numerals parse")).collect())
}

/// Answer `call` (in `key`, see [`call_in`]) over `chords` for [`ANSWER_BARS`] bars.
pub fn answer(
    continuer: &mut Continuer,
    call: &Score,
    key: Key,
    chords: &Progression,
    settings: &SamplerSettings,
) -> Result<ChordCase, ModelError> {
    let continued = continue_score(continuer, call, ANSWER_BARS, chords, settings, 90)?;
    let grid = continuer.model.card().grid();
    let bar_steps = (4.0 / grid.step_beats()).round() as usize;
    Ok(ChordCase { answer: continued.tokens, chords: chords.clone(), key, bar_steps })
}

/// The figures of `cases`, pooled over their notes.
pub fn figures(cases: &[ChordCase]) -> ChordFigures {
    let (mut strong, mut strong_tones, mut notes, mut in_scale) = (0, 0, 0, 0);
    for case in cases {
        let beats_1_and_3 = |n: &StepNote| (n.step as usize).is_multiple_of(case.bar_steps / 2);
        for n in decode(&case.answer, 80).iter().filter(|n| n.steps > 0) {
            let Some(chord) = case.chords.at_bar(n.step as usize / case.bar_steps) else { continue };
            notes += 1;
            in_scale += usize::from(contains(chord.scale(Some(case.key)), n.pitch));
            if beats_1_and_3(n) {
                strong += 1;
                strong_tones += usize::from(contains(chord.tones, n.pitch));
            }
        }
    }
    let share = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    ChordFigures {
        answers: cases.len(),
        strong_chord_tones: share(strong_tones, strong),
        in_chord_scale: share(in_scale, notes),
        strong_notes: strong,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        s.split_whitespace().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn notes_on_beats_one_and_three_are_checked_against_their_bars_chord() {
        let chords = progression_in(&["I", "V"], Key::C_MAJOR);
        // Bar 1 (C): E on beat 1, D on beat 3, F# off the beat. Bar 2 (G): B on beat 1.
        let mut answer = toks("64 _ _ _ _ _ _ _ 62 _ 66 _ _ _ _ _");
        answer.extend(toks("71 _ _ _ _ _ _ _ _ _ _ _ _ _ _ _"));
        let f = figures(&[ChordCase { answer, chords, key: Key::C_MAJOR, bar_steps: 16 }]);
        assert_eq!((f.strong_notes, f.notes), (3, 4));
        assert!((f.strong_chord_tones - 2.0 / 3.0).abs() < 1e-9);
        assert!((f.in_chord_scale - 0.75).abs() < 1e-9, "F# is not in C's scale");
    }

    #[test]
    fn the_progressions_are_the_keys_own_chords() {
        let names: Vec<String> = progression_in(&PROGRESSIONS[0].1, KEYS[1]).0.iter().map(|c| c.to_string()).collect();
        assert_eq!(names, ["G", "Em", "C", "D"]);
    }
}
