//! The plugin's process core driven by a headless host: transport, tempo, block sizes and
//! the player's notes in; note events out. The inference worker runs for real, with the
//! shipped melody model. Shows: an 8-bar phrase is answered with every note on and off on
//! the exact sample of its grid step, at 3 tempi and 5 block sizes (1 and an odd size
//! among them); a tempo change in the middle of an answer; transport stop ends every note;
//! a long randomised session leaves no note-on without its note-off; and `process`
//! allocates nothing (a counting allocator watches the audio thread).

mod common;

use common::eight_bars;
use continuo::clock::HostTransport;
use continuo::engine::{Engine, Mode, Settings, Status};
use continuo::events::{EventSink, NoteEvent};
use continuo::harmony_input::{chord_of_word, HarmonyInput};
use continuo::link::Link;
use continuo::soundfont::{FontState, Handoff, Loader};
use continuo::swing::{position_of_ratio, ratio_of, Groove, Swing, SwingMeter, Unit};
use continuo::synth::{Patch, Synth, OFF_ROOM, QUEUE, RELEASE_SECONDS};
use continuo::worker::Worker;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Counts allocations made on a thread while it is marked as the audio thread.
struct Counting;
thread_local! {
    static AUDIO: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if AUDIO.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if AUDIO.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

const SR: f64 = 48_000.0;
const OUT_CHANNEL: u8 = 1;

fn model() -> PathBuf {
    std::env::var_os("CONTINUO_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx"))
}

/// How a host reports its transport. Real hosts differ: Ardour rounds beat positions to
/// ticks of 1/1920 quarter note, Qtractor to 1/960; some give only samples, or no tempo.
#[derive(Debug, Clone, Copy)]
struct Reports {
    /// Beat positions rounded to this many ticks per quarter note.
    ticks: Option<f64>,
    beats: bool,
    samples: bool,
    tempo: bool,
    /// Reported positions off by up to this many samples, at random.
    jitter: f64,
}

const EXACT: Reports = Reports { ticks: None, beats: true, samples: true, tempo: true, jitter: 0.0 };

/// An event that came out, with the host's exact time at its sample.
#[derive(Debug, Clone, Copy)]
struct Out {
    sample: u64,
    /// The host's exact beat position at the event's sample.
    beat: f64,
    /// The host's exact beats per sample there.
    beats_per_sample: f64,
    /// Beats played since the start (loop wraps do not go back).
    timeline: f64,
    event: NoteEvent,
}

/// A host: runs blocks, keeps its exact transport (tempo, ramp, loop, beat and sample
/// positions), reports it to the engine as `reports` says, and records what comes out.
struct Host {
    engine: Engine,
    link: std::sync::Arc<Link>,
    _worker: Worker,
    sink: EventSink,
    block: usize,
    /// Quarter notes per minute at the next block's start, and its change per sample.
    tempo: f64,
    ramp: f64,
    playing: bool,
    sample: u64,
    /// The host's exact beat and sample positions (they wrap in a loop).
    beat: f64,
    pos_samples: i64,
    loop_beats: Option<(f64, f64)>,
    timeline: f64,
    reports: Reports,
    /// Each block's size is drawn from 1 ..= `block`.
    vary_blocks: bool,
    rate: f64,
    rng: u64,
    out: Vec<Out>,
    settings: Settings,
    allocations: usize,
    /// Every input event delivered, with its absolute sample.
    heard: Vec<(u64, NoteEvent)>,
}

