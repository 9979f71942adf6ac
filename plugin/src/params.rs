//! The plugin's automatable parameters: stable short ids, ranges as functions the editor
//! reuses, and explicit value ↔ text conversions that round-trip (hosts and validators
//! check that text typed in gives the value shown).

use crate::click::Metronome;
use crate::engine::Mode;
use crate::events::Trigger;
use crate::midi_learn::{Learnable, MidiMap};
use crate::synth::Patch;
use continuo_core::develop::DEFAULT_DEVELOP;
use continuo_core::harmony::FOLLOW_CHORDS_DEFAULT;
use continuo_core::memory::MEMORY_DEFAULT;
use continuo_core::note::{pitch_name, pitch_of_name};
use nice_plug::prelude::*;
use std::sync::{Arc, RwLock};

#[derive(Params)]
pub struct ContinuoParams {
    /// The model file playing (empty: the default model), kept with the host's project.
    #[persist = "model"]
    pub model_path: Arc<RwLock<String>>,
    #[id = "mode"]
    pub mode: EnumParam<ModeChoice>,
    #[id = "grid"]
    pub grid: EnumParam<GridChoice>,
    #[id = "bypass"]
    pub bypass: BoolParam,
    #[id = "temp"]
    pub temperature: FloatParam,
    #[id = "rest"]
    pub rest_bias: FloatParam,
    #[id = "entr"]
    pub entropy: FloatParam,
    /// How much the session memory (a short-term model of what was played) is blended in.
    #[id = "mem"]
    pub memory: FloatParam,
    /// How often a bar of the answer takes up a bar of the player's phrase (its motifs,
    /// transposed or varied): 0 plays fresh material.
    #[id = "dev"]
    pub develop: FloatParam,
    /// Steering (core::steering): fewer or more onsets.
    #[id = "dens"]
    pub density: FloatParam,
    /// The register the answer keeps to: its centre, its width (0: off) and whether it is a
    /// hard limit.
    #[id = "regc"]
    pub register_centre: IntParam,
    #[id = "regw"]
    pub register_width: IntParam,
    #[id = "regh"]
    pub register_hard: BoolParam,
    /// Prefer steps (−) or leaps (+).
    #[id = "leap"]
    pub leap: FloatParam,
    /// Avoid (−) or favour (+) the pitches of the last bars.
    #[id = "rep"]
    pub repetition: FloatParam,
    /// Only the pitches of a scale (the followed key, or another on its tonic).
    #[id = "scale"]
    pub scale: EnumParam<ScaleChoice>,
    /// The player's harmony: notes below the chord split (0: off), or on the chord channel
    /// (0: off), make the chord the answer follows, and how closely it does.
    #[id = "csplit"]
    pub chord_split: IntParam,
    #[id = "cchan"]
    pub chord_channel: IntParam,
    #[id = "fchd"]
    pub follow_chords: FloatParam,
    /// The answer's swing: Follow the player's (0), or a fixed ratio (see [`swing_ratio`]).
    #[id = "swing"]
    pub swing: IntParam,
    /// How much the answer's timing and velocity vary (0: on the grid, at the velocity).
    #[id = "human"]
    pub humanise: FloatParam,
    #[id = "bars"]
    pub answer_bars: IntParam,
    /// Continuo's own tempo instead of the host's: Host, or 40–240 BPM (the standalone's
    /// tempo, set here or by Tap; in a DAW, leave it at Host).
    #[id = "tempo"]
    pub tempo: IntParam,
    /// Follow a MIDI clock on the MIDI input (24 ticks a beat, Start, Stop, Continue) once
    /// one is heard, instead of the host's transport (the Tempo parameter still wins).
    #[id = "mclk"]
    pub midi_clock: BoolParam,
    /// A click on each beat through the audio output: off, until the player's first note,
    /// or always.
    #[id = "metro"]
    pub metronome: EnumParam<MetronomeChoice>,
    #[id = "gap"]
    pub gap_steps: IntParam,
    #[id = "thru"]
    pub pass_through: BoolParam,
    #[id = "keyf"]
    pub follow_key: BoolParam,
    #[id = "oct"]
    pub octave: IntParam,
    #[id = "inch"]
    pub input_channel: IntParam,
    #[id = "outch"]
    pub output_channel: IntParam,
    #[id = "vel"]
    pub velocity: IntParam,
    #[id = "seed"]
    pub seed: IntParam,
    /// Keep the last phrase and its answer in the takes folder: its rising edge (a button, a
    /// MIDI controller, automation) keeps one take.
    #[id = "keep"]
    pub keep: BoolParam,
    /// Choose the next of the recent takes (the answers per phrase beside the one played):
    /// its rising edge steps once, as the editor's Next does; loop mode then plays it.
    #[id = "next"]
    pub next_take: BoolParam,
    /// Also write every phrase played into the takes folder.
    #[id = "savph"]
    pub save_phrases: BoolParam,
    /// Answers made for each phrase: the one played, and the others (each with its own random
    /// seed) beside it among the recent takes, to step through with Next and keep or export.
    #[id = "answ"]
    pub answers: IntParam,
    /// The built-in voice (heard where the plugin has an audio output: the standalone, and
    /// hosts that choose the layout "With the built-in voice"), its level, and whether the
    /// player's own notes sound too.
    #[id = "voice"]
    pub voice: EnumParam<VoiceChoice>,
    /// The SoundFont voice's General MIDI instrument (program 0..=127).
    #[id = "sfprog"]
    pub program: IntParam,
    /// The SoundFont file (empty: the one found in `/usr/share/sounds/sf2`), kept with the
    /// host's project.
    #[persist = "soundfont"]
    pub soundfont_path: Arc<RwLock<String>>,
    #[id = "level"]
    pub level: FloatParam,
    #[id = "mine"]
    pub own_notes: BoolParam,
    /// The player's controls for "answer now" and "keep": off, a controller or a key (see
    /// [`trigger_of`]).
    #[id = "trnow"]
    pub answer_trigger: IntParam,
    #[id = "trkeep"]
    pub keep_trigger: IntParam,
    /// Fine-tune the model playing on the takes, in the background, and play the result:
    /// its rising edge starts one learning.
    #[id = "learn"]
    pub learn: BoolParam,
    /// The model a learnt model came from (empty: none), kept with the host's project so
    /// that "Original model" still goes back to it.
    #[persist = "learnt_from"]
    pub learnt_from: Arc<RwLock<String>>,
    /// Which controller drives which parameter (MIDI learn), kept with the project.
    #[persist = "midimap"]
    pub midi_map: MidiMap,
}

