//! The model card: the JSON file beside every `.onnx` model that ties it to its encoding
//! (tokens, grid, key normalisation, pitch range), its ONNX interface, how it was trained
//! and how it scored. The single source of truth: the trainer writes it, the plugin and
//! `trainer generate` read it, nothing else restates its facts. Loaded off the audio thread.
//!
//! Versioned by `version`; fields a newer version adds are ignored by an older reader, and
//! a missing or wrong field is a [`CardError`] naming the file and the field.

use crate::encoding::{EncodingKind, Token};
use crate::grid::Grid;
use crate::song::KeyNormalisation;
use crate::vocab::Vocabulary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CARD_FORMAT: &str = "continuo-model-card";
pub const CARD_VERSION: u32 = 1;

/// How a model's tokens are made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodingSpec {
    pub kind: EncodingKind,
    /// Steps per beat (quarter note): 4 is a 16th-note grid.
    pub steps_per_beat: Grid,
    /// `chords`: pitch sets kept in the vocabulary occur at least this often.
    #[serde(default)]
    pub min_chord_count: Option<u32>,
    pub key_normalisation: KeyNormalisation,
    /// Lowest and highest single pitch of the vocabulary.
    pub pitch_range: [u8; 2],
    /// Token strings, by id.
    pub vocabulary: Vec<Token>,
}

impl EncodingSpec {
    /// A melody encoding on the 16th-note grid, in C major / A minor, whose vocabulary is
    /// song end, rest, hold and then `pitches` (ids 0, 1, 2, then the pitches from 3): the
    /// simplest encoding, for tests and examples.
    pub fn melody(pitches: std::ops::RangeInclusive<u8>) -> EncodingSpec {
        let pitch_range = [*pitches.start(), *pitches.end()];
        let mut vocabulary = vec![Token::SongEnd, Token::Rest, Token::Hold];
        vocabulary.extend(pitches.map(Token::note));
        EncodingSpec {
            kind: EncodingKind::Melody,
            steps_per_beat: Grid::SIXTEENTH,
            min_chord_count: None,
            key_normalisation: KeyNormalisation::CMajorAMinor,
            pitch_range,
            vocabulary,
        }
    }
}

/// One dimension of a tensor: a fixed size or a named dynamic one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(u64),
    Dynamic(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    /// ONNX element type: `int64`, `float32`.
    pub dtype: String,
    pub shape: Vec<Dim>,
}

/// The ONNX file's interface and the network's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnnxSpec {
    /// The model file, relative to the card.
    pub file: String,
    pub opset: u32,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub layers: u32,
    pub hidden_size: u32,
    pub embedding_size: u32,
}

/// Where the model came from, so anyone can train it again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// Corpus folders, as given to `trainer prepare`.
    pub corpus: Vec<String>,
    /// How songs were split, e.g. `fnv1a64(path) % 100: <80 train, <90 validation, else test`.
    pub split: String,
    /// The exact command line that trained the model.
    pub command: String,
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Anything else worth recording (epochs, wall time, tokens seen …).
    #[serde(default)]
    pub details: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: String,
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub encoding: EncodingSpec,
    pub onnx: OnnxSpec,
    pub training: Training,
    /// Test-split figures, e.g. `test_nll_nats`, `test_accuracy_no_hold`.
    #[serde(default)]
    pub evaluation: BTreeMap<String, f64>,
}

/// A model card that could not be read or does not hold together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("model card {}: {problem}", path.display())]
pub struct CardError {
    pub path: PathBuf,
    #[source]
    pub problem: CardProblem,
}

/// What is wrong with a model card, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CardProblem {
    /// The file could not be read (the I/O error's text: `CardError` stays comparable).
    #[error("{0}")]
    Unreadable(String),
    /// Not JSON of a card's shape (serde's message).
    #[error("{0}")]
    Json(String),
    #[error("field `format` is `{0}`, expected `{CARD_FORMAT}`")]
    Format(String),
    #[error("field `version` must be 1 or more")]
    Version,
    #[error("field `encoding.steps_per_beat` is {0}, expected 2, 3, 4, 6 or 8")]
    Grid(u32),
    #[error("field `encoding.vocabulary`: {0}")]
    Vocabulary(#[source] crate::vocab::VocabError),
    #[error("field `encoding.pitch_range` is {given:?}, but the vocabulary covers [{lo}, {hi}]")]
    PitchRange { given: [u8; 2], lo: u8, hi: u8 },
    #[error("field `encoding.vocabulary` holds chords, but `encoding.kind` is melody")]
    ChordsInMelody,
    #[error("fields `onnx.layers`, `onnx.hidden_size` and `onnx.embedding_size` must be positive")]
    NoNetwork,
    #[error("field `onnx.file` is empty")]
    NoFile,
    #[error("an `onnx` input or output has an empty `name`")]
    UnnamedTensor,
    #[error("field `onnx.outputs`: `logits` has {classes} classes but the vocabulary has {tokens} tokens")]
    Classes { classes: u64, tokens: usize },
}

/// The card that belongs to a model file: `model.onnx` → `model.json`.
pub fn card_path_for(model: &Path) -> PathBuf {
    model.with_extension("json")
}

impl ModelCard {
    /// Parse and validate a card held in memory; `path` is only used in errors.
    pub fn from_json(json: &str, path: &Path) -> Result<ModelCard, CardError> {
        let err = |problem: CardProblem| CardError { path: path.to_path_buf(), problem };
        let card: ModelCard = serde_json::from_str(json).map_err(|e| err(CardProblem::Json(e.to_string())))?;
        card.validate().map_err(err)?;
        Ok(card)
    }

