//! Token encodings: step notes → one token per grid step, and back. Plain functions, any
//! thread (the plugin's worker encodes what it hears and decodes what the model says).
//!
//! Tokens, written as the strings the model card and the corpus files use:
//! - `60` — the onset of MIDI pitch 60 on this step; `48.55.64.72` — the onset of a pitch
//!   set (`chords` encoding only), ascending, joined by `.`;
//! - `_` — HOLD: whatever sounds on the previous step goes on;
//! - `r` — REST: silence on this step;
//! - `/` — the end of a song (the Essen study's song boundary), one after every song.
//!
//! `melody`: the top voice only. On each step the melody is the highest sounding note
//! (skyline); a new melody note is written where it starts or, if it started under a
//! higher note, where that note ends. Monophonic songs encode and decode exactly.
//!
//! `chords`: on each step where a note starts, or where the set of sounding notes
//! changes, the whole sounding set is written; decoding starts every pitch of a set on
//! its step and ends it at the next set or rest. So a song decodes to its *chordified*
//! form (a held note under a moving voice is struck again) and homophonic songs decode
//! exactly; encoding a decoded song gives the same tokens back.

use crate::grid::{sort_steps, StepNote};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub const HOLD: &str = "_";
pub const REST: &str = "r";
pub const SONG_END: &str = "/";

/// One step's token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Token {
    SongEnd,
    Rest,
    Hold,
    /// Pitches starting on this step: ascending, no duplicates, at least one.
    Onset(Vec<u8>),
}

impl Token {
    pub fn note(pitch: u8) -> Token {
        Token::Onset(vec![pitch])
    }

    /// An onset from any pitches (sorted and de-duplicated); `None` if empty.
    pub fn chord(pitches: impl IntoIterator<Item = u8>) -> Option<Token> {
        let mut p: Vec<u8> = pitches.into_iter().collect();
        p.sort_unstable();
        p.dedup();
        (!p.is_empty()).then_some(Token::Onset(p))
    }

    pub fn pitches(&self) -> &[u8] {
        match self {
            Token::Onset(p) => p,
            _ => &[],
        }
    }

    /// The pitch classes sounded, as a bit set (bit 0: C); 0 for a hold, rest or end.
    pub fn pitch_classes(&self) -> u16 {
        self.pitches().iter().fold(0, |m, p| m | 1 << (p % 12))
    }

    /// The highest pitch sounded (pitches are ascending); `None` for a hold, rest or end.
    pub fn top(&self) -> Option<u8> {
        self.pitches().last().copied()
    }

    /// Transposed by `semitones`; `None` if a pitch would leave 0..=127.
    pub fn transposed(&self, semitones: i32) -> Option<Token> {
        match self {
            Token::Onset(p) => p
                .iter()
                .map(|&x| u8::try_from(x as i32 + semitones).ok().filter(|&y| y <= 127))
                .collect::<Option<Vec<u8>>>()
                .map(Token::Onset),
            other => Some(other.clone()),
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::SongEnd => f.write_str(SONG_END),
            Token::Rest => f.write_str(REST),
            Token::Hold => f.write_str(HOLD),
            Token::Onset(p) => {
                for (i, x) in p.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "{x}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Token {
    type Err = String;
    fn from_str(s: &str) -> Result<Token, String> {
        match s {
            SONG_END => Ok(Token::SongEnd),
            REST => Ok(Token::Rest),
            HOLD => Ok(Token::Hold),
            _ => {
                let pitches = s
                    .split('.')
                    .map(|p| p.parse::<u8>().ok().filter(|&x| x <= 127))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| {
                        format!("`{s}` is not a token (expected `_`, `r`, `/`, a MIDI pitch or pitches joined by `.`)")
                    })?;
                let token = Token::chord(pitches.iter().copied()).ok_or_else(|| format!("`{s}` is empty"))?;
                if token.pitches() != pitches.as_slice() {
                    return Err(format!("`{s}`: pitches must be ascending without repeats"));
                }
                Ok(token)
            }
        }
    }
}

impl Serialize for Token {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Which encoding a model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingKind {
    Melody,
    Chords,
}

impl FromStr for EncodingKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "melody" => Ok(EncodingKind::Melody),
            "chords" => Ok(EncodingKind::Chords),
            _ => Err(format!("unknown encoding `{s}` (expected melody or chords)")),
        }
    }
}

impl fmt::Display for EncodingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodingKind::Melody => "melody",
            EncodingKind::Chords => "chords",
        })
    }
}

/// Encode step notes as one token per step, up to the end of the last note (no `/`).
pub fn encode(notes: &[StepNote], kind: EncodingKind) -> Vec<Token> {
    match kind {
        EncodingKind::Melody => encode_melody(notes),
        EncodingKind::Chords => encode_chords(notes),
    }
}

