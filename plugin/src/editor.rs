//! The editor (nice-plug-egui), on the GUI thread: status, the model card's summary, the
//! parameters, a model file picker, a scrolling piano roll of the last phrase heard and its
//! answer, and export of the last continuation as a `.mid` file. It reads the worker's
//! shared state and a few atomics; it never touches the audio thread's data.

use crate::learn::LearnState;
use crate::link::Link;
use crate::midi_learn::LEARNABLE;
use crate::params::ContinuoParams;
use crate::takes::{history_score, TakesStatus};
use crate::worker::{History, Shared};
use continuo_core::midi::write_midi_file;
use continuo_core::Note;
use egui_file::FileDialog;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::Param;
use nice_plug::prelude::{ParamFlags, Params};
use nice_plug_egui::widgets::generic_ui::ParamWidget;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp};
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
    let repaint = link.repaint.clone();
    let app = App { params, link, shared, gui: None, dialog: None, message: String::new() };
    create_egui_editor(
        EguiEditorState::from_size(LogicalSize::new(760.0, 600.0), 1.0),
        repaint,
        EguiNiceSettings::new().with_tile("Continuo"),
        app,
    )
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
    let y = |pitch: f32| rect.bottom() - rect.height() * (pitch - lo) / (hi - lo);
    // Bar lines (4/4: the history keeps no metre) and the Cs, named.
    let line = egui::Stroke::new(1.0, egui::Color32::from_gray(48));
    let first_bar = (start / 4.0).ceil() as i64;
    for bar in first_bar..=(end / 4.0).floor() as i64 {
        painter.vline(x(bar as f64 * 4.0), rect.y_range(), line);
    }
    for c in (0..=127u8).filter(|p| p % 12 == 0 && (lo..=hi).contains(&(*p as f32))) {
        painter.hline(rect.x_range(), y(c as f32), line);
        let name = format!("C{}", c as i32 / 12 - 1);
        let at = egui::pos2(rect.left() + 3.0, y(c as f32) - 1.0);
        painter.text(at, egui::Align2::LEFT_BOTTOM, name, egui::FontId::proportional(10.0), egui::Color32::GRAY);
    }
    for n in visible {
        let (x0, x1) = (x(n.onset), x(n.end()));
        let y = y(n.pitch as f32);
        let colour =
            if n.voice == 0 { egui::Color32::from_rgb(90, 160, 255) } else { egui::Color32::from_rgb(255, 150, 60) };
        painter.rect_filled(
            egui::Rect::from_min_max(egui::pos2(x0, y - 3.0), egui::pos2(x1.max(x0 + 2.0), y + 3.0)),
            1.0,
            colour,
        );
    }
}

/// Write the last phrase and its answer to `path`; what happened, in words.
fn export(path: &std::path::Path, history: &History) -> String {
    let score = history_score(history);
    if score.notes.is_empty() {
        return "nothing to export yet: play a phrase first".into();
    }
    match write_midi_file(path, &score) {
        Ok(()) => format!("wrote {}", path.display()),
        Err(e) => format!("{}: {e}", path.display()),
    }
}

/// The takes line: how many are kept, where, and why the last write failed.
fn takes_line(status: Option<&TakesStatus>) -> String {
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match status {
        None => "Takes: none kept yet".into(),
        Some(s) => format!(
            "Takes: {} and {} written to {}{}",
            count(s.kept, "take kept", "takes kept"),
            count(s.phrases, "phrase", "phrases"),
            s.folder.display(),
            if s.pending > 0 { format!(", {} waiting to be written", s.pending) } else { String::new() }
        ),
    }
}

/// The parameter list's slider, with MIDI learn: right-click a parameter that a controller
/// can drive to learn one ("Learn MIDI controller", then move it) or forget it; the
/// controller that drives it is shown beside it.
struct LearnableSlider {
    params: Arc<ContinuoParams>,
    /// The learnable parameters' names, by slot.
    names: Vec<Option<String>>,
}

impl ParamWidget for LearnableSlider {
    fn add_widget<P: Param>(&self, ui: &mut egui::Ui, param: &P, setter: &nice_plug::prelude::ParamSetter) {
        let slot = self.names.iter().position(|n| n.as_deref() == Some(param.name()));
        ui.horizontal(|ui| {
            let slider = ui.add(ParamSlider::for_param(param, setter).with_width(100.0));
            let Some(slot) = slot else { return };
            let map = &self.params.midi_map;
            let controller = map.controller_of(slot);
            if map.armed() == Some(slot) {
                ui.label("move a controller…");
            } else if let Some(c) = controller {
                ui.label(controller_text(c));
            }
            slider.context_menu(|ui| {
                if ui.button("Learn MIDI controller").clicked() {
                    map.arm(slot);
                    ui.close();
                }
                if controller.is_some() && ui.button("Forget the controller").clicked() {
                    map.forget(slot);
                    ui.close();
                }
            });
        });
    }
}