impl ContinuoParams {
    /// The parameter that a MIDI controller drives as `param`.
    pub fn learnable(&self, param: Learnable) -> LearnableParam<'_> {
        use LearnableParam::{Float, Int};
        match param {
            Learnable::Temperature => Float(&self.temperature),
            Learnable::RestBias => Float(&self.rest_bias),
            Learnable::Entropy => Float(&self.entropy),
            Learnable::Memory => Float(&self.memory),
            Learnable::Develop => Float(&self.develop),
            Learnable::Density => Float(&self.density),
            Learnable::Leap => Float(&self.leap),
            Learnable::Repetition => Float(&self.repetition),
            Learnable::RegisterCentre => Int(&self.register_centre),
            Learnable::RegisterWidth => Int(&self.register_width),
            Learnable::AnswerBars => Int(&self.answer_bars),
            Learnable::Gap => Int(&self.gap_steps),
            Learnable::Level => Float(&self.level),
            Learnable::FollowChords => Float(&self.follow_chords),
        }
    }
}

/// A parameter a MIDI controller can drive: a float or an integer parameter.
pub enum LearnableParam<'a> {
    Float(&'a FloatParam),
    Int(&'a IntParam),
}

impl LearnableParam<'_> {
    /// Its name, as the editor shows it.
    pub fn name(&self) -> &str {
        match self {
            LearnableParam::Float(p) => p.name(),
            LearnableParam::Int(p) => p.name(),
        }
    }

    /// The host's value, normalised.
    pub fn host_value(&self) -> f32 {
        match self {
            LearnableParam::Float(p) => p.modulated_normalized_value(),
            LearnableParam::Int(p) => p.modulated_normalized_value(),
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChoice {
    #[id = "call"]
    #[name = "Call & response"]
    CallResponse,
    #[id = "cont"]
    #[name = "Continuous"]
    Continuous,
    #[id = "loop"]
    #[name = "Hold / loop"]
    Loop,
}

impl From<ModeChoice> for Mode {
    fn from(m: ModeChoice) -> Mode {
        match m {
            ModeChoice::CallResponse => Mode::CallResponse,
            ModeChoice::Continuous => Mode::Continuous,
            ModeChoice::Loop => Mode::Loop,
        }
    }
}

/// When the metronome clicks (see [`Metronome`]).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetronomeChoice {
    #[id = "off"]
    #[name = "Off"]
    Off,
    #[id = "until"]
    #[name = "Until I play"]
    UntilPlayed,
    #[id = "on"]
    #[name = "On"]
    On,
}

impl From<MetronomeChoice> for Metronome {
    fn from(choice: MetronomeChoice) -> Metronome {
        match choice {
            MetronomeChoice::Off => Metronome::Off,
            MetronomeChoice::UntilPlayed => Metronome::UntilPlayed,
            MetronomeChoice::On => Metronome::On,
        }
    }
}

/// The built-in voice: off, or one of its patches.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceChoice {
    #[id = "off"]
    #[name = "Off"]
    Off,
    #[id = "epiano"]
    #[name = "Electric piano"]
    EPiano,
    #[id = "pluck"]
    #[name = "Plucked string"]
    Pluck,
    #[id = "sf2"]
    #[name = "SoundFont"]
    SoundFont,
}

impl VoiceChoice {
    pub fn patch(self) -> Option<Patch> {
        match self {
            VoiceChoice::Off => None,
            VoiceChoice::EPiano => Some(Patch::EPiano),
            VoiceChoice::Pluck => Some(Patch::Pluck),
            VoiceChoice::SoundFont => Some(Patch::SoundFont),
        }
    }
}

/// The scale lock: off, or a scale of `continuo_core::steering::Scale` (in its order).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleChoice {
    #[id = "off"]
    #[name = "Off"]
    Off,
    #[id = "key"]
    #[name = "Followed key"]
    Key,
    #[id = "penta"]
    #[name = "Pentatonic"]
    Pentatonic,
    #[id = "blues"]
    #[name = "Blues"]
    Blues,
    #[id = "harm"]
    #[name = "Harmonic minor"]
    HarmonicMinor,
}

