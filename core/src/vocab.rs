//! The vocabulary: token ↔ id, built from a training split, with a fallback for tokens it
//! does not hold. Any thread; lookups do not allocate for in-vocabulary tokens.
//!
//! Layout: id 0 `/`, 1 `r`, 2 `_`, then every single pitch from the lowest to the highest
//! pitch the training songs use (also the pitches inside chords), then (`chords` encoding)
//! the pitch sets that occur at least `min_chord_count` times, most frequent first.
//!
//! Fallback for a token outside the vocabulary ([`Vocabulary::nearest`]):
//! - a single pitch outside the range moves by octaves into it (clamped if the range is
//!   narrower than an octave);
//! - a pitch set becomes the vocabulary's set that keeps its top pitch and shares the most
//!   pitches with it (ties: fewer differing pitches, then the more frequent); if no set
//!   shares two or more pitches, its top pitch alone.

use crate::encoding::Token;
/// A token list that is not a vocabulary: why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("vocabulary: {0}")]
pub struct VocabError(pub String);
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    tokens: Vec<Token>,
    ids: HashMap<Token, u32>,
    pitch_range: (u8, u8),
}

/// Tokens every vocabulary starts with, in id order.
pub const SPECIALS: [Token; 3] = [Token::SongEnd, Token::Rest, Token::Hold];

impl Vocabulary {
    /// Build from the songs of a training split.
    pub fn build<'a>(songs: impl IntoIterator<Item = &'a [Token]>, min_chord_count: usize) -> Vocabulary {
        let mut counts: HashMap<&Token, usize> = HashMap::new();
        let (mut lo, mut hi) = (u8::MAX, u8::MIN);
        for song in songs {
            for t in song {
                for &p in t.pitches() {
                    lo = lo.min(p);
                    hi = hi.max(p);
                }
                if t.pitches().len() > 1 {
                    *counts.entry(t).or_default() += 1;
                }
            }
        }
        if lo > hi {
            (lo, hi) = (60, 60);
        }
        let mut tokens: Vec<Token> = SPECIALS.to_vec();
        tokens.extend((lo..=hi).map(Token::note));
        let mut chords: Vec<(&Token, usize)> =
            counts.into_iter().filter(|&(_, c)| c >= min_chord_count.max(1)).collect();
        chords.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        tokens.extend(chords.into_iter().map(|(t, _)| t.clone()));
        Vocabulary::from_tokens(tokens).expect("a built vocabulary is valid")
    }

    /// From an id-ordered token list (as a model card stores it), checking its layout.
    pub fn from_tokens(tokens: Vec<Token>) -> Result<Vocabulary, VocabError> {
        if tokens.len() < SPECIALS.len() + 1 || tokens[..SPECIALS.len()] != SPECIALS {
            return Err(VocabError("it must start with `/`, `r`, `_` and hold at least one pitch".into()));
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if ids.insert(t.clone(), i as u32).is_some() {
                return Err(VocabError(format!("token `{t}` appears twice")));
            }
        }
        let singles: Vec<u8> = tokens.iter().filter(|t| t.pitches().len() == 1).map(|t| t.pitches()[0]).collect();
        let (lo, hi) = (*singles.iter().min().unwrap_or(&60), *singles.iter().max().unwrap_or(&60));
        if singles.len() != (hi - lo) as usize + 1 {
            return Err(VocabError(format!("its single pitches must cover {lo}..={hi} without gaps")));
        }
        Ok(Vocabulary { tokens, ids, pitch_range: (lo, hi) })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Lowest and highest single pitch.
    pub fn pitch_range(&self) -> (u8, u8) {
        self.pitch_range
    }

    pub fn id(&self, token: &Token) -> Option<u32> {
        self.ids.get(token).copied()
    }

    pub fn token(&self, id: u32) -> Option<&Token> {
        self.tokens.get(id as usize)
    }

    fn fold_pitch(&self, p: u8) -> u8 {
        let (lo, hi) = self.pitch_range;
        let mut p = p as i32;
        while p < lo as i32 && p + 12 <= hi as i32 {
            p += 12;
        }
        while p > hi as i32 && p - 12 >= lo as i32 {
            p -= 12;
        }
        p.clamp(lo as i32, hi as i32) as u8
    }

    /// The token itself if the vocabulary holds it, else its documented fallback.
    pub fn nearest(&self, token: &Token) -> Token {
        if self.ids.contains_key(token) {
            return token.clone();
        }
        let pitches = token.pitches();
        let Some(&top) = pitches.last() else { return token.clone() };
        if pitches.len() > 1 {
            let best = self
                .tokens
                .iter()
                .filter(|t| t.pitches().len() > 1 && t.pitches().last() == Some(&top))
                .map(|t| {
                    let shared = t.pitches().iter().filter(|p| pitches.contains(p)).count();
                    let differing = t.pitches().len() + pitches.len() - 2 * shared;
                    (shared, differing, t)
                })
                .filter(|&(shared, _, _)| shared >= 2)
                .min_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            if let Some((_, _, t)) = best {
                return t.clone();
            }
        }
        Token::note(self.fold_pitch(top))
    }

    /// Ids of a token sequence, each token through [`Vocabulary::nearest`].
    pub fn encode(&self, tokens: &[Token]) -> Vec<u32> {
        tokens
            .iter()
            .map(|t| match self.id(t) {
                Some(id) => id,
                None => self.ids[&self.nearest(t)],
            })
            .collect()
    }

    /// Tokens of ids; `None` if an id is out of range.
    pub fn decode(&self, ids: &[u32]) -> Option<Vec<Token>> {
        ids.iter().map(|&i| self.token(i).cloned()).collect()
    }
}

