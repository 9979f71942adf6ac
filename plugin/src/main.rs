//! Continuo as a standalone app (nice-plug's standalone wrapper: JACK, ALSA or the dummy
//! backend; MIDI input from a keyboard). `continuo --help` lists the options.
//!
//! The standalone plays the answer out loud: unless `--audio-layout` says otherwise, it runs
//! in the layout with the built-in voice's stereo output (layout 2; 1 is MIDI only).
//!
//! SIGINT and SIGTERM (with or without the editor open) end every sounding note on the next
//! audio block, then quit with status 0. A backend that cannot start exits with status 1.

use continuo::plugin::{EXIT_FLUSHED, EXIT_REQUESTED};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn main() {
    if let Err(e) = ctrlc::set_handler(quit_after_the_last_notes) {
        eprintln!("continuo: cannot handle SIGINT/SIGTERM: {e}");
    }
    let ok = nice_plug::prelude::nice_export_standalone_with_args::<continuo::plugin::Continuo, _>(with_voice(
        std::env::args().collect(),
    ));
    std::process::exit(if ok { 0 } else { 1 });
}

/// The arguments, with the voice's layout chosen unless they choose one.
fn with_voice(mut args: Vec<String>) -> Vec<String> {
    let chosen =
        args.iter().any(|a| a == "-l" || a.starts_with("--audio-layout") || (a.starts_with("-l") && a.len() > 2));
    if !chosen {
        let at = args.len().min(1);
        args.splice(at..at, ["--audio-layout".to_string(), "2".to_string()]);
    }
    args
}

/// Ask the audio thread to end every note, wait until it has sent the note-offs (or a
/// second: the audio may not run), let that block's MIDI reach its port, and quit.
fn quit_after_the_last_notes() {
    EXIT_REQUESTED.store(true, Ordering::Release);
    let asked = Instant::now();
    while !EXIT_FLUSHED.load(Ordering::Acquire) && asked.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    std::process::exit(0);
}
