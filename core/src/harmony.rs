//! Follow chords: the answer fits the chord the player holds. A sampling-time shaping of the
//! logits, like [`crate::steering`]: on strong beats (the downbeat, and the middle of an
//! even bar) an onset off the chord's tones loses, everywhere an onset off the chord's scale
//! loses more, and where the chord changes under a note that clashes with it (a semitone
//! from one of its tones), holding that note on loses. Neutral at amount 0 and without a
//! chord. Owned by [`crate::continuation::Continuer`] (worker thread, `trainer generate`);
//! allocates only when made.

use crate::chord::{contains, Chord, ClassMask};
use crate::encoding::Token;
use crate::key::Key;
use crate::vocab::Vocabulary;

/// Logit taken at amount 1 from an onset off the chord's tones on a strong beat.
const STRONG_GAIN: f32 = 12.0;
/// Logit taken at amount 1 from an onset off the chord's scale, anywhere.
const OUTSIDE_GAIN: f32 = 16.0;
/// Logit given at amount 1 to an onset on a chord tone off the strong beats.
const WEAK_GAIN: f32 = 1.0;
/// Logit taken at amount 1 from holding a note that clashes with a new chord.
const CLASH_GAIN: f32 = 6.0;

/// The Follow chords amount a musician gets by default (0 ignores the chords, 1 is strict).
pub const FOLLOW_CHORDS_DEFAULT: f32 = 0.3;

/// A chord as the shaping uses it, in the model's key frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    tones: ClassMask,
    scale: ClassMask,
}

/// The chord-following state of one answer: what each id's pitches are, the chord that
/// sounds (in the model's frame) and whether it changed since the last step.
#[derive(Debug, Clone)]
pub struct ChordFollower {
    /// The pitch classes of each onset id (empty for holds, rests and the end).
    classes: Vec<ClassMask>,
    hold: Option<u32>,
    chord: Option<Frame>,
    changed: bool,
    /// The pitch classes that sound (the last onset's), 0 when none do.
    sounding: ClassMask,
}

impl ChordFollower {
    pub fn new(vocab: &Vocabulary) -> ChordFollower {
        let classes = vocab.tokens().iter().map(|t| crate::chord::mask_of(t.pitches().iter().copied())).collect();
        ChordFollower { classes, hold: vocab.id(&Token::Hold), chord: None, changed: false, sounding: 0 }
    }

    /// The chord that sounds from the next step on (in the piece's key, whose `key` gives
    /// its scale), or none; `shift` takes the piece into the model's frame.
    pub fn set_chord(&mut self, chord: Option<Chord>, key: Option<Key>, shift: i32) {
        let framed = chord.map(|c| {
            let (c, key) = (c.transposed(shift), key.map(|k| k.transposed(shift)));
            Frame { tones: c.tones, scale: c.scale(key) }
        });
        self.changed |= framed != self.chord;
        self.chord = framed;
    }

    /// The chord's tones in the model's frame (0: no chord).
    pub fn tones(&self) -> ClassMask {
        self.chord.map_or(0, |c| c.tones)
    }

    /// A new piece: no chord, nothing sounding.
    pub fn clear(&mut self) {
        (self.chord, self.changed, self.sounding) = (None, false, 0);
    }

    /// The piece went on with `id`.
    pub fn heard(&mut self, id: u32) {
        self.changed = false;
        let classes = self.classes.get(id as usize).copied().unwrap_or(0);
        if classes != 0 || Some(id) != self.hold {
            self.sounding = classes;
        }
    }

    /// Shape `logits` for the next step, which falls on a strong beat or not, at `amount`
    /// (0..=1). It changes which pitch an onset takes, not whether one comes: the onsets'
    /// share of the probability stays the model's (but for a clashing note's hold).
    pub fn shape(&self, logits: &mut [f32], amount: f32, strong: bool) {
        let Some(chord) = self.chord.filter(|_| amount > 0.0) else { return };
        let before = self.onset_mass(logits);
        for (logit, &classes) in logits.iter_mut().zip(&self.classes) {
            if classes == 0 {
                continue;
            }
            let (in_chord, in_scale) = (classes & !chord.tones == 0, classes & !chord.scale == 0);
            *logit += amount
                * match (in_chord, in_scale, strong) {
                    (true, _, false) => WEAK_GAIN,
                    (true, _, true) => 0.0,
                    (false, true, false) => 0.0,
                    (false, true, true) => -STRONG_GAIN,
                    (false, false, _) => -OUTSIDE_GAIN - if strong { STRONG_GAIN } else { 0.0 },
                };
        }
        let after = self.onset_mass(logits);
        if before.is_finite() && after.is_finite() {
            let keep = before - after;
            logits.iter_mut().zip(&self.classes).filter(|(_, &c)| c != 0).for_each(|(l, _)| *l += keep);
        }
        if let (true, Some(hold)) = (self.changed, self.hold) {
            if (0..12).any(|pc| contains(self.sounding, pc) && clashes(pc, chord.tones)) {
                logits[hold as usize] -= amount * CLASH_GAIN;
            }
        }
    }

    /// The log of the onsets' summed exp(logit) (−∞ when none is possible).
    fn onset_mass(&self, logits: &[f32]) -> f32 {
        let onsets = || logits.iter().zip(&self.classes).filter(|(_, &c)| c != 0).map(|(&l, _)| l);
        let top = onsets().fold(f32::NEG_INFINITY, f32::max);
        if !top.is_finite() {
            return f32::NEG_INFINITY;
        }
        top + onsets().map(|l| (l - top).exp()).sum::<f32>().ln()
    }
}

