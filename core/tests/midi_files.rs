//! MIDI reading through the public interface, on files made byte by byte: formats 0, 1
//! and 2, running status, velocity-0 note-offs, overlapping notes, tempo maps, selection of
//! tracks, channels and programs, and every kind of bad file (each a typed error naming
//! the file, never a panic).

mod common;

use continuo_core::midi::{parse_midi, MidiOptions, MAX_EVENTS};
use continuo_core::{read_music_file, ReadProblem};
use std::path::Path;

/// A Standard MIDI file from raw track bodies (End of Track is appended to each).
fn smf(format: u16, ppq: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"MThd".to_vec();
    out.extend(6u32.to_be_bytes());
    out.extend(format.to_be_bytes());
    out.extend((tracks.len() as u16).to_be_bytes());
    out.extend(ppq.to_be_bytes());
    for body in tracks {
        let mut body = body.clone();
        body.extend([0x00, 0xFF, 0x2F, 0x00]);
        out.extend(b"MTrk");
        out.extend((body.len() as u32).to_be_bytes());
        out.extend(body);
    }
    out
}

fn tempo(us: u32) -> Vec<u8> {
    let b = us.to_be_bytes();
    vec![0x00, 0xFF, 0x51, 0x03, b[1], b[2], b[3]]
}

fn notes(score: &continuo_core::Score) -> Vec<(f64, f64, u8, u8)> {
    score.notes.iter().map(|n| (n.onset, n.duration, n.pitch, n.voice)).collect()
}

#[test]
fn format_0_with_running_status_and_velocity_0_note_offs() {
    // 96 ticks per quarter. Note on C4, then (running status) D4 a beat later; both end
    // with velocity-0 note-ons, also in running status.
    let body = vec![0x00, 0x90, 60, 100, 0x60, 62, 90, 0x00, 60, 0, 0x60, 62, 0];
    let score = parse_midi(&smf(0, 96, &[body]), &MidiOptions::default()).unwrap();
    assert_eq!(notes(&score), vec![(0.0, 1.0, 60, 0), (1.0, 1.0, 62, 0)]);
    assert_eq!(score.notes[1].velocity, 90);
}

#[test]
fn format_1_tempo_map_and_many_tracks() {
    let mut conductor = tempo(500_000);
    conductor.extend([0x83, 0x00]); // delta 384 ticks = 4 beats at 96 ppq
    conductor.extend(&tempo(250_000)[1..]);
    conductor.extend([0x00, 0xFF, 0x58, 0x04, 3, 2, 24, 8]); // 3/4 at beat 4
    let melody = vec![0x00, 0x91, 72, 80, 0x81, 0x40, 0x81, 72, 0]; // ch 2, 2 beats
    let bass = vec![0x00, 0x92, 36, 80, 0x83, 0x00, 0x82, 36, 0]; // ch 3, 4 beats
    let score = parse_midi(&smf(1, 96, &[conductor, melody, bass]), &MidiOptions::default()).unwrap();
    assert_eq!(notes(&score), vec![(0.0, 4.0, 36, 2), (0.0, 2.0, 72, 1)]);
    let bpm: Vec<(f64, f64)> = score.tempi.iter().map(|t| (t.beat, t.bpm)).collect();
    assert_eq!(bpm, vec![(0.0, 120.0), (4.0, 240.0)]);
    assert_eq!(score.time_signatures[0].beat(), 4.0);
    assert_eq!(score.time_signatures[0].numerator, 3);
}

#[test]
fn format_2_patterns_play_one_after_another() {
    let a = vec![0x00, 0x90, 60, 80, 0x60, 0x80, 60, 0]; // one beat
    let b = vec![0x00, 0x90, 64, 80, 0x60, 0x80, 64, 0];
    let score = parse_midi(&smf(2, 96, &[a, b]), &MidiOptions::default()).unwrap();
    assert_eq!(notes(&score), vec![(0.0, 1.0, 60, 0), (1.0, 1.0, 64, 0)]);
}

