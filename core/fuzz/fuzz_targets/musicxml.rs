//! Any bytes as MusicXML (plain or `.mxl`): a score, or an error naming the problem, never a
//! panic that escapes or a hang.
#![no_main]

use continuo_core::musicxml::parse_musicxml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(score) = parse_musicxml(data.to_vec()) {
        assert!(!score.notes.is_empty());
    }
});
