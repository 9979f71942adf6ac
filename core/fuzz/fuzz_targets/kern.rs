//! Any text into the **kern reader, then (when it reads) through quantisation and the
//! melody encoding: nothing may panic.
#![no_main]

use continuo_core::encoding::{encode, EncodingKind};
use continuo_core::grid::quantise;
use continuo_core::kern::parse_kern;
use continuo_core::Grid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(score) = parse_kern(&text) {
        if score.end_beat() < 10_000.0 {
            let _ = encode(&quantise(&score.notes, Grid::SIXTEENTH), EncodingKind::Melody);
        }
    }
});
