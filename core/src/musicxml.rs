//! MusicXML in (`.musicxml`, `.xml`, and compressed `.mxl`), what notation programs export,
//! read by the `musicxml` crate and laid into a [`Score`]: every part's notes (each part a
//! voice), chords, ties joined, `backup` and `forward`, the divisions per quarter, the time
//! signatures, the bar lines, the first key signature and the first tempo. Grace and cue notes are left out
//! (the grid cannot show them); unpitched notes too. Plain functions, any thread.

use crate::key::Key;
use crate::note::Note;
use crate::read_error::{ReadError, ReadProblem};
use crate::score::{Score, TempoChange, TimeSignature};
use musicxml::datatypes::{Mode, StartStop, Step};
use musicxml::elements::{AudibleType, MeasureElement, NoteType, PartElement, ScorePartwise};
use std::path::Path;

/// The largest MusicXML file read: a full orchestral score is a few MB.
const MAX_BYTES: u64 = 64 << 20;

/// Read a MusicXML file.
pub fn read_musicxml_file(path: &Path) -> Result<Score, ReadError> {
    let fail = |problem| ReadError::new(path, problem);
    let size = std::fs::metadata(path).map_err(|e| fail(ReadProblem::Io(e.to_string())))?.len();
    if size > MAX_BYTES {
        return Err(fail(ReadProblem::Io(format!("{size} bytes, more than the {MAX_BYTES} read"))));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(ReadProblem::Io(e.to_string())))?;
    parse_musicxml(bytes).map_err(fail)
}

/// Parse MusicXML (plain or `.mxl`) bytes.
pub fn parse_musicxml(bytes: Vec<u8>) -> Result<Score, ReadProblem> {
    if bytes.is_empty() {
        return Err(ReadProblem::Empty);
    }
    let bytes = as_utf8(bytes)?;
    // The crate is caught should it panic on what it was not made for.
    let parsed = std::panic::catch_unwind(|| musicxml::read_score_data_partwise(bytes));
    let score = match parsed {
        Ok(Ok(score)) => score,
        Ok(Err(why)) => return Err(ReadProblem::NotMusicXml(why)),
        Err(_) => return Err(ReadProblem::NotMusicXml("the MusicXML reader failed on it".into())),
    };
    let mut out = lay_out(&score);
    if out.notes.is_empty() {
        return Err(ReadProblem::NoNotes);
    }
    out.sort();
    out.check_length()?;
    Ok(out)
}

/// The score's text as UTF-8: from UTF-8, from UTF-16 with its byte-order mark, or out of a
/// `.mxl` archive (read with the `zip` crate). The `musicxml` crate's own decoding and
/// unzipping index past the end of some broken input (found by fuzzing), so it gets text only.
fn as_utf8(bytes: Vec<u8>) -> Result<Vec<u8>, ReadProblem> {
    if bytes.starts_with(b"PK\x03\x04") {
        return unzip(bytes).and_then(as_utf8);
    }
    if std::str::from_utf8(&bytes).is_ok() {
        return Ok(bytes);
    }
    let units = |convert: fn([u8; 2]) -> u16| -> Vec<u16> {
        bytes[2..].chunks_exact(2).map(|b| convert([b[0], b[1]])).collect()
    };
    let utf16 = match bytes.get(..2) {
        Some([0xff, 0xfe]) => units(u16::from_le_bytes),
        Some([0xfe, 0xff]) => units(u16::from_be_bytes),
        _ => return Err(ReadProblem::NotMusicXml("not UTF-8 or UTF-16 text".into())),
    };
    String::from_utf16(&utf16)
        .map(String::into_bytes)
        .map_err(|_| ReadProblem::NotMusicXml("not UTF-8 or UTF-16 text".into()))
}

