//! The editor (nice-plug-egui), on the GUI thread, laid out for a performer: a header with
//! the model and what Continuo is doing; a large piano roll of the phrase heard and its
//! answer, with the take's number and a playhead; the take buttons; the parameters in named
//! groups, each with a widget that fits it (a switch, a list of choices, a slider that a
//! MIDI controller can learn); then the details (health, memory, takes, learning, files).
//! It reads the worker's shared state and a few atomics and never touches the audio
//! thread's data. The window is resizable; it redraws while an answer plays and otherwise
//! only when something changes.

use crate::device_row::DeviceRow;
use crate::handle::Shared;
use crate::harmony_input::chord_of_word;
use crate::history::History;
use crate::learn::LearnState;
use crate::link::{Command, Link};
use crate::midi_learn::Learnable;
use crate::params::ContinuoParams;
use crate::preset_row::PresetRow;
use crate::roll;
use crate::soundfont::{FontState, SF2_FOLDER};
use crate::standalone_settings::{self, Remember, Settings};
use crate::sync::{Locked, ReadWrite};
use crate::takes::{history_score, TakesStatus};
use continuo_core::midi::write_midi_file;
use egui::{Color32, RichText};
use egui_file::FileDialog;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::{Param, ParamPtr, ParamSetter, Params, PluginApi, ResizeHint};
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct App {
    params: Arc<ContinuoParams>,
    link: Arc<Link>,
    shared: Arc<Shared>,
    gui: Option<GuiContext>,
    /// The file picker open now, and what it is for.
    dialog: Option<(FileDialog, Picking)>,
    message: String,
    presets: PresetRow,
    taps: crate::tap::TapTempo,
    page: Page,
    /// The standalone's settings, restored when the window opens and kept as they change,
    /// and its devices.
    remember: Option<Remember>,
    devices: Option<DeviceRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Picking {
    Model,
    Export,
    SoundFont,
}

/// The window's size when it opens, and the smallest it can be made.
const SIZE: (f32, f32) = (1120.0, 820.0);
const MIN_SIZE: (f32, f32) = (640.0, 480.0);
/// How often the editor redraws while an answer plays (the playhead moves).
const PLAYING_REDRAW: Duration = Duration::from_millis(40);
/// The width of one group of controls; as many groups sit side by side as fit.
const GROUP_WIDTH: f32 = 300.0;
/// Integer parameters whose every value has a name, shown as a list of choices.
const NAMED_INTS: [&str; 1] = ["sfprog"];
/// The space inside a group's border.
const GROUP_MARGIN: f32 = 10.0;
/// Room a slider leaves for its value beside it (and a learnt controller's name).
const VALUE_WIDTH: f32 = 100.0;

/// The parameter groups, each a heading and its parameters' ids, in the order shown.
const GROUPS: [(&str, &[&str]); 7] = [
    ("Form", &["mode", "grid", "bars", "gap", "tempo", "mclk", "metro", "bypass"]),
    ("Sampling", &["temp", "rest", "entr", "mem", "dev", "seed"]),
    ("Shape", &["dens", "leap", "rep", "regc", "regw", "regh", "scale"]),
    ("Key, velocity, octave", &["keyf", "vel", "oct", "thru", "inch", "outch"]),
    ("Harmony and feel", &["csplit", "cchan", "fchd", "swing", "human"]),
    ("Voice", &["voice", "sfprog", "level", "mine"]),
    ("Takes and controls", &["answ", "keep", "next", "savph", "learn", "trnow", "trkeep"]),
];

/// The editor's pages, each a tab: its name and its groups (indices into `GROUPS`), so that
/// every group is on a first screen at the window's size when it opens. The last page also
/// holds the takes, learning and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Page {
    #[default]
    Play,
    Feel,
    VoiceTakesLearn,
}

const PAGES: [(Page, &str, &[usize]); 3] = [
    (Page::Play, "Play", &[0, 1, 2]),
    (Page::Feel, "Key, harmony and feel", &[3, 4]),
    (Page::VoiceTakesLearn, "Voice, takes and learning", &[5, 6]),
];

/// The editor, resizable (which is also what the CLAP GUI's resize hints report).
pub fn editor(params: Arc<ContinuoParams>, link: Arc<Link>, shared: Arc<Shared>) -> Option<EguiEditor<App>> {
    let repaint = link.repaint.clone();
    let app = App::new(params, link, shared);
    create_egui_editor(
        EguiEditorState::from_size(LogicalSize::new(SIZE.0, SIZE.1), 1.0),
        repaint,
        EguiNiceSettings::new().with_tile("Continuo").with_resize_hint(resize_hint()),
        app,
    )
}

/// Freely resizable, down to `MIN_SIZE`.
fn resize_hint() -> ResizeHint {
    ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1))
}

