//! The plugin's process core driven by a headless host: transport, tempo, block sizes and
//! the player's notes in; note events out. The inference worker runs for real, with the
//! shipped melody model. Shows: an 8-bar phrase is answered with every note on and off on
//! the exact sample of its grid step, at 3 tempi and 5 block sizes (1 and an odd size
//! among them); a tempo change in the middle of an answer; transport stop ends every note;
//! a long randomised session leaves no note-on without its note-off; and `process`
//! allocates nothing (a counting allocator watches the audio thread).

mod common;

use common::eight_bars;
use continuo::clock::{HostTransport, SAMPLE_TOLERANCE};
use continuo::engine::{Engine, Mode, Settings, Status};
use continuo::events::{EventSink, NoteEvent};
use continuo::link::Link;
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

/// A host: runs blocks, keeps absolute sample and beat positions, records what comes out.
struct Host {
    engine: Engine,
    link: std::sync::Arc<Link>,
    _worker: Worker,
    sink: EventSink,
    block: usize,
    tempo: f64,
    playing: bool,
    sample: u64,
    beat: f64,
    /// (absolute sample, beat at that sample, event)
    out: Vec<(u64, f64, NoteEvent)>,
    settings: Settings,
    allocations: usize,
    /// Every input event delivered, with its absolute sample.
    heard: Vec<(u64, NoteEvent)>,
}

