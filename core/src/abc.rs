//! ABC notation in (`.abc`): the largest folk collections are ABC tune books (O'Neill's
//! tunes were ABC first). A file holds one tune or many, each from its `X:` line; the fields
//! before the first `X:` apply to all. A tune's header (`T:` title, `M:` metre, `L:` unit
//! note length, `Q:` tempo, `K:` key, which ends the header) and its music are read into a
//! [`Score`]: notes with accidentals (the key signature's, and a bar's own until its bar
//! line), octaves, lengths, rests (`z`, `x`, and `Z` whole bars), ties, broken rhythm
//! (`>`, `<`), tuplets (`(3`, `(p:q:r`), chords (`[CEG]`), bar lines, repeats and first
//! and second endings (played out), and fields in the music (`K:`, `M:`, `L:`, `Q:`, as
//! lines or inline). Grace notes, decorations, chord symbols, annotations, slurs and
//! lyrics are left out (the grid cannot show them). Only the first voice (`V:`) is read.
//!
//! Our own reader: `abc-parser` 0.4.0, the one crate, keeps a length as a private `f32`
//! (a length of 2/3 cannot be read back from it) and panics on some input (a length of 20
//! digits overflows its `parse().unwrap()`). Bad input is a typed error naming the line.
//! Plain functions, any thread; `core/fuzz` has its fuzz target.

use crate::abc_music::{music_line, unfold, Event, Voice};
use crate::note::Note;
use crate::read_error::{ReadError, ReadProblem};
use crate::score::{Score, TempoChange, TimeSignature};
use std::path::Path;

/// The largest ABC file read: O'Neill's 1,850 tunes are about 600 KB.
const MAX_BYTES: u64 = 16 << 20;
/// The velocity given to ABC notes, which carry none.
pub const ABC_VELOCITY: u8 = 80;

/// One tune of a file: its text and the file's line it starts on (1-based).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuneText<'a> {
    pub text: &'a str,
    pub first_line: usize,
}

/// The tunes of an ABC file's text (each from its `X:` line; a file without one is one
/// tune), and the file header before the first.
pub fn tunes(text: &str) -> (TuneText<'_>, Vec<TuneText<'_>>) {
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with("X:") {
            starts.push((offset, n + 1));
        }
        offset += line.len();
    }
    if starts.is_empty() {
        return (TuneText { text: "", first_line: 1 }, vec![TuneText { text, first_line: 1 }]);
    }
    let header = TuneText { text: &text[..starts[0].0], first_line: 1 };
    let ends = starts.iter().skip(1).map(|s| s.0).chain([text.len()]);
    let tunes = starts.iter().zip(ends).map(|(&(at, line), end)| TuneText { text: &text[at..end], first_line: line });
    (header, tunes.collect())
}

