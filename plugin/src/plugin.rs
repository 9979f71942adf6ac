//! The nice-plug shell: host transport and note events in, the engine's note events out,
//! and, in the audio layout that has an output, the built-in voice's sound. No model is
//! touched while the host only scans: the worker (and the model) start on activation.
//! `process` reads parameters and atomics and exchanges fixed-size messages.

use crate::click::{Bars, Click};
use crate::clock::{BlockTiming, HostTransport};
use crate::engine::{Engine, Mode, Settings};
use crate::events::{EventSink, NoteEvent, OUTPUT_EVENTS};
use crate::handle::Shared;
use crate::harmony_input::HarmonyInput;
use crate::link::{Command, Link};
use crate::midi_clock::{ClockMessage, MidiClock};
use crate::midi_learn::{Controlled, Learnable};
use crate::params::{swing_ratio, trigger_of, ContinuoParams};
use crate::swing::Groove;
use crate::synth::Synth;
use crate::worker::Worker;
use nice_plug::midi::{Channel, Key, MidiResult, VoiceID};
use nice_plug::prelude::NoteEvent as PlugNote;
use nice_plug::prelude::*;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Input events kept per block; more are dropped (never allocated for), except note-offs,
/// which have room of their own.
const INPUT_CAPACITY: usize = 1024;

/// The standalone is quitting (SIGINT, SIGTERM): the next block ends every sounding note
/// and sets `EXIT_FLUSHED`; nothing more is played.
pub static EXIT_REQUESTED: AtomicBool = AtomicBool::new(false);
pub static EXIT_FLUSHED: AtomicBool = AtomicBool::new(false);

pub struct Continuo {
    params: Arc<ContinuoParams>,
    link: Arc<Link>,
    engine: Engine,
    sink: EventSink,
    input: EventSink,
    /// The built-in voice and the metronome (sound only where the layout has an audio
    /// output).
    synth: Synth,
    click: Click,
    /// An external MIDI clock on the input, followed once heard.
    midi_clock: MidiClock,
    /// What the player's mapped controllers set (MIDI learn).
    controlled: Controlled,
    worker: Option<Worker>,
    /// What the worker shares with the editor; created before the worker so the editor can
    /// open (and a model can be chosen) before the plugin is activated.
    shared: Arc<Shared>,
    sample_rate: f32,
    /// End every note at the start of the next block (after a deactivation).
    flush: bool,
    /// The previous block was bypassed.
    bypassed: bool,
    /// The Keep and Learn parameters were on in the previous block (each acts on its rising
    /// edge, as Next take does with `stepping`).
    keeping: bool,
    learning: bool,
    /// The Next take parameter was on in the previous block.
    stepping: bool,
}

