//! Why a piece of music could not be read: [`ReadProblem`], and [`ReadError`], which names
//! the file. Raised by the readers (`midi`, `kern`, `reader`) and by `score`'s length check;
//! depends on nothing in the crate. Any thread; nothing here allocates on a hot path.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a piece of music could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadProblem {
    #[error("the file is empty")]
    Empty,
    #[error("not a Standard MIDI file: {0}")]
    NotMidi(String),
    #[error("the file is truncated: {0}")]
    Truncated(String),
    #[error("tempo {0} µs per quarter note is out of range (allowed 10,000..=10,000,000, i.e. 6 to 6,000 BPM)")]
    AbsurdTempo(u32),
    #[error("too many events: more than {limit}")]
    TooManyEvents { limit: usize },
    #[error("the music lasts {beats:.0} beats, more than the {limit:.0} allowed")]
    TooLong { beats: f64, limit: f64 },
    #[error("line {line}: unsupported **kern token `{token}`: {why}")]
    UnsupportedKern { line: usize, token: String, why: String },
    #[error("line {line}: malformed **kern: {why}")]
    MalformedKern { line: usize, why: String },
    #[error("not a **kern file: no `**kern` spine")]
    NotKern,
    #[error("not MusicXML: {0}")]
    NotMusicXml(String),
    #[error("line {line}: malformed ABC: {why}")]
    MalformedAbc { line: usize, why: String },
    #[error("not an ABC tune: {0}")]
    NotAbc(String),
    #[error("no notes left after filtering (tracks, channels, drums)")]
    NoNotes,
    #[error("unsupported file extension (expected .mid, .midi, .smf, .krn, .kern, .musicxml, .xml, .mxl or .abc)")]
    UnknownExtension,
    #[error("I/O error: {0}")]
    Io(String),
}

impl ReadProblem {
    /// A short, stable category used to group skipped files in import summaries.
    pub fn category(&self) -> &'static str {
        match self {
            ReadProblem::Empty => "empty file",
            ReadProblem::NotMidi(_) => "not a MIDI file",
            ReadProblem::Truncated(_) => "truncated file",
            ReadProblem::AbsurdTempo(_) => "absurd tempo",
            ReadProblem::TooManyEvents { .. } => "too many events",
            ReadProblem::TooLong { .. } => "too long",
            ReadProblem::UnsupportedKern { .. } => "unsupported kern token",
            ReadProblem::MalformedKern { .. } => "malformed kern",
            ReadProblem::NotKern => "not a kern file",
            ReadProblem::NotMusicXml(_) => "not MusicXML",
            ReadProblem::MalformedAbc { .. } => "malformed ABC",
            ReadProblem::NotAbc(_) => "not ABC",
            ReadProblem::NoNotes => "no notes",
            ReadProblem::UnknownExtension => "unknown extension",
            ReadProblem::Io(_) => "I/O error",
        }
    }
}

/// A read failure: which file, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    pub path: PathBuf,
    pub problem: ReadProblem,
}

impl ReadError {
    pub fn new(path: impl AsRef<Path>, problem: ReadProblem) -> Self {
        ReadError { path: path.as_ref().to_path_buf(), problem }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.problem)
    }
}