/// What Continuo is doing, in a word or two, and its colour.
fn state_word(model: bool, error: bool, answering: bool, bypassed: bool) -> (&'static str, Color32) {
    match (model, error, answering) {
        _ if bypassed => ("Bypassed: your notes pass through", Color32::from_gray(170)),
        (false, false, _) => ("Loading the model…", Color32::from_gray(170)),
        (false, true, _) => ("No model: your notes pass through", Color32::from_rgb(255, 110, 110)),
        (true, _, true) => ("Answering", roll::ANSWERED),
        (true, _, false) => ("Listening", Color32::from_rgb(120, 210, 140)),
    }
}

/// The health line: steps the worker was late for (held instead), events dropped because a
/// block held more than the plugin keeps, notes and steps lost to a full queue between the
/// threads, and steps where the model did not know the music and the guard kept it in key,
/// since the plugin was loaded.
fn health(h: &crate::link::Health) -> String {
    let count = |n: &AtomicU64, one: &str, many: &str| {
        let n = n.load(Ordering::Relaxed);
        format!("{n} {}", if n == 1 { one } else { many })
    };
    format!(
        "Health: {} late (held while the model caught up), {} dropped (too many in one block), {} lost \
         (a queue between the threads was full), {} unsure (unlike anything the model learnt: kept in key)",
        count(&h.late_steps, "step", "steps"),
        count(&h.dropped_events, "event", "events"),
        count(&h.lost, "note or step", "notes or steps"),
        count(&h.guarded_steps, "step", "steps")
    )
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

/// Export without a dialog: the chosen take (number `number`) into `folder` (made if
/// missing), named by the time like the takes; what happened, in words.
fn export_into(folder: &std::path::Path, number: u32, history: &History, at: std::time::SystemTime) -> String {
    if let Err(e) = std::fs::create_dir_all(folder) {
        return format!("{}: {e}", folder.display());
    }
    export(&folder.join(crate::takes::file_name(at, number as usize, crate::takes::TakeKind::Exported)), history)
}

/// The takes line: how many are kept, where, and why the last write failed.
fn takes_line(status: Option<&TakesStatus>) -> String {
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match status {
        None => "Takes: none kept yet".into(),
        Some(s) => {
            let why = s.error.as_deref().unwrap_or("");
            let elsewhere = match s.elsewhere {
                0 => String::new(),
                n => format!("; {} in {} instead ({why})", count(n, "take", "takes"), s.second_folder.display()),
            };
            let pending = match s.pending {
                0 => String::new(),
                n => format!(
                    "; {} only in memory, lost when Continuo closes unless a folder can be written ({why})",
                    count(n, "take", "takes")
                ),
            };
            format!(
                "Takes: {} and {} written to {}{elsewhere}{pending}",
                count(s.kept, "take kept", "takes kept"),
                count(s.phrases, "phrase", "phrases"),
                s.folder.display(),
            )
        }
    }
}

/// The parameter's slider, with MIDI learn where a controller can drive it: right-click to
/// learn one ("Learn MIDI controller", then move it) or forget it; the controller that
/// drives it is shown below it.
fn learnable_slider<P: Param>(
    ui: &mut egui::Ui,
    params: &ContinuoParams,
    (param, learnable): (&P, Option<Learnable>),
    setter: &ParamSetter,
    width: f32,
) {
    let slider = ui.add(ParamSlider::for_param(param, setter).with_width(width));
    let Some(slot) = learnable else { return };
    let map = &params.midi_map;
    let controller = map.controller_of(slot);
    if map.armed() == Some(slot) {
        ui.colored_label(roll::ANSWERED, "move a controller…");
    } else if let Some(c) = controller {
        ui.small(format!("driven by {}", controller_text(c)));
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
}

/// A switch: a button that says On (lit) or Off; one click turns it over.
fn switch<P: Param<Plain = bool>>(ui: &mut egui::Ui, param: &P, setter: &ParamSetter) {
    let on = param.unmodulated_plain_value();
    let button = egui::Button::new(if on { "On" } else { "Off" }).selected(on).min_size(egui::vec2(48.0, 0.0));
    if ui.add(button).clicked() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, !on);
        setter.end_set_parameter(param);
    }
}

/// A list of choices, the values `0..count`, each named; labelled by `label` (the
/// parameter's name).
fn choice<P: Param<Plain = i32>>(
    ui: &mut egui::Ui,
    label: egui::Id,
    param: &P,
    count: usize,
    setter: &ParamSetter,
    width: f32,
) {
    let now = param.unmodulated_plain_value();
    let text = |i: i32| param.normalized_value_to_string(param.preview_normalized(i), true);
    let combo = egui::ComboBox::from_id_salt(label).selected_text(text(now)).width(width);
    let shown = combo.show_ui(ui, |ui| {
        for i in 0..count as i32 {
            if ui.selectable_label(i == now, text(i)).clicked() && i != now {
                setter.begin_set_parameter(param);
                setter.set_parameter(param, i);
                setter.end_set_parameter(param);
            }
        }
    });
    shown.response.labelled_by(label);
}

