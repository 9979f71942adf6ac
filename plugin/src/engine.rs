//! The audio thread's whole job for one block, as a plain function of plain data: the
//! host's transport, the sample rate, the player's notes and the settings in; note events
//! out, each on the exact sample of its grid step. Three modes:
//! - call & response: a phrase ends after a gap with nothing held, the worker is asked to
//!   continue it, and its steps are played as they arrive; the player starting a new phrase
//!   cuts the answer short;
//! - continuous: from the end of the first phrase on, the answer never ends; the player's
//!   notes go to the worker, which conditions the continuation on them and on itself;
//! - loop: the last answer (a take of `answer_bars` bars, or what was played of it, filled up
//!   to whole bars) repeats from each bar line; a new phrase played over it is answered, and
//!   that answer loops next. Until there is an answer, it is call & response.
//!
//! On a transport jump, start or stop, a reset, a change of mode or grid, every sounding
//! note ends. No allocation, no lock, no model call: the worker is reached through `Link`'s
//! queues and atomics.

use crate::capture::{Capture, Phrase};
use crate::clock::{BlockTiming, Clock, HostTransport};
use crate::events::{EventSink, NoteEvent, StepToken, Trigger};
use crate::feel::{Accents, Feel, Humanise};
use crate::harmony_input::{HarmonyInput, HeldChord, LateChord};
use crate::link::{Answered, Command, Heard, Link, LoopStep, Request, TAKE_CAPACITY};
use crate::swing::{Groove, Swing, SwingMeter, TripletMeter, Unit};
use crate::voices::Voices;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Steps between the end of a phrase and the first answered step: time for the worker to
/// prime the model.
pub const ANSWER_LEAD: i64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answer each phrase with `answer_bars` bars, then listen again.
    #[default]
    CallResponse,
    /// Keep answering from the end of the first phrase on, with the player.
    Continuous,
    /// Repeat the last answer from each bar line (call & response until there is one).
    Loop,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    /// The grid: the model's, or half or double its speed.
    pub steps_per_beat: u32,
    pub beats_per_bar: f64,
    /// The host's bar lines: a step (of the engine's count) that is a downbeat (0 when the
    /// host does not say where its bars start).
    pub downbeat_step: i64,
    /// Answer length in bars.
    pub answer_bars: u32,
    /// Steps without an onset that end a phrase.
    pub gap_steps: u32,
    pub pass_through: bool,
    /// Listen only to this channel (0-based), or to all.
    pub input_channel: Option<u8>,
    pub output_channel: u8,
    /// Fixed velocity, or `None` to follow the player.
    pub velocity: Option<u8>,
    /// Octaves to shift the answer by.
    pub octave: i32,
    /// 0: a fresh random seed per answer.
    pub seed: u64,
    /// Answer in the player's key (the phrase goes into the model's key frame and the
    /// answer comes back); off: the answer stays in the model's frame.
    pub follow_key: bool,
    /// The player's controls for "answer now" (end the phrase at once) and "keep" (the
    /// last phrase and its answer); their events are not music (not heard, not passed on).
    pub answer_now: Option<Trigger>,
    pub keep: Option<Trigger>,
    /// Which notes are the player's harmony (a chord split, a chord channel): they make the
    /// chord the answer follows and are never part of a phrase.
    pub harmony: HarmonyInput,
    /// The answer's swing, fixed, or `None` to follow the player's ([`crate::swing`]).
    pub swing: Option<Groove>,
    /// 0..=1: how much the answer's timing and velocity vary ([`crate::feel::Humanise`]).
    pub humanise: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::CallResponse,
            steps_per_beat: 4,
            beats_per_bar: 4.0,
            downbeat_step: 0,
            answer_bars: 2,
            gap_steps: 8,
            pass_through: true,
            input_channel: None,
            output_channel: 0,
            velocity: None,
            octave: 0,
            seed: 0,
            follow_key: true,
            answer_now: None,
            keep: None,
            harmony: HarmonyInput::default(),
            swing: None,
            humanise: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Listening,
    /// Playing answered steps `start .. end`.
    Answering {
        start: i64,
        end: i64,
    },
    /// Playing answered steps from `start` on (continuous mode).
    Continuing {
        start: i64,
    },
    /// Repeating the last take from `start`.
    Looping {
        start: i64,
    },
}

