//! The standalone's settings, kept between launches in the per-user folder's
//! `standalone.json`: every control a preset holds, the model and the SoundFont chosen, and
//! the devices it was started with or chosen in its window (`crate::devices`). `main` reads
//! the file at launch: a command line that names no device gets the remembered ones (those
//! that are there), and one that names any is remembered instead.
//! The window restores the controls, model and SoundFont when it opens, and writes them
//! when they change (at most once a second, durably: a crash mid-write leaves the old file).
//! A file that cannot be read is named with why, and the defaults play. Main and GUI
//! threads; never the audio thread.

use crate::error::PluginError;
use crate::params::ContinuoParams;
use crate::presets::{self, Preset};
use nice_plug::prelude::ParamSetter;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The window writes changed settings at most this often.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

/// The file's name in the per-user folder.
pub const FILE: &str = "standalone.json";

/// nice-plug's standalone options that choose devices (each takes a value).
pub const DEVICE_OPTIONS: [&str; 10] = [
    "--backend",
    "--input-device",
    "--output-device",
    "--midi-input",
    "--midi-output",
    "--connect-jack-inputs",
    "--connect-jack-midi-input",
    "--connect-jack-midi-output",
    "--sample-rate",
    "--period-size",
];

/// What the standalone remembers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Each control's value as its text, by parameter id (as a preset holds them).
    #[serde(default)]
    pub controls: BTreeMap<String, String>,
    /// The model and SoundFont files chosen (empty: the default model, no SoundFont).
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub soundfont: String,
    /// The device options of the last launch that named any, as given (`--backend jack`…).
    #[serde(default)]
    pub devices: Vec<String>,
}

/// Where the settings are kept, if there is a per-user folder.
pub fn path() -> Option<PathBuf> {
    continuo_core::inference::data_dir().map(|d| d.join(FILE))
}

/// The settings in `path`; none kept yet (no file) are the defaults.
pub fn read(path: &Path) -> Result<Settings, PluginError> {
    if !path.exists() {
        return Ok(Settings::default());
    }
    if !continuo_core::is_regular_file(path) {
        return Err(PluginError::NotAFile { path: path.to_path_buf() });
    }
    let text = std::fs::read_to_string(path).map_err(PluginError::io(path))?;
    serde_json::from_str(&text).map_err(|source| PluginError::Settings { path: path.to_path_buf(), source })
}

/// Write `settings` into `path` (its folder made if missing), durably.
pub fn write(path: &Path, settings: &Settings) -> Result<(), PluginError> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(PluginError::io(folder))?;
    }
    let json = serde_json::to_string_pretty(settings).expect("settings always serialise");
    continuo_core::durable::write_durably(path, json.as_bytes()).map_err(PluginError::io(path))
}

/// The device options in `args` (`--option value` or `--option=value`), as given.
pub fn device_args(args: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let option = arg.split('=').next().unwrap_or(arg);
        if DEVICE_OPTIONS.contains(&option) || option == "-b" {
            found.push(arg.clone());
            if !arg.contains('=') {
                if let Some(value) = args.get(i + 1) {
                    found.push(value.clone());
                    i += 1;
                }
            }
        }
        i += 1;
    }
    found
}

/// The window's side: the settings to restore once, then the ones last written.
#[derive(Debug)]
pub struct Remember {
    path: PathBuf,
    restore: Option<Settings>,
    written: Settings,
    last_write: Instant,
}

impl Remember {
    /// The settings in `path`, to restore; an unreadable file is why (and nothing will be
    /// written over it).
    pub fn open(path: PathBuf) -> Result<Remember, PluginError> {
        let settings = read(&path)?;
        Ok(Remember { path, restore: Some(settings.clone()), written: settings, last_write: Instant::now() })
    }

    /// The settings to restore, the first time only.
    pub fn take_restore(&mut self) -> Option<Settings> {
        let restore = self.restore.take();
        if restore.is_some() {
            self.last_write = Instant::now();
        }
        restore
    }

    /// The devices remembered.
    pub fn devices(&self) -> &[String] {
        &self.written.devices
    }