    /// Read and validate the card in `path`, a regular file (a FIFO or a device would
    /// block the reading thread; a host closing the plugin would wait on it).
    pub fn load(path: &Path) -> Result<ModelCard, CardError> {
        if path.exists() && !crate::is_regular_file(path) {
            let problem = CardProblem::Unreadable("not a regular file".into());
            return Err(CardError { path: path.to_path_buf(), problem });
        }
        let json = std::fs::read_to_string(path)
            .map_err(|e| CardError { path: path.to_path_buf(), problem: CardProblem::Unreadable(e.to_string()) })?;
        ModelCard::from_json(&json, path)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a card always serialises")
    }

    /// Write durably: the old card or the new one survives a crash, never half of one.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::durable::write_durably(path, self.to_json().as_bytes())
    }

    /// The vocabulary, checked.
    pub fn vocabulary(&self) -> Vocabulary {
        Vocabulary::from_tokens(self.encoding.vocabulary.clone()).expect("validated when the card was read")
    }

    pub fn grid(&self) -> Grid {
        self.encoding.steps_per_beat
    }

    /// Check that the card holds together.
    pub fn validate(&self) -> Result<(), CardProblem> {
        if self.format != CARD_FORMAT {
            return Err(CardProblem::Format(self.format.clone()));
        }
        if self.version == 0 {
            return Err(CardProblem::Version);
        }
        let e = &self.encoding;
        if !Grid::ALL.iter().any(|(g, _)| *g == e.steps_per_beat) {
            return Err(CardProblem::Grid(e.steps_per_beat.steps_per_beat));
        }
        let vocab = Vocabulary::from_tokens(e.vocabulary.clone()).map_err(CardProblem::Vocabulary)?;
        let (lo, hi) = vocab.pitch_range();
        if e.pitch_range != [lo, hi] {
            return Err(CardProblem::PitchRange { given: e.pitch_range, lo, hi });
        }
        if e.kind == EncodingKind::Melody && e.vocabulary.iter().any(|t| t.pitches().len() > 1) {
            return Err(CardProblem::ChordsInMelody);
        }
        let o = &self.onnx;
        if o.layers == 0 || o.hidden_size == 0 || o.embedding_size == 0 {
            return Err(CardProblem::NoNetwork);
        }
        if o.file.is_empty() {
            return Err(CardProblem::NoFile);
        }
        if o.inputs.iter().chain(&o.outputs).any(|spec| spec.name.is_empty()) {
            return Err(CardProblem::UnnamedTensor);
        }
        if let Some(logits) = o.outputs.iter().find(|s| s.name == "logits") {
            if let Some(&Dim::Fixed(classes)) = logits.shape.last() {
                if classes as usize != vocab.len() {
                    return Err(CardProblem::Classes { classes, tokens: vocab.len() });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn example() -> ModelCard {
        let vocabulary: Vec<Token> = "/ r _ 60 61 62".split(' ').map(|t| t.parse().unwrap()).collect();
        ModelCard {
            format: CARD_FORMAT.into(),
            version: CARD_VERSION,
            name: "test".into(),
            description: String::new(),
            encoding: EncodingSpec {
                kind: EncodingKind::Melody,
                steps_per_beat: Grid::SIXTEENTH,
                min_chord_count: None,
                key_normalisation: KeyNormalisation::CMajorAMinor,
                pitch_range: [60, 62],
                vocabulary,
            },
            onnx: OnnxSpec {
                file: "test.onnx".into(),
                opset: 17,
                inputs: vec![TensorSpec {
                    name: "tokens".into(),
                    dtype: "int64".into(),
                    shape: vec![Dim::Dynamic("T".into()), Dim::Fixed(1)],
                }],
                outputs: vec![TensorSpec {
                    name: "logits".into(),
                    dtype: "float32".into(),
                    shape: vec![Dim::Dynamic("T".into()), Dim::Fixed(1), Dim::Fixed(6)],
                }],
                layers: 1,
                hidden_size: 8,
                embedding_size: 4,
            },
            training: Training::default(),
            evaluation: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trips_and_tolerates_newer_fields() {
        let card = example();
        let p = Path::new("m.json");
        assert_eq!(ModelCard::from_json(&card.to_json(), p).unwrap(), card);
        let mut v: serde_json::Value = serde_json::from_str(&card.to_json()).unwrap();
        v["version"] = 2.into();
        v["a_field_from_the_future"] = serde_json::json!({"x": 1});
        v["encoding"]["another"] = 3.into();
        assert!(ModelCard::from_json(&v.to_string(), p).is_ok());
    }

    #[test]
    fn missing_or_wrong_fields_are_named() {
        let p = Path::new("models/m.json");
        let json = example().to_json();
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["encoding"].as_object_mut().unwrap().remove("vocabulary");
        let e = ModelCard::from_json(&v.to_string(), p).unwrap_err();
        assert!(e.to_string().contains("models/m.json") && e.to_string().contains("vocabulary"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["onnx"]["outputs"][0]["shape"][2] = 7.into();
        let e = ModelCard::from_json(&v.to_string(), p).unwrap_err();
        assert!(e.problem.to_string().contains("logits"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["encoding"]["steps_per_beat"] = "four".into();
        assert!(ModelCard::from_json(&v.to_string(), p).is_err());

        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["encoding"]["vocabulary"][3] = "60.64".into();
        let e = ModelCard::from_json(&v.to_string(), p).unwrap_err();
        assert!(e.problem.to_string().contains("vocabulary"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["format"] = "something-else".into();
        assert!(ModelCard::from_json(&v.to_string(), p).unwrap_err().problem.to_string().contains("format"));

        assert!(ModelCard::from_json("{", p).is_err());
        assert!(ModelCard::load(Path::new("/nonexistent/m.json"))
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/m.json"));
    }
}
