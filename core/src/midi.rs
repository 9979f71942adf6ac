//! Standard MIDI files in and out (midly): formats 0, 1 and 2, running status, tempo maps,
//! velocity-0 note-ons as note-offs, overlapping notes of one pitch, track/channel/program
//! selection, drums left out by default. Runs on the trainer's threads and the plugin's
//! worker (exporting a continuation); never on the audio thread.

use crate::key::Key;
use crate::read_error::{ReadError, ReadProblem};
use crate::score::{Note, Score, TempoChange, TimeSignature};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Timing, TrackEvent, TrackEventKind};
use std::collections::{HashMap, VecDeque};
use std::path::Path;

/// More events than this in one file is refused rather than read.
pub const MAX_EVENTS: usize = 1_000_000;
/// Allowed tempi, in µs per quarter note (6 000 down to 6 BPM).
pub const TEMPO_RANGE_US: std::ops::RangeInclusive<u32> = 10_000..=10_000_000;
/// General MIDI's drum channel (channel 10, 0-based 9).
pub const DRUM_CHANNEL: u8 = 9;
/// Ticks per quarter note of the files we write.
pub const WRITE_PPQ: u16 = 480;

/// Which notes of a MIDI file to keep.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MidiOptions {
    /// Keep notes on channel 10 (General MIDI drums). Off by default.
    pub include_drums: bool,
    /// Keep only these tracks (0-based track index in the file).
    pub tracks: Option<Vec<usize>>,
    /// Keep only these channels (0-based).
    pub channels: Option<Vec<u8>>,
    /// Keep only notes played by these General MIDI programs (0-based; 0..=7 are pianos).
    pub programs: Option<Vec<u8>>,
}

impl MidiOptions {
    fn keeps(&self, track: usize, channel: u8, program: u8) -> bool {
        (self.include_drums || channel != DRUM_CHANNEL)
            && self.tracks.as_ref().is_none_or(|t| t.contains(&track))
            && self.channels.as_ref().is_none_or(|c| c.contains(&channel))
            && self.programs.as_ref().is_none_or(|p| p.contains(&program))
    }
}

/// Read a MIDI file from disk.
pub fn read_midi_file(path: &Path, options: &MidiOptions) -> Result<Score, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| ReadError::new(path, ReadProblem::Io(e.to_string())))?;
    parse_midi(&bytes, options).map_err(|p| ReadError::new(path, p))
}

/// How ticks become beats.
enum Clock {
    /// Ticks per quarter note.
    Metrical(f64),
    /// Ticks per second; beats are counted at 120 BPM.
    Timecode(f64),
}

impl Clock {
    fn beats(&self, tick: u64) -> f64 {
        match *self {
            Clock::Metrical(ppq) => tick as f64 / ppq,
            Clock::Timecode(tps) => tick as f64 / tps * 2.0,
        }
    }
}