#[test]
fn overlapping_notes_of_one_pitch_end_first_in_first_out() {
    // On at 0, on again at 1 beat, off at 2, off at 3.
    let body = vec![0x00, 0x90, 60, 80, 0x60, 60, 81, 0x60, 0x80, 60, 0, 0x60, 60, 0];
    let score = parse_midi(&smf(0, 96, &[body]), &MidiOptions::default()).unwrap();
    assert_eq!(notes(&score), vec![(0.0, 2.0, 60, 0), (1.0, 2.0, 60, 0)]);
}

#[test]
fn unreleased_notes_end_with_their_track() {
    let body = vec![0x00, 0x90, 60, 80, 0x81, 0x40, 0x90, 64, 0];
    let score = parse_midi(&smf(0, 96, &[body]), &MidiOptions::default()).unwrap();
    assert_eq!(notes(&score), vec![(0.0, 2.0, 60, 0)]);
}

#[test]
fn tracks_channels_programs_and_drums_can_be_picked() {
    let piano = vec![0x00, 0xC0, 0, 0x00, 0x90, 60, 80, 0x60, 60, 0];
    let bass = vec![0x00, 0xC1, 33, 0x00, 0x91, 40, 80, 0x60, 40, 0];
    let drums = vec![0x00, 0x99, 36, 80, 0x60, 36, 0];
    let bytes = smf(1, 96, &[piano, bass, drums]);
    let pitches =
        |o: MidiOptions| -> Vec<u8> { parse_midi(&bytes, &o).unwrap().notes.iter().map(|n| n.pitch).collect() };
    assert_eq!(pitches(MidiOptions::default()), vec![40, 60]);
    assert_eq!(pitches(MidiOptions { include_drums: true, ..Default::default() }), vec![36, 40, 60]);
    assert_eq!(pitches(MidiOptions { programs: Some((0..8).collect()), ..Default::default() }), vec![60]);
    assert_eq!(pitches(MidiOptions { tracks: Some(vec![1]), ..Default::default() }), vec![40]);
    assert_eq!(pitches(MidiOptions { channels: Some(vec![0]), ..Default::default() }), vec![60]);
}

#[test]
fn unknown_meta_and_sysex_events_are_ignored() {
    let body = vec![
        0x00, 0xFF, 0x60, 0x03, 1, 2, 3, // an undefined meta event
        0x00, 0xFF, 0x7F, 0x02, 0x00, 0x41, // sequencer specific
        0x00, 0xF0, 0x03, 0x7E, 0x09, 0xF7, // a SysEx
        0x00, 0x90, 60, 80, 0x60, 60, 0,
    ];
    let score = parse_midi(&smf(0, 96, &[body]), &MidiOptions::default()).unwrap();
    assert_eq!(notes(&score), vec![(0.0, 1.0, 60, 0)]);
}

/// Write `bytes` to a file named `name` and read it through the public entry point.
fn read_bytes(
    name: &str,
    bytes: &[u8],
) -> (std::path::PathBuf, Result<continuo_core::Score, continuo_core::ReadError>) {
    let dir = common::temp_dir("midi-bad");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let result = read_music_file(&path, &MidiOptions::default());
    (path, result)
}

fn expect_error(name: &str, bytes: &[u8], check: impl Fn(&ReadProblem) -> bool) {
    let (path, result) = read_bytes(name, bytes);
    let err = result.expect_err(name);
    assert!(check(&err.problem), "{name}: unexpected problem {:?}", err.problem);
    let text = err.to_string();
    assert!(text.contains(&*path.to_string_lossy()), "{text} does not name the file");
}