/// The grid the model's steps are played on: the model's own, or twice as long or short.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridChoice {
    #[id = "model"]
    #[name = "Model's grid"]
    Model,
    #[id = "half"]
    #[name = "Half time"]
    HalfTime,
    #[id = "double"]
    #[name = "Double time"]
    DoubleTime,
}

impl GridChoice {
    /// Steps per beat for a model trained at `model_steps_per_beat`; the model's own grid
    /// where the choice does not give a whole number of steps per beat (half time of a
    /// quarter-note or triplet grid), or would be finer than 32nd notes.
    pub fn steps_per_beat(self, model_steps_per_beat: u32) -> u32 {
        let m = model_steps_per_beat.max(1);
        match self {
            GridChoice::HalfTime if m.is_multiple_of(2) => m / 2,
            GridChoice::DoubleTime if m * 2 <= 8 => m * 2,
            _ => m,
        }
    }
}

pub fn temperature_range() -> FloatRange {
    FloatRange::Linear { min: 0.0, max: 2.0 }
}

pub fn rest_bias_range() -> FloatRange {
    FloatRange::Linear { min: -8.0, max: 8.0 }
}

/// Value text with `digits` decimals (never "-0.0": a value that shows as zero has no sign).
/// A parameter's value → text and text → value conversions.
type TextConversions<T> = (Arc<dyn Fn(T) -> String + Send + Sync>, Arc<dyn Fn(&str) -> Option<T> + Send + Sync>);