/// Where the default model is looked for: `$CONTINUO_MODEL`; Continuo's per-user
/// `models/` (where `cargo xtask install` puts it); `models/` beside the plugin or the
/// standalone (the Windows zip unpacked); this checkout's `models/`.
pub fn default_model() -> PathBuf {
    if let Some(p) = std::env::var_os("CONTINUO_MODEL") {
        return PathBuf::from(p);
    }
    let name = "folk-melody.onnx";
    let installed = continuo_core::inference::data_dir().map(|d| d.join("models").join(name));
    let beside = continuo_core::inference::module_dir().map(|d| d.join("models").join(name));
    if let Some(found) = installed.into_iter().chain(beside).find(|p| p.is_file()) {
        return found;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models").join(name)
}

impl Default for Continuo {
    fn default() -> Self {
        let link = Link::new();
        let fonts = link.fonts.clone();
        let params = Arc::new(ContinuoParams::default());
        // The model is loaded by the worker, which starts on activation: the saved model
        // path, or the default model.
        let shared = Shared::new(
            params.model_path.clone(),
            params.learnt_from.clone(),
            params.soundfont_path.clone(),
            default_model(),
        );
        Continuo {
            params,
            engine: Engine::new(link.clone()),
            link,
            sink: EventSink::with_capacity(OUTPUT_EVENTS),
            input: EventSink::with_capacity(INPUT_CAPACITY),
            synth: Synth::new(48_000.0).with_font(fonts),
            click: Click::new(48_000.0),
            midi_clock: MidiClock::default(),
            controlled: Controlled::default(),
            worker: None,
            shared,
            sample_rate: 48_000.0,
            flush: false,
            bypassed: false,
            keeping: false,
            learning: false,
            stepping: false,
        }
    }
}

impl Continuo {
    /// The block's output events to the host. A full host buffer drops an event (the host
    /// decides its size).
    /// The block's events to the host; what its buffer cannot take is counted as dropped
    /// (the editor's health line shows it).
    fn send(&self, context: &mut impl ProcessContext<Self>) {
        let mut refused = 0u64;
        for &e in self.sink.events() {
            if let Some(event) = to_host(e) {
                refused += context.try_send_event(event).is_err() as u64;
            }
        }
        if refused > 0 {
            self.link.health.dropped_events.fetch_add(refused, Ordering::Relaxed);
        }
    }

    /// What the takes need from this block: the tempo, the answer's velocity and octave,
    /// whether every phrase is saved, a take to keep on the Keep parameter's rising edge, the
    /// next take chosen on Next take's, and a learning to start on the Learn parameter's.
    fn follow_takes(&mut self, host: &HostTransport) {
        let p = &self.params;
        if let Some(bpm) = host.tempo.filter(|t| t.is_finite() && *t > 0.0) {
            self.link.bpm.store(bpm as f32, Ordering::Relaxed);
        }
        self.link.answer_velocity.store(p.velocity.value() as u32, Ordering::Relaxed);
        self.link.octave.store(p.octave.value(), Ordering::Relaxed);
        self.link.save_phrases.store(p.save_phrases.value(), Ordering::Relaxed);
        self.link.answers_per_phrase.store(p.answers.value().clamp(1, 4) as u32, Ordering::Relaxed);
        let keep = p.keep.value();
        if keep && !self.keeping {
            self.link.send(Command::Keep);
        }
        self.keeping = keep;
        let next = p.next_take.value();
        if next && !self.stepping {
            self.link.send(Command::Choose(1));
        }
        self.stepping = next;
        let learn = p.learn.value();
        if learn && !self.learning {
            self.link.send(Command::Learn);
        }
        self.learning = learn;
    }

    /// The player's controllers this block: a controller being learnt is mapped, a mapped one
    /// sets its parameter's value (until the host moves the parameter).
    fn follow_controllers(&mut self) {
        let p = &self.params;
        let channel = p.input_channel.value();
        let learning = p.midi_map.armed().is_some();
        for e in self.input.events() {
            let NoteEvent::Midi { bytes: [status, cc, value], .. } = *e else { continue };
            let ch = status & 0x0f;
            if channel != 0 && channel as u8 - 1 != ch {
                continue;
            }
            if status & 0xf0 == 0xc0 {
                // A program change: the editor recalls that preset.
                let heard = (self.link.program.load(Ordering::Relaxed) >> 7).wrapping_add(1);
                self.link.program.store(heard << 7 | (cc & 0x7f) as u32, Ordering::Release);
                self.link.repaint.request_repaint();
                continue;
            }
            if status & 0xf0 != 0xb0 {
                continue;
            }
            if let Some(param) = p.midi_map.hear(ch, cc) {
                self.controlled.set(param, value, p.learnable(param).host_value());
            }
        }
        if learning && p.midi_map.armed().is_none() {
            // The editor shows the controller just learnt.
            self.link.repaint.request_repaint();
        }
    }

    /// The parameters a controller may drive (MIDI learn), this block: the answer's length
    /// and gap into `settings`, the sampling and steering for the worker.
    fn follow_parameters(&mut self, steps: u32, settings: &mut Settings) {
        let (p, c, s) = (&self.params, &mut self.controlled, &self.link.sampling);
        settings.answer_bars = c.int(Learnable::AnswerBars, &p.answer_bars).max(1) as u32;
        settings.gap_steps = c.int(Learnable::Gap, &p.gap_steps).max(1) as u32;
        let sampling = [
            (Learnable::Temperature, &p.temperature, &s.temperature),
            (Learnable::RestBias, &p.rest_bias, &s.rest_bias),
            (Learnable::Entropy, &p.entropy, &s.entropy_adaptive),
            (Learnable::Memory, &p.memory, &s.memory),
            (Learnable::Develop, &p.develop, &s.develop),
            (Learnable::Density, &p.density, &s.density),
            (Learnable::Leap, &p.leap, &s.leap),
            (Learnable::Repetition, &p.repetition, &s.repetition),
            (Learnable::FollowChords, &p.follow_chords, &s.follow_chords),
        ];
        for (learnable, param, shared) in sampling {
            shared.store(c.float(learnable, param, steps), Ordering::Relaxed);
        }
        let centre = c.int(Learnable::RegisterCentre, &p.register_centre);
        let width = c.int(Learnable::RegisterWidth, &p.register_width);
        s.register_low.store(centre - width / 2, Ordering::Relaxed);
        s.register_high.store(if width == 0 { i32::MIN } else { centre + (width + 1) / 2 }, Ordering::Relaxed);
        s.register_hard.store(p.register_hard.value(), Ordering::Relaxed);
        s.scale.store(p.scale.value() as u32, Ordering::Relaxed);
    }

    /// The block's transport: the host's, or a MIDI clock's once one is heard (if followed),
    /// or Continuo's own tempo.
    fn transport(&mut self, t: &Transport) -> HostTransport {
        let host = HostTransport {
            playing: t.playing,
            tempo: t.tempo,
            beat: t.pos_beats(),
            sample: t.pos_samples,
            loop_beats: t.loop_range_beats(),
            exact: false,
        };
        let followed = self.midi_clock.transport(host, self.sample_rate as f64);
        let host = if self.params.midi_clock.value() { followed } else { host };
        self.link.midi_clock.store(self.clock_leads(), Ordering::Relaxed);
        host.with_own_tempo(self.params.own_tempo())
    }

    /// A MIDI clock leads the time (heard, followed, and no tempo of Continuo's own).
    fn clock_leads(&self) -> bool {
        self.midi_clock.leads() && self.params.midi_clock.value() && self.params.own_tempo().is_none()
    }

    /// The metronome's clicks on the block's beats, at the voice's level (until the player's
    /// first note, by default).
    fn metronome(&mut self, buffer: &mut Buffer, timing: &BlockTiming, settings: &Settings) {
        if self.input.events().iter().any(|e| matches!(e, NoteEvent::On { .. })) {
            self.click.heard_the_player();
        }
        let [left, right, ..] = buffer.as_slice() else { return };
        if !self.click.clicks(self.params.metronome.value().into()) {
            return;
        }
        let spb = settings.steps_per_beat.max(1);
        let bars = Bars {
            downbeat_step: settings.downbeat_step,
            bar_steps: (settings.beats_per_bar * spb as f64).round() as i64,
            steps_per_beat: spb,
        };
        self.click.render(timing, bars, self.params.level.value(), left, right);
    }

    /// The built-in voice: the answer's notes, and the player's own if asked, rendered into
    /// the block's first two channels (if the layout has them).
    fn sound(&mut self, buffer: &mut Buffer, settings: &Settings) {
        let [left, right, ..] = buffer.as_slice() else { return };
        let Some(patch) = self.params.voice.value().patch() else {
            self.synth.release_all();
            self.synth.render(left, right);
            return;
        };
        self.synth.patch = patch;
        self.synth.program = self.params.program.value() as u8;
        self.synth.gain = self.controlled.float(Learnable::Level, &self.params.level, left.len() as u32);
        for e in self.sink.own_events() {
            self.synth.queue(e);
        }
        if self.params.own_notes.value() {
            let control =
                |e: NoteEvent| [settings.answer_now, settings.keep].iter().flatten().any(|t| t.pressed_by(e).is_some());
            for &e in self.input.events().iter().filter(|&&e| !control(e)) {
                self.synth.queue(e);
            }
        }
        self.synth.render(left, right);
        self.link.health.lost.fetch_add(self.synth.take_dropped() as u64, Ordering::Relaxed);
    }

    fn settings(&self, transport: &Transport) -> Settings {
        let p = &self.params;
        let model_grid = self.link.model_steps_per_beat.load(Ordering::Relaxed);
        let beats_per_bar = match (transport.time_sig_numerator, transport.time_sig_denominator) {
            (Some(n), Some(d)) if n > 0 && d > 0 => n as f64 * 4.0 / d as f64,
            _ => 4.0,
        };
        let steps_per_beat = p.grid.value().steps_per_beat(model_grid);
        // The host's bar start, as a step of the engine's count (which follows the host's
        // beats; after a loop wrap of whole bars it still falls on a bar line).
        let downbeat_step = transport
            .bar_start_pos_beats()
            .filter(|b| b.is_finite() && b.abs() < 1e9)
            .map_or(0, |b| (b * steps_per_beat as f64).round() as i64);
        Settings {
            mode: Mode::from(p.mode.value()),
            steps_per_beat,
            beats_per_bar,
            downbeat_step,
            answer_bars: p.answer_bars.value() as u32,
            gap_steps: p.gap_steps.value() as u32,
            pass_through: p.pass_through.value(),
            input_channel: match p.input_channel.value() {
                0 => None,
                c => Some((c - 1) as u8),
            },
            output_channel: (p.output_channel.value() - 1).clamp(0, 15) as u8,
            velocity: match p.velocity.value() {
                0 => None,
                v => Some(v as u8),
            },
            octave: p.octave.value(),
            seed: p.seed.value() as u64,
            follow_key: p.follow_key.value(),
            answer_now: trigger_of(p.answer_trigger.value()),
            keep: trigger_of(p.keep_trigger.value()),
            harmony: HarmonyInput {
                split: (1..=127).contains(&p.chord_split.value()).then(|| p.chord_split.value() as u8),
                channel: (1..=16).contains(&p.chord_channel.value()).then(|| (p.chord_channel.value() - 1) as u8),
            },
            swing: swing_ratio(p.swing.value()).map(Groove::eighths),
            humanise: p.humanise.value(),
        }
    }
}

impl Plugin for Continuo {
    const NAME: &'static str = "Continuo";
    const VENDOR: &'static str = "Continuo";
    // No public home or contact address exists yet: empty rather than a placeholder.
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // A note effect: MIDI in, MIDI out, and no audio in the first (default) layout, so hosts
    // route the MIDI to their own instruments; the second adds a stereo output with the
    // built-in voice (the standalone chooses it). CLAP and VST3 say the same.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            names: PortNames { layout: Some("MIDI only"), ..PortNames::const_default() },
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_output_channels: NonZeroU32::new(2),
            // No name of its own for the output: nice-plug 0.4.2 names a main output after
            // the main input's name (`main_output_name`), so it is "Output" everywhere.
            names: PortNames { layout: Some("With the built-in voice"), ..PortNames::const_default() },
            ..AudioIOLayout::const_default()
        },
    ];
    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;
    /// The host's events nice-plug's wrapper holds for a block without allocating (its
    /// default, 1,024, allocated on the audio thread in the hostile-MIDI test's blocks of up
    /// to 10,000 events).
    const INPUT_EVENT_CAPACITY: usize = 16_384;

    /// A saved state's values within their parameters' ranges before nice-plug applies them.
    fn filter_state(state: &mut PluginState) {
        crate::saved_state::within_ranges(state);
    }

    type Editor = nice_plug_egui::EguiEditor<crate::editor::App>;
    type SysExMessage = ClockMessage;
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        crate::editor::editor(self.params.clone(), self.link.clone(), self.shared.clone())
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.sample_rate = buffer_config.sample_rate;
        self.synth.set_sample_rate(buffer_config.sample_rate);
        self.click.set_sample_rate(buffer_config.sample_rate);
        // Keep and Learn act on a rising edge: a project saved with one on does not act
        // when it is opened.
        self.keeping = self.params.keep.value();
        self.stepping = self.params.next_take.value();
        self.learning = self.params.learn.value();
        if self.worker.is_none() {
            // Without a worker there is no answer, but the player's notes still pass through,
            // and the editor says why.
            match Worker::start(self.link.clone(), self.shared.clone()) {
                Ok(worker) => self.worker = Some(worker),
                Err(e) => self.shared.fail(format!("the inference thread could not start ({e}): notes pass through")),
            }
        }
        true
    }

    fn reset(&mut self) {
        self.flush = true;
        self.synth.release_all();
    }

    fn deactivate(&mut self) {
        self.flush = true;
        // A learning goes on: hosts deactivate to change the buffer size. It stops when the
        // plugin closes (`Learner`'s drop).
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        for channel in buffer.as_slice() {
            channel.fill(0.0);
        }
        let len = buffer.samples();
        // The transport from what was heard before this block; then the block's events.
        let host = self.transport(context.transport());
        let mut settings = self.settings(context.transport());
        if self.clock_leads() {
            // A MIDI clock counts from the song's start, a bar line.
            settings.downbeat_step = 0;
        }
        self.input.clear();
        while let Some(event) = context.next_event() {
            match event {
                PlugNote::MidiSysEx { timing, message } => self.midi_clock.receive(message, timing),
                event => {
                    if let Some(e) = from_host(event) {
                        self.input.push(e);
                    }
                }
            }
        }
        self.midi_clock.end_block(len);
        self.follow_controllers();
        self.follow_parameters(len as u32, &mut settings);
        self.follow_takes(&host);
        self.sink.clear();
        if EXIT_REQUESTED.load(Ordering::Acquire) {
            if !EXIT_FLUSHED.load(Ordering::Acquire) {
                self.engine.release_everything(0, &mut self.sink);
                self.send(context);
                EXIT_FLUSHED.store(true, Ordering::Release);
            }
            return ProcessStatus::Normal;
        }
        let bypass = self.params.bypass.value();
        if std::mem::take(&mut self.flush) {
            self.engine.reset(&mut self.sink);
        } else if bypass && !self.bypassed {
            // The releases of keys and pedal held now pass by the engine while bypassed.
            self.engine.let_go(&mut self.sink);
            // Bypassed, nothing is answered: the editor says so.
            self.link.set_answering(false);
        }
        self.bypassed = bypass;
        let timing = if bypass {
            // Bypassed: the player's notes pass unchanged, nothing is answered.
            for &e in self.input.events() {
                self.sink.push_passed(e);
            }
            None
        } else {
            Some(self.engine.process(
                host,
                self.sample_rate as f64,
                len,
                self.input.events(),
                &settings,
                &mut self.sink,
            ))
        };
        let dropped = self.input.take_dropped() + self.sink.take_dropped();
        if dropped > 0 {
            self.link.health.dropped_events.fetch_add(dropped as u64, Ordering::Relaxed);
        }
        self.send(context);
        self.sound(buffer, &settings);
        if let Some(timing) = timing {
            self.metronome(buffer, &timing, &settings);
        }
        ProcessStatus::Normal
    }
}