/// The parameter list's sections: the heading shown before the parameter with each id.
const SECTIONS: [(&str, &str); 8] = [
    ("mode", "Form"),
    ("temp", "Sampling"),
    ("dens", "Shape"),
    ("bars", "Phrase and answer"),
    ("oct", "Notes and channels"),
    ("keep", "Takes"),
    ("voice", "Voice"),
    ("trnow", "Controls and learning"),
];

/// Every parameter, in sections with headings, in a scrolling list.
fn grouped_parameters(
    ui: &mut egui::Ui,
    params: &ContinuoParams,
    setter: &nice_plug::prelude::ParamSetter,
    widget: &LearnableSlider,
) {
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        for (id, param, _) in params.param_map() {
            // SAFETY: as below.
            if unsafe { param.flags() }.contains(ParamFlags::HIDE_IN_GENERIC_UI) {
                continue;
            }
            if let Some((_, heading)) = SECTIONS.iter().find(|(first, _)| *first == id) {
                ui.add_space(6.0);
                ui.strong(*heading);
            }
            // SAFETY: `param` comes from `params`' own map and lives as long as `params` (what
            // nice-plug-egui's generic list relies on too).
            unsafe {
                ui.label(param.name());
                widget.add_widget_raw(ui, &param, setter);
            }
        }
    });
}

/// A controller as a musician names it: "CC 20, channel 1".
fn controller_text((channel, cc): (u8, u8)) -> String {
    format!("CC {cc}, channel {}", channel + 1)
}

/// The chosen take: its number, and its place among the recent ones.
fn take_line(position: Option<(usize, usize)>, number: Option<u32>) -> String {
    match (position, number) {
        (Some((i, n)), Some(number)) => format!("Take {number} ({i} of {n})"),
        _ => "No take yet: play a phrase".into(),
    }
}

/// The Learn line: what the learning does or did, in words.
fn learn_line(state: &LearnState) -> String {
    let model = |p: &std::path::Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match state {
        LearnState::Idle => "Learn: adapt the model to your takes (up to 2 minutes, in the background)".into(),
        LearnState::Reading => "Learning: reading the takes…".into(),
        LearnState::Training { takes, epoch, epochs, seconds } => format!(
            "Learning from {takes} {}: pass {epoch} of at most {epochs}, {seconds:.0} s",
            if *takes == 1 { "take" } else { "takes" }
        ),
        LearnState::Done { model: m, epochs, seconds } => format!(
            "Learnt {} in {seconds:.0} s ({epochs} {}): it plays now",
            model(m),
            if *epochs == 1 { "pass" } else { "passes" }
        ),
        LearnState::Failed(why) => format!("Learning failed: {why}; the model playing stays"),
        LearnState::Cancelled => "Learning stopped; the model playing stays".into(),
    }
}

impl App {
    /// Learn from the takes, stop a learning, go back to the original model.
    fn learning(&mut self, ui: &mut egui::Ui) {
        let state = self.shared.learning();
        ui.horizontal(|ui| {
            if state.running() {
                if ui.button("Stop learning").clicked() {
                    self.shared.cancel_learning();
                }
            } else if ui.button("Learn").on_hover_text("Fine-tune the model playing on the takes folder").clicked() {
                self.shared.learn(self.link.repaint.clone());
            }
            ui.label(learn_line(&state));
            let original = self.shared.original_model.read().unwrap_or_else(|e| e.into_inner()).clone();
            if !original.is_empty() {
                let name = std::path::Path::new(&original).file_stem().map(|s| s.to_string_lossy().into_owned());
                if ui
                    .button("Original model")
                    .on_hover_text(format!("Play {} again", name.unwrap_or_default()))
                    .clicked()
                {
                    self.shared.revert_learning();
                }
            }
        });
    }

    /// The recent takes: answer the chosen one again, choose another (what loop mode plays and
    /// Export writes).
    fn recent(&mut self, ui: &mut egui::Ui) {
        let (position, number) = {
            let recent = self.shared.recent.lock().unwrap_or_else(|e| e.into_inner());
            (recent.position(), recent.chosen().map(|t| t.number))
        };
        ui.horizontal(|ui| {
            let regenerate = egui::Button::new("Regenerate");
            let hint = "Answer the same phrase again with a new random seed";
            if ui.add_enabled(position.is_some(), regenerate).on_hover_text(hint).clicked() {
                self.link.regenerate.store(true, Ordering::Release);
                self.link.wake();
            }
            if ui.add_enabled(position.is_some_and(|(i, _)| i > 1), egui::Button::new("< Previous")).clicked() {
                self.link.choose.fetch_sub(1, Ordering::AcqRel);
                self.link.wake();
            }
            ui.label(take_line(position, number));
            if ui.add_enabled(position.is_some_and(|(i, n)| i < n), egui::Button::new("Next >")).clicked() {
                self.link.choose.fetch_add(1, Ordering::AcqRel);
                self.link.wake();
            }
        });
    }