fn float_text(digits: usize) -> TextConversions<f32> {
    (
        Arc::new(move |v| {
            let text = format!("{v:.digits$}");
            match text.strip_prefix('-') {
                Some(rest) if rest.parse::<f32>() == Ok(0.0) => rest.to_string(),
                _ => text,
            }
        }),
        Arc::new(move |s| s.trim().parse::<f32>().ok()),
    )
}

/// A unit in the singular and the plural ("1 bar", "2 bars").
type Unit = Option<(&'static str, &'static str)>;

/// Value text with its unit; 0 shows as `zero` where the parameter gives it a meaning.
fn int_text(zero: Option<&'static str>, unit: Unit) -> TextConversions<i32> {
    (
        Arc::new(move |v| match (zero, unit) {
            (Some(z), _) if v == 0 => z.to_string(),
            (_, Some((one, _))) if v.abs() == 1 => format!("{v} {one}"),
            (_, Some((_, many))) => format!("{v} {many}"),
            (_, None) => v.to_string(),
        }),
        Arc::new(move |s| {
            let s = s.trim();
            if zero.is_some_and(|z| s.eq_ignore_ascii_case(z)) {
                return Some(0);
            }
            let number = unit.map_or(s, |(one, many)| s.trim_end_matches(many).trim_end_matches(one));
            number.trim().parse::<i32>().ok()
        }),
    )
}

fn float(name: &str, default: f32, range: FloatRange, digits: usize, step: f32) -> FloatParam {
    let (v2s, s2v) = float_text(digits);
    FloatParam::new(name, default, range)
        .with_step_size(step)
        .with_smoother(SmoothingStyle::Linear(20.0))
        .with_value_to_string(v2s)
        .with_string_to_value(s2v)
}

/// A trigger parameter's value as the control it names: 0 off, 1–127 controller (CC) 1–127,
/// 128–255 key (MIDI note) 0–127.
pub fn trigger_of(value: i32) -> Option<Trigger> {
    match value {
        1..=127 => Some(Trigger::Controller(value as u8)),
        128..=255 => Some(Trigger::Key((value - 128) as u8)),
        _ => None,
    }
}

/// "Off", "CC 64", "Note 60 (C4)"; text typed in as "cc 20", "note 60" or "off".
fn trigger_text() -> TextConversions<i32> {
    (
        Arc::new(|v| match trigger_of(v) {
            None => "Off".into(),
            Some(Trigger::Controller(c)) => format!("CC {c}"),
            Some(Trigger::Key(k)) => format!("Note {k} ({})", pitch_name(k)),
        }),
        Arc::new(|s| {
            let s = s.trim().to_ascii_lowercase();
            let number = |rest: &str| rest.split_whitespace().next()?.parse::<i32>().ok();
            if s == "off" {
                Some(0)
            } else if let Some(rest) = s.strip_prefix("cc") {
                number(rest).filter(|c| (1..=127).contains(c))
            } else {
                number(s.strip_prefix("note")?).filter(|k| (0..=127).contains(k)).map(|k| k + 128)
            }
        }),
    )
}

/// The chord split: "Off" (0), or the MIDI note below which the player's notes are harmony,
/// by name ("C4") or number.
fn chord_split() -> IntParam {
    IntParam::new("Chord split", 0, IntRange::Linear { min: 0, max: 127 })
        .with_value_to_string(Arc::new(
            |v| if v == 0 { "Off".into() } else { format!("Below {}", pitch_name(v as u8)) },
        ))
        .with_string_to_value(Arc::new(|s| {
            let s = s.trim().to_ascii_lowercase();
            let s = s.strip_prefix("below").unwrap_or(&s).trim();
            if s == "off" {
                return Some(0);
            }
            pitch_of_name(s).map(i32::from)
        }))
}

