//! A model's golden file, `NAME.golden.json` beside `NAME.onnx` (written by `trainer export`
//! and by Learn): the start of a song as token ids and as tokens, with the trainer's logits
//! for them from a zero state. It ties the three files of a model together: a card whose
//! vocabulary names other tokens at those ids (the right size, the wrong pitches), or an
//! ONNX file that does not reproduce the logits, is refused when the model loads
//! (`inference`), and `core/tests/shipped_models.rs` holds the shipped models to it.
//!
//! Plain data; reading allocates. Runs wherever a model loads (the plugin's worker,
//! `trainer`).

use crate::encoding::Token;
use crate::metre::UNKNOWN;
use crate::parity::{agree, Disagreement};
use crate::vocab::Vocabulary;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The golden file that belongs to a model file: `model.onnx` → `model.golden.json`.
pub fn golden_path_for(model: &Path) -> PathBuf {
    model.with_extension("golden.json")
}

/// Why a model and its golden file do not belong together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GoldenError {
    #[error("{}: {why}", path.display())]
    Unreadable { path: PathBuf, why: String },
    #[error("{} ids, {} tokens, {} logit rows, {} metre rows and {} harmony rows: not one per step", .0[0], .0[1], .0[2], .0[3], .0[4])]
    Lengths([usize; 5]),
    #[error("its `{golden}` is id {id}, the card's vocabulary makes it {card}: the card is not the model's")]
    Token { golden: String, id: u32, card: String },
    #[error("the model does not reproduce its golden file's logits: {0}")]
    Logits(#[from] Disagreement),
}

/// The contents of a golden file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Golden {
    #[serde(default)]
    pub about: String,
    /// The song the steps are from.
    #[serde(default)]
    pub file: String,
    /// The steps as tokens (their text) and as the model's ids.
    pub tokens: Vec<String>,
    pub ids: Vec<u32>,
    /// Each step's metre rows, for a metre-aware model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metre: Option<Vec<[u32; 2]>>,
    /// The harmony under the step each token predicts, for a harmony model
    /// ([`crate::accompaniment`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harmony: Option<Vec<crate::chord::ClassMask>>,
    /// The trainer's logits, a row per step (`null` reads as not a number, and fails).
    pub logits: Vec<Vec<Option<f32>>>,
}

impl Golden {
    /// Read `path`, a regular file.
    pub fn read(path: &Path) -> Result<Golden, GoldenError> {
        let unreadable = |why: String| GoldenError::Unreadable { path: path.to_path_buf(), why };
        if !crate::is_regular_file(path) {
            return Err(unreadable("not a regular file".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
        let golden: Golden = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        let lengths = [
            golden.ids.len(),
            golden.tokens.len(),
            golden.logits.len(),
            golden.metre_rows().len(),
            golden.harmony_masks().len(),
        ];
        if lengths.iter().any(|&n| n != lengths[0]) {
            return Err(GoldenError::Lengths(lengths));
        }
        Ok(golden)
    }

    /// Each step's metre rows ("unknown" when the file has none).
    pub fn metre_rows(&self) -> Vec<[u32; 2]> {
        self.metre.clone().unwrap_or_else(|| vec![UNKNOWN; self.ids.len()])
    }

    /// The harmony under each step predicted (none when the file has none).
    pub fn harmony_masks(&self) -> Vec<crate::chord::ClassMask> {
        self.harmony.clone().unwrap_or_else(|| vec![0; self.ids.len()])
    }

    /// `vocab` encodes each of the file's tokens as the id the file gives it (a token
    /// outside the vocabulary as its nearest one, as the trainer encoded it).
    pub fn check_tokens(&self, vocab: &Vocabulary) -> Result<(), GoldenError> {
        for (&id, golden) in self.ids.iter().zip(&self.tokens) {
            let card = match golden.parse::<Token>() {
                Ok(token) => vocab.encode(&[token])[0].to_string(),
                Err(_) => "none (not a token)".to_string(),
            };
            if card != id.to_string() {
                return Err(GoldenError::Token { golden: golden.clone(), id, card });
            }
        }
        Ok(())
    }

    /// The logits, flattened, a NaN for each `null`.
    pub fn flat_logits(&self) -> Vec<f32> {
        self.logits.iter().flatten().map(|x| x.unwrap_or(f32::NAN)).collect()
    }

    /// `got` (the model's logits for the ids, flattened) against the file's, within
    /// `tolerance`: the worst difference.
    pub fn check_logits(&self, got: &[f32], tolerance: f32) -> Result<f32, GoldenError> {
        Ok(agree(got, &self.flat_logits(), tolerance)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::EncodingSpec;

    fn golden() -> Golden {
        Golden {
            about: String::new(),
            file: "song.krn".into(),
            tokens: vec!["/".into(), "60".into(), "_".into()],
            ids: vec![0, 5, 2],
            metre: None,
            harmony: None,
            logits: vec![vec![Some(0.5), Some(-1.0)], vec![Some(0.0), Some(1.0)], vec![Some(2.0), None]],
        }
    }

    #[test]
    fn a_vocabulary_with_other_tokens_at_the_ids_is_refused() {
        let vocab = Vocabulary::from_tokens(EncodingSpec::melody(57..=84).vocabulary).unwrap();
        let mut g = golden();
        g.ids = vec![vocab.id(&"/".parse().unwrap()).unwrap(), vocab.id(&"60".parse().unwrap()).unwrap(), 2];
        g.tokens[2] = vocab.token(2).unwrap().to_string();
        assert_eq!(g.check_tokens(&vocab), Ok(()));
        g.tokens[1] = "62".into();
        let sixty_two = vocab.id(&"62".parse().unwrap()).unwrap().to_string();
        let refused = g.check_tokens(&vocab);
        assert!(
            matches!(&refused, Err(GoldenError::Token { card, golden, .. }) if *card == sixty_two && golden == "62")
        );
        // A pitch outside the vocabulary encodes as its nearest, as the trainer did.
        g.tokens[1] = "96".into();
        g.ids[1] = vocab.id(&"84".parse().unwrap()).unwrap();
        assert_eq!(g.check_tokens(&vocab), Ok(()));
        g.tokens[1] = "not a token".into();
        assert!(matches!(g.check_tokens(&vocab), Err(GoldenError::Token { card, .. }) if card.starts_with("none")));
    }

    #[test]
    fn logits_must_agree_and_a_null_never_does() {
        let g = golden();
        let mut got = vec![0.5, -1.0, 0.0, 1.0, 2.0, 0.0];
        assert!(g.check_logits(&got, 1e-3).is_err(), "the null");
        let mut fixed = g.clone();
        fixed.logits[2][1] = Some(0.0);
        assert_eq!(fixed.check_logits(&got, 1e-3), Ok(0.0));
        got[3] = 1.1;
        assert!(matches!(
            fixed.check_logits(&got, 1e-3),
            Err(GoldenError::Logits(Disagreement::Differs { index: 3, .. }))
        ));
    }

    #[test]
    fn a_file_with_steps_missing_is_unreadable_or_uneven() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.golden.json");
        let mut g = golden();
        g.tokens.pop();
        std::fs::write(&path, serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(Golden::read(&path), Err(GoldenError::Lengths([3, 2, 3, 3, 3])));
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(Golden::read(&path), Err(GoldenError::Unreadable { .. })));
        assert!(
            matches!(Golden::read(dir.path()), Err(GoldenError::Unreadable { why, .. }) if why.contains("regular"))
        );
    }
}