    /// Keep the last take; the takes' count and folder; a write error.
    fn takes(&mut self, ui: &mut egui::Ui) {
        let status = self.shared.takes_status();
        ui.horizontal(|ui| {
            if ui.button("Keep").on_hover_text("Keep the last phrase and its answer in the takes folder").clicked() {
                self.link.keep.store(true, Ordering::Release);
                self.link.wake();
            }
            ui.label(takes_line(status.as_ref()));
            let folder = status.as_ref().map(|s| s.folder.clone()).or_else(crate::takes::takes_folder);
            if let Some(folder) = folder.filter(|f| f.is_dir()) {
                if ui.button("Open folder").clicked() {
                    if let Err(e) = std::process::Command::new("xdg-open").arg(&folder).spawn() {
                        self.message = format!("cannot open {}: {e}", folder.display());
                    }
                }
            }
        });
        if let Some(e) = status.and_then(|s| s.error) {
            ui.colored_label(egui::Color32::from_rgb(255, 110, 110), format!("Takes not written: {e}"));
        }
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
            (None, None, _) => "Loading the model…",
            (None, Some(_), _) => "No model: your notes pass through",
            (Some(_), _, true) => "Answering",
            (Some(_), _, false) => "Listening",
        };
        let grid = self.params.grid.value().steps_per_beat(self.link.model_steps_per_beat.load(Ordering::Relaxed));
        ui.label(format!(
            "{state}    Mode: {}    Grid: {grid} {} a beat",
            self.params.mode,
            if grid == 1 { "step" } else { "steps" }
        ));
        if !status.summary.is_empty() {
            ui.label(&status.summary);
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
        self.recent(ui);
        self.takes(ui);
        self.learning(ui);
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
                    // The model's folder (a file there as the initial path shows an error).
                    .initial_path(status.path.as_ref().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or_default())
                    .title("Choose a Continuo model (.onnx with its .json card)")
                    .show_files_filter(Box::new(|p: &std::path::Path| p.extension().is_some_and(|e| e == "onnx")));
                dialog.open();
                self.dialog = Some((dialog, Picking::Model));
            }
            if ui.button("Export take (.mid)…").clicked() {
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
                        Picking::Export => export(&path, &history),
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
            let names = (0..LEARNABLE.len()).map(|slot| self.params.learnable_name(slot)).collect();
            let widget = LearnableSlider { params: self.params.clone(), names };
            grouped_parameters(ui, &self.params, &setter, &widget);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_before_anything_was_played_says_so_and_writes_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("answer.mid");
        assert_eq!(export(&path, &History::default()), "nothing to export yet: play a phrase first");
        assert!(!path.exists());
    }

    #[test]
    fn every_section_starts_at_a_parameter() {
        let params = ContinuoParams::default();
        let ids: Vec<String> = params.param_map().into_iter().map(|(id, _, _)| id).collect();
        let mut at = 0;
        for (first, heading) in SECTIONS {
            let i = ids.iter().position(|id| id == first).unwrap_or_else(|| panic!("{heading}: no `{first}`"));
            assert!(i >= at, "{heading} is out of order");
            at = i;
        }
        assert_eq!(ids.first().map(String::as_str), Some(SECTIONS[0].0), "the first parameter has a heading");
    }

    #[test]
    fn the_learn_line_says_what_the_learning_does_with_plurals() {
        let training = LearnState::Training { takes: 1, epoch: 2, epochs: 20, seconds: 3.4 };
        assert_eq!(learn_line(&training), "Learning from 1 take: pass 2 of at most 20, 3 s");
        let done = LearnState::Done { model: PathBuf::from("/m/folk-learnt-7.onnx"), epochs: 1, seconds: 61.0 };
        assert_eq!(learn_line(&done), "Learnt folk-learnt-7 in 61 s (1 pass): it plays now");
        assert!(learn_line(&LearnState::Failed("x".into())).contains("failed: x; the model playing stays"));
    }

    #[test]
    fn the_takes_line_counts_with_plurals_and_says_what_waits() {
        assert_eq!(takes_line(None), "Takes: none kept yet");
        let s = TakesStatus { folder: "/t".into(), kept: 1, phrases: 3, pending: 2, error: None };
        assert_eq!(takes_line(Some(&s)), "Takes: 1 take kept and 3 phrases written to /t, 2 waiting to be written");
    }
}