/// The swing ratio (long : short) of a Swing parameter value: `None` for 0 (Follow), else
/// 1.0 (straight) for 1 up to 3.0 for 21, in tenths.
pub fn swing_ratio(value: i32) -> Option<f64> {
    (value > 0).then(|| 1.0 + (value.min(21) - 1) as f64 / 10.0)
}

/// Swing: "Follow", or a ratio from "1.0:1" (straight) to "3.0:1".
fn swing() -> IntParam {
    IntParam::new("Swing", 0, IntRange::Linear { min: 0, max: 21 })
        .with_value_to_string(Arc::new(|v| swing_ratio(v).map_or("Follow".into(), |r| format!("{r:.1}:1"))))
        .with_string_to_value(Arc::new(|s| {
            let s = s.trim().to_ascii_lowercase();
            if s == "follow" {
                return Some(0);
            }
            let ratio = s.trim_end_matches(":1").trim().parse::<f64>().ok()?;
            (1.0..=3.0).contains(&ratio).then(|| 1 + ((ratio - 1.0) * 10.0).round() as i32)
        }))
}

fn trigger(name: &str) -> IntParam {
    let (v2s, s2v) = trigger_text();
    IntParam::new(name, 0, IntRange::Linear { min: 0, max: 255 }).with_value_to_string(v2s).with_string_to_value(s2v)
}

fn int(name: &str, default: i32, min: i32, max: i32, zero: Option<&'static str>, unit: Unit) -> IntParam {
    let (v2s, s2v) = int_text(zero, unit);
    IntParam::new(name, default, IntRange::Linear { min, max }).with_value_to_string(v2s).with_string_to_value(s2v)
}

/// The Tempo parameter: 0 is "Host", else beats per minute (below 40 counts as 40).
fn tempo_param() -> IntParam {
    IntParam::new("Tempo", 0, IntRange::Linear { min: 0, max: MAX_TEMPO })
        .with_value_to_string(Arc::new(|v| if v == 0 { "Host".into() } else { format!("{} BPM", v.max(MIN_TEMPO)) }))
        .with_string_to_value(Arc::new(|s| {
            let s = s.trim();
            if s.eq_ignore_ascii_case("host") {
                return Some(0);
            }
            s.trim_end_matches("BPM")
                .trim_end_matches("bpm")
                .trim()
                .parse::<i32>()
                .ok()
                .map(|v| v.clamp(MIN_TEMPO, MAX_TEMPO))
        }))
}

/// The slowest and fastest tempo Continuo keeps of its own.
pub const MIN_TEMPO: i32 = 40;
pub const MAX_TEMPO: i32 = 240;

impl ContinuoParams {
    /// Continuo's own tempo, `None` for the host's.
    pub fn own_tempo(&self) -> Option<f64> {
        let v = self.tempo.value();
        (v > 0).then(|| v.clamp(MIN_TEMPO, MAX_TEMPO) as f64)
    }
}

fn switch(name: &str, default: bool) -> BoolParam {
    BoolParam::new(name, default)
        .with_value_to_string(Arc::new(|v| if v { "On".into() } else { "Off".into() }))
        .with_string_to_value(Arc::new(|s| match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "1" => Some(true),
            "off" | "false" | "0" => Some(false),
            _ => None,
        }))
}