impl Host {
    fn new(block: usize, tempo: f64) -> Host {
        let link = Link::new();
        let worker = Worker::spawn(link.clone(), model()).expect("the worker starts");
        let started = Instant::now();
        while !link.model_ready.load(Ordering::Acquire) {
            if let Some(e) = worker.shared.status.lock().unwrap().error.clone() {
                panic!("the worker could not load the model: {e} (run `cargo xtask ort`)");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the model did not load");
            std::thread::sleep(Duration::from_millis(5));
        }
        let settings = Settings {
            pass_through: false,
            output_channel: OUT_CHANNEL,
            answer_bars: 2,
            seed: 7,
            ..Settings::default()
        };
        Host {
            engine: Engine::new(link.clone()),
            link,
            _worker: worker,
            sink: EventSink::with_capacity(4096),
            block,
            tempo,
            ramp: 0.0,
            playing: true,
            sample: 0,
            beat: 0.0,
            pos_samples: 0,
            loop_beats: None,
            timeline: 0.0,
            reports: EXACT,
            vary_blocks: false,
            rate: SR,
            rng: 0x9E37_79B9_7F4A_7C15,
            out: Vec::new(),
            settings,
            allocations: 0,
            heard: Vec::new(),
        }
    }

    fn samples_per_beat(&self) -> f64 {
        self.rate * 60.0 / self.tempo
    }

    /// Block number `block` of 512 samples at 120 BPM, the transport playing from sample 0,
    /// with `input`: whether the engine answers (is not listening) after it.
    fn play_block(&mut self, block: i64, input: &[NoteEvent]) -> bool {
        let beats_per_block = 512.0 * 120.0 / 60.0 / self.rate;
        let transport = HostTransport {
            playing: true,
            tempo: Some(120.0),
            beat: Some(block as f64 * beats_per_block),
            sample: Some(block * 512),
            loop_beats: None,
            exact: false,
        };
        self.sink.clear();
        self.engine.process(transport, self.rate, 512, input, &self.settings, &mut self.sink);
        !matches!(self.engine.status(), Status::Listening)
    }

    /// Start at `beat` (a locate; the timeline follows).
    fn locate(&mut self, beat: f64) {
        self.beat = beat;
        self.timeline = beat;
        self.pos_samples = (beat * self.samples_per_beat()).round() as i64;
    }

    /// Beats per sample at the block's start and their change per sample.
    fn speed(&self) -> (f64, f64) {
        (self.tempo / 60.0 / self.rate, self.ramp / 60.0 / self.rate)
    }

    /// Samples from the block's start to `beats` later: the first sample at or after it.
    fn samples_to(&self, beats: f64) -> f64 {
        let (v, a) = self.speed();
        let x = 2.0 * beats / (v + (v * v + 2.0 * a * beats).max(0.0).sqrt());
        (x - 1e-6).ceil()
    }

    fn random(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    /// A random offset in ±`reports.jitter` samples.
    fn jitter(&mut self) -> f64 {
        (self.random(2001) as f64 / 1000.0 - 1.0) * self.reports.jitter
    }

    fn transport(&mut self) -> HostTransport {
        if !self.playing {
            return HostTransport { tempo: self.reports.tempo.then_some(self.tempo), ..HostTransport::default() };
        }
        let jitter = self.jitter();
        let beat = self.beat + jitter * self.speed().0;
        let beat = self.reports.ticks.map_or(beat, |t| (beat * t).round() / t);
        HostTransport {
            playing: true,
            tempo: self.reports.tempo.then_some(self.tempo),
            beat: self.reports.beats.then_some(beat),
            sample: self.reports.samples.then_some(self.pos_samples + jitter.round() as i64),
            loop_beats: self.loop_beats,
            exact: false,
        }
    }

    /// Run `samples` samples with the player's notes given at timeline beats (beat, on?, pitch).
    fn run(&mut self, samples: u64, notes: &[(f64, bool, u8)]) {
        let notes: Vec<(f64, bool, u8, u8)> = notes.iter().map(|&(b, on, p)| (b, on, p, 100)).collect();
        self.run_with_velocities(samples, &notes);
    }

    /// [`Host::run`] with each note-on's velocity: (beat, on?, pitch, velocity).
    fn run_with_velocities(&mut self, samples: u64, notes: &[(f64, bool, u8, u8)]) {
        let end = self.sample + samples;
        let mut input = Vec::with_capacity(64);
        while self.sample < end {
            let block = if self.vary_blocks { 1 + self.random(self.block as u64) as usize } else { self.block };
            let mut len = block.min((end - self.sample) as usize);
            if let (Some((_, loop_end)), true) = (self.loop_beats, self.playing) {
                // Hosts split a block at the loop's end.
                len = len.min(self.samples_to(loop_end - self.beat).max(1.0) as usize);
            }
            input.clear();
            for &(beat, on, pitch, velocity) in notes {
                let at = self.samples_to(beat - self.timeline);
                if at >= 0.0 && at < len as f64 {
                    let sample = at as usize;
                    input.push(if on {
                        NoteEvent::On { sample, channel: 0, pitch, velocity }
                    } else {
                        NoteEvent::Off { sample, channel: 0, pitch }
                    });
                }
            }
            input.sort_by_key(|e| (e.sample(), matches!(e, NoteEvent::On { .. })));
            self.heard.extend(input.iter().map(|e| (self.sample + e.sample() as u64, *e)));
            let host = self.transport();
            self.sink.clear();
            AUDIO.with(|a| a.set(true));
            let before = ALLOCATIONS.with(Cell::get);
            let timing = self.engine.process(host, self.rate, len, &input, &self.settings, &mut self.sink);
            self.allocations += ALLOCATIONS.with(Cell::get) - before;
            AUDIO.with(|a| a.set(false));
            let (v, a) = self.speed();
            let beat_at = |s: f64| s * (v + 0.5 * a * s);
            for e in self.sink.events() {
                let s = e.sample() as f64;
                let (beat, timeline) = if self.playing {
                    (self.beat + beat_at(s), self.timeline + beat_at(s))
                } else {
                    (timing.beat_of(e.sample()), timing.beat_of(e.sample()))
                };
                self.out.push(Out {
                    sample: self.sample + s as u64,
                    beat,
                    beats_per_sample: v + a * s,
                    timeline,
                    event: *e,
                });
            }
            self.sample += len as u64;
            if self.playing {
                self.beat += beat_at(len as f64);
                self.timeline += beat_at(len as f64);
                self.pos_samples += len as i64;
                self.tempo += self.ramp * len as f64;
                if let Some((loop_start, loop_end)) = self.loop_beats.filter(|&(_, e)| self.beat >= e - 1e-9) {
                    self.beat -= loop_end - loop_start;
                    self.pos_samples -= ((loop_end - loop_start) * self.samples_per_beat()).round() as i64;
                }
            } else {
                self.beat = timing.end_beat();
                self.timeline = self.beat;
            }
            self.wait_for_worker();
        }
    }

    /// Real time gives the worker time to sample the steps of the next block; the test
    /// runs faster than real time, so it waits for that.
    fn wait_for_worker(&self) {
        let started = Instant::now();
        while !self.link.requests.is_empty() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_micros(50));
        }
        let end = match self.engine.status() {
            Status::Answering { end, .. } => Some(end),
            Status::Continuing { .. } => Some(i64::MAX),
            _ => None,
        };
        if let Some(end) = end {
            let wanted = self.link.now_step.load(Ordering::Acquire).min(end - 1);
            let started = Instant::now();
            while self.link.ready_until.load(Ordering::Acquire) < wanted && started.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    fn answer_events(&self) -> Vec<Out> {
        self.out
            .iter()
            .filter(|o| {
                matches!(
                    o.event,
                    NoteEvent::On { channel: OUT_CHANNEL, .. } | NoteEvent::Off { channel: OUT_CHANNEL, .. }
                )
            })
            .copied()
            .collect()
    }
}

/// Every event is on its grid step's sample (beat k/4) of the host's exact transport, or one
/// sample off it. Returns the worst distance in samples.
fn assert_on_grid(events: &[Out], what: &str) -> u64 {
    assert_on_steps(events, 4.0, what)
}

/// Every event is on the sample of a step of `steps_per_beat` of the host's exact transport
/// (the first sample at or after the step's exact time), or one sample off it. Returns the
/// worst distance in samples.
fn assert_on_steps(events: &[Out], steps_per_beat: f64, what: &str) -> u64 {
    let mut worst = 0;
    for o in events {
        let k = (o.beat * steps_per_beat).round();
        let exact = o.sample as f64 - (o.beat - k / steps_per_beat) / o.beats_per_sample;
        let off = o.sample.abs_diff((exact - 1e-6).ceil() as u64);
        assert!(off <= 1, "{what}: {:?} at sample {} is {off} samples off its grid step's sample", o.event, o.sample);
        worst = worst.max(off);
    }
    worst
}

/// The answer's note-ons as (step, pitch), steps of `steps_per_beat` on the timeline.
fn answer_ons(host: &Host, steps_per_beat: f64) -> Vec<(i64, u8)> {
    host.answer_events()
        .iter()
        .filter_map(|o| match o.event {
            NoteEvent::On { pitch, .. } => Some(((o.timeline * steps_per_beat).round() as i64, pitch)),
            _ => None,
        })
        .collect()
}

/// The note-ons of steps `start .. start + len`, with steps counted from `start`.
fn ons_within(ons: &[(i64, u8)], start: i64, len: i64) -> Vec<(i64, u8)> {
    ons.iter().filter(|(s, _)| (start..start + len).contains(s)).map(|&(s, p)| (s - start, p)).collect()
}

/// The answer's ons and offs pair up per pitch (never two ons in a row); the player's
/// passed-through notes balance out; and nothing sounds at the end.
fn assert_no_stuck_notes(events: &[Out]) {
    let mut count = [[0i32; 128]; 16];
    for o in events {
        match o.event {
            NoteEvent::On { channel, pitch, .. } => {
                let c = &mut count[channel as usize][pitch as usize];
                assert!(
                    channel != OUT_CHANNEL || *c == 0,
                    "answer note {pitch} on twice without an off, at {}",
                    o.sample
                );
                *c += 1;
            }
            NoteEvent::Off { channel, pitch, .. } => {
                let c = &mut count[channel as usize][pitch as usize];
                *c = (*c - 1).max(0);
            }
            NoteEvent::Midi { .. } => {}
        }
    }
    for (c, ch) in count.iter().enumerate() {
        for (p, &n) in ch.iter().enumerate() {
            assert_eq!(n, 0, "channel {c} pitch {p} is stuck");
        }
    }
}

/// An 8-bar phrase played into a host that reports time as `reports` says, at every block
/// size: it is answered, every answered note is within a sample of its grid step of the
/// host's exact transport, nothing sticks, nothing allocates, no step is late.
fn answered_in_every_block_size(what: &str, tempo: f64, reports: Reports, setup: impl Fn(&mut Host)) {
    for block in [1usize, 37, 64, 512, 8192] {
        let mut host = Host::new(block, tempo);
        host.reports = reports;
        setup(&mut host);
        let spb = host.samples_per_beat();
        let start = host.timeline;
        // From the start (a pre-roll counts in) to the phrase at 0, its 2-beat gap, 2 bars
        // of answer and some silence: 44 beats at the starting tempo.
        host.run(((46.0 - start) * spb) as u64, &eight_bars());
        let answer = host.answer_events();
        let ons = answer.iter().filter(|o| matches!(o.event, NoteEvent::On { .. })).count();
        let case = format!("{what}, block {block}");
        assert!(
            ons > 0,
            "{case}: no answer (late steps {}, status {:?}, {} events)",
            host.link.health.late_steps.load(Ordering::Relaxed),
            host.engine.status(),
            host.out.len()
        );
        // The last note (beat 28) is released at 31.6: the phrase has ended on the next
        // step, 31.75, and the answer runs from two steps later for 2 bars: 32.25 .. 40.25.
        assert!(answer[0].timeline >= 32.25 - 1e-3, "{case}: answer at beat {}", answer[0].timeline);
        assert!(
            answer.last().unwrap().timeline < 40.25 + 1e-3,
            "{case}: the answer is 2 bars long, ends at {}",
            answer.last().unwrap().timeline
        );
        let worst = assert_on_grid(&answer, &case);
        host.playing = false;
        host.run(1024, &[]);
        assert_no_stuck_notes(&host.out);
        assert_eq!(host.allocations, 0, "{case}: process allocated");
        assert_eq!(host.link.health.late_steps.load(Ordering::Relaxed), 0, "{case}: late steps");
        println!("{case}: {ons} answered notes, worst grid error {worst} samples");
    }
}

#[test]
fn an_eight_bar_phrase_is_answered_on_the_grid_at_every_tempo_and_block_size() {
    for tempo in [63.0, 120.0, 217.5] {
        answered_in_every_block_size(&format!("exact positions at {tempo} BPM"), tempo, EXACT, |_| {});
    }
}

#[test]
fn hosts_that_round_beat_positions_to_ticks() {
    // Logic and Cubase 480 or 960 ticks, Qtractor 960, Ardour 1920, Reaper 15360 (and a tempo
    // whose steps fall between samples).
    for ticks in [480.0, 960.0, 1920.0, 15360.0] {
        answered_in_every_block_size(
            &format!("{ticks} ticks per quarter"),
            97.0,
            Reports { ticks: Some(ticks), ..EXACT },
            |_| {},
        );
    }
}

#[test]
fn hosts_that_give_only_a_sample_position() {
    answered_in_every_block_size("sample positions only", 97.0, Reports { beats: false, ..EXACT }, |_| {});
}

#[test]
fn hosts_that_give_only_a_beat_position_and_no_tempo() {
    answered_in_every_block_size(
        "beats only, no tempo",
        97.0,
        Reports { samples: false, tempo: false, ..EXACT },
        |_| {},
    );
}

#[test]
fn hosts_whose_positions_jitter_by_two_samples() {
    answered_in_every_block_size("jitter of 2 samples", 97.0, Reports { jitter: 2.0, ..EXACT }, |_| {});
}

#[test]
fn hosts_that_loop_one_two_or_four_bars() {
    for bars in [1.0, 2.0, 4.0] {
        answered_in_every_block_size(&format!("a loop of {bars} bars"), 97.0, EXACT, |h| {
            h.loop_beats = Some((0.0, 4.0 * bars))
        });
        answered_in_every_block_size(
            &format!("a loop of {bars} bars, 1920 ticks"),
            120.0,
            Reports { ticks: Some(1920.0), ..EXACT },
            |h| {
                h.loop_beats = Some((8.0, 8.0 + 4.0 * bars));
                h.locate(8.0);
                h.timeline = 0.0;
            },
        );
    }
}

#[test]
fn hosts_that_start_with_a_bar_of_pre_roll() {
    answered_in_every_block_size("pre-roll from -1 bar", 97.0, EXACT, |h| h.locate(-4.0));
    answered_in_every_block_size(
        "pre-roll from -1 bar, 960 ticks",
        120.0,
        Reports { ticks: Some(960.0), ..EXACT },
        |h| h.locate(-4.0),
    );
}

#[test]
fn hosts_that_ramp_the_tempo() {
    // 100 → 112 BPM over the phrase and its answer (an accelerando), and 130 → 110.
    answered_in_every_block_size("a ramp up", 100.0, EXACT, |h| h.ramp = 12.0 / (44.0 * h.samples_per_beat()));
    answered_in_every_block_size("a ramp down", 130.0, EXACT, |h| h.ramp = -20.0 / (44.0 * h.samples_per_beat()));
}

#[test]
fn blocks_that_change_size() {
    answered_in_every_block_size("block sizes changing", 97.0, Reports { ticks: Some(1920.0), ..EXACT }, |h| {
        h.vary_blocks = true
    });
}

#[test]
fn a_sample_rate_that_changes_between_activations() {
    let mut host = Host::new(512, 97.0);
    let phrase = eight_bars();
    host.run((46.0 * host.samples_per_beat()) as u64, &phrase);
    let first = host.answer_events().len();
    assert!(first > 0);
    // Deactivated, then activated again at 44.1 kHz; the host starts from the top.
    host.playing = false;
    host.run(512, &[]);
    host.rate = 44_100.0;
    host.playing = true;
    host.locate(0.0);
    host.run((46.0 * host.samples_per_beat()) as u64, &phrase);
    let answer = host.answer_events();
    assert!(answer.len() > first, "no answer at 44.1 kHz");
    assert_on_grid(&answer, "44.1 kHz");
    assert_no_stuck_notes(&host.out);
    assert_eq!(host.allocations, 0);
}

#[test]
fn a_tempo_change_in_the_middle_of_an_answer_keeps_the_grid() {
    let mut host = Host::new(256, 100.0);
    let spb = host.samples_per_beat();
    host.run((35.0 * spb) as u64, &eight_bars());
    assert!(matches!(host.engine.status(), Status::Answering { .. }));
    let before = host.out.len();
    host.tempo = 150.0;
    let spb2 = host.samples_per_beat();
    host.run((8.0 * spb2) as u64, &[]);
    let after: Vec<_> = host.out[before..].to_vec();
    assert!(!after.is_empty());
    assert_on_grid(&after, "after the tempo change");
    assert_no_stuck_notes(&host.out);
}

#[test]
fn transport_stop_ends_every_sounding_note() {
    let mut host = Host::new(128, 120.0);
    let spb = host.samples_per_beat();
    host.run((35.0 * spb) as u64, &eight_bars());
    host.playing = false;
    let stop_at = host.sample;
    host.run(1024, &[]);
    let sounding_after_stop =
        host.out.iter().filter(|o| o.sample >= stop_at && matches!(o.event, NoteEvent::On { .. })).count();
    assert_eq!(sounding_after_stop, 0);
    assert_no_stuck_notes(&host.out);
    assert_eq!(host.engine.status(), Status::Listening);
}

#[test]
fn a_randomised_session_leaves_no_stuck_notes() {
    let mut host = Host::new(512, 120.0);
    host.settings.pass_through = true;
    let mut x: u64 = 0x1234_5678;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    // Ten minutes of music in 2-second slices; the player's notes start and end inside each.
    for _ in 0..300 {
        match rnd(10) {
            0 if host.playing => host.locate(rnd(64) as f64), // a locate
            1 => host.playing = !host.playing,
            2 => host.tempo = 40.0 + rnd(300) as f64,
            3 => host.settings.octave = rnd(3) as i32 - 1,
            6 => host.settings.mode = [Mode::CallResponse, Mode::Continuous, Mode::Loop][rnd(3) as usize],
            7 => host.settings.steps_per_beat = [2, 4, 8][rnd(3) as usize],
            4 => host.settings.answer_bars = 1 + rnd(3) as u32,
            5 => host.settings.gap_steps = 2 + rnd(12) as u32,
            _ => {}
        }
        let slice_beats = 2.0 * host.tempo / 60.0;
        let start = host.beat;
        let mut notes = Vec::new();
        for _ in 0..rnd(6) {
            let at = start + rnd(1000) as f64 / 1000.0 * slice_beats * 0.8;
            let pitch = 48 + rnd(30) as u8;
            let end = (at + 0.1 + rnd(8) as f64 / 4.0).min(start + slice_beats * 0.95);
            notes.push((at, true, pitch));
            notes.push((end, false, pitch));
        }
        host.run((2.0 * SR) as u64, &notes);
    }
    host.playing = false;
    host.run(4096, &[]);
    assert_no_stuck_notes(&host.out);
    assert_eq!(host.allocations, 0);
    let answered = host.answer_events().len();
    println!("randomised session: {} events out, {answered} from answers", host.out.len());
    assert!(answered > 0);
}

#[test]
fn continuous_mode_keeps_answering_and_listens_to_the_player() {
    // The same seed twice: once the player stays silent, once they play along in the fourth
    // bar of the answer. The answers agree until then and part after it.
    let runs: Vec<Vec<(i64, u8)>> = [false, true]
        .into_iter()
        .map(|play_along| {
            let mut host = Host::new(100, 120.0);
            host.settings.mode = Mode::Continuous;
            // The tune's onsets are up to a whole note apart: a longer gap ends the phrase.
            host.settings.gap_steps = 20;
            let spb = host.samples_per_beat();
            let mut notes = eight_bars();
            if play_along {
                for (i, pitch) in [72u8, 71, 69, 67, 65, 64, 62, 60].into_iter().enumerate() {
                    let beat = 44.0 + i as f64 * 0.5;
                    notes.push((beat, true, pitch));
                    notes.push((beat + 0.4, false, pitch));
                }
            }
            host.run((72.0 * spb) as u64, &notes);
            assert!(
                matches!(host.engine.status(), Status::Continuing { .. }),
                "still answering after 10 bars: {:?}",
                host.engine.status()
            );
            let answer = host.answer_events();
            assert_on_grid(&answer, "continuous");
            assert_eq!(host.link.health.late_steps.load(Ordering::Relaxed), 0);
            let ons = answer_ons(&host, 4.0);
            // The answer started 2 steps after the phrase (last onset at step 112, gap 20)
            // and went on past its 2 bars.
            assert!(ons.first().unwrap().0 >= 134, "{ons:?}");
            assert!(ons.last().unwrap().0 > 134 + 32 * 2, "the answer stopped at {:?}", ons.last());
            assert!(host.link.heard.is_empty(), "the worker read the player's notes");
            host.playing = false;
            host.run(1024, &[]);
            assert_eq!(host.engine.status(), Status::Listening);
            assert_no_stuck_notes(&host.out);
            assert_eq!(host.allocations, 0);
            ons
        })
        .collect();
    let before = |ons: &[(i64, u8)]| ons.iter().filter(|(s, _)| *s < 44 * 4).copied().collect::<Vec<_>>();
    let after = |ons: &[(i64, u8)]| ons.iter().filter(|(s, _)| *s >= 48 * 4).copied().collect::<Vec<_>>();
    assert_eq!(before(&runs[0]), before(&runs[1]), "the same seed gives the same answer until the player plays");
    assert_ne!(after(&runs[0]), after(&runs[1]), "what the player played changed the continuation");
}

#[test]
fn loop_mode_repeats_the_last_answer_from_each_bar_line() {
    let mut host = Host::new(64, 120.0);
    host.settings.mode = Mode::Loop;
    host.settings.answer_bars = 1;
    host.settings.gap_steps = 12;
    let spb = host.samples_per_beat();
    // The answer runs over steps 129 .. 145; the loop starts on the bar line at step 160.
    host.run((60.0 * spb) as u64, &eight_bars());
    assert!(matches!(host.engine.status(), Status::Looping { start: 160 }), "{:?}", host.engine.status());
    let ons = answer_ons(&host, 4.0);
    let answer = ons_within(&ons, 129, 16);
    assert!(!answer.is_empty());
    // Bars from step 160 on each play the answer again (its first step on the bar line).
    for bar in 0..4 {
        let start = 160 + 16 * bar;
        let repeat = ons_within(&ons, start, 16);
        assert_eq!(repeat, answer, "bar {bar} of the loop");
    }
    // The player playing over the loop does not stop it at once; once their phrase has
    // ended, it is answered, and that answer loops from the next bar line.
    let loops_before = ons.len();
    host.run((2.0 * spb) as u64, &[(61.0, true, 64), (61.5, false, 64)]);
    assert!(matches!(host.engine.status(), Status::Looping { .. }), "{:?}", host.engine.status());
    assert!(answer_ons(&host, 4.0).len() > loops_before);
    host.run((2.5 * spb) as u64, &[]);
    assert!(matches!(host.engine.status(), Status::Answering { start: 258, .. }), "{:?}", host.engine.status());
    host.run((12.0 * spb) as u64, &[]);
    assert!(matches!(host.engine.status(), Status::Looping { start: 288 }), "{:?}", host.engine.status());
    assert_on_grid(&host.answer_events(), "loop");
    // Back to call & response: the loop's notes end.
    host.settings.mode = Mode::CallResponse;
    host.run(256, &[]);
    assert_eq!(host.engine.status(), Status::Listening);
    assert_no_stuck_notes(&host.out);
    assert_eq!(host.allocations, 0);
}

#[test]
fn loop_mode_loops_whole_bars_of_an_answer_cut_short() {
    let mut host = Host::new(64, 120.0);
    host.settings.mode = Mode::Loop;
    host.settings.answer_bars = 2;
    host.settings.gap_steps = 12;
    let spb = host.samples_per_beat();
    // The answer starts at step 129; the player cuts it after 7 steps, at step 136 (beat 34).
    let mut notes = eight_bars();
    notes.extend([(34.0, true, 72), (34.1, false, 72)]);
    host.run((34.05 * spb) as u64, &notes);
    let cut = ons_within(&answer_ons(&host, 4.0), 129, 7);
    assert!(!cut.is_empty());
    // The player's one-note phrase is answered (from step 150) and that take loops; make it
    // ask nothing more: the loop of the cut take is what is checked, from the bar at 144.
    host.settings.gap_steps = 64;
    host.run((14.0 * spb) as u64, &[]);
    assert!(matches!(host.engine.status(), Status::Looping { start: 144 }), "{:?}", host.engine.status());
    let ons = answer_ons(&host, 4.0);
    for bar in 0..3 {
        let start = 144 + 16 * bar;
        let repeat = ons_within(&ons, start, 16);
        assert_eq!(repeat, cut, "bar {bar}: the 7 steps played, then rests to the bar line");
    }
    host.playing = false;
    host.run(256, &[]);
    assert_no_stuck_notes(&host.out);
    assert_eq!(host.allocations, 0);
}

#[test]
fn half_and_double_time_grids_and_grid_changes() {
    // The whole tune at half time; its first 4 bars at double time (after the whole tune the
    // model rightly hears a song's end, and answers with rests).
    for (steps_per_beat, beats) in [(2u32, 32.0), (8, 16.0)] {
        let mut host = Host::new(77, 90.0);
        host.settings.steps_per_beat = steps_per_beat;
        let spb = host.samples_per_beat();
        let phrase: Vec<_> = eight_bars().into_iter().filter(|&(beat, ..)| beat < beats).collect();
        host.run(((beats + 6.0) * spb) as u64, &phrase);
        let answer = host.answer_events();
        assert!(
            !answer.is_empty(),
            "{steps_per_beat} steps per beat: no answer ({:?}, late {})",
            host.engine.status(),
            host.link.health.late_steps.load(Ordering::Relaxed)
        );
        assert_on_steps(&answer, steps_per_beat as f64, &format!("{steps_per_beat} steps per beat"));
        let ons = answer_ons(&host, steps_per_beat as f64);
        // The last note is released at 90 % of its beat, before the phrase's end.
        let last_release = phrase.iter().map(|&(beat, ..)| beat).fold(0.0, f64::max);
        assert!(
            ons[0].0 as f64 >= last_release * steps_per_beat as f64,
            "{steps_per_beat}: first onset at step {}",
            ons[0].0
        );
        // Changing the grid in the middle of an answer ends its notes and listens again.
        host.settings.steps_per_beat = 4;
        host.run(77, &[]);
        assert_eq!(host.engine.status(), Status::Listening);
        assert_no_stuck_notes(&host.out);
        assert_eq!(host.allocations, 0);
    }
}

/// The General MIDI SoundFont the tests play: Debian's `timgm6mb-soundfont`, which
/// `scripts/setup.sh` installs.
const SOUNDFONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";
/// The SoundFont piano's release (its own envelope), at most.
const SOUNDFONT_RELEASE_SECONDS: f64 = 1.0;

/// A synth whose SoundFont voice plays `SOUNDFONT`, loaded as the plugin loads it: the
/// audio thread asks, a loader thread reads the file, the next block takes it.
fn soundfont_synth(sample_rate: f32) -> Synth {
    assert!(std::path::Path::new(SOUNDFONT).is_file(), "{SOUNDFONT} is missing: run scripts/setup.sh");
    let handoff = std::sync::Arc::new(Handoff::default());
    let mut synth = Synth::new(sample_rate).with_font(handoff.clone());
    synth.patch = Patch::SoundFont;
    let (mut left, mut right) = ([0.0f32; 64], [0.0f32; 64]);
    synth.render(&mut left, &mut right);
    assert_eq!(synth.now(), Patch::EPiano, "the electric piano stands in while the SoundFont loads");
    let loader = Loader::new(std::sync::Arc::new(std::sync::RwLock::new(SOUNDFONT.into())));
    loader.follow(&handoff, &nice_plug_egui::RepaintNotifier::new());
    loader.wait();
    assert!(
        matches!(loader.state(), FontState::Ready { instruments, .. } if instruments > 100),
        "{:?}",
        loader.state()
    );
    synth.render(&mut left, &mut right);
    assert_eq!(synth.now(), Patch::SoundFont, "the loaded SoundFont plays");
    synth
}

/// The phrase and its answer rendered offline through the built-in voice, as the standalone
/// plays them: sound in the first half second of every note, silence once every note has
/// had its release,
/// never a NaN or a sample past 0 dBFS, and no allocation while rendering.
#[test]
fn a_phrase_and_its_answer_sound_through_the_voice_and_only_while_notes_play() {
    for patch in [Patch::EPiano, Patch::Pluck, Patch::SoundFont] {
        let mut host = Host::new(512, 120.0);
        host.settings.pass_through = true;
        let spb = host.samples_per_beat();
        host.run((46.0 * spb) as u64, &eight_bars());
        let total = host.sample as usize;
        // Every note that sounds: the player's (passed on) and the answer's, with its sample.
        let mut events: Vec<(usize, NoteEvent)> = host.out.iter().map(|o| (o.sample as usize, o.event)).collect();
        events.sort_by_key(|(s, _)| *s);
        assert!(events.iter().any(|(_, e)| e.channel() == OUT_CHANNEL), "{patch:?}: no answer");
        let mut synth = match patch {
            Patch::SoundFont => soundfont_synth(SR as f32),
            _ => Synth::new(SR as f32),
        };
        synth.patch = patch;
        let (mut left, mut right) = (vec![0.0f32; total], vec![0.0f32; total]);
        let mut next = 0;
        let mut allocations = 0;
        for start in (0..total).step_by(512) {
            let end = (start + 512).min(total);
            AUDIO.with(|a| a.set(true));
            let before = ALLOCATIONS.with(Cell::get);
            while next < events.len() && events[next].0 < end {
                synth.queue(events[next].1.at(events[next].0 - start));
                next += 1;
            }
            synth.render(&mut left[start..end], &mut right[start..end]);
            allocations += ALLOCATIONS.with(Cell::get) - before;
            AUDIO.with(|a| a.set(false));
        }
        assert_eq!(allocations, 0, "{patch:?}: rendering allocated");
        if patch != Patch::SoundFont {
            assert_eq!(left, right, "{patch:?}: the voice is centred");
        }
        let both = left.iter().chain(&right);
        let peak = both.fold(0.0f32, |m, x| if x.is_nan() { f32::NAN } else { m.max(x.abs()) });
        assert!(peak.is_finite() && peak <= 1.0, "{patch:?}: peak {peak}");
        // Per pitch, when it sounds: from each note-on to its note-off (plus the release).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut on_at = [None; 128];
        for &(sample, e) in &events {
            match e {
                NoteEvent::On { pitch, .. } => on_at[pitch as usize] = Some(sample),
                NoteEvent::Off { pitch, .. } => {
                    if let Some(on) = on_at[pitch as usize].take() {
                        spans.push((on, sample));
                    }
                }
                NoteEvent::Midi { .. } => {}
            }
        }
        assert!(on_at.iter().all(Option::is_none), "{patch:?}: a note never ended");
        let seconds = if patch == Patch::SoundFont { SOUNDFONT_RELEASE_SECONDS } else { RELEASE_SECONDS as f64 };
        let release = (seconds * SR) as usize + 512;
        let window = 480;
        let (mut heard, mut silent) = (0, 0);
        for w in (0..total - window).step_by(window) {
            let level = left[w..w + window].iter().chain(&right[w..w + window]).fold(0.0f32, |m, x| m.max(x.abs()));
            // From 10 ms to half a second into a note (a string dies away as it is held),
            // within the note: it must be heard.
            if spans.iter().any(|&(on, off)| on + 480 <= w && w + window <= off.min(on + 24_000)) {
                assert!(level > 1e-3, "{patch:?}: silence at {:.3} s while a note plays", w as f64 / SR);
                heard += 1;
            }
            // No note within the window nor a release before it: silence.
            if !spans.iter().any(|&(on, off)| on < w + window && w < off + release) {
                assert!(level < 1e-4, "{patch:?}: sound ({level}) at {:.3} s, where no note plays", w as f64 / SR);
                silent += 1;
            }
        }
        assert!(heard > 100 && silent > 10, "{patch:?}: {heard} windows heard, {silent} silent");
        println!("{patch:?}: peak {peak:.3}, {heard} windows with notes heard, {silent} without silent");
    }
}

/// The voice takes thousands of events in one block without allocating (an unstable sort on
/// a unique key), and note-offs past its queue still end their notes (issue #24).
#[test]
fn the_voice_takes_thousands_of_events_in_a_block_without_allocating_or_sticking() {
    let mut synth = Synth::new(SR as f32);
    let (mut left, mut right) = (vec![0.0f32; 512], vec![0.0f32; 512]);
    let pitch = |k: usize| 36 + (k % 48) as u8;
    AUDIO.with(|a| a.set(true));
    let before = ALLOCATIONS.with(Cell::get);
    for k in 0..1500 {
        synth.queue(NoteEvent::On { sample: k % 256, channel: 0, pitch: pitch(k), velocity: 100 });
    }
    synth.render(&mut left, &mut right);
    let played = left.iter().any(|x| *x != 0.0);
    let dropped = synth.take_dropped();
    // The next block: 1,500 note-offs, more than the queue holds.
    for k in 0..1500 {
        synth.queue(NoteEvent::Off { sample: k % 256, channel: 0, pitch: pitch(k) });
    }
    synth.render(&mut left, &mut right);
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    AUDIO.with(|a| a.set(false));
    assert_eq!(allocations, 0, "rendering 3,000 events allocated");
    assert!(played, "the voice played");
    assert_eq!(dropped, 1500 - (QUEUE - OFF_ROOM), "the note-ons the queue could not take are counted");
    // A second later nothing sounds: every note ended.
    for _ in 0..100 {
        synth.render(&mut left, &mut right);
    }
    assert_eq!(synth.sounding(), 0, "notes stuck");
    // Note-ons and their note-offs in one block past the queue: none sticks either.
    for k in 0..1200 {
        synth.queue(NoteEvent::On { sample: k % 200, channel: 0, pitch: pitch(k), velocity: 100 });
        synth.queue(NoteEvent::Off { sample: 200 + k % 200, channel: 0, pitch: pitch(k) });
    }
    for _ in 0..100 {
        synth.render(&mut left, &mut right);
    }
    assert_eq!(synth.sounding(), 0, "notes stuck after a block of ons and offs");
}

/// Absurd host positions (a sample position near `i64::MAX`, a beat position of ±1e19, not
/// a number, infinite, huge tempi) are a jump, not a panic (issue #24: the test builds check
/// overflow), with notes held across them; afterwards the plugin answers on the grid again.
#[test]
fn absurd_host_positions_are_a_jump_not_a_panic() {
    let mut host = Host::new(512, 120.0);
    let notes = [NoteEvent::On { sample: 10, channel: 0, pitch: 60, velocity: 100 }];
    let absurd = [
        (Some(1e19), Some(i64::MAX - 100), Some(120.0)),
        (Some(-1e19), Some(i64::MIN + 100), Some(120.0)),
        (Some(f64::NAN), None, Some(f64::NAN)),
        (Some(f64::INFINITY), Some(0), Some(1e300)),
        (Some(9.2e18), Some(i64::MAX), Some(1e-300)),
        (None, Some(i64::MAX), None),
    ];
    for (beat, sample, tempo) in absurd {
        for block in 0..3 {
            let transport = HostTransport { playing: true, tempo, beat, sample, loop_beats: None, exact: false };
            let input: &[NoteEvent] = if block == 0 { &notes } else { &[] };
            host.sink.clear();
            host.engine.process(transport, host.rate, 512, input, &host.settings, &mut host.sink);
        }
    }
    host.locate(0.0);
    host.run((46.0 * host.samples_per_beat()) as u64, &eight_bars());
    assert!(!host.answer_events().is_empty(), "no answer after absurd positions");
}

/// Middle C pressed on the first channel, then the sustain pedal: the start of a phrase held
/// open until both are let go.
fn key_and_pedal_down() -> Vec<NoteEvent> {
    vec![
        NoteEvent::On { sample: 0, channel: 0, pitch: 60, velocity: 100 },
        NoteEvent::Midi { sample: 10, bytes: [0xb0, 64, 127] },
    ]
}

/// A key and the pedal held down, then All Notes Off (CC 123): the phrase ends after its gap
/// and is answered. Before, the held key and pedal kept the phrase open forever (issue #24).
#[test]
fn all_notes_off_ends_a_phrase_held_by_a_key_and_the_pedal() {
    for cc in [123u8, 120] {
        let mut host = Host::new(512, 120.0);
        let mut asked = false;
        for block in 0..200i64 {
            let input = match block {
                2 => key_and_pedal_down(),
                20 => vec![NoteEvent::Midi { sample: 0, bytes: [0xb0, cc, 0] }],
                _ => vec![],
            };
            let answering = host.play_block(block, &input);
            assert!(block >= 20 || !answering, "CC {cc}: answered before the key was let go");
            asked |= answering;
        }
        assert!(asked, "CC {cc}: the phrase never ended");
    }
}

/// A key and the pedal held down on the input channel, then the input channel changed: their
/// releases on the old channel are no longer heard, and yet a phrase on the new channel ends
/// after its gap and is answered, instead of being held open for ever (issue #24).
#[test]
fn changing_the_input_channel_lets_go_of_the_keys_held_on_the_old_one() {
    let mut host = Host::new(512, 120.0);
    host.settings.input_channel = Some(0);
    let mut asked = false;
    for block in 0..200i64 {
        let input = match block {
            2 => key_and_pedal_down(),
            // On the old channel, after the change: not heard.
            30 => vec![
                NoteEvent::Off { sample: 0, channel: 0, pitch: 60 },
                NoteEvent::Midi { sample: 10, bytes: [0xb0, 64, 0] },
            ],
            40 => vec![NoteEvent::On { sample: 0, channel: 1, pitch: 64, velocity: 100 }],
            42 => vec![NoteEvent::Off { sample: 0, channel: 1, pitch: 64 }],
            _ => vec![],
        };
        if block == 20 {
            host.settings.input_channel = Some(1);
        }
        asked |= host.play_block(block, &input) && block > 42;
    }
    assert!(asked, "the phrase on the new channel was never answered");
}

/// Letting go (as the plugin does when it is bypassed) forgets the held key and pedal: the
/// next phrase ends and is answered though their releases were never heard.
#[test]
fn letting_go_forgets_the_keys_and_pedal_whose_release_passed_by() {
    let mut host = Host::new(512, 120.0);
    let mut asked = false;
    for block in 0..240i64 {
        let input = match block {
            2 => key_and_pedal_down(),
            // After the bypass: a new phrase of one note.
            40 => vec![NoteEvent::On { sample: 0, channel: 0, pitch: 64, velocity: 100 }],
            42 => vec![NoteEvent::Off { sample: 0, channel: 0, pitch: 64 }],
            _ => vec![],
        };
        if block == 20 {
            // Bypassed from here to block 39: the engine is not called, the releases pass by.
            host.engine.let_go(&mut host.sink);
        }
        if (20..40).contains(&block) {
            continue;
        }
        asked |= host.play_block(block, &input) && block > 42;
    }
    assert!(asked, "the phrase after the bypass was never answered");
}

/// A left hand holding C, Am, F and G below the chord split, a bar each from the first bar
/// on, never ends, starts or cuts a phrase: the right hand's 2-bar phrase is answered while
/// the chords go on, and the 8-bar answer plays through the chord changes under it. At
/// Follow chords 1 the answer's notes on beat 3 (the chord held two beats by then) are its
/// tones, and so are its notes on a downbeat: those were sampled before the new chord came
/// (the worker stays a block ahead), and are moved onto it as they are played.
#[test]
fn a_left_hand_progression_is_followed_and_never_cuts_the_answer() {
    let mut host = Host::new(512, 120.0);
    host.settings.harmony = HarmonyInput { split: Some(60), channel: None };
    host.settings.answer_bars = 8;
    host.link.sampling.follow_chords.store(1.0, Ordering::Relaxed);
    let progression: [[u8; 3]; 4] = [[48, 52, 55], [45, 48, 52], [41, 45, 48], [43, 47, 50]];
    let mut notes = Vec::new();
    for (i, pitch) in [72u8, 74, 76, 77, 79, 77, 76, 74].into_iter().enumerate() {
        notes.push((i as f64, true, pitch));
        notes.push((i as f64 + 0.8, false, pitch));
    }
    for bar in 0..16 {
        for pitch in progression[bar % 4] {
            notes.push((bar as f64 * 4.0, true, pitch));
            notes.push((bar as f64 * 4.0 + 3.99, false, pitch));
        }
    }
    let spb = host.samples_per_beat();
    host.run((64.0 * spb) as u64, &notes);
    let answer = host.answer_events();
    assert_on_grid(&answer, "over chords");
    let ons: Vec<(f64, u8)> = answer
        .iter()
        .filter_map(|o| match o.event {
            NoteEvent::On { pitch, .. } => Some((o.timeline, pitch)),
            _ => None,
        })
        .collect();
    let (first, last) = (ons.first().expect("an answer").0, ons.last().unwrap().0);
    // The phrase ended 2 beats after its last note (beat 7.8), the chords held on.
    assert!((9.0..11.0).contains(&first), "the answer started at beat {first}");
    assert!(last - first >= 28.0, "the answer was cut short at beat {last}: {ons:?}");
    let chord_tone =
        |(beat, pitch): &(f64, u8)| progression[(*beat / 4.0) as usize % 4].iter().any(|c| c % 12 == pitch % 12);
    let on_beat = |k: f64| ons.iter().filter(move |(b, _)| (b.rem_euclid(4.0) - k).abs() < 1e-6);
    let third: Vec<&(f64, u8)> = on_beat(2.0).collect();
    let fitting = third.iter().filter(|n| chord_tone(n)).count();
    let downbeats = on_beat(0.0).filter(|n| chord_tone(n)).count();
    println!("beat 3: {fitting} of {} chord tones; downbeats: {downbeats} of {}", third.len(), on_beat(0.0).count());
    assert!(third.len() >= 4 && fitting as f64 >= 0.8 * third.len() as f64, "{third:?}");
    let downbeat_notes = on_beat(0.0).count();
    assert!(downbeat_notes >= 3 && downbeats == downbeat_notes, "{ons:?}");
    host.playing = false;
    host.run(1024, &[]);
    assert_no_stuck_notes(&host.out);
    assert_eq!(host.allocations, 0);
    assert_eq!(chord_of_word(host.link.chord.load(Ordering::Relaxed)), None, "every chord key was let go");
}

/// Phrases of eighths played with swing ratios from straight to 2.5:1, and of sixteenths at
/// 1.5:1 and 2:1 (Swing: Follow), are answered with the same swing: the answer's pairs of
/// that unit, measured as the player's are, are within 0.1 of the player's ratio, and every
/// answered event lies on a step of the swung grid (a 16th step of straight time, bent). The
/// phrase is straightened before it is placed on the grid: the answer of a 2.5:1 phrase is
/// not made of dotted rhythms.
#[test]
fn the_answer_swings_as_the_player_did() {
    let cases = [(Unit::Eighths, 1.0), (Unit::Eighths, 1.5), (Unit::Eighths, 2.0), (Unit::Eighths, 2.5)];
    let sixteenths = [(Unit::Sixteenths, 1.5), (Unit::Sixteenths, 2.0)];
    for (unit, ratio) in cases.into_iter().chain(sixteenths) {
        let mut host = Host::new(512, 120.0);
        host.settings.answer_bars = 4;
        let groove = Groove { unit, position: position_of_ratio(ratio) };
        let span = unit.span();
        let mut notes = Vec::new();
        let pitches = [67u8, 69, 71, 72, 74, 72, 71, 69, 67, 71, 74, 79, 78, 76, 74, 72];
        for i in 0..(16.0 / span) as usize {
            let pitch = pitches[i % pitches.len()];
            let pair = (i / 2) as f64 * span;
            let (beat, len) = if i % 2 == 0 {
                (pair, groove.position)
            } else {
                (pair + groove.position * span, 1.0 - groove.position)
            };
            notes.push((beat, true, pitch));
            notes.push((beat + 0.9 * len * span, false, pitch));
        }
        let spb = host.samples_per_beat();
        host.run((32.0 * spb) as u64, &notes);
        let answer = host.answer_events();
        let mut meter = SwingMeter::default();
        let swing = Swing::steady(groove);
        for o in &answer {
            let step = swing.straightened(o.timeline) * 4.0;
            assert!(
                (step - step.round()).abs() < 1e-3,
                "{ratio}: an event at beat {} is off the swung grid",
                o.timeline
            );
            if matches!(o.event, NoteEvent::On { .. }) {
                meter.hear(o.timeline);
            }
        }
        let heard = meter.groove_of(unit).map(|g| ratio_of(g.position));
        println!("played {ratio:.1}:1 {unit:?}, answered {heard:?} ({} events)", answer.len());
        let heard = heard.unwrap_or_else(|| panic!("{ratio}: the answer has no pairs of {unit:?}"));
        assert!((heard - ratio).abs() <= 0.1, "played {ratio}:1, answered {heard:.2}:1");
        host.playing = false;
        host.run(1024, &[]);
        assert_no_stuck_notes(&host.out);
        assert_eq!(host.allocations, 0);
    }
}

/// The answer's note-ons of `host` as (timeline beat, velocity).
fn answer_velocities(host: &Host) -> Vec<(f64, u8)> {
    host.answer_events()
        .iter()
        .filter_map(|o| match o.event {
            NoteEvent::On { velocity, .. } => Some((o.timeline, velocity)),
            _ => None,
        })
        .collect()
}

/// The player's accents come back in the answer: a phrase of quarter notes loud on the
/// downbeat (120), less on beat 3 (100), soft on 2 and 4 (60) gets an answer louder on its
/// downbeats than on its beats 2 and 4. Humanise 1 moves each answered event by at most a
/// fifth of a step and its velocity by at most 12, the same twice with the same seed, and
/// sticks no note.
#[test]
fn the_answer_keeps_the_players_accents_and_humanise_is_bounded_and_reproducible() {
    let mut notes = Vec::new();
    for beat in 0..8 {
        let velocity = [120u8, 60, 100, 60][beat % 4];
        notes.push((beat as f64, true, [67u8, 69, 71, 72, 74, 72, 71, 69][beat], velocity));
        notes.push((beat as f64 + 0.9, false, [67u8, 69, 71, 72, 74, 72, 71, 69][beat], 0));
    }
    let run = |humanise: f32| {
        let mut host = Host::new(512, 120.0);
        host.settings.answer_bars = 4;
        host.settings.humanise = humanise;
        let spb = host.samples_per_beat();
        host.run_with_velocities((32.0 * spb) as u64, &notes);
        host.playing = false;
        host.run(1024, &[]);
        assert_no_stuck_notes(&host.out);
        assert_eq!(host.allocations, 0);
        answer_velocities(&host)
    };
    let plain = run(0.0);
    let mean = |beats: &[i64]| {
        let on = |b: f64| (b - b.round()).abs() < 1e-6 && beats.contains(&(b.round() as i64).rem_euclid(4));
        let v: Vec<f64> = plain.iter().filter(|(b, _)| on(*b)).map(|&(_, v)| v as f64).collect();
        (v.iter().sum::<f64>() / v.len().max(1) as f64, v.len())
    };
    let ((down, n), (weak, m)) = (mean(&[0]), mean(&[1, 3]));
    println!("answer velocity: downbeats {down:.0} ({n} notes), beats 2 and 4 {weak:.0} ({m} notes)");
    assert!(n > 0 && m > 0 && down >= weak + 30.0, "{plain:?}");
    let (human, again) = (run(1.0), run(1.0));
    assert_eq!(human, again, "the same seed, the same humanised answer");
    assert_ne!(human, plain);
    assert_eq!(human.len(), plain.len(), "Humanise changes how, not what, the answer plays");
    for (&(beat, velocity), &(straight, planned)) in human.iter().zip(&plain) {
        let moved = (beat - straight) * 4.0;
        assert!(moved.abs() <= 0.2 + 1e-3, "an onset {moved:.3} steps off its step");
        assert!(velocity.abs_diff(planned) <= 12, "{velocity} for {planned}");
    }
}