/// The score in a `.mxl` archive: its first `.musicxml` or `.xml` file outside `META-INF/`,
/// at most [`MAX_BYTES`] unpacked.
fn unzip(bytes: Vec<u8>) -> Result<Vec<u8>, ReadProblem> {
    use std::io::Read;
    let bad = |why: String| ReadProblem::NotMusicXml(format!("a broken .mxl archive: {why}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let score = (0..archive.len())
        .find(|&i| {
            let name = archive.name_for_index(i).and_then(Result::ok).unwrap_or_default().to_ascii_lowercase();
            !name.starts_with("meta-inf/") && (name.ends_with(".musicxml") || name.ends_with(".xml"))
        })
        .ok_or_else(|| bad("no score in it".into()))?;
    let member = archive.by_index(score).map_err(|e| bad(e.to_string()))?;
    let mut text = Vec::new();
    member.take(MAX_BYTES + 1).read_to_end(&mut text).map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(bad(format!("its score is more than {MAX_BYTES} bytes")));
    }
    Ok(text)
}

/// Where a part is: its divisions per quarter note, its time (quarter notes from the start),
/// where its last note began (a chord note starts there too), and its ties waiting to go on.
struct Cursor {
    divisions: f64,
    at: f64,
    last_onset: f64,
    tied: Vec<usize>,
}

/// Every part of `score` into one [`Score`], part `k` as voice `k`.
fn lay_out(score: &ScorePartwise) -> Score {
    let mut out = Score { title: title(score), ..Score::default() };
    for (voice, part) in score.content.part.iter().enumerate() {
        let mut cursor = Cursor { divisions: 1.0, at: 0.0, last_onset: 0.0, tied: Vec::new() };
        for element in &part.content {
            if let PartElement::Measure(measure) = element {
                // The first part's measures give the bar lines (a pickup's included).
                if voice == 0 && cursor.at > 0.0 {
                    out.bar_lines.push(cursor.at);
                }
                for e in &measure.content {
                    follow(e, &mut cursor, voice.min(255) as u8, &mut out);
                }
            }
        }
    }
    out
}

fn title(score: &ScorePartwise) -> Option<String> {
    let c = &score.content;
    c.movement_title
        .as_ref()
        .map(|t| t.content.clone())
        .or_else(|| c.work.as_ref().and_then(|w| w.content.work_title.as_ref()).map(|t| t.content.clone()))
}

/// One element of a measure: attributes, a note, a move of the cursor, a tempo.
fn follow(element: &MeasureElement, cursor: &mut Cursor, voice: u8, out: &mut Score) {
    let quarters = |divisions: u32, cursor: &Cursor| divisions as f64 / cursor.divisions;
    match element {
        MeasureElement::Attributes(a) => {
            if let Some(d) = &a.content.divisions {
                cursor.divisions = (*d.content as f64).max(1.0);
            }
            for time in &a.content.time {
                if let Some(beat) = time.content.beats.first() {
                    let numerator = beat.beats.content.trim().parse::<u8>().ok();
                    let denominator = beat.beat_type.content.trim().parse::<u8>().ok();
                    if let (Some(numerator @ 1..), Some(denominator @ 1..)) = (numerator, denominator) {
                        let at = cursor.at;
                        out.time_signatures.retain(|t| (t.beat() - at).abs() > 1e-9);
                        out.time_signatures.push(time_signature(at, numerator, denominator));
                    }
                }
            }
            if out.declared_key.is_none() {
                out.declared_key = a.content.key.first().and_then(key);
            }
        }
        MeasureElement::Note(note) => lay_note(note, cursor, voice, out),
        MeasureElement::Backup(b) => cursor.at = (cursor.at - quarters(*b.content.duration.content, cursor)).max(0.0),
        MeasureElement::Forward(f) => cursor.at += quarters(*f.content.duration.content, cursor),
        MeasureElement::Sound(s) => tempo(s.attributes.tempo.as_ref().map(|t| t.0), cursor.at, out),
        MeasureElement::Direction(d) => {
            tempo(d.content.sound.as_ref().and_then(|s| s.attributes.tempo.as_ref()).map(|t| t.0), cursor.at, out)
        }
        _ => {}
    }
}

/// A time signature at `at` quarter notes.
fn time_signature(at: f64, numerator: u8, denominator: u8) -> TimeSignature {
    TimeSignature { beat_milli: (at * 1000.0).round() as i64, numerator, denominator }
}

/// The key of a key signature (fifths, and the mode when minor).
fn key(k: &musicxml::elements::Key) -> Option<Key> {
    let musicxml::elements::KeyContents::Explicit(e) = &k.content else { return None };
    let minor = e.mode.as_ref().is_some_and(|m| matches!(m.content, Mode::Minor | Mode::Aeolian));
    Some(Key::from_midi_signature(*e.fifths.content, minor))
}

/// The first tempo given, at `at`.
fn tempo(bpm: Option<f64>, at: f64, out: &mut Score) {
    if let Some(bpm) = bpm.filter(|b| b.is_finite() && *b > 0.0 && out.tempi.is_empty()) {
        out.tempi.push(TempoChange { beat: at, bpm: bpm.clamp(6.0, 6000.0) });
    }
}

/// A note: onto the cursor (a chord note onto the last onset), joined to a tied note of its
/// pitch; a rest moves the cursor only.
fn lay_note(note: &musicxml::elements::Note, cursor: &mut Cursor, voice: u8, out: &mut Score) {
    let NoteType::Normal(info) = &note.content.info else { return };
    let duration = *info.duration.content as f64 / cursor.divisions;
    let onset = if info.chord.is_some() { cursor.last_onset } else { cursor.at };
    if info.chord.is_none() {
        cursor.last_onset = cursor.at;
        cursor.at += duration;
    }
    let AudibleType::Pitch(pitch) = &info.audible else { return };
    let Some(midi) = midi_pitch(pitch) else { return };
    let (starts, stops) = (
        info.tie.iter().any(|t| t.attributes.r#type == StartStop::Start),
        info.tie.iter().any(|t| t.attributes.r#type == StartStop::Stop),
    );
    let waiting =
        cursor.tied.iter().position(|&i| out.notes[i].pitch == midi && (out.notes[i].end() - onset).abs() < 1e-6);
    let index = match (stops, waiting) {
        (true, Some(w)) => {
            let i = cursor.tied.remove(w);
            out.notes[i].duration += duration;
            i
        }
        _ => {
            out.notes.push(Note { onset, duration, pitch: midi, velocity: 80, voice });
            out.notes.len() - 1
        }
    };
    if starts {
        cursor.tied.push(index);
    }
}

/// The MIDI pitch of a MusicXML pitch (C4 = 60), `None` outside MIDI's range.
fn midi_pitch(pitch: &musicxml::elements::Pitch) -> Option<u8> {
    let c = &pitch.content;
    let step = match c.step.content {
        Step::C => 0,
        Step::D => 2,
        Step::E => 4,
        Step::F => 5,
        Step::G => 7,
        Step::A => 9,
        Step::B => 11,
    };
    let alter = c.alter.as_ref().map_or(0, |a| *a.content as i32);
    let midi = 12 * (*c.octave.content as i32 + 1) + step + alter;
    u8::try_from(midi).ok().filter(|&p| p <= 127)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-bar MusicXML melody in G major, 3/4, with a chord, a tie across the bar line, a
    /// rest, a grace note and a backup into a second voice.
    pub const WALTZ: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0">
  <movement-title>Little waltz</movement-title>
  <part-list><score-part id="P1"><part-name>Melody</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>1</fifths><mode>major</mode></key>
        <time><beats>3</beats><beat-type>4</beat-type></time></attributes>
      <direction><sound tempo="90"/></direction>
      <note><pitch><step>G</step><octave>4</octave></pitch><duration>2</duration></note>
      <note><chord/><pitch><step>B</step><octave>4</octave></pitch><duration>2</duration></note>
      <note><grace/><pitch><step>A</step><octave>4</octave></pitch></note>
      <note><pitch><step>F</step><alter>1</alter><octave>4</octave></pitch><duration>1</duration></note>
      <note><rest/><duration>1</duration></note>
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>2</duration><tie type="start"/></note>
      <backup><duration>6</duration></backup>
      <note><pitch><step>G</step><octave>3</octave></pitch><duration>6</duration></note>
    </measure>
    <measure number="2">
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>4</duration><tie type="stop"/></note>
      <note><pitch><step>B</step><alter>-1</alter><octave>4</octave></pitch><duration>2</duration></note>
    </measure>
  </part>
</score-partwise>"#;

    #[test]
    fn a_musicxml_melody_is_read_with_its_chords_ties_metre_key_and_tempo() {
        let score = parse_musicxml(WALTZ.as_bytes().to_vec()).unwrap();
        let notes: Vec<(f64, f64, u8)> = score.notes.iter().map(|n| (n.onset, n.duration, n.pitch)).collect();
        assert_eq!(
            notes,
            vec![(0.0, 3.0, 55), (0.0, 1.0, 67), (0.0, 1.0, 71), (1.0, 0.5, 66), (2.0, 3.0, 74), (5.0, 1.0, 70)]
        );
        assert_eq!((score.time_signatures[0].numerator, score.time_signatures[0].denominator), (3, 4));
        assert_eq!(score.declared_key, Some(Key::from_midi_signature(1, false)));
        assert_eq!(score.tempi, vec![TempoChange { beat: 0.0, bpm: 90.0 }]);
        assert_eq!(score.title.as_deref(), Some("Little waltz"));
        assert_eq!(score.bar_lines, vec![3.0], "the second measure's bar line");
    }

    #[test]
    fn what_is_not_musicxml_is_an_error_not_a_panic() {
        assert_eq!(parse_musicxml(Vec::new()), Err(ReadProblem::Empty));
        for bad in ["<html></html>", "not xml at all", "<score-partwise><part id=\"P1\">", "PK\u{3}\u{4}garbage"] {
            assert!(matches!(parse_musicxml(bad.as_bytes().to_vec()), Err(ReadProblem::NotMusicXml(_))), "{bad}");
        }
        // One byte that is no text (the crate's own decoding indexed past it).
        assert!(matches!(parse_musicxml(vec![0xff]), Err(ReadProblem::NotMusicXml(_))));
        let utf16: Vec<u8> =
            [0xff, 0xfe].into_iter().chain(WALTZ.encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
        assert_eq!(parse_musicxml(utf16).unwrap().notes.len(), 6, "UTF-16 with its byte-order mark reads");
        // A compressed .mxl reads; a broken one is an error.
        let mut mxl = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut mxl);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("META-INF/container.xml", options).unwrap();
        std::io::Write::write_all(&mut zip, b"<container/>").unwrap();
        zip.start_file("waltz.musicxml", options).unwrap();
        std::io::Write::write_all(&mut zip, WALTZ.as_bytes()).unwrap();
        zip.finish().unwrap();
        let mxl = mxl.into_inner();
        assert_eq!(parse_musicxml(mxl.clone()).unwrap().notes.len(), 6, ".mxl reads");
        assert!(matches!(parse_musicxml(mxl[..mxl.len() / 2].to_vec()), Err(ReadProblem::NotMusicXml(_))));
        let no_notes = WALTZ.replace("<note>", "<!--").replace("</note>", "-->");
        assert!(parse_musicxml(no_notes.into_bytes()).is_err());
    }
}