/// A host's event as the engine takes it: notes, and every other channel message as MIDI
/// bytes (passed through). Note expressions and the MIDI clock are left out.
fn from_host(event: PlugNote<ClockMessage>) -> Option<NoteEvent> {
    Some(match event {
        PlugNote::NoteOn { timing, channel, key: Key::Number(pitch), velocity, .. } => NoteEvent::On {
            sample: timing as usize,
            channel: channel.number().unwrap_or(0),
            pitch,
            velocity: (velocity * 127.0).round().clamp(1.0, 127.0) as u8,
        },
        PlugNote::NoteOff { timing, channel, key: Key::Number(pitch), .. } => {
            NoteEvent::Off { sample: timing as usize, channel: channel.number().unwrap_or(0), pitch }
        }
        PlugNote::NoteOn { .. } | PlugNote::NoteOff { .. } => return None,
        other => match other.as_midi() {
            Some(MidiResult::Basic(bytes)) => NoteEvent::Midi { sample: other.timing() as usize, bytes },
            _ => return None,
        },
    })
}

/// An engine event as the host takes it.
fn to_host(event: NoteEvent) -> Option<PlugNote<ClockMessage>> {
    Some(match event {
        NoteEvent::On { sample, channel, pitch, velocity } => PlugNote::NoteOn {
            timing: sample as u32,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel),
            key: Key::Number(pitch),
            velocity: velocity as f32 / 127.0,
        },
        NoteEvent::Off { sample, channel, pitch } => PlugNote::NoteOff {
            timing: sample as u32,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel),
            key: Key::Number(pitch),
            velocity: 0.0,
        },
        NoteEvent::Midi { sample, bytes } => return PlugNote::from_midi(sample as u32, &bytes).ok(),
    })
}

impl ClapPlugin for Continuo {
    const CLAP_ID: &'static str = "org.continuo.continuo";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("Continues what you play, in time, with an LSTM");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::NoteEffect, ClapFeature::Synthesizer, ClapFeature::Utility];
}

impl Vst3Plugin for Continuo {
    const VST3_CLASS_ID: [u8; 16] = *b"ContinuoLSTMv001";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Tools, Vst3SubCategory::Synth];
}