fn song_steps(notes: &[StepNote]) -> usize {
    notes.iter().map(|n| n.end() as usize).max().unwrap_or(0)
}

fn encode_melody(notes: &[StepNote]) -> Vec<Token> {
    let len = song_steps(notes);
    // For each step, the index of the highest sounding note (the latest-starting one on ties).
    let mut top: Vec<Option<usize>> = vec![None; len];
    for (i, n) in notes.iter().enumerate() {
        for slot in &mut top[n.step as usize..n.end() as usize] {
            let better = match *slot {
                None => true,
                Some(j) => (n.pitch, n.step) > (notes[j].pitch, notes[j].step),
            };
            if better {
                *slot = Some(i);
            }
        }
    }
    let mut out = Vec::with_capacity(len);
    let mut previous: Option<usize> = None;
    for current in top {
        out.push(match current {
            None => Token::Rest,
            Some(i) if previous == Some(i) => Token::Hold,
            Some(i) => Token::note(notes[i].pitch),
        });
        previous = current;
    }
    out
}

fn encode_chords(notes: &[StepNote]) -> Vec<Token> {
    let len = song_steps(notes);
    let mut sounding: Vec<Vec<u8>> = vec![Vec::new(); len];
    let mut onset = vec![false; len];
    for n in notes {
        onset[n.step as usize] = true;
        for s in &mut sounding[n.step as usize..n.end() as usize] {
            s.push(n.pitch);
        }
    }
    let mut out = Vec::with_capacity(len);
    let mut previous: Vec<u8> = Vec::new();
    for (step, mut set) in sounding.into_iter().enumerate() {
        set.sort_unstable();
        set.dedup();
        out.push(if set.is_empty() {
            Token::Rest
        } else if onset[step] || set != previous {
            Token::Onset(set.clone())
        } else {
            Token::Hold
        });
        previous = set;
    }
    out
}

/// Decode tokens back into step notes, stopping at the first `/`. Every note gets
/// `velocity` and voice 0. A HOLD or REST with nothing sounding is silence.
pub fn decode(tokens: &[Token], velocity: u8) -> Vec<StepNote> {
    let mut out = Vec::new();
    let mut sounding: Vec<usize> = Vec::new();
    let mut step = 0u32;
    let close = |out: &mut Vec<StepNote>, sounding: &mut Vec<usize>, step: u32| {
        for i in sounding.drain(..) {
            let n: &mut StepNote = &mut out[i];
            n.steps = step - n.step;
        }
    };
    for token in tokens {
        match token {
            Token::SongEnd => break,
            Token::Hold => {}
            Token::Rest => close(&mut out, &mut sounding, step),
            Token::Onset(pitches) => {
                close(&mut out, &mut sounding, step);
                for &pitch in pitches {
                    sounding.push(out.len());
                    out.push(StepNote { step, steps: 0, pitch, velocity, voice: 0 });
                }
            }
        }
        step += 1;
    }
    close(&mut out, &mut sounding, step);
    sort_steps(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sn(step: u32, steps: u32, pitch: u8) -> StepNote {
        StepNote { step, steps, pitch, velocity: 100, voice: 0 }
    }

    fn text(tokens: &[Token]) -> String {
        tokens.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn melody_tokens() {
        let notes = [sn(0, 2, 60), sn(2, 1, 62), sn(4, 3, 64)];
        let tokens = encode(&notes, EncodingKind::Melody);
        assert_eq!(text(&tokens), "60 _ 62 r 64 _ _");
        assert_eq!(decode(&tokens, 100), notes);
    }

    #[test]
    fn melody_takes_the_top_voice() {
        // A bass note under a two-note melody, and a melody note ending over a held note.
        let notes = [sn(0, 8, 48), sn(0, 2, 67), sn(2, 2, 65)];
        assert_eq!(text(&encode(&notes, EncodingKind::Melody)), "67 _ 65 _ 48 _ _ _");
    }

    #[test]
    fn chord_tokens() {
        let notes = [sn(0, 4, 48), sn(0, 4, 64), sn(0, 2, 67), sn(2, 2, 69), sn(5, 1, 60)];
        let tokens = encode(&notes, EncodingKind::Chords);
        assert_eq!(text(&tokens), "48.64.67 _ 48.64.69 _ r 60");
        // Homophonic except the held 48 and 64, which decoding strikes again.
        let decoded = decode(&tokens, 100);
        assert_eq!(encode(&decoded, EncodingKind::Chords), tokens);
        assert_eq!(decoded.len(), 7);
    }

    #[test]
    fn token_strings_round_trip() {
        for s in ["/", "r", "_", "60", "0", "127", "48.55.64"] {
            assert_eq!(s.parse::<Token>().unwrap().to_string(), s);
        }
        for bad in ["", "128", "64.60", "60.60", "x", "60."] {
            assert!(bad.parse::<Token>().is_err(), "{bad}");
        }
    }
}