/// A parameter's name and its widget: a switch beside its name, anything else below it,
/// `width` wide.
fn control(ui: &mut egui::Ui, params: &ContinuoParams, id: &str, ptr: ParamPtr, setter: &ParamSetter, width: f32) {
    // SAFETY: `ptr` comes from `params`' own map and lives as long as `params` (what
    // nice-plug-egui's generic widgets rely on too).
    unsafe {
        let name = RichText::new(ptr.name()).color(Color32::from_gray(185));
        if let ParamPtr::BoolParam(p) = ptr {
            ui.horizontal(|ui| {
                ui.label(name);
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| switch(ui, &*p, setter));
            });
            return;
        }
        let label = ui.label(name).id;
        let learnable = Learnable::from_id(id);
        match ptr {
            ParamPtr::EnumParam(p) => choice(ui, label, &*p, (*p).len(), setter, width),
            ParamPtr::FloatParam(p) => learnable_slider(ui, params, (&*p, learnable), setter, width - VALUE_WIDTH),
            ParamPtr::IntParam(p) if NAMED_INTS.contains(&id) => {
                let count = (*p).step_count().unwrap_or(0) + 1;
                choice(ui, label, &*p, count, setter, width)
            }
            ParamPtr::IntParam(p) => learnable_slider(ui, params, (&*p, learnable), setter, width - VALUE_WIDTH),
            ParamPtr::BoolParam(_) => {}
        }
    }
}

/// The parameter groups `shown` (indices into `GROUPS`), side by side as the width allows.
fn groups(ui: &mut egui::Ui, params: &ContinuoParams, setter: &ParamSetter, shown: &[usize]) {
    let map = params.param_map();
    let columns = ((ui.available_width() / GROUP_WIDTH).floor() as usize).clamp(1, 3);
    ui.columns(columns, |cols| {
        // Every group as wide as a column, less its margin and border.
        let inner = cols[0].available_width() - 2.0 * (GROUP_MARGIN + 1.0);
        for (i, (heading, ids)) in shown.iter().map(|&g| &GROUPS[g]).enumerate() {
            let ui = &mut cols[i % columns];
            egui::Frame::group(ui.style()).inner_margin(GROUP_MARGIN).show(ui, |ui| {
                ui.set_width(inner);
                ui.label(RichText::new(*heading).strong().size(17.0));
                let width = ui.available_width();
                for id in *ids {
                    if let Some((_, ptr, _)) = map.iter().find(|(i, _, _)| i.as_str() == *id) {
                        control(ui, params, id, *ptr, setter, width);
                    }
                }
            });
            ui.add_space(8.0);
        }
    });
}

/// The chord the player holds, where a harmony input is on: "Chord: Am7", or "No chord".
fn chord_text(harmony: bool, word: u32) -> Option<String> {
    harmony.then(|| chord_of_word(word).map_or("No chord".into(), |c| format!("Chord: {c}")))
}

/// What the editor says when the player plays triplets, for a model of `grid` steps a beat
/// (in note values).
fn triplets_text(grid: u32) -> String {
    if grid.is_multiple_of(3) {
        "You played triplets: the model's grid has them".into()
    } else {
        format!(
            "You played triplets: this model plays {} and has none, so the answer swings them instead",
            crate::handle::grid_notes(grid)
        )
    }
}

/// The answer's swing where it is not straight: "swing 2.0:1", "swing 1.5:1 (16ths)".
fn swing_text(position: f64, sixteenths: bool) -> Option<String> {
    let unit = if sixteenths { " (16ths)" } else { "" };
    (position > 0.51).then(|| format!("swing {:.1}:1{unit}", crate::swing::ratio_of(position)))
}

/// A controller as a musician names it: "CC 20, channel 1".
fn controller_text((channel, cc): (u8, u8)) -> String {
    format!("CC {cc}, channel {}", channel + 1)
}

/// The SoundFont line: which file plays, or why none does.
fn soundfont_line(state: &FontState) -> String {
    let name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match state {
        FontState::Idle => "SoundFont: loaded when the voice is SoundFont".into(),
        FontState::Loading(p) => format!("SoundFont: loading {}… (the electric piano plays meanwhile)", name(p)),
        FontState::Ready { path, instruments } => {
            format!(
                "SoundFont: {} ({instruments} {})",
                name(path),
                if *instruments == 1 { "instrument" } else { "instruments" }
            )
        }
        FontState::Missing => format!(
            "SoundFont: none in {SF2_FOLDER} (install fluid-soundfont-gm, or choose a file): the electric piano plays"
        ),
        FontState::Failed(why) => format!("SoundFont not loaded: {why}"),
    }
}

