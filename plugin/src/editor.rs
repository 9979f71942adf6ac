//! The editor (nice-plug-egui), on the GUI thread: status, the model card's summary, the
//! parameters, a model file to load, a piano roll of the last phrase heard and its answer,
//! and export of the last continuation as a `.mid` file. It reads the worker's shared state
//! and a few atomics; it never touches the audio thread's data.

use crate::link::Link;
use crate::params::ContinuoParams;
use crate::worker::{History, Shared};
use continuo_core::midi::write_midi_file;
use continuo_core::song::decode_tokens;
use continuo_core::{Grid, Note, Score};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug_egui::widgets::generic_ui::{self, GenericSlider};
use nice_plug_egui::{create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub struct App {
    params: Arc<ContinuoParams>,
    link: Arc<Link>,
    shared: Arc<Shared>,
    gui: Option<GuiContext>,
    model_path: String,
    export_path: String,
    message: String,
}

pub fn editor(params: Arc<ContinuoParams>, link: Arc<Link>, shared: Arc<Shared>) -> Option<EguiEditor<App>> {
    let export_path = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join("continuo-answer.mid").display().to_string())
        .unwrap_or_else(|| "continuo-answer.mid".into());
    let app = App { params, link, shared, gui: None, model_path: String::new(), export_path, message: String::new() };
    create_egui_editor(
        EguiEditorState::from_size(LogicalSize::new(760.0, 600.0), 1.0),
        RepaintNotifier::new(),
        EguiNiceSettings::new().with_tile("Continuo"),
        app,
    )
}

/// The last phrase and answer as a score: phrase on voice 0, answer on voice 1, at 120 BPM.
pub fn history_score(h: &History) -> Score {
    let grid = Grid { steps_per_beat: h.steps_per_beat.max(1) };
    let beats = |step: i64| step as f64 / grid.steps_per_beat as f64;
    let mut notes: Vec<Note> = h
        .phrase
        .iter()
        .map(|&(step, steps, pitch)| Note { onset: beats(step), duration: beats(steps as i64), pitch, velocity: 90, voice: 0 })
        .collect();
    let answer = decode_tokens(&h.answer, grid, 0, 90, 120.0, None);
    notes.extend(answer.notes.iter().map(|n| Note { onset: n.onset + beats(h.answer_start), voice: 1, ..*n }));
    let mut score = Score { title: Some("Continuo: phrase and answer".into()), notes, tempi: answer.tempi, ..Score::default() };
    score.sort();
    score
}

fn piano_roll(ui: &mut egui::Ui, h: &History) {
    let (response, painter) = ui.allocate_painter(egui::vec2(ui.available_width(), 180.0), egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(24));
    let score = history_score(h);
    if score.notes.is_empty() {
        painter.text(rect.center(), egui::Align2::CENTER_CENTER, "play a phrase: it is answered when you pause", egui::FontId::proportional(14.0), egui::Color32::GRAY);
        return;
    }
    let end = score.end_beat().max(1.0) as f32;
    let (lo, hi) = score.pitch_range().unwrap_or((60, 72));
    let (lo, hi) = (lo.saturating_sub(2) as f32, hi.saturating_add(2) as f32);
    for n in &score.notes {
        let x0 = rect.left() + rect.width() * n.onset as f32 / end;
        let x1 = rect.left() + rect.width() * n.end() as f32 / end;
        let y = rect.bottom() - rect.height() * (n.pitch as f32 - lo) / (hi - lo);
        let colour = if n.voice == 0 { egui::Color32::from_rgb(90, 160, 255) } else { egui::Color32::from_rgb(255, 150, 60) };
        painter.rect_filled(egui::Rect::from_min_max(egui::pos2(x0, y - 3.0), egui::pos2(x1.max(x0 + 2.0), y + 3.0)), 1.0, colour);
    }
}

impl NiceEguiApp for App {
    fn build(&mut self, _ctx: egui::Context, gui: GuiContext, _frame: &mut nice_plug_egui::Frame) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let status = self.shared.status();
        ui.heading("Continuo");
        let state = match (&status.name, self.link.answering.load(Ordering::Relaxed)) {
            (None, _) => "no model".to_string(),
            (Some(_), true) => "answering".to_string(),
            (Some(_), false) => "listening".to_string(),
        };
        ui.label(format!("Status: {state}"));
        if !status.summary.is_empty() {
            ui.label(format!("Model: {}", status.summary));
        }
        if let Some(e) = &status.error {
            ui.colored_label(egui::Color32::from_rgb(255, 110, 110), format!("Error: {e}"));
        }
        ui.separator();
        ui.label("Heard (blue) and answered (orange):");
        let history = self.shared.history.lock().unwrap_or_else(|e| e.into_inner()).clone();
        piano_roll(ui, &history);
        ui.horizontal(|ui| {
            ui.text_edit_singleline(&mut self.export_path);
            if ui.button("Export last continuation (.mid)").clicked() {
                let path = PathBuf::from(&self.export_path);
                self.message = match write_midi_file(&path, &history_score(&history)) {
                    Ok(()) => format!("wrote {}", path.display()),
                    Err(e) => format!("{}: {e}", path.display()),
                };
            }
        });
        ui.horizontal(|ui| {
            ui.label("Model file:");
            ui.text_edit_singleline(&mut self.model_path);
            if ui.button("Load").clicked() && !self.model_path.trim().is_empty() {
                self.shared.load(PathBuf::from(self.model_path.trim()));
                self.message = format!("loading {}", self.model_path.trim());
            }
        });
        if !self.message.is_empty() {
            ui.label(&self.message);
        }
        ui.separator();
        if let Some(gui) = &self.gui {
            let setter = gui.param_setter();
            generic_ui::create(ui, self.params.clone(), &setter, GenericSlider);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use continuo_core::Token;

    #[test]
    fn the_last_continuation_exports_after_its_phrase() {
        let h = History {
            phrase: vec![(0, 4, 60), (4, 4, 62)],
            answer: "64 _ _ _ r 65 _ _".split(' ').map(|t| t.parse::<Token>().unwrap()).collect(),
            answer_start: 10,
            steps_per_beat: 4,
        };
        let s = history_score(&h);
        let got: Vec<(f64, f64, u8, u8)> = s.notes.iter().map(|n| (n.onset, n.duration, n.pitch, n.voice)).collect();
        assert_eq!(got, vec![(0.0, 1.0, 60, 0), (1.0, 1.0, 62, 0), (2.5, 1.0, 64, 1), (3.75, 0.75, 65, 1)]);
        let bytes = continuo_core::midi::write_midi(&s);
        assert_eq!(continuo_core::midi::parse_midi(&bytes, &Default::default()).unwrap().notes.len(), 4);
    }
}