/// A small melody vocabulary for the tests of the shaping modules: `/`, rest, hold and the
/// notes 55..=79.
#[cfg(test)]
pub(crate) fn test_melody_vocab() -> Vocabulary {
    let mut tokens = vec![Token::SongEnd, Token::Rest, Token::Hold];
    tokens.extend((55..=79).map(Token::note));
    Vocabulary::from_tokens(tokens).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        s.split_whitespace().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn layout_and_fallbacks() {
        let a = toks("60.64.67 _ 60.64.67 _ 62 r 59.62.67 / ");
        let b = toks("60.64.67 _ 72 /");
        let v = Vocabulary::build([a.as_slice(), b.as_slice()], 2);
        assert_eq!(v.tokens()[..3], SPECIALS);
        assert_eq!(v.pitch_range(), (59, 72));
        assert_eq!(v.len(), 3 + 14 + 1); // 59..=72 and the one chord seen 3 times
        assert_eq!(v.id(&"60.64.67".parse().unwrap()), Some(17));
        // Rare chord → the in-vocabulary chord with the same top note sharing most pitches.
        assert_eq!(v.nearest(&"55.64.67".parse().unwrap()).to_string(), "60.64.67");
        assert_eq!(v.nearest(&"59.62.67".parse().unwrap()).to_string(), "67");
        // No chord shares two pitches → the top note.
        assert_eq!(v.nearest(&"50.70".parse().unwrap()).to_string(), "70");
        // Out-of-range pitches fold by octaves.
        assert_eq!(v.nearest(&Token::note(84)).to_string(), "72");
        assert_eq!(v.nearest(&Token::note(40)).to_string(), "64");
        let ids = v.encode(&toks("55.64.67 _ 84 r /"));
        assert_eq!(v.decode(&ids).unwrap(), toks("60.64.67 _ 72 r /"));
    }

    #[test]
    fn rejects_bad_layouts() {
        assert!(Vocabulary::from_tokens(toks("r / _ 60")).is_err());
        assert!(Vocabulary::from_tokens(toks("/ r _ 60 62")).is_err());
        assert!(Vocabulary::from_tokens(toks("/ r _ 60 60")).is_err());
        assert!(Vocabulary::from_tokens(toks("/ r _ 60 61")).is_ok());
    }
}
