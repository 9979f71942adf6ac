//! Keys: parsing the keys files declare, estimating a key from the notes
//! (Krumhansl–Schmuckler correlation with key profiles), and the semitone shift that
//! normalises a song to C major / A minor. Plain functions, any thread.

use crate::note::{letter_pitch_class, Note};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Major,
    Minor,
}

/// A key: tonic pitch class (0 = C … 11 = B) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub tonic: u8,
    pub mode: Mode,
}

const NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

impl Key {
    pub const C_MAJOR: Key = Key { tonic: 0, mode: Mode::Major };
    pub const A_MINOR: Key = Key { tonic: 9, mode: Mode::Minor };

    pub fn new(tonic: u8, mode: Mode) -> Key {
        Key { tonic: tonic % 12, mode }
    }

    pub fn transposed(self, semitones: i32) -> Key {
        Key::new((self.tonic as i32 + semitones).rem_euclid(12) as u8, self.mode)
    }

    /// The shift in semitones, in -5..=6, that takes this key to C major (major keys)
    /// or A minor (minor keys). Transposing back by the negated shift is exact.
    pub fn shift_to_c_or_a(self) -> i32 {
        let target = match self.mode {
            Mode::Major => 0,
            Mode::Minor => 9,
        };
        let up = (target - self.tonic as i32).rem_euclid(12);
        if up > 6 {
            up - 12
        } else {
            up
        }
    }

    /// Parse a **kern key interpretation body such as `G`, `g`, `B-`, `f#` (no `*`, no `:`):
    /// upper case is major, lower case minor.
    pub fn from_kern(s: &str) -> Option<Key> {
        let mut chars = s.chars();
        let letter = chars.next()?;
        let mode = if letter.is_ascii_uppercase() { Mode::Major } else { Mode::Minor };
        let mut pc = letter_pitch_class(letter.to_ascii_lowercase())? as i32;
        for c in chars {
            match c {
                '#' => pc += 1,
                '-' => pc -= 1,
                _ => return None,
            }
        }
        Some(Key::new(pc.rem_euclid(12) as u8, mode))
    }

    /// The key of a MIDI key-signature meta event (sharps > 0, flats < 0).
    pub fn from_midi_signature(sharps: i8, minor: bool) -> Key {
        // Major tonic of n sharps is 7n semitones above C; the relative minor is 3 below.
        let major = (7 * sharps as i32).rem_euclid(12);
        if minor {
            Key::new((major - 3).rem_euclid(12) as u8, Mode::Minor)
        } else {
            Key::new(major as u8, Mode::Major)
        }
    }

    /// Number of sharps (> 0) or flats (< 0) of this key's signature, in -6..=6.
    pub fn signature(self) -> i8 {
        let major = match self.mode {
            Mode::Major => self.tonic as i32,
            Mode::Minor => (self.tonic as i32 + 3) % 12,
        };
        // 7 * n ≡ major (mod 12)  ⇔  n ≡ 7 * major (mod 12), since 7 * 7 = 49 ≡ 1.
        let n = (7 * major).rem_euclid(12);
        (if n > 6 { n - 12 } else { n }) as i8
    }

    /// The pitch classes of this key's scale (natural minor for minor keys).
    pub fn scale(self) -> [u8; 7] {
        let steps: [u8; 7] = match self.mode {
            Mode::Major => [0, 2, 4, 5, 7, 9, 11],
            Mode::Minor => [0, 2, 3, 5, 7, 8, 10],
        };
        steps.map(|s| (self.tonic + s) % 12)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        write!(f, "{} {}", NAMES[self.tonic as usize], mode)
    }
}

impl FromStr for Key {
    type Err = String;
    /// Parses what `Display` writes: `C major`, `F# minor`, `Bb major`, `Eb minor`.
    fn from_str(s: &str) -> Result<Key, String> {
        let bad = || format!("`{s}` is not a key (expected e.g. `C major`, `F# minor`, `Bb major`)");
        let (name, mode) = s.trim().split_once(' ').ok_or_else(bad)?;
        let mode = match mode.trim() {
            "major" => Mode::Major,
            "minor" => Mode::Minor,
            _ => return Err(bad()),
        };
        let mut chars = name.chars();
        let mut pc = letter_pitch_class(chars.next().ok_or_else(bad)?.to_ascii_lowercase()).ok_or_else(bad)? as i32;
        for c in chars {
            match c {
                '#' => pc += 1,
                'b' => pc -= 1,
                _ => return Err(bad()),
            }
        }
        Ok(Key::new(pc.rem_euclid(12) as u8, mode))
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Key profiles for the Krumhansl–Schmuckler algorithm, index 0 = tonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Krumhansl & Kessler (1982), probe-tone ratings.
    KrumhanslKessler,
    /// Aarden (2003), tone frequencies in the Essen folk songs.
    AardenEssen,
}

impl Profile {
    /// The profile rotated to `key`'s tonic, by pitch class.
    fn of(self, key: Key) -> [f64; 12] {
        let w = self.weights(key.mode);
        std::array::from_fn(|pc| w[(pc + 12 - key.tonic as usize) % 12])
    }