/// The text of an ABC file (Latin-1 and other bytes that are not UTF-8 read as U+FFFD).
fn read_text(path: &Path) -> Result<String, ReadError> {
    let fail = |problem| ReadError::new(path, problem);
    if !crate::is_regular_file(path) {
        return Err(fail(ReadProblem::Io("not a regular file".into())));
    }
    let size = std::fs::metadata(path).map_err(|e| fail(ReadProblem::Io(e.to_string())))?.len();
    if size > MAX_BYTES {
        return Err(fail(ReadProblem::Io(format!("{size} bytes, more than the {MAX_BYTES} read"))));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(ReadProblem::Io(e.to_string())))?;
    if bytes.is_empty() {
        return Err(fail(ReadProblem::Empty));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// How many tunes an ABC file holds.
pub fn abc_tune_count(path: &Path) -> Result<usize, ReadError> {
    Ok(tunes(&read_text(path)?).1.len())
}

/// Read the first tune of an ABC file.
pub fn read_abc_file(path: &Path) -> Result<Score, ReadError> {
    read_abc_tune(path, 0)
}

/// Read tune `index` (from 0) of an ABC file.
pub fn read_abc_tune(path: &Path, index: usize) -> Result<Score, ReadError> {
    let text = read_text(path)?;
    let (header, tunes) = tunes(&text);
    let tune = tunes.get(index).ok_or_else(|| {
        ReadError::new(path, ReadProblem::Io(format!("no tune {} (the file holds {})", index + 1, tunes.len())))
    })?;
    parse_abc_tune(header, *tune).map_err(|problem| ReadError::new(path, problem))
}

/// Parse every tune of an ABC text (for the fuzz target and tests).
pub fn parse_abc(text: &str) -> Vec<Result<Score, ReadProblem>> {
    let (header, tunes) = tunes(text);
    tunes.into_iter().map(|tune| parse_abc_tune(header, tune)).collect()
}

/// Parse one tune, the file header's fields first.
pub fn parse_abc_tune(header: TuneText, tune: TuneText) -> Result<Score, ReadProblem> {
    if tune.text.trim().is_empty() {
        return Err(ReadProblem::Empty);
    }
    let mut voice = Voice::default();
    let mut state = Reading::default();
    for text in [header, tune] {
        for (n, line) in text.text.lines().enumerate() {
            let line_no = text.first_line + n;
            read_line(line, &mut voice, &mut state).map_err(|why| ReadProblem::MalformedAbc { line: line_no, why })?;
        }
    }
    if !state.keyed {
        return Err(ReadProblem::NotAbc("no `K:` field (an ABC tune's header ends with its key)".into()));
    }
    let mut score = lay_out(&unfold(&voice.events), state.title);
    if score.notes.is_empty() {
        return Err(ReadProblem::NoNotes);
    }
    score.declared_key = voice.declared_key;
    score.sort();
    score.check_length()?;
    Ok(score)
}

/// What a tune's lines have said so far beyond its music.
#[derive(Debug, Default)]
struct Reading {
    title: Option<String>,
    /// The header has ended (its `K:` came): what follows is music.
    keyed: bool,
}

/// One line of a tune: a comment, a field, or music (after the header).
fn read_line(line: &str, voice: &mut Voice, state: &mut Reading) -> Result<(), String> {
    let line = line.split('%').next().unwrap_or("").trim_end();
    let bytes = line.as_bytes();
    let field = bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic();
    // In the music, only these fields have lines of their own (`A:|` is not a field there).
    if field && (!state.keyed || BODY_FIELDS.contains(bytes[0] as char)) {
        let (name, value) = (bytes[0] as char, line[2..].trim());
        if name == 'T' && state.title.is_none() {
            state.title = Some(value.to_string());
        }
        if name == 'K' {
            state.keyed = true;
        }
        return voice.field(name, value);
    }
    if state.keyed && !line.trim().is_empty() {
        music_line(line, voice)?;
    }
    Ok(())
}

/// The fields that may stand on a line of their own among the music.
const BODY_FIELDS: &str = "IKLMmNPQRrsTUVWw";

/// The events of a played-out tune laid into a score: notes (ties joined), bar lines, time
/// signatures and tempi.
fn lay_out(events: &[Event], title: Option<String>) -> Score {
    let mut score = Score { title, ..Score::default() };
    let mut at = 0.0;
    // The notes a tie holds on: (pitch, index in `score.notes`).
    let mut tied: Vec<(u8, usize)> = Vec::new();
    for event in events {
        match event {
            Event::Sound { pitches, beats, tie } => {
                let held = std::mem::take(&mut tied);
                for &pitch in pitches {
                    let index = match held.iter().find(|(p, _)| *p == pitch) {
                        Some(&(_, i)) => {
                            score.notes[i].duration += beats;
                            i
                        }
                        None => {
                            let note = Note { onset: at, duration: *beats, pitch, velocity: ABC_VELOCITY, voice: 0 };
                            score.notes.push(note);
                            score.notes.len() - 1
                        }
                    };
                    if *tie {
                        tied.push((pitch, index));
                    }
                }
                at += beats;
            }
            Event::Bar { .. } if score.bar_lines.last() != Some(&at) => score.bar_lines.push(at),
            Event::Bar { .. } | Event::Ending(_) => {}
            Event::Meter(numerator, denominator) => meter(&mut score, at, *numerator, *denominator),
            Event::Tempo(bpm) => score.tempi.push(TempoChange { beat: at, bpm: *bpm }),
        }
    }
    score.length = Some(at);
    score
}

fn meter(score: &mut Score, at: f64, numerator: u8, denominator: u8) {
    let beat_milli = (at * 1000.0).round() as i64;
    score.time_signatures.retain(|t| t.beat_milli != beat_milli);
    score.time_signatures.push(TimeSignature { beat_milli, numerator, denominator });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{Key, Mode};

    fn one(text: &str) -> Score {
        let mut all = parse_abc(text);
        assert_eq!(all.len(), 1);
        all.remove(0).unwrap_or_else(|e| panic!("{e}"))
    }

    fn pitches(score: &Score) -> Vec<u8> {
        score.notes.iter().map(|n| n.pitch).collect()
    }

    #[test]
    fn a_jig_with_repeats_endings_ties_and_accidentals() {
        let score = one("X:1\nT:The Test Jig\nM:6/8\nL:1/8\nQ:3/8=100\nK:G\n\
             |:GAB c2d|e2f ^g2a-|[1 a3 z3:|[2 a3 =g3||\n");
        assert_eq!(score.title.as_deref(), Some("The Test Jig"));
        assert_eq!(score.declared_key, Some(Key { tonic: 7, mode: Mode::Major }));
        assert_eq!((score.time_signatures[0].numerator, score.time_signatures[0].denominator), (6, 8));
        assert!((score.initial_bpm() - 150.0).abs() < 1e-9, "3/8 = 100 is 150 quarters a minute");
        // f is F# in G; ^g sharp to the bar line, a tied across it.
        let first = [67, 69, 71, 72, 74, 76, 78, 80, 81];
        let second = [67, 69, 71, 72, 74, 76, 78, 80, 81, 79];
        assert_eq!(pitches(&score), [&first[..], &second[..]].concat());
        let tied = &score.notes[8];
        assert!((tied.duration - 0.5 - 1.5).abs() < 1e-9, "an eighth tied to a dotted quarter: {tied:?}");
        assert!((score.length.unwrap() - 6.0 * 3.0).abs() < 1e-9, "6 bars of 6/8 played");
    }

    #[test]
    fn lengths_broken_rhythm_tuplets_chords_and_rests() {
        let score = one("X:1\nL:1/4\nK:C\nC2 D/ E// F3/2 G>A B<c (3def [CEG]2 z Z2|\n");
        let lengths: Vec<f64> = score.notes.iter().map(|n| n.duration).collect();
        let expect = [2.0, 0.5, 0.25, 1.5, 1.5, 0.5, 0.5, 1.5, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 2.0, 2.0, 2.0];
        for (l, e) in lengths.iter().zip(expect) {
            assert!((l - e).abs() < 1e-9, "{lengths:?}");
        }
        assert_eq!(&pitches(&score)[11..], [60, 64, 67]);
        // C..c, (3def, the chord, a quarter rest and two 4/4 bars of rest.
        assert!((score.length.unwrap() - (2.0 + 0.75 + 1.5 + 2.0 + 2.0 + 2.0 + 2.0 + 1.0 + 8.0)).abs() < 1e-9);
    }

    #[test]
    fn a_tune_book_is_its_tunes_with_the_file_header_and_bad_ones_are_named() {
        let text = "%abc-2.1\nL:1/4\n\nX:1\nT:One\nK:D\nDEF|\n\nX:2\nT:Two\nK:D\nDEF & G|\n\nX:3\nT:Three\nK:Q\nC|\n";
        let all = parse_abc(text);
        assert_eq!(all.len(), 3);
        let first = all[0].as_ref().unwrap();
        assert_eq!(pitches(first), [62, 64, 66]);
        assert!((first.notes[0].duration - 1.0).abs() < 1e-9, "the file header's L:1/4");
        assert_eq!(
            all[1],
            Err(ReadProblem::MalformedAbc { line: 12, why: "`&` (a voice overlay) is not read".into() })
        );
        assert!(matches!(&all[2], Err(ReadProblem::MalformedAbc { line: 16, .. })), "{:?}", all[2]);
        assert!(matches!(parse_abc("T:no key\nCDE|\n")[0], Err(ReadProblem::NotAbc(_))));
        assert!(matches!(parse_abc("X:1\nK:C\nC99999999999999999999\n")[0], Err(ReadProblem::MalformedAbc { .. })));
    }
}
