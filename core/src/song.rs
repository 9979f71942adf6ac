//! From a whole [`Score`] to the tokens a model sees, and back: key choice and
//! normalisation, quantisation, encoding, the song-end mark. Plain functions, any thread.

use crate::encoding::{decode, encode, EncodingKind, Token};
use crate::grid::{quantise, unquantise, Grid};
use crate::key::{estimate_key, Key, Profile};
use crate::score::{Score, TempoChange, TimeSignature};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How songs are put into a common key before encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyNormalisation {
    /// Songs stay in their own key.
    None,
    /// Major songs to C major, minor songs to A minor (the Essen study's normalisation).
    CMajorAMinor,
    /// Training songs in all 12 keys (validation and test songs stay in their own key).
    AllKeys,
}

impl FromStr for KeyNormalisation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(KeyNormalisation::None),
            "c-major-a-minor" => Ok(KeyNormalisation::CMajorAMinor),
            "all-keys" => Ok(KeyNormalisation::AllKeys),
            _ => Err(format!("unknown key normalisation `{s}` (expected none, c-major-a-minor or all-keys)")),
        }
    }
}

impl fmt::Display for KeyNormalisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyNormalisation::None => "none",
            KeyNormalisation::CMajorAMinor => "c-major-a-minor",
            KeyNormalisation::AllKeys => "all-keys",
        })
    }
}

/// Where a song's key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    Declared,
    Estimated,
}

/// The profile used when a file declares no key: Aarden's Essen profiles, which agree with
/// the declared keys of the Essen songs more often than Krumhansl–Kessler's (see the core's
/// `tests/corpora.rs`).
pub const ESTIMATION_PROFILE: Profile = Profile::AardenEssen;

/// The key a score declares, else the estimated one.
pub fn song_key(score: &Score) -> Option<(Key, KeySource)> {
    match score.declared_key {
        Some(k) => Some((k, KeySource::Declared)),
        None => estimate_key(&score.notes, ESTIMATION_PROFILE).map(|e| (e.key, KeySource::Estimated)),
    }
}

/// Quantise and encode a score, transposed by `shift` semitones, ending with `/`.
pub fn encode_score(score: &Score, grid: Grid, kind: EncodingKind, shift: i32) -> Vec<Token> {
    let mut notes = quantise(&score.notes, grid);
    for n in &mut notes {
        n.pitch = (n.pitch as i32 + shift).clamp(0, 127) as u8;
    }
    let mut tokens = encode(&notes, kind);
    tokens.push(Token::SongEnd);
    tokens
}

/// For each token of [`encode_score`]'s melody (its `/` too, with nothing), the pitch classes
/// that sound under it ([`crate::accompaniment::under_melody`]), transposed by `shift`.
pub fn harmony_of_score(score: &Score, grid: Grid, shift: i32) -> Vec<crate::chord::ClassMask> {
    let notes = quantise(&score.notes, grid);
    let steps = notes.iter().map(|n| n.end() as usize).max().unwrap_or(0);
    let mut masks = crate::accompaniment::under_melody(&notes, steps);
    masks.iter_mut().for_each(|m| *m = crate::chord::transposed_mask(*m, shift));
    masks.push(0);
    masks
}

/// Tokens back to a playable score: notes from step 0, transposed by `shift` (the negated
/// shift of encoding gives the original key back exactly), at `bpm`, in 4/4 unless given.
pub fn decode_tokens(
    tokens: &[Token],
    grid: Grid,
    shift: i32,
    velocity: u8,
    bpm: f64,
    time_signature: Option<TimeSignature>,
) -> Score {
    let mut steps = decode(tokens, velocity);
    steps.retain(|n| n.steps > 0);
    for n in &mut steps {
        n.pitch = (n.pitch as i32 + shift).clamp(0, 127) as u8;
    }
    let mut score = Score {
        notes: unquantise(&steps, grid),
        tempi: vec![TempoChange { beat: 0.0, bpm }],
        time_signatures: time_signature.into_iter().collect(),
        ..Score::default()
    };
    score.sort();
    score
}

/// The transposition into a model's key frame for a piece in `key` (0 where the model
/// keeps songs in their own key).
pub fn shift_for(normalisation: KeyNormalisation, key: Option<Key>) -> i32 {
    match (normalisation, key) {
        (KeyNormalisation::CMajorAMinor, Some(k)) => k.shift_to_c_or_a(),
        _ => 0,
    }
}

/// The transpositions a song is encoded in under a normalisation, for a given split role:
/// all twelve for a training song with `AllKeys`, else the one of [`shift_for`].
pub fn shifts_for(key: Option<Key>, normalisation: KeyNormalisation, training: bool) -> Vec<i32> {
    if training && normalisation == KeyNormalisation::AllKeys {
        (-5..=6).collect()
    } else {
        vec![shift_for(normalisation, key)]
    }
}
