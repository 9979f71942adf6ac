//! Any bytes into the MIDI reader, then (when they read) through quantisation, both
//! encodings and the writer: nothing may panic.
#![no_main]

use continuo_core::encoding::{decode, encode, EncodingKind};
use continuo_core::grid::quantise;
use continuo_core::midi::{parse_midi, write_midi, MidiOptions};
use continuo_core::Grid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = MidiOptions { include_drums: true, ..MidiOptions::default() };
    if let Ok(score) = parse_midi(data, &options) {
        // Keep huge songs from spending the fuzzer's time on encoding.
        if score.end_beat() < 10_000.0 {
            let q = quantise(&score.notes, Grid::SIXTEENTH);
            for kind in [EncodingKind::Melody, EncodingKind::Chords] {
                let _ = decode(&encode(&q, kind), 80);
            }
        }
        let _ = write_midi(&score);
    }
});
