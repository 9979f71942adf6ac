//! The core's one error type, [`Error`], for its callers: every detailed error the core
//! raises (a file that cannot be read as music, a model card, a model, a vocabulary, a
//! corpus), each defined beside what raises it, naming the file and the problem, with the
//! underlying error as its `source()`. Inside the crate only `corpus` returns it; nothing
//! the errors come from depends on this module, so it closes no import circle. Any thread.

use std::path::PathBuf;

/// Every way a core call can fail: the crate's one error type. The detailed errors inside
/// keep their fields for callers that act on them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Read(#[from] crate::read_error::ReadError),
    #[error(transparent)]
    Card(#[from] crate::card::CardError),
    #[error(transparent)]
    Model(#[from] crate::inference::ModelError),
    /// A file or folder that could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A prepared corpus that does not hold together.
    #[error("{path}: {why}")]
    Corpus { path: PathBuf, why: String },
    /// A token list that is not a vocabulary.
    #[error(transparent)]
    Vocabulary(#[from] crate::vocab::VocabError),
}

impl Error {
    /// An I/O error of `path`, for `map_err`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// The command lines' edge: they report errors as text.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
