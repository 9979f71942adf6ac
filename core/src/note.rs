//! One note in beats: what every reader produces (inside a [`crate::score::Score`]), what
//! key estimation and the grid read; and a MIDI pitch's name (C4 = 60). Plain data; any
//! thread.

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

/// The pitch class of a lower-case note letter (`c` = 0 … `b` = 11).
pub(crate) fn letter_pitch_class(c: char) -> Option<u8> {
    Some(match c {
        'c' => 0,
        'd' => 2,
        'e' => 4,
        'f' => 5,
        'g' => 7,
        'a' => 9,
        'b' => 11,
        _ => return None,
    })
}

const NAMES: [&str; 12] = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

/// A MIDI pitch's name, C4 being middle C (60): `C4`, `F#3`, `C-1` (0).
pub fn pitch_name(pitch: u8) -> String {
    format!("{}{}", NAMES[pitch as usize % 12], pitch as i32 / 12 - 1)
}

/// The MIDI pitch a name gives: a letter, `#` or `b` signs, an octave (C4 = 60); or a MIDI
/// number. `None` for anything else or outside 0..=127.
pub fn pitch_of_name(name: &str) -> Option<u8> {
    let name = name.trim();
    if let Ok(number) = name.parse::<u8>() {
        return (number <= 127).then_some(number);
    }
    let mut chars = name.chars();
    let mut pitch = letter_pitch_class(chars.next()?.to_ascii_lowercase())? as i32;
    let rest = chars.as_str();
    let signs = rest.chars().take_while(|&c| c == '#' || c == 'b').count();
    pitch += rest[..signs].chars().map(|c| if c == '#' { 1 } else { -1 }).sum::<i32>();
    let octave: i32 = rest[signs..].parse().ok()?;
    let midi = pitch + 12 * (octave + 1);
    (0..=127).contains(&midi).then_some(midi as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pitch_names_read_back() {
        assert_eq!(
            (pitch_name(60), pitch_name(0), pitch_name(127), pitch_name(66)),
            ("C4".into(), "C-1".into(), "G9".into(), "F#4".into())
        );
        for p in 0..=127 {
            assert_eq!(pitch_of_name(&pitch_name(p)), Some(p));
        }
        assert_eq!((pitch_of_name("Bb3"), pitch_of_name("c5"), pitch_of_name(" 64 ")), (Some(58), Some(72), Some(64)));
        assert_eq!(
            (pitch_of_name("H4"), pitch_of_name("C"), pitch_of_name("G10"), pitch_of_name("200")),
            (None, None, None, None)
        );
    }
}
