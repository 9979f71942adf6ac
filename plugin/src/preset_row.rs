//! The editor's Presets row, on the GUI thread: the factory presets and the musician's own
//! (`presets`), a list to choose from, Recall, a name and Save; and a program change on the
//! input channel (published by the audio thread in `Link::program`) recalls the preset of that
//! number (the factory ones first, then the musician's by name, counting from 0).

use crate::link::Link;
use crate::params::ContinuoParams;
use crate::presets::{self, Preset};
use egui::RichText;
use nice_plug::prelude::ParamSetter;
use std::sync::atomic::Ordering;

/// The row's state: the presets listed, the one chosen, the name to save under, and the last
/// program change seen.
#[derive(Debug, Default)]
pub struct PresetRow {
    listed: Vec<Preset>,
    chosen: usize,
    name: String,
    seen_program: u32,
    /// Files in the presets folder that could not be read, and why.
    problems: Vec<String>,
}

impl PresetRow {
    /// List the factory presets and those in `folder` again.
    pub fn reload(&mut self, params: &ContinuoParams, folder: Option<&std::path::Path>) {
        let (mine, problems) = folder.map(|f| presets::load_all(params, f)).unwrap_or_default();
        self.listed = presets::factory(params).into_iter().chain(mine).collect();
        self.problems = problems;
        self.chosen = self.chosen.min(self.listed.len().saturating_sub(1));
    }

    /// The names listed, in order (a program change's numbers).
    pub fn names(&self) -> Vec<&str> {
        self.listed.iter().map(|p| p.name.as_str()).collect()
    }

    /// Recall preset `index`; what happened, in words.
    fn recall(&mut self, index: usize, params: &ContinuoParams, setter: &ParamSetter) -> String {
        let Some(preset) = self.listed.get(index) else {
            return format!(
                "no preset {index}: {} are listed (0 to {})",
                self.listed.len(),
                self.listed.len().saturating_sub(1)
            );
        };
        self.chosen = index;
        match presets::apply(params, preset, setter) {
            Ok(()) => format!("preset {index}: {}", preset.name),
            Err(why) => format!("preset {}: {why}", preset.name),
        }
    }

    /// A program change the audio thread heard since the last look: recall its preset.
    pub fn follow_program(&mut self, link: &Link, params: &ContinuoParams, setter: &ParamSetter) -> Option<String> {
        let word = link.program.load(Ordering::Acquire);
        if word == self.seen_program {
            return None;
        }
        self.seen_program = word;
        Some(self.recall((word & 0x7f) as usize, params, setter))
    }

    /// The row; what a click did, in words.
    pub fn show(&mut self, ui: &mut egui::Ui, params: &ContinuoParams, setter: &ParamSetter) -> Option<String> {
        if self.listed.is_empty() {
            self.reload(params, presets::folder().as_deref());
        }
        let mut said = None;
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(RichText::new("Preset").size(16.0)).id;
            let shown = self.listed.get(self.chosen).map_or("", |p| p.name.as_str()).to_string();
            let combo = egui::ComboBox::from_id_salt("preset").selected_text(shown).show_ui(ui, |ui| {
                for (i, preset) in self.listed.iter().enumerate() {
                    ui.selectable_value(&mut self.chosen, i, format!("{i}: {}", preset.name));
                }
            });
            combo.response.labelled_by(label);
            if ui.button("Recall").on_hover_text("Set every control as the preset has it").clicked() {
                said = Some(self.recall(self.chosen, params, setter));
            }
            ui.separator();
            ui.add(egui::TextEdit::singleline(&mut self.name).hint_text("name").desired_width(140.0));
            if ui.button("Save preset").on_hover_text("Keep every control as it is now under this name").clicked() {
                said = Some(self.save(params));
            }
        });
        for problem in &self.problems {
            ui.label(RichText::new(problem).color(egui::Color32::from_rgb(230, 160, 120)));
        }
        said
    }

    /// Save the controls as they are under the name typed, and list it.
    fn save(&mut self, params: &ContinuoParams) -> String {
        let name = self.name.trim().to_string();
        if name.is_empty() {
            return "type a name for the preset first".into();
        }
        let Some(folder) = presets::folder() else { return "no folder for presets: set CONTINUO_HOME".into() };
        match presets::save(&folder, &presets::capture(params, &name)) {
            Ok(path) => {
                self.reload(params, Some(&folder));
                self.chosen = self.listed.iter().position(|p| p.name == name).unwrap_or(self.chosen);
                format!("saved preset {name} in {}", path.display())
            }
            Err(e) => e.to_string(),
        }
    }
}
