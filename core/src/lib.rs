//! Continuo's shared core: how music becomes tokens and back, once, for the trainer and
//! the plugin alike. No plugin or training framework here.
//!
//! The path of a song: a file → [`reader`] ([`midi`], [`kern`]) → [`Score`] (notes in
//! beats) → [`key`] normalisation → [`grid`] quantisation → [`encoding`] tokens →
//! [`vocab`] ids. Back: ids → tokens → step notes → beats → [`midi::write_midi`].
//! The [`card`] ties a trained model to its encoding; [`corpus`] imports whole folders.

pub mod abc;
pub mod abc_key;
pub mod abc_music;
pub mod accompaniment;
pub mod cadence;
pub mod card;
pub mod chord;
pub mod continuation;
pub mod corpus;
pub mod develop;
pub mod durable;
pub mod encoding;
pub mod error;
pub mod golden;
pub mod grid;
pub mod harmony;
pub mod inference;
pub mod kern;
pub mod key;
pub mod lookback;
pub mod memory;
pub mod metre;
pub mod midi;
pub mod musicxml;
pub mod note;
pub mod parity;
pub mod profile;
pub mod read_error;
pub mod reader;
pub mod sampler;
pub mod score;
pub mod song;
pub mod steering;
pub mod vocab;

pub use encoding::{EncodingKind, Token};
pub use error::Error;
pub use grid::{Grid, StepNote};
pub use key::{Key, Mode};
pub use read_error::{ReadError, ReadProblem};
pub use reader::read_music_file;
pub use score::{Note, Score};

/// Whether `path` is a regular file (following symbolic links): what the readers of models,
/// cards and music ask before opening one, since opening a FIFO blocks until a writer comes.
/// Never blocks itself (it reads the file's metadata only).
pub fn is_regular_file(path: &std::path::Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}