impl Default for ContinuoParams {
    fn default() -> Self {
        ContinuoParams {
            model_path: Arc::default(),
            mode: EnumParam::new("Mode", ModeChoice::CallResponse),
            grid: EnumParam::new("Grid", GridChoice::Model),
            bypass: switch("Bypass", false).make_bypass(),
            temperature: float("Temperature", 1.0, temperature_range(), 2, 0.01),
            rest_bias: float("Rest bias", 0.0, rest_bias_range(), 1, 0.1),
            entropy: float("Entropy-adaptive", 0.0, FloatRange::Linear { min: 0.0, max: 1.0 }, 2, 0.01),
            memory: float("Memory", MEMORY_DEFAULT, FloatRange::Linear { min: 0.0, max: 1.0 }, 2, 0.01),
            develop: float("Develop", DEFAULT_DEVELOP, FloatRange::Linear { min: 0.0, max: 1.0 }, 2, 0.01),
            density: float("Density", 0.0, FloatRange::Linear { min: -1.0, max: 1.0 }, 2, 0.01),
            register_centre: int("Register centre", 66, 36, 96, None, None),
            register_width: int("Register width", 0, 0, 48, Some("Off"), Some(("semitone", "semitones"))),
            register_hard: switch("Register hard", false),
            leap: float("Step / leap", 0.0, FloatRange::Linear { min: -1.0, max: 1.0 }, 2, 0.01),
            repetition: float("Repetition", 0.0, FloatRange::Linear { min: -1.0, max: 1.0 }, 2, 0.01),
            scale: EnumParam::new("Scale lock", ScaleChoice::Off),
            chord_split: chord_split(),
            chord_channel: int("Chord channel", 0, 0, 16, Some("Off"), None),
            swing: swing(),
            humanise: float("Humanise", 0.0, FloatRange::Linear { min: 0.0, max: 1.0 }, 2, 0.01),
            follow_chords: float(
                "Follow chords",
                FOLLOW_CHORDS_DEFAULT,
                FloatRange::Linear { min: 0.0, max: 1.0 },
                2,
                0.01,
            ),
            answer_bars: int("Answer length", 2, 1, 16, None, Some(("bar", "bars"))),
            tempo: tempo_param(),
            midi_clock: switch("MIDI clock", true),
            metronome: EnumParam::new("Metronome", MetronomeChoice::UntilPlayed),
            gap_steps: int("Phrase-end gap", 8, 1, 64, None, Some(("step", "steps"))),
            pass_through: switch("Pass-through", true),
            follow_key: switch("Key follow", true),
            octave: int("Octave", 0, -3, 3, None, Some(("octave", "octaves"))),
            input_channel: int("Input channel", 0, 0, 16, Some("All"), None),
            output_channel: int("Output channel", 1, 1, 16, None, None),
            velocity: int("Velocity", 0, 0, 127, Some("Follow"), None),
            seed: int("Random seed", 0, 0, 9999, Some("New"), None),
            keep: switch("Keep", false),
            next_take: switch("Next take", false),
            save_phrases: switch("Save every phrase", true),
            answers: int("Answers per phrase", 1, 1, 4, None, None),
            voice: EnumParam::new("Voice", VoiceChoice::EPiano),
            program: IntParam::new("SoundFont instrument", 0, IntRange::Linear { min: 0, max: 127 })
                .with_value_to_string(Arc::new(crate::soundfont::program_text))
                .with_string_to_value(Arc::new(crate::soundfont::program_from_text)),
            soundfont_path: Arc::default(),
            level: FloatParam::new(
                "Voice level",
                util::db_to_gain(-6.0),
                FloatRange::Skewed {
                    min: util::db_to_gain(-48.0),
                    max: util::db_to_gain(6.0),
                    factor: FloatRange::gain_skew_factor(-48.0, 6.0),
                },
            )
            .with_smoother(SmoothingStyle::Logarithmic(20.0))
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
            .with_string_to_value(formatters::s2v_f32_gain_to_db()),
            own_notes: switch("Voice plays my notes", true),
            answer_trigger: trigger("Answer now control"),
            keep_trigger: trigger("Keep control"),
            learn: switch("Learn", false),
            learnt_from: Arc::default(),
            midi_map: MidiMap::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_learnable_parameter_is_the_parameter_with_its_id() {
        let p = ContinuoParams::default();
        let names: Vec<(String, String)> =
            p.param_map().into_iter().map(|(id, ptr, _)| (id, unsafe { ptr.name() }.to_string())).collect();
        for param in Learnable::ALL {
            let id = param.id();
            let name = names.iter().find(|(i, _)| i == id).map(|(_, n)| n.as_str());
            assert_eq!(name, Some(p.learnable(param).name()), "{id}");
            assert!((0.0..=1.0).contains(&p.learnable(param).host_value()), "{id}");
        }
    }

    #[test]
    fn trigger_values_show_as_controls_and_read_back() {
        let (show, read) = trigger_text();
        for (value, text) in [(0, "Off"), (64, "CC 64"), (188, "Note 60 (C4)"), (128, "Note 0 (C-1)")] {
            assert_eq!(show(value), text);
            assert_eq!(read(text), Some(value), "{text}");
        }
        assert_eq!(read("cc 0"), None);
        assert_eq!(read("note 128"), None);
        assert_eq!(trigger_of(20), Some(Trigger::Controller(20)));
        assert_eq!(trigger_of(255), Some(Trigger::Key(127)));
    }

    #[test]
    fn grids_are_whole_steps_per_beat() {
        assert_eq!(GridChoice::Model.steps_per_beat(4), 4);
        assert_eq!(GridChoice::HalfTime.steps_per_beat(4), 2);
        assert_eq!(GridChoice::DoubleTime.steps_per_beat(4), 8);
        assert_eq!(GridChoice::HalfTime.steps_per_beat(1), 1);
        assert_eq!(GridChoice::HalfTime.steps_per_beat(3), 3);
        assert_eq!(GridChoice::DoubleTime.steps_per_beat(8), 8);
    }

    #[test]
    fn the_model_and_soundfont_paths_are_saved_with_the_state() {
        let params = ContinuoParams::default();
        *params.model_path.write().unwrap() = "/models/mine.onnx".into();
        *params.soundfont_path.write().unwrap() = "/sf2/FluidR3_GM.sf2".into();
        let fields = params.serialize_fields();
        assert_eq!(fields.get("model").map(String::as_str), Some("\"/models/mine.onnx\""));
        let restored = ContinuoParams::default();
        restored.deserialize_fields(&fields);
        assert_eq!(*restored.model_path.read().unwrap(), "/models/mine.onnx");
        assert_eq!(*restored.soundfont_path.read().unwrap(), "/sf2/FluidR3_GM.sf2");
    }

    #[test]
    fn value_text_has_units_plurals_and_no_negative_zero() {
        let p = ContinuoParams::default();
        let text = |param: &IntParam, v: i32| param.normalized_value_to_string(param.preview_normalized(v), true);
        assert_eq!(text(&p.answer_bars, 1), "1 bar");
        assert_eq!(text(&p.answer_bars, 2), "2 bars");
        assert_eq!(text(&p.gap_steps, 1), "1 step");
        assert_eq!(text(&p.octave, -1), "-1 octave");
        assert_eq!(p.answer_bars.string_to_normalized_value("1 bar"), Some(p.answer_bars.preview_normalized(1)));
        let rest = p.rest_bias.normalized_value_to_string(p.rest_bias.preview_normalized(-0.01), true);
        assert_eq!(rest, "0.0");
    }

    #[test]
    fn every_parameter_text_round_trips() {
        let params = ContinuoParams::default();
        for (id, ptr, _) in params.param_map() {
            for i in 0..=20 {
                let normalized = i as f32 / 20.0;
                let text = unsafe { ptr.normalized_value_to_string(normalized, true) };
                let back = unsafe { ptr.string_to_normalized_value(&text) }
                    .unwrap_or_else(|| panic!("{id}: {text:?} does not parse"));
                let again = unsafe { ptr.normalized_value_to_string(back, true) };
                assert_eq!(text, again, "{id}: {normalized} -> {text:?} -> {back}");
            }
        }
    }
}