/// Parse a Standard MIDI file held in memory.
pub fn parse_midi(bytes: &[u8], options: &MidiOptions) -> Result<Score, ReadProblem> {
    if bytes.is_empty() {
        return Err(ReadProblem::Empty);
    }
    check_chunks(bytes)?;
    let (header, tracks) = midly::parse(bytes).map_err(|e| ReadProblem::NotMidi(e.to_string()))?;
    let clock = match header.timing {
        Timing::Metrical(ppq) if ppq.as_int() > 0 => Clock::Metrical(ppq.as_int() as f64),
        Timing::Metrical(_) => return Err(ReadProblem::NotMidi("0 ticks per quarter note".into())),
        Timing::Timecode(fps, sub) => Clock::Timecode(fps.as_f32() as f64 * sub.max(1) as f64),
    };

    let mut score = Score::default();
    let mut events_seen = 0usize;
    // Format 2 tracks are independent patterns played one after another.
    let mut track_offset = 0u64;
    for (track_index, track) in tracks.enumerate() {
        let track = track.map_err(|e| ReadProblem::NotMidi(format!("track {track_index}: {e}")))?;
        let mut tick = track_offset;
        let mut programs = [0u8; 16];
        // (channel, key) → the start tick and velocity of each sounding note, oldest first.
        let mut sounding: HashMap<(u8, u8), VecDeque<(u64, u8)>> = HashMap::new();
        for event in track {
            let event = event.map_err(|e| ReadProblem::NotMidi(format!("track {track_index}: {e}")))?;
            events_seen += 1;
            if events_seen > MAX_EVENTS {
                return Err(ReadProblem::TooManyEvents { limit: MAX_EVENTS });
            }
            tick += event.delta.as_int() as u64;
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    match message {
                        MidiMessage::ProgramChange { program } => programs[ch as usize] = program.as_int(),
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            let kept = options.keeps(track_index, ch, programs[ch as usize]);
                            if kept {
                                sounding.entry((ch, key.as_int())).or_default().push_back((tick, vel.as_int()));
                            }
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            // First in, first out: an off ends the earliest sounding note.
                            if let Some((start, vel)) =
                                sounding.get_mut(&(ch, key.as_int())).and_then(VecDeque::pop_front)
                            {
                                push_note(&mut score, &clock, start, tick, key.as_int(), vel, ch);
                            }
                        }
                        _ => {}
                    }
                }
                TrackEventKind::Meta(meta) => read_meta(&mut score, &clock, tick, track_index, meta)?,
                TrackEventKind::SysEx(_) | TrackEventKind::Escape(_) => {}
            }
        }
        // Notes never released end with their track.
        for ((ch, key), starts) in sounding {
            for (start, vel) in starts {
                push_note(&mut score, &clock, start, tick, key, vel, ch);
            }
        }
        if header.format == Format::Sequential {
            track_offset = tick;
        }
        let end = clock.beats(tick);
        score.length = Some(score.length.map_or(end, |l: f64| l.max(end)));
    }
    if score.notes.is_empty() {
        return Err(ReadProblem::NoNotes);
    }
    finish(&mut score);
    score.check_length()?;
    Ok(score)
}

/// midly reads what it can of a cut-off file; we want to say it is cut off. Every chunk
/// must fit in the file, and there must be as many track chunks as the header announces.
fn check_chunks(bytes: &[u8]) -> Result<(), ReadProblem> {
    if bytes.len() < 14 || &bytes[..4] != b"MThd" {
        return Err(ReadProblem::NotMidi("no `MThd` header".into()));
    }
    let announced = u16::from_be_bytes([bytes[10], bytes[11]]) as usize;
    let mut at = 0usize;
    let mut tracks = 0usize;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        if &bytes[at..at + 4] == b"MTrk" {
            tracks += 1;
        }
        // SMPTE timing: the high byte is minus the frame rate. Checked in every header chunk
        // because midly negates it unchecked (a byte of 0x80 overflows).
        if &bytes[at..at + 4] == b"MThd" && len >= 6 && at + 13 <= bytes.len() {
            let fps = bytes[at + 12];
            if fps & 0x80 != 0 && ![-24i8, -25, -29, -30].contains(&(fps as i8)) {
                return Err(ReadProblem::NotMidi(format!("invalid SMPTE frame rate byte 0x{fps:02x}")));
            }
        }
        let end = at + 8 + len;
        if end > bytes.len() {
            return Err(ReadProblem::Truncated(format!(
                "a chunk at byte {at} announces {len} bytes, the file has {} left",
                bytes.len() - at - 8
            )));
        }
        at = end;
    }
    if tracks < announced {
        return Err(ReadProblem::Truncated(format!(
            "the header announces {announced} tracks, the file holds {tracks}"
        )));
    }
    Ok(())
}

fn push_note(score: &mut Score, clock: &Clock, start: u64, end: u64, pitch: u8, velocity: u8, channel: u8) {
    let onset = clock.beats(start);
    score.notes.push(Note { onset, duration: clock.beats(end) - onset, pitch, velocity, voice: channel });
}