/// The tone of the chord nearest `pitch` (the lower of two as near), `pitch` itself when it
/// is one or when there is no chord: a note chosen before its chord was known, moved onto it.
pub fn nearest_tone(pitch: u8, tones: ClassMask) -> u8 {
    if tones & 0xfff == 0 || contains(tones, pitch) {
        return pitch;
    }
    (1..=6u8)
        .flat_map(|d| [pitch.checked_sub(d), pitch.checked_add(d).filter(|&p| p <= 127)])
        .flatten()
        .find(|&p| contains(tones, p))
        .unwrap_or(pitch)
}

/// Whether pitch class `pc` is not a tone of the chord but a semitone from one.
pub fn clashes(pc: u8, tones: ClassMask) -> bool {
    !contains(tones, pc) && (contains(tones, (pc + 1) % 12) || contains(tones, (pc + 11) % 12))
}

/// Whether step `position` of a bar of `bar_steps` steps, `steps_per_beat` to a beat, is a
/// strong beat: the downbeat, or the middle of a bar of an even count of beats (beat 3 in
/// 4/4).
pub fn is_strong(position: usize, bar_steps: usize, steps_per_beat: usize) -> bool {
    let beats = bar_steps / steps_per_beat.max(1);
    position == 0 || (beats >= 4 && beats.is_multiple_of(2) && position * 2 == bar_steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_moves_to_the_nearest_tone_of_its_chord() {
        let c_major = crate::chord::mask_of([0, 4, 7]);
        assert_eq!(nearest_tone(64, c_major), 64, "a chord tone stays");
        assert_eq!(nearest_tone(65, c_major), 64, "F to E");
        assert_eq!(nearest_tone(62, c_major), 60, "D to C, the lower of two as near");
        assert_eq!(nearest_tone(69, c_major), 67, "A to G");
        assert_eq!(nearest_tone(70, 0), 70, "no chord");
        assert_eq!(nearest_tone(126, crate::chord::mask_of([0])), 120, "never above 127");
    }

    use crate::vocab::test_melody_vocab as vocab;

    #[test]
    fn chord_tones_win_on_strong_beats_and_the_scale_everywhere() {
        let v = vocab();
        let id = |p: u8| v.id(&Token::note(p)).unwrap() as usize;
        let mut f = ChordFollower::new(&v);
        let shaped = |f: &ChordFollower, amount: f32, strong: bool| {
            let mut l = vec![0.0f32; v.len()];
            f.shape(&mut l, amount, strong);
            l
        };
        assert!(shaped(&f, 1.0, true).iter().all(|&x| x == 0.0), "no chord: neutral");
        f.set_chord(Some("F".parse().unwrap()), Some(Key::C_MAJOR), 0);
        assert!(shaped(&f, 0.0, true).iter().all(|&x| x == 0.0), "amount 0: neutral");
        let strong = shaped(&f, 1.0, true);
        assert!(strong[id(65)] == strong[id(69)] && strong[id(69)] == strong[id(72)]);
        assert!(strong[id(67)] < strong[id(65)] - 10.0 && strong[id(66)] < strong[id(67)]);
        let weak = shaped(&f, 1.0, false);
        assert!(weak[id(69)] > weak[id(67)] && weak[id(66)] < weak[id(67)] - 10.0);
        // Which pitch, not whether: the onsets' total probability is the model's.
        let mass = |l: &[f32]| (3..l.len()).map(|i| l[i].exp()).sum::<f32>();
        assert!((mass(&strong) - mass(&vec![0.0; v.len()])).abs() < 1e-3 && strong[2] == 0.0);
        // In G major's frame (shift -7 takes G to C), a D chord is the model's G.
        f.set_chord(Some("D".parse().unwrap()), Some(Key::new(7, crate::key::Mode::Major)), -7);
        let g = shaped(&f, 1.0, true);
        assert!(g[id(67)] > g[id(69)] + 10.0, "D over G major is G in the model's C");
    }

    #[test]
    fn a_clashing_note_is_not_held_into_a_new_chord() {
        let v = vocab();
        let hold = v.id(&Token::Hold).unwrap();
        let mut f = ChordFollower::new(&v);
        f.set_chord(Some("C".parse().unwrap()), Some(Key::C_MAJOR), 0);
        f.heard(v.id(&Token::note(64)).unwrap()); // E over C
        f.heard(hold);
        f.set_chord(Some("F".parse().unwrap()), Some(Key::C_MAJOR), 0); // E against F: a clash
        let mut l = vec![0.0f32; v.len()];
        f.shape(&mut l, 1.0, false);
        assert!(l[hold as usize] < 0.0);
        // Once heard, the change is old news; and a chord tone may be held into a new chord.
        f.heard(hold);
        let mut l = vec![0.0f32; v.len()];
        f.shape(&mut l, 1.0, false);
        assert_eq!(l[hold as usize], 0.0);
        f.heard(v.id(&Token::note(60)).unwrap());
        f.set_chord(Some("Am".parse().unwrap()), Some(Key::C_MAJOR), 0);
        let mut l = vec![0.0f32; v.len()];
        f.shape(&mut l, 1.0, false);
        assert_eq!(l[hold as usize], 0.0);
    }

    #[test]
    fn strong_beats_are_one_and_three_in_four_four() {
        let strong: Vec<usize> = (0..16).filter(|&p| is_strong(p, 16, 4)).collect();
        assert_eq!(strong, [0, 8]);
        assert_eq!((0..12).filter(|&p| is_strong(p, 12, 4)).count(), 1, "3/4: the downbeat");
    }
}
