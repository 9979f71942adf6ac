//! Continuo's shared core: how music becomes tokens and back, once, for the trainer and
//! the plugin alike. No plugin or training framework here.

pub mod error;
pub mod key;
pub mod midi;
pub mod score;

pub use error::{ReadError, ReadProblem};
pub use key::{Key, Mode};
pub use score::{Note, Score};
