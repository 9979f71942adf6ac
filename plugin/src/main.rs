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
    // Before any thread starts (`continuo_core::inference::TELEMETRY_SWITCH`).
    if std::env::var_os(continuo_core::inference::TELEMETRY_SWITCH).is_none() {
        std::env::set_var(continuo_core::inference::TELEMETRY_SWITCH, "1");
    }
    if let Err(e) = ctrlc::set_handler(quit_after_the_last_notes) {
        eprintln!("continuo: cannot handle SIGINT/SIGTERM: {e}");
    }
    let ok = nice_plug::prelude::nice_export_standalone_with_args::<continuo::plugin::Continuo, _>(with_voice(
        std::env::args().collect(),
    ));
    std::process::exit(if ok { 0 } else { 1 });
}

/// The arguments, with the voice's layout chosen unless they choose one, and a MIDI output
/// buffer that holds every event the plugin may send in a block (nice-plug's default, 2,048,
/// is less, and what it cannot hold it drops, note-offs too) unless they choose its size.
fn with_voice(mut args: Vec<String>) -> Vec<String> {
    let at = args.len().min(1);
    if !given(&args, "--audio-layout", "-l") {
        args.splice(at..at, ["--audio-layout".to_string(), "2".to_string()]);
    }
    if !given(&args, "--midi-capacity", "--midi-capacity") {
        let most = continuo::events::MOST_OUTPUT_EVENTS.to_string();
        args.splice(at..at, ["--midi-capacity".to_string(), most]);
    }
    args
}

/// Whether the option `long` (or its short form) is among `args`.
fn given(args: &[String], long: &str, short: &str) -> bool {
    args.iter().any(|a| a == short || a.starts_with(long) || (a.starts_with(short) && a.len() > 2 && short.len() == 2))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_voice_and_a_midi_buffer_for_every_event_are_chosen_unless_given() {
        let most = continuo::events::MOST_OUTPUT_EVENTS.to_string();
        assert_eq!(
            with_voice(args("continuo -b jack")),
            args(&format!("continuo --midi-capacity {most} --audio-layout 2 -b jack"))
        );
        assert_eq!(with_voice(args("continuo -l 1 --midi-capacity 9000")), args("continuo -l 1 --midi-capacity 9000"));
        assert_eq!(
            with_voice(args("continuo --audio-layout=1 --midi-capacity=100")),
            args("continuo --audio-layout=1 --midi-capacity=100")
        );
        assert_eq!(with_voice(args("continuo -l1")), args(&format!("continuo --midi-capacity {most} -l1")));
        assert!(most.parse::<usize>().unwrap() >= 4096, "a block may hold 4,096 events");
    }
}
