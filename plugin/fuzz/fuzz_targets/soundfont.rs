//! Any bytes as a SoundFont file, loaded as the plugin's loader thread loads it and played
//! as its audio thread plays it: an error or a note, never a panic out of either, and never
//! an allocation larger than the file calls for.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("continuo-fuzz-{}.sf2", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = continuo::soundfont::audition(&path);
    }
});