/// The chosen take: its number, and its place among the recent ones; before the first, what
/// makes one.
fn take_line(position: Option<(usize, usize)>, number: Option<u32>, answering: bool) -> String {
    match (position, number) {
        (Some((i, n)), Some(number)) => format!("Take {number} ({i} of {n})"),
        _ if answering => "Answering: the take is made when the answer ends".into(),
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
    fn new(params: Arc<ContinuoParams>, link: Arc<Link>, shared: Arc<Shared>) -> App {
        let (dialog, message) = (None, String::new());
        App {
            params,
            link,
            shared,
            gui: None,
            dialog,
            message,
            presets: PresetRow::default(),
            taps: Default::default(),
            page: Page::default(),
            remember: None,
            devices: None,
        }
    }

    /// The header: the name, what Continuo is doing, the mode and grid, the model in words.
    fn header(&self, ui: &mut egui::Ui) {
        let status = self.shared.status();
        let answering = self.link.answering.load(Ordering::Relaxed);
        let (word, colour) =
            state_word(status.name.is_some(), status.error.is_some(), answering, self.params.bypass.value());
        let grid = self.params.grid.value().steps_per_beat(self.link.model_steps_per_beat.load(Ordering::Relaxed));
        ui.horizontal(|ui| {
            ui.label(RichText::new("Continuo").size(24.0).strong());
            ui.add_space(12.0);
            ui.label(RichText::new(word).size(18.0).color(colour));
            ui.add_space(12.0);
            ui.label(format!("{} · {}", self.params.mode, crate::handle::grid_notes(grid)));
            let harmony = self.params.chord_split.value() > 0 || self.params.chord_channel.value() > 0;
            if let Some(chord) = chord_text(harmony, self.link.chord.load(Ordering::Relaxed)) {
                ui.add_space(12.0);
                ui.label(RichText::new(chord).size(18.0));
            }
            let sixteenths = self.link.swing_sixteenths.load(Ordering::Relaxed);
            if let Some(swing) = swing_text(self.link.swing.load(Ordering::Relaxed) as f64, sixteenths) {
                ui.add_space(12.0);
                ui.label(swing);
            }
        });
        if !status.summary.is_empty() {
            ui.label(RichText::new(&status.summary).color(Color32::from_gray(190)));
        }
        if self.link.triplets.load(Ordering::Relaxed) {
            let grid = self.link.model_steps_per_beat.load(Ordering::Relaxed);
            ui.label(RichText::new(triplets_text(grid)).color(Color32::from_rgb(230, 200, 120)));
        }
        if let Some(e) = &status.error {
            ui.colored_label(Color32::from_rgb(255, 110, 110), format!("Error: {e}"));
        }
    }

    /// The roll of the last answer or the chosen take, with the take's number and, while an
    /// answer plays, a playhead.
    fn roll(&self, ui: &mut egui::Ui) {
        let history = self.shared.history.locked().clone();
        // The chosen take's number, when the roll shows it (not an answer still playing).
        let recent = self.shared.recent.locked();
        let take = recent.chosen().filter(|t| t.history == history).map(|t| t.number);
        drop(recent);
        let answering = self.link.answering.load(Ordering::Relaxed);
        let playhead = roll::playhead_beat(&history, self.link.play_step.load(Ordering::Relaxed), answering);
        let height = (ui.available_height() * 0.26).clamp(130.0, 420.0);
        roll::paint(ui, &history, take, playhead, height);
        ui.horizontal(|ui| {
            ui.colored_label(roll::HEARD, "heard");
            ui.colored_label(roll::ANSWERED, "answered");
        });
    }

    /// The take buttons: answer again, choose another take (what loop mode plays and Export
    /// writes), keep it, export it; and the files.
    fn take_buttons(&mut self, ui: &mut egui::Ui) {
        let (position, number) = {
            let recent = self.shared.recent.locked();
            (recent.position(), recent.chosen().map(|t| t.number))
        };
        ui.horizontal_wrapped(|ui| {
            let big = |text: &str| egui::Button::new(RichText::new(text).size(16.0)).min_size(egui::vec2(0.0, 30.0));
            let hint = "Answer the same phrase again with a new random seed";
            if ui.add_enabled(position.is_some(), big("Regenerate")).on_hover_text(hint).clicked() {
                self.link.send(Command::Regenerate);
            }
            let four = "Answer the same phrase four more times, each with its own random seed: step through them";
            if ui.add_enabled(position.is_some(), big("Answer ×4")).on_hover_text(four).clicked() {
                self.link.send(Command::Variations(4));
            }
            if ui.add_enabled(position.is_some_and(|(i, _)| i > 1), big("< Previous")).clicked() {
                self.link.send(Command::Choose(-1));
            }
            let answering = self.link.answering.load(Ordering::Relaxed);
            ui.label(RichText::new(take_line(position, number, answering)).size(16.0));
            if ui.add_enabled(position.is_some_and(|(i, n)| i < n), big("Next >")).clicked() {
                self.link.send(Command::Choose(1));
            }
            ui.separator();
            let keep = "Keep the last phrase and its answer in the takes folder";
            if ui.add(big("Keep")).on_hover_text(keep).clicked() {
                self.link.send(Command::Keep);
            }
            let export_hint =
                "Write the chosen take (the phrase and its answer) as a .mid into the takes folder's exports/";
            if ui.add(big("Export")).on_hover_text(export_hint).clicked() {
                self.message = match crate::takes::exports_folder() {
                    Some(folder) => {
                        let history = self.shared.history.locked().clone();
                        export_into(&folder, number.unwrap_or(0), &history, std::time::SystemTime::now())
                    }
                    None => "no takes folder: set CONTINUO_HOME".into(),
                };
            }
            if ui.add(big("Export as…")).on_hover_text("Choose where to write the chosen take").clicked() {
                let home = std::env::home_dir().unwrap_or_default();
                let dialog = FileDialog::save_file()
                    .initial_path(home)
                    .default_filename("continuo-answer.mid")
                    .title("Export the chosen take: the phrase and its answer");
                self.open(dialog, Picking::Export);
            }
        });
    }

    /// The standalone's settings: restored the first time, then written as they change.
    fn follow_settings(&mut self, setter: &ParamSetter) {
        let Some(remember) = self.remember.as_mut() else { return };
        if let Some(saved) = remember.take_restore() {
            let left_out = standalone_settings::restore_controls(&self.params, &saved.controls, setter);
            if !saved.model.is_empty() {
                self.shared.load(PathBuf::from(&saved.model));
            }
            if !saved.soundfont.is_empty() {
                self.shared.fonts.choose(std::path::Path::new(&saved.soundfont), &self.link.fonts, &self.link.repaint);
            }
            if left_out > 0 {
                self.message = format!("{left_out} remembered settings are not this version's, and were left out");
            }
        }
        let now = Settings {
            controls: standalone_settings::controls(&self.params),
            model: self.params.model_path.reading().clone(),
            soundfont: self.params.soundfont_path.reading().clone(),
            devices: Vec::new(),
        };
        if let Err(e) = remember.keep(now, std::time::Instant::now()) {
            self.message = format!("the settings are not remembered: {e}");
        }
    }

    /// The tempo Continuo keeps (the host's, or its own), and Tap to set its own.
    fn tempo_row(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        ui.horizontal(|ui| {
            let host = self.link.bpm.load(Ordering::Relaxed);
            let now = match self.params.own_tempo() {
                Some(bpm) => format!("Tempo: {bpm:.0} BPM, Continuo's own"),
                None if self.link.midi_clock.load(Ordering::Relaxed) => {
                    format!("Tempo: the MIDI clock's ({host:.0} BPM)")
                }
                None => format!("Tempo: the host's ({host:.0} BPM)"),
            };
            ui.label(RichText::new(now).size(16.0));
            let hint = "Tap the beat (two taps or more) to set Continuo's own tempo";
            if ui.button(RichText::new("Tap").size(16.0)).on_hover_text(hint).clicked() {
                if let Some(bpm) = self.taps.tap(std::time::Instant::now()) {
                    let bpm = (bpm.round() as i32).clamp(crate::params::MIN_TEMPO, crate::params::MAX_TEMPO);
                    setter.begin_set_parameter(&self.params.tempo);
                    setter.set_parameter(&self.params.tempo, bpm);
                    setter.end_set_parameter(&self.params.tempo);
                }
            }
            if self.params.own_tempo().is_some() && ui.button("Host tempo").clicked() {
                setter.begin_set_parameter(&self.params.tempo);
                setter.set_parameter(&self.params.tempo, 0);
                setter.end_set_parameter(&self.params.tempo);
            }
        });
    }

    fn open(&mut self, mut dialog: FileDialog, picking: Picking) {
        dialog.open();
        self.dialog = Some((dialog, picking));
    }

    /// The model and SoundFont files, and the buttons that choose them.
    fn files(&mut self, ui: &mut egui::Ui) {
        let path = self.shared.status().path;
        ui.horizontal_wrapped(|ui| {
            let shown = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into());
            ui.label(format!("Model file: {shown}"));
            if ui.button("Choose model…").clicked() {
                let dialog = FileDialog::open_file()
                    // The model's folder (a file there as the initial path shows an error).
                    .initial_path(path.as_ref().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or_default())
                    .title("Choose a Continuo model (.onnx with its .json card)")
                    .show_files_filter(Box::new(|p: &std::path::Path| p.extension().is_some_and(|e| e == "onnx")));
                self.open(dialog, Picking::Model);
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label(soundfont_line(&self.shared.fonts.state()));
            if ui.button("Choose SoundFont…").clicked() {
                let chosen = self.params.soundfont_path.reading().clone();
                let folder = std::path::Path::new(&chosen).parent().filter(|p| p.is_dir()).map(PathBuf::from);
                let dialog = FileDialog::open_file()
                    .initial_path(folder.unwrap_or_else(|| PathBuf::from(SF2_FOLDER)))
                    .title("Choose a SoundFont (.sf2) for the voice")
                    .show_files_filter(Box::new(|p: &std::path::Path| {
                        p.extension().is_some_and(|e| e.eq_ignore_ascii_case("sf2"))
                    }));
                self.open(dialog, Picking::SoundFont);
            }
        });
    }

    /// The open file picker, and what its choice does.
    fn follow_dialog(&mut self, ctx: &egui::Context) {
        let Some((dialog, picking)) = &mut self.dialog else { return };
        if dialog.show(ctx).selected() {
            if let Some(path) = dialog.path().map(PathBuf::from) {
                self.message = match picking {
                    Picking::Model => {
                        self.shared.load(path.clone());
                        format!("loading {}", path.display())
                    }
                    Picking::Export => {
                        let history = self.shared.history.locked().clone();
                        export(&path, &history)
                    }
                    Picking::SoundFont => {
                        self.shared.fonts.choose(&path, &self.link.fonts, &self.link.repaint);
                        format!("SoundFont: {}", path.display())
                    }
                };
            }
            self.dialog = None;
        } else if !dialog.visible() {
            self.dialog = None;
        }
    }

    /// Learn from the takes, stop a learning, go back to the original model.
    fn learning(&mut self, ui: &mut egui::Ui) {
        let state = self.shared.learning();
        ui.horizontal_wrapped(|ui| {
            if state.running() {
                if ui.button("Stop learning").clicked() {
                    self.shared.cancel_learning();
                }
            } else if ui.button("Learn").on_hover_text("Fine-tune the model playing on the takes folder").clicked() {
                self.shared.learn(self.link.repaint.clone());
            }
            ui.label(learn_line(&state));
            let original = self.shared.original_model.reading().clone();
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

    /// The takes' count and folder; a write error.
    fn takes(&mut self, ui: &mut egui::Ui) {
        let status = self.shared.takes_status();
        ui.horizontal_wrapped(|ui| {
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
            ui.colored_label(Color32::from_rgb(255, 110, 110), format!("Takes not written: {e}"));
        }
    }

    /// The tabs, and the page chosen: its groups (the last page the takes, learning and
    /// files first).
    fn page(&mut self, ui: &mut egui::Ui, setter: Option<&ParamSetter>) {
        ui.horizontal(|ui| {
            for (page, name, _) in PAGES {
                ui.selectable_value(&mut self.page, page, RichText::new(name).size(16.0));
            }
        });
        ui.add_space(6.0);
        if self.page == Page::VoiceTakesLearn {
            self.details(ui);
            if let (Some(row), Some(remember)) = (self.devices.as_mut(), self.remember.as_mut()) {
                if let Some(said) = row.show(ui, remember) {
                    self.message = said;
                }
            }
            ui.add_space(6.0);
        }
        let shown = PAGES.iter().find(|(p, ..)| *p == self.page).map_or(&[][..], |(_, _, g)| g);
        if let Some(setter) = setter {
            groups(ui, &self.params, setter, shown);
        }
    }

    /// The health, the session memory, the takes, learning, the files.
    fn details(&mut self, ui: &mut egui::Ui) {
        ui.label(health(&self.link.health));
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "Session memory: {} tokens heard and played, blended at {:.2}",
                self.link.health.remembered.load(Ordering::Relaxed),
                self.params.memory.value()
            ));
            if ui.button("Forget").on_hover_text("Start the session memory afresh").clicked() {
                self.link.send(Command::Forget);
            }
        });
        self.takes(ui);
        self.learning(ui);
        self.files(ui);
    }
}

/// The look: dark, with the answer's colour as the accent.
fn style(ctx: &egui::Context) {
    let mut visuals = egui::Visuals::dark();
    visuals.panel_fill = Color32::from_gray(26);
    visuals.window_fill = Color32::from_gray(30);
    visuals.selection.bg_fill = Color32::from_rgb(170, 95, 30);
    visuals.hyperlink_color = roll::ANSWERED;
    ctx.set_theme(egui::Theme::Dark);
    ctx.all_styles_mut(|s| {
        s.visuals = visuals.clone();
        s.spacing.item_spacing = egui::vec2(8.0, 6.0);
    });
}

impl NiceEguiApp for App {
    fn build(
        &mut self,
        ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        style(&ctx);
        if gui.plugin_api() == PluginApi::Standalone {
            match standalone_settings::path().map(Remember::open) {
                Some(Ok(remember)) => {
                    self.devices = Some(DeviceRow::new(remember.devices()));
                    self.remember = Some(remember);
                }
                Some(Err(e)) => self.message = format!("{e}: the defaults play, and the file is left as it is"),
                None => {}
            }
        }
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let gui = self.gui.clone();
        self.draw(ui, gui.as_ref().map(GuiContext::param_setter).as_ref());
    }
}

impl App {
    /// The whole editor; the parameters only with a `setter` (once the host gave a context).
    fn draw(&mut self, ui: &mut egui::Ui, setter: Option<&ParamSetter>) {
        if self.link.answering.load(Ordering::Relaxed) {
            ui.ctx().request_repaint_after(PLAYING_REDRAW);
        }
        egui::Frame::new().inner_margin(14.0).show(ui, |ui| {
            egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                self.header(ui);
                ui.add_space(6.0);
                self.roll(ui);
                ui.add_space(4.0);
                self.take_buttons(ui);
                if let Some(setter) = setter {
                    self.follow_settings(setter);
                    self.tempo_row(ui, setter);
                    let program = self.presets.follow_program(&self.link, &self.params, setter);
                    if let Some(said) = program.or_else(|| self.presets.show(ui, &self.params, setter)) {
                        self.message = said;
                    }
                }
                if !self.message.is_empty() {
                    ui.label(&self.message);
                }
                ui.add_space(4.0);
                self.page(ui, setter);
            });
        });
        self.follow_dialog(&ui.ctx().clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;
    use nice_plug::prelude::{GuiContextInner, ParamFlags, PluginApi, PluginState};

    /// A host's side of the editor's parameter changes: each is applied to the parameter.
    struct Host;

    impl GuiContextInner for Host {
        fn plugin_api(&self) -> PluginApi {
            PluginApi::Clap
        }
        unsafe fn raw_begin_set_parameter(&self, _: ParamPtr) {}
        unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
            // SAFETY: the pointer comes from the test's parameters, alive while it runs.
            unsafe { param._internal_set_normalized_value(normalized) };
        }
        unsafe fn raw_end_set_parameter(&self, _: ParamPtr) {}
        fn get_state(&self) -> PluginState {
            unreachable!("the editor never reads the plugin's state")
        }
        fn set_state(&self, _: PluginState) {}
        fn request_restart(&self) {}
    }

    /// An editor on a worker-less plugin whose history holds a phrase and its answer as take 1.
    fn app() -> App {
        let params = Arc::new(ContinuoParams::default());
        let shared = Shared::new(Arc::default(), Arc::default(), Arc::default(), PathBuf::from("/absent.onnx"));
        let phrase = [60u8, 62, 64, 65].iter().enumerate();
        let history = History {
            phrase: phrase
                .map(|(i, &pitch)| crate::capture::HeardNote { step: 4 * i as i64, steps: 4, pitch, velocity: 90 })
                .collect(),
            answer: vec![continuo_core::Token::note(67), continuo_core::Token::Hold, continuo_core::Token::note(65)],
            answer_start: 16,
            steps_per_beat: 4,
            bpm: 120.0,
            velocity: 90,
            ..History::default()
        };
        *shared.history.lock().unwrap() = history.clone();
        let request = crate::link::Request {
            generation: 0,
            phrase: crate::capture::Phrase::from_notes(&history.phrase),
            start_step: 16,
            steps: 16,
            continuous: false,
            bar_steps: 16,
            bar_position: 0,
            seed: 1,
            follow_key: true,
        };
        shared.recent.lock().unwrap().add(request, Default::default(), history);
        App::new(params, Link::new(), shared)
    }

    #[test]
    fn the_editor_draws_at_100_and_200_percent_and_its_controls_act() {
        for scale in [1.0, 2.0] {
            let mut app = app();
            let params = app.params.clone();
            let link = app.link.clone();
            let host = Host;
            let mut harness = Harness::builder()
                .with_size(egui::vec2(SIZE.0, SIZE.1))
                .with_pixels_per_point(scale)
                .build_ui(|ui| app.draw(ui, Some(&ParamSetter::new(&host))));
            harness.run();
            harness.get_by_label_contains("Take 1");
            harness.get_by_label("Loading the model…");
            // Each page's groups (and the last page's Learn) are on the first screen.
            for (_, name, shown) in PAGES {
                harness.get_by_label(name).click();
                harness.run();
                let mut headings: Vec<&str> = shown.iter().map(|&g| GROUPS[g].0).collect();
                if name == PAGES[2].1 {
                    headings.extend(["Learn", "Choose model…"]);
                }
                for heading in headings {
                    // A group may share its heading with one of its controls (Voice).
                    let bottom = harness.query_all_by_label(heading).map(|n| n.rect().max.y).fold(f32::MAX, f32::min);
                    assert!(bottom <= SIZE.1, "{scale}: {heading} is below the fold ({bottom})");
                }
            }
            harness.get_by_label(PAGES[0].1).click();
            harness.run();
            harness.get_by_label("Export");
            harness.get_by_label("Export as…");
            // Regenerate asks the worker to answer again; a switch turns its parameter on.
            harness.get_by_label("Regenerate").click();
            harness.run();
            assert_eq!(link.commands.pop(), Some(Command::Regenerate), "{scale}: Regenerate did not ask");
            harness.get_by_label("Answer ×4").click();
            harness.run();
            assert_eq!(link.commands.pop(), Some(Command::Variations(4)), "{scale}: Answer ×4 did not ask");
            harness.get_by_label(PAGES[2].1).click();
            harness.run();
            assert!(
                harness.query_all_by_label("Answers per phrase").next().is_some(),
                "{scale}: no Answers per phrase"
            );
            harness.get_by_label(PAGES[0].1).click();
            harness.run();
            // Tap twice: Continuo keeps a tempo of its own; Host tempo gives the host's back.
            harness.get_by_label("Tap").click();
            harness.run();
            harness.get_by_label("Tap").click();
            harness.run();
            assert!(params.own_tempo().is_some(), "{scale}: Tap set no tempo");
            harness.get_by_label("Host tempo").click();
            harness.run();
            assert_eq!(params.own_tempo(), None, "{scale}: Host tempo");
            harness.get_by_label("Recall");
            harness.get_by_label("Save preset");
            assert!(!params.bypass.value());
            let bypass = harness.get_all_by_label("Off").next().expect("a switch");
            bypass.click();
            harness.run();
            assert!(params.bypass.value(), "{scale}: the Bypass switch did not turn on");
            // A program change on the input channel recalls that preset: 2, Sparse answers.
            link.program.store(1 << 7 | 2, Ordering::Release);
            harness.run();
            let density = params.density.value();
            assert!((density + 0.6).abs() < 1e-4, "{scale}: the program change did not recall its preset: {density}");
        }
    }

    #[test]
    fn export_before_anything_was_played_says_so_and_writes_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("answer.mid");
        assert_eq!(export(&path, &History::default()), "nothing to export yet: play a phrase first");
        assert!(!path.exists());
    }

    #[test]
    fn one_click_export_writes_the_take_into_the_exports_folder_and_says_where() {
        let temp = tempfile::tempdir().unwrap();
        let folder = temp.path().join("takes").join("exports");
        let history = app().shared.history.locked().clone();
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let said = export_into(&folder, 3, &history, at);
        let path = folder.join("20270115-080000-000-0003-exported.mid");
        assert_eq!(said, format!("wrote {}", path.display()));
        let score = continuo_core::midi::read_midi_file(&path, &Default::default()).unwrap();
        assert_eq!(score.notes.len(), 6, "the phrase's four notes and the answer's two");
    }

    #[test]
    fn every_shown_parameter_is_in_exactly_one_group() {
        let params = ContinuoParams::default();
        let shown: Vec<String> = params
            .param_map()
            .into_iter()
            // SAFETY: the pointers come from `params`, alive here.
            .filter(|(_, p, _)| !unsafe { p.flags() }.contains(ParamFlags::HIDE_IN_GENERIC_UI))
            .map(|(id, _, _)| id)
            .collect();
        let grouped: Vec<&str> = GROUPS.iter().flat_map(|(_, ids)| ids.iter().copied()).collect();
        for id in &shown {
            assert_eq!(grouped.iter().filter(|g| **g == id.as_str()).count(), 1, "{id}");
        }
        assert_eq!(grouped.len(), shown.len(), "a group names a parameter that is not shown");
    }

    #[test]
    fn the_chord_shows_where_a_harmony_input_is_on() {
        let mut held = crate::harmony_input::HeldChord::default();
        assert_eq!(chord_text(false, held.word()), None);
        assert_eq!(chord_text(true, held.word()).as_deref(), Some("No chord"));
        for pitch in [45, 52, 55, 60] {
            held.hear(&crate::events::NoteEvent::On { sample: 0, channel: 0, pitch, velocity: 80 });
        }
        assert_eq!(chord_text(true, held.word()).as_deref(), Some("Chord: Am7"));
        assert_eq!((swing_text(0.5, false), swing_text(2.0 / 3.0, false).as_deref()), (None, Some("swing 2.0:1")));
        assert_eq!(swing_text(0.6, true).as_deref(), Some("swing 1.5:1 (16ths)"));
        assert!(
            triplets_text(4).contains("plays sixteenth notes and has none") && triplets_text(12).contains("has them")
        );
    }

    #[test]
    fn the_take_line_says_what_makes_a_take() {
        assert_eq!(take_line(None, None, false), "No take yet: play a phrase");
        assert_eq!(take_line(None, None, true), "Answering: the take is made when the answer ends");
        assert_eq!(take_line(Some((2, 3)), Some(7), true), "Take 7 (2 of 3)");
    }

    #[test]
    fn the_state_word_says_what_continuo_does() {
        assert_eq!(state_word(true, false, true, false).0, "Answering");
        assert_eq!(state_word(true, true, false, false).0, "Listening", "an old error, a model plays");
        assert_eq!(state_word(false, true, false, false).0, "No model: your notes pass through");
        assert_eq!(state_word(true, false, true, true).0, "Bypassed: your notes pass through");
    }

    #[test]
    fn the_window_is_resizable_down_to_its_smallest_size() {
        let hint = resize_hint();
        assert!(hint.can_resize && hint.can_resize_horizontally && hint.can_resize_vertically);
        assert!(!hint.preserve_aspect_ratio);
    }

    #[test]
    fn the_soundfont_line_names_the_file_or_says_why_none_plays() {
        let ready = FontState::Ready { path: "/sf2/TimGM6mb.sf2".into(), instruments: 1 };
        assert_eq!(soundfont_line(&ready), "SoundFont: TimGM6mb.sf2 (1 instrument)");
        assert!(soundfont_line(&FontState::Missing).contains("the electric piano plays"));
        assert!(soundfont_line(&FontState::Failed("/x.sf2: not a SoundFont".into())).contains("/x.sf2"));
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
        let s = TakesStatus { folder: "/t".into(), kept: 1, phrases: 3, ..TakesStatus::default() };
        assert_eq!(takes_line(Some(&s)), "Takes: 1 take kept and 3 phrases written to /t");
        let full = TakesStatus {
            elsewhere: 1,
            second_folder: "/tmp/u".into(),
            pending: 2,
            error: Some("/t: no space left".into()),
            ..s
        };
        assert_eq!(
            takes_line(Some(&full)),
            "Takes: 1 take kept and 3 phrases written to /t; 1 take in /tmp/u instead (/t: no space left); 2 takes only \
             in memory, lost when Continuo closes unless a folder can be written (/t: no space left)"
        );
    }
}