    /// Remember `devices` for the next launch, now.
    pub fn set_devices(&mut self, devices: Vec<String>) -> Result<(), PluginError> {
        self.written.devices = devices;
        write(&self.path, &self.written)
    }

    /// Write `now` (the devices kept as they are) if it changed and `WRITE_EVERY` has passed
    /// since the restore or the last write.
    pub fn keep(&mut self, mut now: Settings, at: Instant) -> Result<(), PluginError> {
        now.devices = self.written.devices.clone();
        if self.restore.is_some() || now == self.written || at.duration_since(self.last_write) < WRITE_EVERY {
            return Ok(());
        }
        self.last_write = at;
        self.written = now;
        write(&self.path, &self.written)
    }
}

/// The controls now, as the settings hold them.
pub fn controls(params: &ContinuoParams) -> BTreeMap<String, String> {
    presets::capture(params, "").values
}

/// Set each remembered control through `setter`; those that name no control or no value of it
/// (a file from another version) are left out. Returns how many were left out.
pub fn restore_controls(params: &ContinuoParams, controls: &BTreeMap<String, String>, setter: &ParamSetter) -> usize {
    let applicable: BTreeMap<String, String> = controls
        .iter()
        .filter(|(id, text)| {
            let one = Preset { name: String::new(), values: [(id.to_string(), text.to_string())].into() };
            presets::resolve(params, &one).is_ok()
        })
        .map(|(id, text)| (id.clone(), text.clone()))
        .collect();
    let left_out = controls.len() - applicable.len();
    let all = Preset { name: String::new(), values: applicable };
    presets::apply(params, &all, setter).expect("each value resolved");
    left_out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_device_options_of_a_command_line_are_found_as_given() {
        let given =
            strings(&["continuo", "-b", "alsa", "--midi-input=Keystation", "--tempo", "90", "--output-device", "USB"]);
        assert_eq!(device_args(&given), strings(&["-b", "alsa", "--midi-input=Keystation", "--output-device", "USB"]));
        assert!(device_args(&strings(&["continuo", "--tempo", "90"])).is_empty());
    }

    #[test]
    fn the_window_restores_once_then_writes_what_changed_at_most_once_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let saved =
            Settings { model: "/m.onnx".into(), devices: strings(&["--backend", "jack"]), ..Default::default() };
        write(&path, &saved).unwrap();
        let mut remember = Remember::open(path.clone()).unwrap();
        let changed = Settings { model: "/other.onnx".into(), ..Default::default() };
        let start = Instant::now();
        remember.keep(changed.clone(), start + WRITE_EVERY * 2).unwrap();
        assert_eq!(read(&path).unwrap(), saved, "nothing is written before the restore");
        assert_eq!(remember.take_restore(), Some(saved.clone()));
        assert_eq!(remember.take_restore(), None, "restored once");
        let restored = Instant::now();
        remember.keep(changed.clone(), restored).unwrap();
        assert_eq!(read(&path).unwrap(), saved, "not within a second of the restore");
        remember.keep(changed.clone(), restored + WRITE_EVERY).unwrap();
        let written = read(&path).unwrap();
        assert_eq!(written.model, "/other.onnx");
        assert_eq!(written.devices, saved.devices, "the devices are main's to change");
    }

    #[test]
    fn an_unreadable_file_is_not_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, "[1, 2").unwrap();
        assert!(Remember::open(path.clone()).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1, 2");
    }

    #[test]
    fn settings_round_trip_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join(FILE);
        assert_eq!(read(&path).unwrap(), Settings::default(), "no file yet: the defaults");
        let settings = Settings {
            controls: [("temp".to_string(), "0.85".to_string())].into(),
            model: "/models/mine.onnx".into(),
            soundfont: String::new(),
            devices: strings(&["--backend", "jack"]),
        };
        write(&path, &settings).unwrap();
        assert_eq!(read(&path).unwrap(), settings);
        std::fs::write(&path, "{ not json").unwrap();
        let why = read(&path).unwrap_err().to_string();
        assert!(why.contains(&path.display().to_string()) && why.contains("settings"), "{why}");
        assert!(matches!(read(dir.path()), Err(PluginError::NotAFile { .. })));
    }
}