impl Status {
    /// Steps are being answered by the worker.
    pub fn answering(&self) -> bool {
        matches!(self, Status::Answering { .. } | Status::Continuing { .. })
    }
}

/// A player's control (a key or a controller, [`Trigger`]) that the engine acts on instead
/// of playing it.
#[derive(Debug, Clone, Copy)]
enum Control {
    /// End the phrase now and answer it.
    AnswerNow,
    /// Keep the last phrase and its answer.
    Keep,
}

/// Which controls are held down.
#[derive(Debug, Default)]
struct Held {
    answer_now: bool,
    keep: bool,
}

impl Held {
    fn of(&mut self, control: Control) -> &mut bool {
        match control {
            Control::AnswerNow => &mut self.answer_now,
            Control::Keep => &mut self.keep,
        }
    }
}

pub struct Engine {
    link: Arc<Link>,
    clock: Clock,
    capture: Capture,
    voices: Voices,
    status: Status,
    /// An answered step taken from the queue but not yet due.
    pending: Option<Answered>,
    phrase: Phrase,
    answers: u64,
    /// The answer being recorded, and the last whole one (what the loop mode plays). Both
    /// have `TAKE_CAPACITY` reserved and never grow past it.
    take: Vec<StepToken>,
    last_take: Vec<StepToken>,
    take_steps: usize,
    /// A take the worker sends for loop mode, as it arrives (`TAKE_CAPACITY` reserved).
    incoming: Vec<StepToken>,
    /// The mode and grid of the previous block: a change ends every note.
    previous: Option<(Mode, u32)>,
    /// The input channel of the previous block: a change lets go of the keys and the pedal
    /// held on the old one, whose releases are no longer heard.
    listened: Option<Option<u8>>,
    /// Drawn from the OS at start: answers with a random seed of 0 differ between launches.
    session_seed: u64,
    /// Whether the "answer now" and "keep" controls are held (each acts when pressed).
    held: Held,
    /// The player's harmony keys held, and the answer steps chosen before the worker heard them.
    chord: HeldChord,
    late_chord: LateChord,
    /// The grid's swing (the player's, latched when a phrase ends, or fixed), and the meter
    /// that measures the player's.
    swing: Swing,
    meter: SwingMeter,
    /// Whether the phrase being played is in triplets (for the editor).
    triplets: TripletMeter,
    /// The player's velocity by place in the bar, which the answer's follows.
    accents: Accents,
    /// The last step played, while the music runs on without a jump.
    last_step: Option<i64>,
}

impl Drop for Engine {
    /// An engine that goes away abandons its answer, so the worker is free for the next.
    fn drop(&mut self) {
        if self.status.answering() {
            self.link.cancel();
        }
    }
}

/// A buffer of `capacity` whose pages are already touched: the audio thread never takes a
/// page fault on first use.
fn prefaulted<T: Clone>(capacity: usize, fill: T) -> Vec<T> {
    let mut v = vec![fill; capacity];
    v.clear();
    v
}