fn read_meta(score: &mut Score, clock: &Clock, tick: u64, track: usize, meta: MetaMessage) -> Result<(), ReadProblem> {
    let beat = clock.beats(tick);
    match meta {
        MetaMessage::Tempo(us) => {
            let us = us.as_int();
            if !TEMPO_RANGE_US.contains(&us) {
                return Err(ReadProblem::AbsurdTempo(us));
            }
            if matches!(clock, Clock::Metrical(_)) {
                score.tempi.push(TempoChange { beat, bpm: 60_000_000.0 / us as f64 });
            }
        }
        MetaMessage::TimeSignature(numerator, den_pow, _, _) if numerator > 0 && den_pow <= 6 => {
            score.time_signatures.push(TimeSignature {
                beat_milli: (beat * 1000.0).round() as i64,
                numerator,
                denominator: 1 << den_pow,
            });
        }
        MetaMessage::KeySignature(sharps, minor) if score.declared_key.is_none() && (-7..=7).contains(&sharps) => {
            score.declared_key = Some(Key::from_midi_signature(sharps, minor));
        }
        MetaMessage::TrackName(name) if track == 0 && score.title.is_none() => {
            let name = String::from_utf8_lossy(name).trim().to_string();
            if !name.is_empty() {
                score.title = Some(name);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Sort everything and keep one tempo / time signature per position (the last given).
fn finish(score: &mut Score) {
    score.sort();
    score.tempi.sort_by(|a, b| a.beat.total_cmp(&b.beat));
    score.tempi.dedup_by(|later, earlier| {
        let same = later.beat == earlier.beat;
        if same {
            *earlier = *later;
        }
        same
    });
    score.time_signatures.sort_by_key(|t| t.beat_milli);
    score.time_signatures.dedup_by(|later, earlier| {
        let same = later.beat_milli == earlier.beat_milli;
        if same {
            *earlier = *later;
        }
        same
    });
}

fn beat_to_tick(beat: f64) -> u64 {
    (beat.max(0.0) * WRITE_PPQ as f64).round() as u64
}

/// Turn (tick, event) pairs into a track of delta-timed events ending with End of Track.
fn delta_track(mut timed: Vec<(u64, u8, TrackEventKind<'_>)>) -> Vec<TrackEvent<'_>> {
    // Stable sort by tick, then by priority (meta first, note-offs before note-ons).
    timed.sort_by_key(|&(tick, prio, _)| (tick, prio));
    let mut last = 0u64;
    let mut track: Vec<TrackEvent> = timed
        .into_iter()
        .map(|(tick, _, kind)| {
            let delta = (tick - last).min(u28::max_value().as_int() as u64) as u32;
            last = tick;
            TrackEvent { delta: u28::new(delta), kind }
        })
        .collect();
    track.push(TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    track
}

/// Write a score as a format-1 Standard MIDI file: a conductor track (name, tempi, time
/// signatures, key) and one track per voice, the voice number used as the channel.
pub fn write_midi(score: &Score) -> Vec<u8> {
    write_midi_named(score, &|_| None)
}

/// [`write_midi`], each voice's track named by `name` where it gives one.
pub fn write_midi_named(score: &Score, name: &dyn Fn(u8) -> Option<String>) -> Vec<u8> {
    let title = score.title.clone().unwrap_or_else(|| "Continuo".to_string());
    let mut conductor: Vec<(u64, u8, TrackEventKind)> =
        vec![(0, 0, TrackEventKind::Meta(MetaMessage::TrackName(title.as_bytes())))];
    for t in &score.tempi {
        let us = (60_000_000.0 / t.bpm).round().clamp(1.0, 16_777_215.0) as u32;
        conductor.push((beat_to_tick(t.beat), 0, TrackEventKind::Meta(MetaMessage::Tempo(u24::new(us)))));
    }
    for ts in &score.time_signatures {
        let den_pow = ts.denominator.max(1).trailing_zeros() as u8;
        conductor.push((
            beat_to_tick(ts.beat()),
            0,
            TrackEventKind::Meta(MetaMessage::TimeSignature(ts.numerator, den_pow, 24, 8)),
        ));
    }
    if let Some(key) = score.declared_key {
        conductor.push((
            0,
            0,
            TrackEventKind::Meta(MetaMessage::KeySignature(key.signature(), key.mode == crate::key::Mode::Minor)),
        ));
    }
    let mut voices: Vec<u8> = score.notes.iter().map(|n| n.voice).collect();
    voices.sort_unstable();
    voices.dedup();
    let mut tracks = vec![delta_track(conductor)];
    let names: Vec<(u8, String)> = voices.iter().filter_map(|&v| name(v).map(|n| (v, n))).collect();
    for voice in voices {
        let channel = u4::new(voice % 16);
        let mut timed = Vec::new();
        if let Some((_, track_name)) = names.iter().find(|(v, _)| *v == voice) {
            timed.push((0, 0, TrackEventKind::Meta(MetaMessage::TrackName(track_name.as_bytes()))));
        }
        for n in score.notes.iter().filter(|n| n.voice == voice) {
            let key = u7::new(n.pitch.min(127));
            let on = beat_to_tick(n.onset);
            let off = beat_to_tick(n.end()).max(on + 1);
            let vel = u7::new(n.velocity.clamp(1, 127));
            timed.push((on, 2, TrackEventKind::Midi { channel, message: MidiMessage::NoteOn { key, vel } }));
            timed.push((
                off,
                1,
                TrackEventKind::Midi { channel, message: MidiMessage::NoteOff { key, vel: u7::new(0) } },
            ));
        }
        tracks.push(delta_track(timed));
    }
    let header = Header::new(Format::Parallel, Timing::Metrical(u15::new(WRITE_PPQ)));
    let mut out = Vec::new();
    midly::write_std(&header, tracks.iter(), &mut out).expect("writing to a Vec cannot fail");
    out
}

/// Write a score to a `.mid` file.
pub fn write_midi_file(path: &Path, score: &Score) -> std::io::Result<()> {
    std::fs::write(path, write_midi(score))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(onset: f64, duration: f64, pitch: u8, voice: u8) -> Note {
        Note { onset, duration, pitch, velocity: 90, voice }
    }

    #[test]
    fn writes_and_reads_back_the_same_notes() {
        let score = Score {
            title: Some("test".into()),
            notes: vec![n(0.0, 1.0, 60, 0), n(0.0, 2.0, 64, 1), n(1.0, 0.5, 62, 0), n(1.5, 0.25, 65, 0)],
            tempi: vec![TempoChange { beat: 0.0, bpm: 90.0 }, TempoChange { beat: 2.0, bpm: 140.0 }],
            time_signatures: vec![TimeSignature { beat_milli: 0, numerator: 3, denominator: 4 }],
            declared_key: Some(Key::new(7, crate::key::Mode::Major)),
            ..Score::default()
        };
        let back = parse_midi(&write_midi(&score), &MidiOptions::default()).unwrap();
        assert_eq!(back.notes, score.notes);
        assert_eq!(back.time_signatures, score.time_signatures);
        assert_eq!(back.declared_key, score.declared_key);
        assert_eq!(back.title.as_deref(), Some("test"));
        assert_eq!(back.tempi.len(), 2);
        assert!((back.tempi[1].bpm - 140.0).abs() < 0.01);
    }

    #[test]
    fn drums_are_left_out_unless_asked_for() {
        let score = Score { notes: vec![n(0.0, 1.0, 60, 0), n(0.0, 1.0, 36, DRUM_CHANNEL)], ..Score::default() };
        let bytes = write_midi(&score);
        assert_eq!(parse_midi(&bytes, &MidiOptions::default()).unwrap().notes.len(), 1);
        let all = MidiOptions { include_drums: true, ..MidiOptions::default() };
        assert_eq!(parse_midi(&bytes, &all).unwrap().notes.len(), 2);
        let only_drums =
            MidiOptions { include_drums: true, channels: Some(vec![DRUM_CHANNEL]), ..MidiOptions::default() };
        assert_eq!(parse_midi(&bytes, &only_drums).unwrap().notes[0].pitch, 36);
    }
}
