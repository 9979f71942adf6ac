//! Reading any supported music file into a [`Score`], chosen by file extension.

use crate::abc::read_abc_file;
use crate::kern::read_kern_file;
use crate::midi::{read_midi_file, MidiOptions};
use crate::musicxml::read_musicxml_file;
use crate::read_error::{ReadError, ReadProblem};
use crate::score::Score;
use std::path::Path;

/// The kinds of file Continuo reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Midi,
    Kern,
    MusicXml,
    /// An ABC file: a tune book of one tune or many.
    Abc,
}

impl FileKind {
    /// The extensions read, for messages.
    pub const EXTENSIONS: &'static str = ".mid, .midi, .smf, .krn, .kern, .musicxml, .xml, .mxl, .abc";

    /// By extension, case-insensitively: `.mid`/`.midi`/`.smf`, `.krn`/`.kern`, or
    /// `.musicxml`/`.xml`/`.mxl`, or `.abc`.
    pub fn of(path: &Path) -> Option<FileKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "mid" | "midi" | "smf" => Some(FileKind::Midi),
            "krn" | "kern" => Some(FileKind::Kern),
            "musicxml" | "xml" | "mxl" => Some(FileKind::MusicXml),
            "abc" => Some(FileKind::Abc),
            _ => None,
        }
    }
}

/// Read a MIDI, `**kern`, MusicXML or ABC file (an ABC file's first tune:
/// [`crate::abc::read_abc_tune`] reads the others).
pub fn read_music_file(path: &Path, midi: &MidiOptions) -> Result<Score, ReadError> {
    match FileKind::of(path) {
        Some(FileKind::Midi) => read_midi_file(path, midi),
        Some(FileKind::Kern) => read_kern_file(path),
        Some(FileKind::MusicXml) => read_musicxml_file(path),
        Some(FileKind::Abc) => read_abc_file(path),
        None => Err(ReadError::new(path, ReadProblem::UnknownExtension)),
    }
}
