//! Any text as a model card: read and checked, and (when it reads) its vocabulary built and
//! its grid asked for: an error naming the problem, never a panic or a huge allocation.
#![no_main]

use continuo_core::card::ModelCard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(card) = ModelCard::from_json(&text, std::path::Path::new("fuzz.json")) {
        let _ = card.vocabulary();
        let _ = card.grid();
    }
});
