//! Continuo as a standalone app (nice-plug's standalone wrapper: JACK, ALSA or the dummy
//! backend; MIDI input from a keyboard). `continuo --help` says what Continuo does, where it
//! finds its model, and its defaults, then lists nice-plug's options (read from nice-plug
//! itself, so that they are never out of date).
//!
//! The standalone plays the answer out loud: unless `--audio-layout` says otherwise, it runs
//! in the layout with the built-in voice's stereo output (layout 2; 1 is MIDI only).
//!
//! A launch that names no device gets those of the last launch that named any
//! (`continuo::standalone_settings`); the window restores the controls and the model.
//!
//! SIGINT and SIGTERM (with or without the editor open) end every sounding note on the next
//! audio block, then quit with status 0. A backend that cannot start exits with status 1.

use continuo::plugin::{EXIT_FLUSHED, EXIT_REQUESTED};
use continuo::standalone_settings;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn main() {
    // Before any thread starts (`continuo_core::inference::TELEMETRY_SWITCH`).
    if std::env::var_os(continuo_core::inference::TELEMETRY_SWITCH).is_none() {
        std::env::set_var(continuo_core::inference::TELEMETRY_SWITCH, "1");
    }
    let args: Vec<String> = std::env::args().collect();
    if args.iter().skip(1).any(|a| a == "--help" || a == "-h") && std::env::var_os(RAW_HELP).is_none() {
        print!("{}", help(&options_help()));
        return;
    }
    if let Err(e) = ctrlc::set_handler(quit_after_the_last_notes) {
        eprintln!("continuo: cannot handle SIGINT/SIGTERM: {e}");
    }
    let args = with_remembered_devices(with_voice(args));
    let ok = nice_plug::prelude::nice_export_standalone_with_args::<continuo::plugin::Continuo, _>(args);
    std::process::exit(if ok { 0 } else { 1 });
}

/// Set for the program run again to print nice-plug's own help.
const RAW_HELP: &str = "CONTINUO_NICE_PLUG_HELP";

/// nice-plug's help for its standalone options, from this program run again with
/// [`RAW_HELP`] (nice-plug prints it and exits; its option list is not public).
fn options_help() -> String {
    let run = std::env::current_exe()
        .and_then(|exe| std::process::Command::new(exe).arg("--help").env(RAW_HELP, "1").output());
    match run {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => format!("(nice-plug's options could not be listed: {e})\n"),
    }
}

/// Continuo's help: what it does, its model and runtime, its defaults, then nice-plug's
/// `options` with the audio layout's default told as Continuo sets it.
fn help(options: &str) -> String {
    let options = options
        .replace("The audio layout to use. Defaults to the first layout.", "The audio layout to use. Continuo's default is 2: MIDI in, the built-in voice's stereo out (1: MIDI only).")
        .replace("Usage: continuo [OPTIONS]\n\n", "");
    format!(
        "Continuo: a MIDI continuation instrument. Play a phrase on a MIDI keyboard; when you pause, Continuo \
         answers it in time, through its built-in voice and its MIDI output. The editor window holds every control.

Usage: continuo [OPTIONS]

Examples:
  continuo                                   JACK if it runs, else ALSA, else no audio (the dummy backend)
  continuo -b alsa --midi-input <DEVICE>     ALSA, with a keyboard
  continuo -b jack --connect-jack-midi-input <PORT> --connect-jack-midi-output <PORT>
  continuo --tempo 96 --timesig-num 3        a waltz at 96 BPM

The model: $CONTINUO_MODEL, else folk-melody in Continuo's models folder ($CONTINUO_HOME, else
~/.local/share/continuo on Linux and %APPDATA%\\Continuo on Windows; `cargo xtask install` puts it
there), else models/ beside the program. ONNX Runtime: $ORT_DYLIB_PATH, else beside the program, else
that folder's lib/. Takes and learnt models are kept in that folder too.

Defaults Continuo sets: --audio-layout 2 (the voice), --midi-capacity {} (every event of a block).

{options}",
        continuo::events::MOST_OUTPUT_EVENTS
    )
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

/// The arguments with the devices of the last launch that named any, unless they name one
/// (then those are remembered). An unreadable settings file is named and left as it is.
fn with_remembered_devices(args: Vec<String>) -> Vec<String> {
    let Some(path) = standalone_settings::path() else { return args };
    let mut settings = match standalone_settings::read(&path) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("continuo: {e}; the defaults play, and the file is left as it is");
            return args;
        }
    };
    let given = standalone_settings::device_args(&args);
    if given.is_empty() {
        // A device not there now is left out of this launch, and still remembered.
        let (present, gone) = continuo::devices::present(
            &settings.devices,
            &continuo::devices::alsa_midi_inputs,
            &continuo::devices::output_devices,
        );
        for why in gone {
            eprintln!("continuo: {why}");
        }
        return [args, present].concat();
    }
    if given != settings.devices {
        settings.devices = given;
        if let Err(e) = standalone_settings::write(&path, &settings) {
            eprintln!("continuo: the devices are not remembered: {e}");
        }
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
    fn the_help_says_what_continuo_does_and_its_own_defaults() {
        let nice = "Usage: continuo [OPTIONS]\n\nOptions:\n  -l, --audio-layout <AUDIO_LAYOUT>\n          The audio layout to use. Defaults to the first layout.\n";
        let text = help(nice);
        assert!(text.starts_with("Continuo: a MIDI continuation instrument"), "{text}");
        assert!(text.contains("Continuo's default is 2") && !text.contains("Defaults to the first layout"), "{text}");
        assert_eq!(text.matches("Usage: continuo [OPTIONS]").count(), 1);
        assert!(text.contains("CONTINUO_MODEL") && text.contains("--audio-layout 2"));
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
