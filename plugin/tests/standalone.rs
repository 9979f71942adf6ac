//! The standalone's command line: `continuo --help` says what Continuo does and its own
//! defaults, and still lists every option of nice-plug's standalone wrapper.

use std::process::Command;

#[test]
fn the_help_is_continuos_own_and_lists_nice_plugs_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_continuo")).arg("--help").output().expect("the standalone runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("Continuo: a MIDI continuation instrument"), "{text}");
    assert!(text.contains("Continuo's default is 2") && !text.contains("Defaults to the first layout"), "{text}");
    for option in
        ["--backend", "--audio-layout", "--midi-input", "--connect-jack-midi-input", "--tempo", "--timesig-num"]
    {
        assert!(text.contains(option), "{option} is missing: {text}");
    }
}
