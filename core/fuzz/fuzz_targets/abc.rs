//! Any text as an ABC tune book: each tune a score or an error naming its line, never a
//! panic or a hang (repeats are played out a bounded number of times).
#![no_main]

use continuo_core::abc::parse_abc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for tune in parse_abc(&String::from_utf8_lossy(data)) {
        if let Ok(score) = tune {
            assert!(!score.notes.is_empty());
            assert!(score.notes.iter().all(|n| n.pitch <= 127 && n.duration.is_finite()));
        }
    }
});