/// In continuous mode, a note the player finished goes to the worker. A full queue drops
/// it (the worker is far behind anyway), and the health line counts it.
fn tell_worker(link: &Link, status: Status, note: crate::capture::HeardNote) {
    if let Status::Continuing { .. } = status {
        if link.heard.push(Heard { generation: link.current_generation(), note }).is_err() {
            link.health.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Engine {
    pub fn new(link: Arc<Link>) -> Engine {
        Engine {
            link,
            clock: Clock::new(),
            capture: Capture::default(),
            voices: Voices::default(),
            status: Status::Listening,
            pending: None,
            phrase: Phrase::default(),
            answers: 0,
            take: prefaulted(TAKE_CAPACITY, StepToken::Rest),
            last_take: prefaulted(TAKE_CAPACITY, StepToken::Rest),
            take_steps: 0,
            incoming: prefaulted(TAKE_CAPACITY, StepToken::Rest),
            previous: None,
            listened: None,
            session_seed: {
                use std::hash::{BuildHasher, Hasher};
                std::collections::hash_map::RandomState::new().build_hasher().finish()
            },
            held: Held::default(),
            chord: HeldChord::default(),
            late_chord: LateChord::default(),
            swing: Swing::default(),
            meter: SwingMeter::default(),
            triplets: TripletMeter::default(),
            accents: Accents::default(),
            last_step: None,
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// End everything: sounding notes get their note-offs at `sample`, the answer in
    /// progress is abandoned, listening starts afresh.
    pub fn stop_all(&mut self, sample: usize, out: &mut EventSink) {
        self.end_answer(sample, out);
        self.capture.clear();
    }

    /// Quitting: end the answer and every note of the player's that passed through, so that
    /// nothing sounds on after the app has gone.
    pub fn release_everything(&mut self, sample: usize, out: &mut EventSink) {
        self.stop_all(sample, out);
        self.voices.release_player(sample, out);
    }

    /// End the answer: its sounding notes get their note-offs at `sample` and the worker
    /// abandons it. A phrase the player is playing is kept.
    fn end_answer(&mut self, sample: usize, out: &mut EventSink) {
        if let Status::Continuing { .. } = self.status {
            // What the player played along went to the worker as part of this answer.
            self.capture.start_new_phrase();
        }
        self.voices.all_off(sample, out);
        if self.status.answering() {
            self.link.cancel();
        }
        self.finish_take();
        self.status = Status::Listening;
        self.pending = None;
    }

    /// Forget the clock too, the pedal, and the keys the player held (activation, reset):
    /// nothing held before stays held after.
    pub fn reset(&mut self, out: &mut EventSink) {
        self.let_go(out);
        self.clock.reset();
        self.swing = Swing::default();
        self.meter.clear();
        self.accents.clear();
        self.last_step = None;
    }

    /// Stop everything and forget the keys and the pedal the player held: their releases
    /// will not be heard (the plugin bypassed, the input channel changed), so no phrase is
    /// held open by them.
    pub fn let_go(&mut self, out: &mut EventSink) {
        self.stop_all(0, out);
        self.capture.all_notes_off(0, |_| {});
        self.capture.clear();
        self.voices.forget_player();
        self.hear_chord(None);
    }

    /// A harmony note (or, with `None`, every harmony key let go): the chord the worker
    /// follows changes.
    fn hear_chord(&mut self, event: Option<&NoteEvent>) {
        match event {
            Some(event) => self.chord.hear(event),
            None => self.chord.clear(),
        }
        let word = self.chord.word();
        if self.link.chord.swap(word, Ordering::Relaxed) != word {
            self.late_chord.changed(self.link.now_step.load(Ordering::Acquire).saturating_add(crate::link::AHEAD));
            self.link.repaint.request_repaint();
        }
    }

    fn velocity(&self, settings: &Settings) -> u8 {
        settings.velocity.unwrap_or_else(|| self.capture.velocity())
    }

    /// One block. `input` holds the player's notes, sorted by sample.
    pub fn process(
        &mut self,
        host: HostTransport,
        sample_rate: f64,
        len: usize,
        input: &[NoteEvent],
        settings: &Settings,
        out: &mut EventSink,
    ) -> BlockTiming {
        let spb = settings.steps_per_beat.max(1);
        self.follow_loop_take();
        let timing = self.clock.block(host, sample_rate, len, spb);
        let changed = self.previous.is_some_and(|p| p != (settings.mode, spb));
        self.previous = Some((settings.mode, spb));
        if self.listened.is_some_and(|c| c != settings.input_channel) {
            self.let_go(out);
        }
        self.listened = Some(settings.input_channel);
        if timing.moved || changed {
            self.stop_all(0, out);
        } else if timing.discontinuity {
            self.end_answer(0, out);
        }
        if timing.moved || changed || timing.discontinuity {
            self.last_step = None;
        }
        self.follow_fixed_swing(&timing, settings);
        let mut next_input = 0;
        let feel = self.feel(settings);
        // Humanise changed between blocks may bring a step played in the last block into
        // this one: it is not played again.
        let last_step = self.last_step;
        for (step, sample) in timing.steps(spb, feel).filter(|(step, _)| last_step.is_none_or(|l| *step > l)) {
            self.last_step = Some(step);
            // What the player plays on a step's sample comes first: a new phrase cuts the answer there.
            while next_input < input.len() && input[next_input].sample() <= sample {
                self.hear(&timing, input[next_input], settings, out);
                next_input += 1;
            }
            self.step(step, sample, settings, out);
        }
        for &event in &input[next_input..] {
            self.hear(&timing, event, settings, out);
        }
        self.link.set_answering(self.status != Status::Listening);
        // The worker may sample up to AHEAD steps past the end of the next block (assumed as
        // long as this one), so every step of that block is ready when it is played.
        let step_samples = timing.samples_per_beat() / spb as f64;
        let last = (timing.end_beat() * spb as f64).floor() as i64;
        let horizon = last + (len as f64 / step_samples).ceil() as i64;
        self.link.now_step.store(horizon, Ordering::Release);
        self.link.play_step.store(last, Ordering::Relaxed);
        if self.status.answering() {
            // The worker may be waiting for the music to move on.
            self.link.wake();
        }
        timing
    }

    /// Where the steps sound: on the swing's grid, humanised (reproducibly: from the random
    /// seed, or the session's).
    fn feel(&self, settings: &Settings) -> Feel {
        let seed = if settings.seed == 0 { self.session_seed } else { settings.seed };
        Feel { swing: self.swing, humanise: Humanise { amount: settings.humanise, seed } }
    }

    /// Steps in a bar of the host's metre (at least one).
    fn bar_steps(settings: &Settings) -> i64 {
        (settings.beats_per_bar * settings.steps_per_beat as f64).round().max(1.0) as i64
    }

    /// Steps after the host's last bar line.
    fn bar_position(step: i64, settings: &Settings) -> usize {
        (step - settings.downbeat_step).rem_euclid(Self::bar_steps(settings)) as usize
    }

    /// A fixed swing that changed takes effect from the next whole beat.
    fn follow_fixed_swing(&mut self, timing: &BlockTiming, settings: &Settings) {
        if let Some(groove) = settings.swing.filter(|&g| g != self.swing.groove()) {
            self.swing.change(groove, timing.start_beat);
        }
        let groove = self.swing.groove();
        self.link.swing.store(groove.position as f32, Ordering::Relaxed);
        self.link.swing_sixteenths.store(groove.unit == Unit::Sixteenths, Ordering::Relaxed);
    }

    /// Where the player's note falls on the grid: straightened by the swing heard so far (or
    /// the fixed one), then rounded to the nearest step.
    fn step_of(&self, beat: f64, settings: &Settings) -> i64 {
        let groove = settings.swing.or(self.meter.groove()).unwrap_or(Groove::STRAIGHT);
        (Swing::steady(groove).straightened(beat) * settings.steps_per_beat as f64).round() as i64
    }

    fn hear(&mut self, timing: &BlockTiming, event: NoteEvent, settings: &Settings, out: &mut EventSink) {
        let listened = settings.input_channel.is_none_or(|c| c == event.channel());
        let beat = timing.beat_of(event.sample());
        let step = self.step_of(beat, settings);
        if listened && self.control(event, step, settings) {
            return;
        }
        let harmony = settings.harmony.takes(&event) && (listened || settings.harmony.channel == Some(event.channel()));
        if let (true, false, NoteEvent::On { velocity, .. }) = (listened, harmony, event) {
            // A melody note: the player's feel (swing, triplets, accents).
            self.meter.hear(beat);
            self.triplets.hear(beat);
            self.accents.hear(Self::bar_position(step, settings), velocity);
        }
        if harmony {
            // The player's chord: it sounds through, and neither starts nor cuts a phrase.
            self.pass_on(event, settings, out);
            self.hear_chord(Some(&event));
            return;
        }
        if listened && matches!(event, NoteEvent::On { .. }) && matches!(self.status, Status::Answering { .. }) {
            // The player starts a new phrase: the answer stops here, before their note sounds.
            self.end_answer(event.sample(), out);
        }
        self.pass_on(event, settings, out);
        if event.all_off() {
            // All Notes Off, All Sound Off: no key or pedal of the player's stays held.
            self.voices.forget_player();
            self.hear_chord(None);
            let (link, status) = (&self.link, self.status);
            self.capture.all_notes_off(step, |note| tell_worker(link, status, note));
        }
        if !listened {
            return;
        }
        let mut ended = None;
        match event {
            NoteEvent::On { pitch, velocity, .. } => self.capture.note_on(step, pitch, velocity),
            NoteEvent::Off { pitch, .. } => ended = self.capture.note_off(step, pitch),
            NoteEvent::Midi { .. } => {
                if let Some(down) = event.pedal() {
                    let (link, status) = (&self.link, self.status);
                    self.capture.pedal(step, down, |note| tell_worker(link, status, note));
                }
            }
        }
        if let Some(note) = ended {
            tell_worker(&self.link, self.status, note);
        }
    }

    /// A phrase ended at `step`: its answer swings as the player did (where they played
    /// pairs of eighths), from the next whole beat.
    fn latch_swing(&mut self, step: i64, settings: &Settings) {
        self.link.triplets.store(self.triplets.phrase_ended(), Ordering::Relaxed);
        if let (None, Some(groove)) = (settings.swing, self.meter.groove()) {
            let beat = self.swing.swung(step as f64 / settings.steps_per_beat.max(1) as f64);
            self.swing.change(groove, beat);
        }
    }

    /// With pass-through on, the player's `event` goes out as it came (and to the voice).
    fn pass_on(&mut self, event: NoteEvent, settings: &Settings, out: &mut EventSink) {
        if settings.pass_through {
            self.voices.pass_through(event, out);
            out.push_passed(event);
        }
    }

    /// Whether `event` is one of the player's controls (it is then used up here): "answer
    /// now" ends the phrase at `step` when the engine listens; "keep" asks the worker to
    /// keep the last phrase and its answer. Each acts when its control is pressed.
    fn control(&mut self, event: NoteEvent, step: i64, settings: &Settings) -> bool {
        for (control, trigger) in [(Control::AnswerNow, settings.answer_now), (Control::Keep, settings.keep)] {
            let Some(pressed) = trigger.and_then(|t| t.pressed_by(event)) else { continue };
            let held = self.held.of(control);
            let newly = pressed && !std::mem::replace(held, true);
            *held &= pressed;
            if newly {
                self.act(control, step);
            }
            return true;
        }
        false
    }

    /// A control was pressed at `step`.
    fn act(&mut self, control: Control, step: i64) {
        match control {
            Control::Keep => {
                self.link.send(Command::Keep);
            }
            Control::AnswerNow if matches!(self.status, Status::Listening | Status::Looping { .. }) => {
                self.capture.end_phrase_now(step, |_| {});
            }
            Control::AnswerNow => {}
        }
    }

    /// A take sent by the worker (chosen or answered again in the editor) becomes what loop
    /// mode plays, once all of it has come.
    fn follow_loop_take(&mut self) {
        while let Some(LoopStep { index, len, token }) = self.link.loop_take.pop() {
            if index == 0 {
                self.incoming.clear();
            }
            if self.incoming.len() < TAKE_CAPACITY && self.incoming.len() == index as usize {
                self.incoming.push(token);
            }
            if index + 1 == len && self.incoming.len() == len as usize {
                std::mem::swap(&mut self.incoming, &mut self.last_take);
                self.incoming.clear();
            }
        }
    }

    /// The take in progress becomes the last take, if it has anything.
    fn finish_take(&mut self) {
        if !self.take.is_empty() {
            std::mem::swap(&mut self.take, &mut self.last_take);
            self.take.clear();
        }
    }

    fn record(&mut self, token: StepToken) {
        if self.take.len() < TAKE_CAPACITY {
            self.take.push(token);
        }
        if self.take.len() >= self.take_steps {
            self.finish_take();
        }
    }

    /// The answer's next step: taken from the worker (on a strong beat, onto a chord it heard
    /// too late), recorded, played.
    fn play_answered(&mut self, step: i64, sample: usize, settings: &Settings, out: &mut EventSink) {
        let bar_steps = Self::bar_steps(settings) as usize;
        let position = Self::bar_position(step, settings);
        let strong = continuo_core::harmony::is_strong(position, bar_steps, settings.steps_per_beat as usize);
        let follow = self.link.sampling.follow_chords.load(Ordering::Relaxed);
        let word = self.link.chord.load(Ordering::Relaxed);
        let chosen = self.token_for(step);
        let token = self.late_chord.resolve(chosen, step, strong, word, follow);
        self.record(token);
        let velocity = match settings.velocity {
            Some(fixed) => fixed,
            None => self.accents.velocity(Self::bar_position(step, settings), self.capture.velocity()),
        };
        let velocity = self.feel(settings).humanise.velocity(step, velocity);
        self.voices.play(token, sample, settings.output_channel, velocity, 12 * settings.octave, out);
    }

    /// The answered token for `step`, or a hold if the worker is late.
    fn token_for(&mut self, step: i64) -> StepToken {
        let generation = self.link.current_generation();
        loop {
            let next = self.pending.take().or_else(|| self.link.tokens.pop());
            match next {
                Some(a) if a.generation != generation || a.step < step => continue,
                Some(a) if a.step == step => return a.token,
                Some(a) => {
                    self.pending = Some(a);
                    break;
                }
                None => break,
            }
        }
        self.link.health.late_steps.fetch_add(1, Ordering::Relaxed);
        StepToken::Hold
    }

    fn step(&mut self, step: i64, sample: usize, settings: &Settings, out: &mut EventSink) {
        let bar_steps = Self::bar_steps(settings);
        match self.status {
            Status::Answering { start, end } => {
                if step >= end {
                    self.voices.all_off(sample, out);
                    self.finish_take();
                    self.status = Status::Listening;
                    self.listen(step, sample, bar_steps, settings, out);
                } else if step >= start {
                    self.play_answered(step, sample, settings, out);
                }
            }
            Status::Continuing { start } => {
                if step >= start {
                    self.play_answered(step, sample, settings, out);
                }
            }
            Status::Looping { .. } if self.capture.phrase_ended(step, settings.gap_steps) => {
                // The player played a new phrase over the loop: answer it.
                self.voices.all_off(sample, out);
                self.status = Status::Listening;
                self.listen(step, sample, bar_steps, settings, out);
            }
            Status::Looping { start } => {
                // Whole bars: a take cut short is filled up with rests to the next bar line.
                let bars = (self.last_take.len().max(1) as i64 + bar_steps - 1) / bar_steps;
                let at = (step - start).rem_euclid(bars * bar_steps) as usize;
                let token = self.last_take.get(at).copied().unwrap_or(StepToken::Rest);
                let velocity = self.velocity(settings);
                self.voices.play(token, sample, settings.output_channel, velocity, 12 * settings.octave, out);
            }
            Status::Listening => self.listen(step, sample, bar_steps, settings, out),
        }
    }

    fn listen(&mut self, step: i64, sample: usize, bar_steps: i64, settings: &Settings, out: &mut EventSink) {
        if !self.capture.phrase_ended(step, settings.gap_steps) {
            if settings.mode == Mode::Loop && !self.last_take.is_empty() && step.rem_euclid(bar_steps) == 0 {
                self.status = Status::Looping { start: step };
                self.step(step, sample, settings, out);
            }
            return;
        }
        let steps = (settings.answer_bars as f64 * settings.beats_per_bar * settings.steps_per_beat as f64)
            .round()
            .max(1.0) as u32;
        let start = step + ANSWER_LEAD;
        self.answers += 1;
        let seed = if settings.seed == 0 {
            self.session_seed ^ self.answers.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step as u64
        } else {
            settings.seed
        };
        self.capture.copy_phrase(&mut self.phrase);
        let continuous = settings.mode == Mode::Continuous;
        let request = Request {
            generation: self.link.current_generation(),
            phrase: self.phrase,
            start_step: start,
            steps,
            continuous,
            bar_steps: bar_steps as u32,
            bar_position: (start - settings.downbeat_step).rem_euclid(bar_steps) as u32,
            seed,
            follow_key: settings.follow_key,
        };
        // A full queue (the worker is busy) keeps the phrase: asked again next step.
        if self.link.request(request) {
            self.latch_swing(step, settings);
            self.capture.start_new_phrase();
            self.take.clear();
            self.take_steps = steps as usize;
            self.status = if continuous {
                Status::Continuing { start }
            } else {
                Status::Answering { start, end: start + steps as i64 }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f64 = 48_000.0;
    const BLOCK: usize = 1500; // a quarter of a 16th note at 120 BPM

    /// The player's notes that the worker's full queue cannot take are counted for the
    /// health line, not dropped silently (issue #24).
    #[test]
    fn notes_a_full_queue_cannot_take_are_counted() {
        let link = Link::new();
        let note = crate::capture::HeardNote { step: 0, steps: 1, pitch: 60, velocity: 100 };
        for _ in 0..crate::link::HEARD_QUEUE + 10 {
            tell_worker(&link, Status::Continuing { start: 0 }, note);
        }
        assert_eq!(link.health.lost.load(Ordering::Relaxed), 10);
    }

    /// Run blocks from `from` to `to` beats at 120 BPM; `events` are (beat, event) with the
    /// event's sample replaced. Returns every event sent.
    fn run(
        engine: &mut Engine,
        from: f64,
        to: f64,
        events: &[(f64, NoteEvent)],
        settings: &Settings,
    ) -> Vec<NoteEvent> {
        let samples_per_beat = SR / 2.0;
        let (mut sent, mut sink) = (Vec::new(), EventSink::with_capacity(64));
        let mut at = (from * samples_per_beat) as usize;
        while (at as f64) < to * samples_per_beat {
            let input: Vec<NoteEvent> = events
                .iter()
                .filter_map(|&(beat, e)| {
                    let sample = (beat * samples_per_beat) as usize;
                    (at..at + BLOCK).contains(&sample).then(|| e.at(sample - at))
                })
                .collect();
            let host = HostTransport {
                playing: true,
                tempo: Some(120.0),
                beat: Some(at as f64 / samples_per_beat),
                sample: Some(at as i64),
                loop_beats: None,
                exact: false,
            };
            sink.clear();
            engine.process(host, SR, BLOCK, &input, settings, &mut sink);
            sent.extend_from_slice(sink.events());
            at += BLOCK;
        }
        sent
    }

    #[test]
    fn a_take_sent_for_loop_mode_is_what_loops() {
        let link = Link::new();
        let mut engine = Engine::new(link.clone());
        let settings = Settings { mode: Mode::Loop, ..Settings::default() };
        let take: Vec<StepToken> = (0..16u8)
            .map(|i| match i % 4 {
                0 => StepToken::Onset { pitches: [60 + i, 0, 0, 0, 0, 0, 0, 0], len: 1 },
                _ => StepToken::Hold,
            })
            .collect();
        for (i, &token) in take.iter().enumerate() {
            link.loop_take.push(LoopStep { index: i as u16, len: 16, token }).unwrap();
        }
        let sent = run(&mut engine, 0.0, 8.0, &[], &settings);
        let ons: Vec<u8> = sent
            .iter()
            .filter_map(|e| match e {
                NoteEvent::On { pitch, .. } => Some(*pitch),
                _ => None,
            })
            .collect();
        assert_eq!(ons, vec![60, 64, 68, 72, 60, 64, 68, 72], "two bars of the take");
    }

    #[test]
    fn the_answer_now_and_keep_controls_act_when_pressed_and_are_not_music() {
        let link = Link::new();
        let mut engine = Engine::new(link.clone());
        let settings = Settings {
            gap_steps: 64,
            answer_now: Some(Trigger::Controller(20)),
            keep: Some(Trigger::Key(36)),
            ..Settings::default()
        };
        let on = |pitch| NoteEvent::On { sample: 0, channel: 0, pitch, velocity: 100 };
        let off = |pitch| NoteEvent::Off { sample: 0, channel: 0, pitch };
        let cc = |value| NoteEvent::Midi { sample: 0, bytes: [0xb0, 20, value] };
        let sent = run(&mut engine, 0.0, 2.0, &[(0.0, on(60)), (1.0, off(60))], &settings);
        assert_eq!(sent.len(), 2, "the player's notes pass through: {sent:?}");
        assert!(link.requests.is_empty(), "the gap of 4 bars has not passed");
        let sent = run(&mut engine, 2.0, 3.0, &[(2.0, cc(127)), (2.1, cc(0))], &settings);
        assert!(sent.is_empty(), "the control is not passed on: {sent:?}");
        assert_eq!(link.requests.len(), 1, "answer now: the phrase is answered at once");
        let request = link.requests.pop().unwrap();
        assert_eq!(request.phrase.notes().iter().map(|n| n.pitch).collect::<Vec<_>>(), vec![60]);
        assert_eq!(request.start_step, 8 + ANSWER_LEAD);
        assert_eq!(request.bar_position, (8 + ANSWER_LEAD) as u32 % 16);

        let sent = run(&mut engine, 3.0, 4.0, &[(3.0, on(36)), (3.5, off(36))], &settings);
        assert!(sent.is_empty(), "the keep key is not passed on: {sent:?}");
        assert_eq!(link.commands.pop(), Some(Command::Keep), "keep was asked for");
    }
}
