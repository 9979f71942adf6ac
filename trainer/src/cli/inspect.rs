//! `trainer inspect`: show how Continuo reads one file — its tempo, metre, key, notes and
//! the tokens a model would see. For checking a corpus file by eye.

use clap::Args;
use continuo_core::abc::{abc_tune_count, read_abc_tune};
use continuo_core::midi::MidiOptions;
use continuo_core::note::pitch_name;
use continuo_core::read_music_file;
use continuo_core::reader::FileKind;
use continuo_core::song::shift_for;
use continuo_core::song::{encode_score, song_key};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A MIDI (.mid, .midi), **kern (.krn, .kern), MusicXML (.musicxml, .xml, .mxl) or ABC
    /// (.abc) file.
    file: PathBuf,
    /// Which tune of an ABC tune book to show, from 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    tune: u32,
    #[command(flatten)]
    encoding: super::shared::EncodingArgs,
    /// How many notes to list.
    #[arg(long, default_value_t = 24)]
    notes: usize,
    /// Keep MIDI channel 10 (drums).
    #[arg(long)]
    drums: bool,
}

pub fn run(args: &InspectArgs) -> Result<(), String> {
    let midi = MidiOptions { include_drums: args.drums, ..MidiOptions::default() };
    let score = match FileKind::of(&args.file) {
        Some(FileKind::Abc) => read_abc_tune(&args.file, args.tune as usize - 1),
        _ => read_music_file(&args.file, &midi),
    }
    .map_err(|e| e.to_string())?;
    println!("file: {}", args.file.display());
    if FileKind::of(&args.file) == Some(FileKind::Abc) {
        let tunes = abc_tune_count(&args.file).map_err(|e| e.to_string())?;
        println!("tune: {} of {tunes} (--tune N for another)", args.tune);
    }
    if let Some(title) = &score.title {
        println!("title: {title}");
    }
    println!("tempo: {:.1} BPM ({} changes)", score.initial_bpm(), score.tempi.len().saturating_sub(1));
    for ts in score.time_signatures.iter().take(4) {
        println!("metre: {}/{} at beat {}", ts.numerator, ts.denominator, ts.beat());
    }
    let key = song_key(&score);
    if let Some((k, source)) = key {
        println!("key: {k} ({source:?}), shift to C/Am: {}", k.shift_to_c_or_a());
    }
    println!(
        "notes: {} over {:.2} beats; bar lines: {}; phrases: {}",
        score.notes.len(),
        score.end_beat(),
        score.bar_lines.len(),
        score.phrases.len()
    );
    for n in score.notes.iter().take(args.notes) {
        println!(
            "  beat {:8.3}  len {:6.3}  pitch {:3} {:4}  vel {:3}  voice {}",
            n.onset,
            n.duration,
            n.pitch,
            pitch_name(n.pitch),
            n.velocity,
            n.voice
        );
    }
    let shift = shift_for(args.encoding.keys, key.map(|k| k.0));
    let tokens = encode_score(&score, args.encoding.grid, args.encoding.encoding, shift);
    let text: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    let frame = match key.map(|k| k.0.transposed(shift)) {
        Some(k) if shift != 0 => format!("moved {shift:+} semitones into {k}, the model's key frame"),
        Some(k) => format!("in {k}, as written"),
        None => "as written (no key)".into(),
    };
    println!(
        "tokens ({}, {} steps, {frame}; pitches as MIDI numbers, 60 = C4):\n{}",
        args.encoding.encoding,
        tokens.len(),
        text.join(" ")
    );
    Ok(())
}