#[test]
fn bad_midi_files_are_typed_errors_naming_the_file() {
    let note = vec![0x00, 0x90, 60, 80, 0x60, 60, 0];
    expect_error("empty.mid", &[], |p| *p == ReadProblem::Empty);
    expect_error("text.mid", b"this is not a MIDI file at all", |p| matches!(p, ReadProblem::NotMidi(_)));
    let mut t0 = tempo(0);
    t0.extend(&note);
    expect_error("tempo0.mid", &smf(0, 96, &[t0]), |p| *p == ReadProblem::AbsurdTempo(0));
    let mut fast = tempo(5);
    fast.extend(&note);
    expect_error("tempo-fast.mid", &smf(0, 96, &[fast]), |p| *p == ReadProblem::AbsurdTempo(5));
    let mut slow = tempo(0xFF_FFFF);
    slow.extend(&note);
    expect_error("tempo-slow.mid", &smf(0, 96, &[slow]), |p| *p == ReadProblem::AbsurdTempo(0xFF_FFFF));
    // One note of 2^28 - 1 ticks at 1 tick per quarter: millions of beats.
    let endless = vec![0x00, 0x90, 60, 80, 0xFF, 0xFF, 0xFF, 0x7F, 60, 0];
    expect_error("endless.mid", &smf(0, 1, &[endless]), |p| matches!(p, ReadProblem::TooLong { .. }));
    let drums_only = vec![0x00, 0x99, 36, 80, 0x60, 36, 0];
    expect_error("drums.mid", &smf(0, 96, &[drums_only]), |p| *p == ReadProblem::NoNotes);
    expect_error("zero-ppq.mid", &smf(0, 0, std::slice::from_ref(&note)), |p| matches!(p, ReadProblem::NotMidi(_)));
    expect_error("song.xyz", &smf(0, 96, &[note]), |p| *p == ReadProblem::UnknownExtension);
    // Found by fuzzing: an SMPTE frame-rate byte of 0x80 overflowed inside midly.
    expect_error(
        "smpte.mid",
        &[0x4d, 0x54, 0x68, 0x64, 0, 0, 0, 9, 0, 0, 0, 0, 0x80, 0xc3, 0xff, 0xff, 0x8a, 0xff, 0xff],
        |p| matches!(p, ReadProblem::NotMidi(_)),
    );
    let second_header = include_bytes!("fixtures/fuzz-midly-second-header.mid");
    expect_error("second-header.mid", second_header, |p| {
        matches!(p, ReadProblem::NotMidi(_) | ReadProblem::Truncated(_))
    });
    let missing = read_music_file(Path::new("/nonexistent/x.mid"), &MidiOptions::default()).unwrap_err();
    assert!(matches!(missing.problem, ReadProblem::Io(_)) && missing.to_string().contains("/nonexistent/x.mid"));
}

#[test]
fn a_million_events_is_refused_quickly() {
    // MAX_EVENTS + 1 controller messages in running status (3 bytes each).
    let mut body = vec![0x00, 0xB0, 7, 100];
    for _ in 0..MAX_EVENTS {
        body.extend([0x00, 7, 100]);
    }
    body.extend([0x00, 0x90, 60, 80, 0x60, 60, 0]);
    expect_error("huge.mid", &smf(0, 96, &[body]), |p| *p == ReadProblem::TooManyEvents { limit: MAX_EVENTS });
}

#[test]
fn truncated_real_files_are_errors_not_panics() {
    let Some(dir) = common::data_dir("oneills-midi") else { return };
    let bytes = std::fs::read(dir.join("0001-00501.mid")).unwrap();
    for cut in [1, 4, 13, 14, 20, 22, bytes.len() / 2, bytes.len() - 1] {
        let (_, result) = read_bytes("cut.mid", &bytes[..cut]);
        let err = result.expect_err(&format!("cut at {cut}"));
        assert!(
            matches!(err.problem, ReadProblem::NotMidi(_) | ReadProblem::Truncated(_)),
            "cut {cut}: {:?}",
            err.problem
        );
    }
}