impl Host {
    fn new(block: usize, tempo: f64) -> Host {
        let link = Link::new();
        let worker = Worker::spawn(link.clone(), model());
        let started = Instant::now();
        while !link.model_ready.load(Ordering::Acquire) {
            if let Some(e) = worker.shared.status.lock().unwrap().error.clone() {
                panic!("the worker could not load the model: {e} (run `cargo xtask ort`)");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the model did not load");
            std::thread::sleep(Duration::from_millis(5));
        }
        let settings = Settings { pass_through: false, output_channel: OUT_CHANNEL, answer_bars: 2, seed: 7, ..Settings::default() };
        Host {
            engine: Engine::new(link.clone()),
            link,
            _worker: worker,
            sink: EventSink::with_capacity(4096),
            block,
            tempo,
            playing: true,
            sample: 0,
            beat: 0.0,
            out: Vec::new(),
            settings,
            allocations: 0,
            heard: Vec::new(),
        }
    }

    fn samples_per_beat(&self) -> f64 {
        SR * 60.0 / self.tempo
    }

    /// Run `samples` samples with the player's notes given at beats (beat, on?, pitch).
    fn run(&mut self, samples: u64, notes: &[(f64, bool, u8)]) {
        let end = self.sample + samples;
        let mut input = Vec::with_capacity(64);
        while self.sample < end {
            let len = self.block.min((end - self.sample) as usize);
            let spb = self.samples_per_beat();
            input.clear();
            for &(beat, on, pitch) in notes {
                let at = ((beat - self.beat) * spb - 1e-6).ceil();
                if at >= 0.0 && at < len as f64 {
                    let sample = at as usize;
                    input.push(if on {
                        NoteEvent::On { sample, channel: 0, pitch, velocity: 100 }
                    } else {
                        NoteEvent::Off { sample, channel: 0, pitch }
                    });
                }
            }
            input.sort_by_key(|e| (e.sample(), matches!(e, NoteEvent::On { .. })));
            self.heard.extend(input.iter().map(|e| (self.sample + e.sample() as u64, *e)));
            let host = HostTransport { playing: self.playing, tempo: Some(self.tempo), beat: self.playing.then_some(self.beat) };
            self.sink.clear();
            AUDIO.with(|a| a.set(true));
            let before = ALLOCATIONS.with(Cell::get);
            let timing = self.engine.process(host, SR, len, &input, &self.settings, &mut self.sink);
            self.allocations += ALLOCATIONS.with(Cell::get) - before;
            AUDIO.with(|a| a.set(false));
            for e in self.sink.events() {
                self.out.push((self.sample + e.sample() as u64, timing.beat_of(e.sample()), *e));
            }
            self.sample += len as u64;
            self.beat = timing.end_beat();
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
            while self.link.ready_until.load(Ordering::Acquire) < wanted && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    fn answer_events(&self) -> Vec<(u64, f64, NoteEvent)> {
        self.out.iter().filter(|(_, _, e)| matches!(e, NoteEvent::On { channel: OUT_CHANNEL, .. } | NoteEvent::Off { channel: OUT_CHANNEL, .. })).copied().collect()
    }
}

/// Every event is on the first sample at or after a grid step (beat k/4).
fn assert_on_grid(events: &[(u64, f64, NoteEvent)], samples_per_beat: f64, what: &str) {
    assert_on_steps(events, samples_per_beat, 4.0, what);
}

/// Every event is on the first sample at or after a step of `steps_per_beat`.
fn assert_on_steps(events: &[(u64, f64, NoteEvent)], samples_per_beat: f64, steps_per_beat: f64, what: &str) {
    for &(sample, _, e) in events {
        let k = (sample as f64 / samples_per_beat * steps_per_beat).round();
        let exact_steps: Vec<u64> = [k - 1.0, k, k + 1.0].iter().map(|k| (k / steps_per_beat * samples_per_beat - SAMPLE_TOLERANCE).ceil() as u64).collect();
        assert!(exact_steps.contains(&sample), "{what}: {e:?} at sample {sample} is not on a grid step");
    }
}

/// The answer's note-ons as (step, pitch), steps of `steps_per_beat` from beat 0.
fn answer_ons(host: &Host, steps_per_beat: f64) -> Vec<(i64, u8)> {
    host.answer_events()
        .iter()
        .filter_map(|&(_, beat, e)| match e {
            NoteEvent::On { pitch, .. } => Some(((beat * steps_per_beat).round() as i64, pitch)),
            _ => None,
        })
        .collect()
}

/// The answer's ons and offs pair up per pitch (never two ons in a row); the player's
/// passed-through notes balance out; and nothing sounds at the end.
fn assert_no_stuck_notes(events: &[(u64, f64, NoteEvent)]) {
    let mut count = [[0i32; 128]; 16];
    for &(sample, _, e) in events {
        match e {
            NoteEvent::On { channel, pitch, .. } => {
                let c = &mut count[channel as usize][pitch as usize];
                assert!(channel != OUT_CHANNEL || *c == 0, "answer note {pitch} on twice without an off, at {sample}");
                *c += 1;
            }
            NoteEvent::Off { channel, pitch, .. } => {
                let c = &mut count[channel as usize][pitch as usize];
                *c = (*c - 1).max(0);
            }
        }
    }
    for (c, ch) in count.iter().enumerate() {
        for (p, &n) in ch.iter().enumerate() {
            if n != 0 {
                let history: Vec<_> = events.iter().filter(|(_, _, e)| match *e {
                    NoteEvent::On { channel, pitch, .. } | NoteEvent::Off { channel, pitch, .. } => channel as usize == c && pitch as usize == p,
                }).collect();
                eprintln!("{:?}", &history[history.len().saturating_sub(6)..]);
            }
            assert_eq!(n, 0, "channel {c} pitch {p} is stuck");
        }
    }
}

#[test]
fn an_eight_bar_phrase_is_answered_on_the_grid_at_every_tempo_and_block_size() {
    for tempo in [63.0, 120.0, 217.5] {
        for block in [1usize, 37, 64, 512, 8192] {
            let mut host = Host::new(block, tempo);
            let spb = host.samples_per_beat();
            // The phrase, a gap of 2 beats ends it, then 2 bars of answer and some silence.
            host.run((44.0 * spb) as u64, &eight_bars());
            let answer = host.answer_events();
            let ons = answer.iter().filter(|(_, _, e)| matches!(e, NoteEvent::On { .. })).count();
            assert!(ons > 0, "tempo {tempo} block {block}: no answer (late steps {}, status {:?}, {} events)", host.link.late_steps.load(Ordering::Relaxed), host.engine.status(), host.out.len());
            // The last note (beat 28) is released at 31.6: the phrase has ended on the next
            // step, 31.75, and the answer runs from two steps later for 2 bars: 32.25 .. 40.25.
            let first_beat = answer[0].1;
            assert!(first_beat >= 32.25 - 1e-6, "tempo {tempo} block {block}: answer at beat {first_beat}");
            assert_on_grid(&answer, spb, &format!("tempo {tempo} block {block}"));
            let last_beat = answer.last().unwrap().1;
            assert!((last_beat - 40.25).abs() < 1e-3 || last_beat < 40.25, "the answer is 2 bars long, ends at {last_beat}");
            assert_no_stuck_notes(&host.out);
            assert_eq!(host.allocations, 0, "process allocated (tempo {tempo}, block {block})");
            assert_eq!(host.link.late_steps.load(Ordering::Relaxed), 0);
        }
    }
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
    for (_, beat, e) in &after {
        let steps = beat * 4.0;
        // Within a sample of a grid step, at the new tempo.
        assert!((steps - steps.round()).abs() * spb2 / 4.0 < 1.0, "{e:?} at beat {beat}");
    }
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
    let sounding_after_stop = host.out.iter().filter(|(s, _, e)| *s >= stop_at && matches!(e, NoteEvent::On { .. })).count();
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
            0 if host.playing => host.beat = rnd(64) as f64, // loop jump
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
            assert!(matches!(host.engine.status(), Status::Continuing { .. }), "still answering after 10 bars: {:?}", host.engine.status());
            let answer = host.answer_events();
            assert_on_grid(&answer, spb, "continuous");
            assert_eq!(host.link.late_steps.load(Ordering::Relaxed), 0);
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
    let answer: Vec<(i64, u8)> = ons.iter().filter(|(s, _)| (129..145).contains(s)).map(|&(s, p)| (s - 129, p)).collect();
    assert!(!answer.is_empty());
    // Bars from step 160 on each play the answer again (its first step on the bar line).
    for bar in 0..4 {
        let start = 160 + 16 * bar;
        let repeat: Vec<(i64, u8)> = ons.iter().filter(|(s, _)| (start..start + 16).contains(s)).map(|&(s, p)| (s - start, p)).collect();
        assert_eq!(repeat, answer, "bar {bar} of the loop");
    }
    // The player playing over the loop does not stop it.
    let loops_before = ons.len();
    host.run((4.0 * spb) as u64, &[(61.0, true, 64), (61.5, false, 64)]);
    assert!(matches!(host.engine.status(), Status::Looping { .. }));
    assert!(answer_ons(&host, 4.0).len() > loops_before);
    assert_on_grid(&host.answer_events(), spb, "loop");
    // Back to call & response: the loop's notes end.
    host.settings.mode = Mode::CallResponse;
    host.run(256, &[]);
    assert_eq!(host.engine.status(), Status::Listening);
    assert_no_stuck_notes(&host.out);
    assert_eq!(host.allocations, 0);
}

#[test]
fn half_and_double_time_grids_and_grid_changes() {
    for (steps_per_beat, first_step) in [(2u32, 66i64), (8, 258)] {
        let mut host = Host::new(77, 90.0);
        host.settings.steps_per_beat = steps_per_beat;
        let spb = host.samples_per_beat();
        host.run((38.0 * spb) as u64, &eight_bars());
        let answer = host.answer_events();
        assert!(!answer.is_empty(), "{steps_per_beat} steps per beat: no answer");
        assert_on_steps(&answer, spb, steps_per_beat as f64, &format!("{steps_per_beat} steps per beat"));
        let ons = answer_ons(&host, steps_per_beat as f64);
        assert!(ons[0].0 >= first_step, "{steps_per_beat}: first onset at step {}", ons[0].0);
        // Changing the grid in the middle of an answer ends its notes and listens again.
        host.settings.steps_per_beat = 4;
        host.run(77, &[]);
        assert_eq!(host.engine.status(), Status::Listening);
        assert_no_stuck_notes(&host.out);
        assert_eq!(host.allocations, 0);
    }
}

