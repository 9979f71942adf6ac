//! The editor (nice-plug-egui), on the GUI thread: status, the model card's summary, the
//! parameters, a model file picker, a scrolling piano roll of the last phrase heard and its
//! answer, and export of the last continuation as a `.mid` file. It reads the worker's
//! shared state and a few atomics; it never touches the audio thread's data.

use crate::link::Link;
use crate::params::ContinuoParams;
use crate::worker::{History, Shared};
use continuo_core::midi::write_midi_file;
use continuo_core::score::DEFAULT_BPM;
use continuo_core::song::decode_tokens;
use continuo_core::{Grid, Note, Score};
use egui_file::FileDialog;
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
    /// The file picker open now, and what it is for.
    dialog: Option<(FileDialog, Picking)>,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Picking {
    Model,
    Export,
}

/// Beats of music the piano roll shows; older notes scroll out to the left.
pub const ROLL_BEATS: f64 = 32.0;

pub fn editor(params: Arc<ContinuoParams>, link: Arc<Link>, shared: Arc<Shared>) -> Option<EguiEditor<App>> {
    let app = App { params, link, shared, gui: None, dialog: None, message: String::new() };
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
        .map(|&(step, steps, pitch)| Note {
            onset: beats(step),
            duration: beats(steps as i64),
            pitch,
            velocity: 90,
            voice: 0,
        })
        .collect();
    let answer = decode_tokens(&h.answer, grid, 0, 90, DEFAULT_BPM, None);
    notes.extend(answer.notes.iter().map(|n| Note { onset: n.onset + beats(h.answer_start), voice: 1, ..*n }));
    let mut score =
        Score { title: Some("Continuo: phrase and answer".into()), notes, tempi: answer.tempi, ..Score::default() };
    score.sort();
    score
}

/// The health line: steps the worker was late for (held instead), events dropped because a
/// block held more than the plugin keeps, and steps where the model did not know the music
/// and the guard kept it in key, since the plugin was loaded.
fn health(late_steps: u64, dropped_events: u64, guarded_steps: u64) -> String {
    let count = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "Health: {} late (held while the model caught up), {} dropped (too many in one block), {} unsure \
         (unlike anything the model learnt: kept in key)",
        count(late_steps, "step", "steps"),
        count(dropped_events, "event", "events"),
        count(guarded_steps, "step", "steps")
    )
}

fn piano_roll(ui: &mut egui::Ui, h: &History) {
    let (response, painter) = ui.allocate_painter(egui::vec2(ui.available_width(), 180.0), egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(24));
    let score = history_score(h);
    if score.notes.is_empty() {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "play a phrase: it is answered when you pause",
            egui::FontId::proportional(14.0),
            egui::Color32::GRAY,
        );
        return;
    }
    // The last ROLL_BEATS beats: a long (continuous) answer scrolls.
    let end = score.end_beat().max(1.0);
    let start = (end - ROLL_BEATS).max(0.0);
    let visible: Vec<&Note> = score.notes.iter().filter(|n| n.end() > start).collect();
    let lo = visible.iter().map(|n| n.pitch).min().unwrap_or(60).saturating_sub(2) as f32;
    let hi = visible.iter().map(|n| n.pitch).max().unwrap_or(72).saturating_add(2) as f32;
    let x = |beat: f64| rect.left() + rect.width() * ((beat - start) / (end - start)).max(0.0) as f32;
    for n in visible {
        let (x0, x1) = (x(n.onset), x(n.end()));
        let y = rect.bottom() - rect.height() * (n.pitch as f32 - lo) / (hi - lo);
        let colour =
            if n.voice == 0 { egui::Color32::from_rgb(90, 160, 255) } else { egui::Color32::from_rgb(255, 150, 60) };
        painter.rect_filled(
            egui::Rect::from_min_max(egui::pos2(x0, y - 3.0), egui::pos2(x1.max(x0 + 2.0), y + 3.0)),
            1.0,
            colour,
        );
    }
}

impl NiceEguiApp for App {
    fn build(
        &mut self,
        _ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let status = self.shared.status();
        ui.heading("Continuo");
        let state = match (&status.name, &status.error, self.link.answering.load(Ordering::Relaxed)) {
            (None, None, _) => "no model (loading)",
            (None, Some(_), _) => "error: no model, notes pass through",
            (Some(_), _, true) => "answering",
            (Some(_), _, false) => "listening",
        };
        let grid = self.params.grid.value().steps_per_beat(self.link.model_steps_per_beat.load(Ordering::Relaxed));
        ui.label(format!("Status: {state}    Mode: {}    Grid: {} steps per beat", self.params.mode, grid));
        if !status.summary.is_empty() {
            ui.label(format!("Model: {}", status.summary));
        }
        if let Some(e) = &status.error {
            ui.colored_label(egui::Color32::from_rgb(255, 110, 110), format!("Error: {e}"));
        }
        ui.label(health(
            self.link.late_steps.load(Ordering::Relaxed),
            self.link.dropped_events.load(Ordering::Relaxed),
            self.link.guarded_steps.load(Ordering::Relaxed),
        ));
        ui.horizontal(|ui| {
            ui.label(format!(
                "Session memory: {} tokens heard and played, blended at {:.2}",
                self.link.remembered.load(Ordering::Relaxed),
                self.params.memory.value()
            ));
            if ui.button("Forget").on_hover_text("Start the session memory afresh").clicked() {
                self.link.forget.store(true, Ordering::Release);
                self.link.wake();
            }
        });
        ui.separator();
        ui.label("Heard (blue) and answered (orange):");
        let history = self.shared.history.lock().unwrap_or_else(|e| e.into_inner()).clone();
        piano_roll(ui, &history);
        ui.horizontal(|ui| {
            ui.label(format!(
                "Model file: {}",
                status.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into())
            ));
            if ui.button("Choose model…").clicked() {
                let mut dialog = FileDialog::open_file()
                    .initial_path(status.path.clone().unwrap_or_default())
                    .title("Choose a Continuo model (.onnx with its .json card)")
                    .show_files_filter(Box::new(|p: &std::path::Path| p.extension().is_some_and(|e| e == "onnx")));
                dialog.open();
                self.dialog = Some((dialog, Picking::Model));
            }
            if ui.button("Export last continuation (.mid)…").clicked() {
                let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
                let mut dialog = FileDialog::save_file()
                    .initial_path(home)
                    .default_filename("continuo-answer.mid")
                    .title("Export the last phrase and its answer");
                dialog.open();
                self.dialog = Some((dialog, Picking::Export));
            }
        });
        if let Some((dialog, picking)) = &mut self.dialog {
            if dialog.show(ui.ctx()).selected() {
                if let Some(path) = dialog.path().map(PathBuf::from) {
                    self.message = match picking {
                        Picking::Model => {
                            self.shared.load(path.clone());
                            format!("loading {}", path.display())
                        }
                        Picking::Export => match write_midi_file(&path, &history_score(&history)) {
                            Ok(()) => format!("wrote {}", path.display()),
                            Err(e) => format!("{}: {e}", path.display()),
                        },
                    };
                }
                self.dialog = None;
            } else if !dialog.visible() {
                self.dialog = None;
            }
        }
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