    fn weights(self, mode: Mode) -> [f64; 12] {
        match (self, mode) {
            (Profile::KrumhanslKessler, Mode::Major) => {
                [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
            }
            (Profile::KrumhanslKessler, Mode::Minor) => {
                [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]
            }
            (Profile::AardenEssen, Mode::Major) => [
                17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494, 0.232998,
                4.95122,
            ],
            (Profile::AardenEssen, Mode::Minor) => [
                18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186, 7.37619,
                1.75623,
            ],
        }
    }
}

/// The estimated key and how strongly the notes correlate with it (Pearson r, -1..=1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyEstimate {
    pub key: Key,
    pub correlation: f64,
}

/// Duration-weighted pitch-class histogram of some notes.
pub fn pitch_class_histogram(notes: &[Note]) -> [f64; 12] {
    let mut h = [0.0; 12];
    for n in notes {
        h[(n.pitch % 12) as usize] += n.duration.max(0.0);
    }
    h
}

fn pearson(x: &[f64; 12], y: &[f64; 12]) -> f64 {
    let mx = x.iter().sum::<f64>() / 12.0;
    let my = y.iter().sum::<f64>() / 12.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        let (dx, dy) = (x[i] - mx, y[i] - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// How well some notes fit `key`: the Pearson correlation of their duration-weighted
/// pitch-class histogram with the key's profile (-1..=1; 0 without notes).
pub fn key_fit(notes: &[Note], key: Key, profile: Profile) -> f64 {
    pearson(&pitch_class_histogram(notes), &profile.of(key))
}

/// How much a key whose tonic is the final note is preferred, added to its correlation:
/// tonal melodies overwhelmingly end on their tonic (and a piece's final bass note is its
/// tonic), which separates a key from its relative and its dominant.
pub const FINAL_NOTE_BONUS: f64 = 0.15;

/// Estimate the key of some notes: Krumhansl–Schmuckler correlation of the
/// duration-weighted pitch-class histogram against the 24 rotated profiles, plus
/// [`FINAL_NOTE_BONUS`] for keys on the final note. `None` when there are no notes.
pub fn estimate_key(notes: &[Note], profile: Profile) -> Option<KeyEstimate> {
    estimate_key_with_bonus(notes, profile, FINAL_NOTE_BONUS)
}

/// [`estimate_key`] with a chosen final-note bonus (0 is plain Krumhansl–Schmuckler).
/// The returned correlation is the plain one, without the bonus.
pub fn estimate_key_with_bonus(notes: &[Note], profile: Profile, final_note_bonus: f64) -> Option<KeyEstimate> {
    let h = pitch_class_histogram(notes);
    if h.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    // The lowest of the notes that end last: the last note of a melody, the bass of a final chord.
    let last_end = notes.iter().map(Note::end).fold(f64::MIN, f64::max);
    let final_pc = notes.iter().filter(|n| n.end() >= last_end - 1e-9).map(|n| n.pitch).min().map(|p| p % 12);
    let mut best: Option<(f64, KeyEstimate)> = None;
    for mode in [Mode::Major, Mode::Minor] {
        for tonic in 0..12u8 {
            let r = pearson(&h, &profile.of(Key::new(tonic, mode)));
            let score = r + if final_pc == Some(tonic) { final_note_bonus } else { 0.0 };
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, KeyEstimate { key: Key::new(tonic, mode), correlation: r }));
            }
        }
    }
    best.map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, onset: f64, duration: f64) -> Note {
        Note { onset, duration, pitch, velocity: 80, voice: 0 }
    }

    #[test]
    fn parses_kern_keys() {
        assert_eq!(Key::from_kern("G"), Some(Key::new(7, Mode::Major)));
        assert_eq!(Key::from_kern("g"), Some(Key::new(7, Mode::Minor)));
        assert_eq!(Key::from_kern("B-"), Some(Key::new(10, Mode::Major)));
        assert_eq!(Key::from_kern("f#"), Some(Key::new(6, Mode::Minor)));
        assert_eq!(Key::from_kern("x"), None);
    }

    #[test]
    fn display_and_parse_round_trip() {
        for mode in [Mode::Major, Mode::Minor] {
            for t in 0..12 {
                let k = Key::new(t, mode);
                assert_eq!(k.to_string().parse::<Key>().unwrap(), k);
            }
        }
        assert!("H major".parse::<Key>().is_err());
    }

    #[test]
    fn shift_normalises_to_c_major_and_a_minor() {
        for t in 0..12 {
            let major = Key::new(t, Mode::Major);
            let s = major.shift_to_c_or_a();
            assert!((-5..=6).contains(&s));
            assert_eq!(major.transposed(s), Key::C_MAJOR);
            let minor = Key::new(t, Mode::Minor);
            assert_eq!(minor.transposed(minor.shift_to_c_or_a()), Key::A_MINOR);
        }
        assert_eq!(Key::new(5, Mode::Major).shift_to_c_or_a(), -5); // F major: down a fourth
        assert_eq!(Key::new(7, Mode::Major).shift_to_c_or_a(), 5); // G major: up a fourth
    }

    #[test]
    fn signatures_match_the_circle_of_fifths() {
        assert_eq!(Key::new(7, Mode::Major).signature(), 1);
        assert_eq!(Key::new(5, Mode::Major).signature(), -1);
        assert_eq!(Key::new(4, Mode::Minor).signature(), 1);
        assert_eq!(Key::new(2, Mode::Minor).signature(), -1);
        for s in -6..=6i8 {
            for minor in [false, true] {
                let k = Key::from_midi_signature(s, minor);
                if s.abs() < 6 {
                    assert_eq!(k.signature(), s, "{k}");
                }
            }
        }
    }

    #[test]
    fn estimates_scales() {
        // A D major scale ending on D.
        let notes: Vec<Note> = [62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62]
            .iter()
            .enumerate()
            .map(|(i, &p)| note(p, i as f64, 1.0))
            .collect();
        for p in [Profile::KrumhanslKessler, Profile::AardenEssen] {
            assert_eq!(estimate_key(&notes, p).unwrap().key, Key::new(2, Mode::Major));
        }
        assert!(estimate_key(&[], Profile::AardenEssen).is_none());
    }
}
