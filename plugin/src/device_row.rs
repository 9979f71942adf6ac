//! The standalone editor's Devices row, on the GUI thread: the MIDI input and the audio
//! output, each a list to choose from ([`crate::devices`]). On JACK a choice connects at
//! once; elsewhere it is for the next launch. Either way it is remembered in the settings
//! file (but JACK's audio connection, which nice-plug makes to the system's playback at
//! each launch). The lists are read when the row is made and on Refresh.

use crate::devices::{self, Devices};
use crate::standalone_settings::Remember;
use egui::ComboBox;

/// The row's devices and what it shows.
pub struct DeviceRow {
    devices: Devices,
    midi_inputs: Vec<String>,
    audio_outputs: Vec<String>,
    midi_now: Option<String>,
    audio_now: Option<String>,
}

impl DeviceRow {
    /// The devices as they are now, and those remembered.
    pub fn new(remembered: &[String]) -> DeviceRow {
        let devices = Devices::find();
        let mut row = DeviceRow {
            midi_now: devices::option_value(remembered, devices::MIDI_INPUT)
                .or(devices::option_value(remembered, devices::JACK_MIDI_INPUT))
                .map(str::to_string),
            audio_now: devices::option_value(remembered, devices::OUTPUT_DEVICE).map(str::to_string),
            devices,
            midi_inputs: Vec::new(),
            audio_outputs: Vec::new(),
        };
        row.refresh();
        row
    }

    fn refresh(&mut self) {
        self.midi_inputs = self.devices.midi_inputs();
        self.audio_outputs = self.devices.audio_outputs();
        if let Some(now) = self.devices.midi_input_now() {
            self.midi_now = Some(now);
        }
    }

    /// The row; what a choice did, for the editor's message line.
    pub fn show(&mut self, ui: &mut egui::Ui, remember: &mut Remember) -> Option<String> {
        let jack = matches!(self.devices, Devices::Jack(_));
        let mut said = None;
        ui.horizontal_wrapped(|ui| {
            ui.label(if jack { "Devices (JACK, connected at once):" } else { "Devices (from the next launch):" });
            if let Some(chosen) = choose(ui, "MIDI input", &self.midi_inputs, &self.midi_now) {
                said = Some(self.midi_input(&chosen, remember));
                self.midi_now = Some(chosen);
            }
            if let Some(chosen) = choose(ui, "Audio output", &self.audio_outputs, &self.audio_now) {
                said = Some(self.audio_output(&chosen, remember));
                self.audio_now = Some(chosen);
            }
            if ui.button("Refresh").on_hover_text("List the devices again").clicked() {
                self.refresh();
            }
        });
        said
    }

    fn midi_input(&self, source: &str, remember: &mut Remember) -> String {
        let option =
            if matches!(self.devices, Devices::Jack(_)) { devices::JACK_MIDI_INPUT } else { devices::MIDI_INPUT };
        let kept = devices::with_option(remember.devices(), option, Some(source));
        let connected = self.devices.connect_midi_input(source);
        let remembered = remember.set_devices(kept);
        match (connected, remembered) {
            (Err(why), _) => format!("MIDI input not connected: {why}"),
            (Ok(()), Err(why)) => format!("MIDI input {source}, but not remembered: {why}"),
            (Ok(()), Ok(())) if matches!(self.devices, Devices::Jack(_)) => format!("MIDI input: {source}"),
            (Ok(()), Ok(())) => format!("MIDI input {source} from the next launch"),
        }
    }

    fn audio_output(&self, sink: &str, remember: &mut Remember) -> String {
        if matches!(self.devices, Devices::Jack(_)) {
            return match self.devices.connect_audio_output(sink) {
                Ok(()) => format!("Audio output: {sink} (at the next launch, the system's playback again)"),
                Err(why) => format!("Audio output not connected: {why}"),
            };
        }
        let kept = devices::with_option(remember.devices(), devices::OUTPUT_DEVICE, Some(sink));
        match remember.set_devices(kept) {
            Ok(()) => format!("Audio output {sink} from the next launch"),
            Err(why) => format!("Audio output not remembered: {why}"),
        }
    }
}

/// A labelled list of `options` showing `now`; the one chosen, if it changed.
fn choose(ui: &mut egui::Ui, label: &str, options: &[String], now: &Option<String>) -> Option<String> {
    let shown = now.clone().unwrap_or_else(|| "none".into());
    let mut chosen = None;
    let name = ui.label(label);
    ComboBox::from_id_salt(label)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            if options.is_empty() {
                ui.label("none found");
            }
            for option in options {
                if ui.selectable_label(now.as_ref() == Some(option), option).clicked() {
                    chosen = Some(option.clone());
                }
            }
        })
        .response
        .labelled_by(name.id);
    chosen.filter(|c| now.as_ref() != Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;

    /// The row names both lists and Refresh, at 100 % and 200 %, whatever devices this
    /// machine has (`--test jack_devices` chooses on a JACK server).
    #[test]
    fn the_row_names_its_lists() {
        let dir = tempfile::tempdir().unwrap();
        for scale in [1.0, 2.0] {
            let mut remember = Remember::open(dir.path().join("standalone.json")).unwrap();
            let mut row = DeviceRow::new(remember.devices());
            let mut harness = Harness::builder()
                .with_size(egui::vec2(1120.0, 200.0))
                .with_pixels_per_point(scale)
                .build_ui(|ui| assert_eq!(row.show(ui, &mut remember), None));
            harness.run();
            for label in ["MIDI input", "Audio output", "Refresh"] {
                assert!(harness.query_all_by_label(label).next().is_some(), "{scale}: no {label}");
            }
        }
    }
}
