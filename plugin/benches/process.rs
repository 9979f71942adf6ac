//! The audio thread's cost, for the performance report (`cargo xtask perf` runs this): the
//! plugin's process core (`Engine::process`) with the real inference worker and the shipped
//! model, in continuous mode with pass-through, so every block takes 16 of the player's
//! notes in (8 on, 8 off) and sends them out with the answer's. Each block is timed on its
//! own; the baseline is the block's real-time budget at 48 kHz. A second baseline, for the
//! worst case: right after each block, the same thread times a fixed loop of arithmetic
//! about as long as a block's median, which touches no memory — its worst case is what the
//! machine itself does to a microsecond of work. Between blocks (untimed) the
//! worker is given the time real playback would give it, and the timing thread sleeps as an
//! audio thread waits for its next period (a real-time thread that never sleeps is
//! throttled by the kernel). The timing thread asks for
//! real-time scheduling (SCHED_FIFO), as hosts give their audio threads; the report says
//! whether it got it; its memory is locked and it is pinned to one CPU. Also the built-in
//! voice's cost per 512-sample block with 16 notes sounding (each patch, against the same
//! budget), and the process's resident memory before and after the model is loaded.
//!
//! Run: `cargo bench -p continuo --bench process -- [--blocks N] [--json FILE]`.

use continuo::clock::HostTransport;
use continuo::engine::{Engine, Mode, Settings, Status};
use continuo::events::{EventSink, NoteEvent};
use continuo::link::Link;
use continuo::soundfont::{Handoff, Loader};
use continuo::synth::{Patch, Synth, VOICES};
use continuo::worker::Worker;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const SR: f64 = 48_000.0;
const TEMPO: f64 = 120.0;
/// Iterations of the baseline loop: about 0.75 µs here, a block's median.
const BASELINE_ITERATIONS: u64 = 750;

/// Resident memory of this process, from /proc (Linux), in MiB.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Ask for SCHED_FIFO at a middle priority for this thread, as audio hosts do.
fn real_time_priority() -> bool {
    // SAFETY: plain libc calls on this thread with a valid `sched_param`.
    unsafe {
        let param = libc::sched_param { sched_priority: 50 };
        libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) == 0
    }
}

/// Lock the process's memory (as many hosts do for their audio threads), so that no page
/// fault lands inside a timed block.
fn lock_memory() -> bool {
    // SAFETY: a plain libc call with valid flags.
    unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) == 0 }
}

/// Keep this thread on the last CPU: no migration between blocks, so its data stay in
/// that core's cache.
fn pin_to_last_cpu() -> Option<usize> {
    let cpu = std::thread::available_parallelism().ok()?.get() - 1;
    // SAFETY: `set` is a zeroed, then filled, cpu_set_t of the size passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        (libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0).then_some(cpu)
    }
}

fn wait_for_worker(link: &Link, status: Status) {
    let started = Instant::now();
    while !link.requests.is_empty() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_micros(20));
    }
    if status.answering() {
        let wanted = link.now_step.load(Ordering::Acquire);
        while link.ready_until.load(Ordering::Acquire) < wanted && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    // The wait for the next period: a real-time thread busy for more than 95 % of a second
    // is throttled by the kernel for the rest of it (sched_rt_runtime_us).
    std::thread::sleep(Duration::from_micros(50));
}

/// The voice's cost: `blocks` blocks of 512 samples, each timed, with `VOICES` notes
/// sounding throughout (struck again every second, before they fade).
/// A synth playing `patch`; the SoundFont voice with Debian's TimGM6mb SoundFont, loaded
/// as the plugin loads it (the audio thread asks, a loader thread reads it).
fn synth(patch: Patch) -> Synth {
    let handoff = std::sync::Arc::new(Handoff::default());
    let mut synth = Synth::new(SR as f32).with_font(handoff.clone());
    synth.patch = patch;
    if patch == Patch::SoundFont {
        synth.render(&mut [0.0; 64], &mut [0.0; 64]);
        let loader = Loader::new(std::sync::Arc::new(std::sync::RwLock::new(SOUNDFONT.into())));
        loader.follow(&handoff, &nice_plug_egui::RepaintNotifier::new());
        loader.wait();
        synth.render(&mut [0.0; 64], &mut [0.0; 64]);
        assert_eq!(synth.now(), Patch::SoundFont, "{SOUNDFONT}: {:?}", loader.state());
    }
    synth
}

const SOUNDFONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";

fn voice_cost(patch: Patch, blocks: usize) -> serde_json::Value {
    const LEN: usize = 512;
    let mut synth = synth(patch);
    let (mut left, mut right) = (vec![0.0f32; LEN], vec![0.0f32; LEN]);
    let mut times = Vec::with_capacity(blocks);
    let per_second = (SR as usize / LEN).max(1);
    for b in 0..blocks {
        if b % per_second == 0 {
            for i in 0..VOICES as u8 {
                synth.queue(NoteEvent::Off { sample: 0, channel: 0, pitch: 40 + 3 * i });
                synth.queue(NoteEvent::On { sample: 1, channel: 0, pitch: 40 + 3 * i, velocity: 100 });
            }
        }
        left.fill(0.0);
        right.fill(0.0);
        let t = Instant::now();
        synth.render(&mut left, &mut right);
        times.push(t.elapsed().as_secs_f64());
        // (The SoundFont's notes are the synthesiser's own, not counted here.)
        assert!(patch == Patch::SoundFont || synth.sounding() == VOICES, "{patch:?}: {} notes sound", synth.sounding());
    }
    times.sort_by(f64::total_cmp);
    let budget = LEN as f64 / SR;
    let (median, p99) = (times[times.len() / 2], times[(times.len() - 1) * 99 / 100]);
    eprintln!(
        "voice {patch:?}, {VOICES} notes, block {LEN}: median {:.1} µs ({:.2} % of {:.0} µs), p99 {:.1} µs",
        median * 1e6,
        median / budget * 100.0,
        budget * 1e6,
        p99 * 1e6
    );
    json!({
        "patch": format!("{patch:?}"), "notes": VOICES, "block": LEN, "blocks": blocks, "budget_us": budget * 1e6,
        "median_us": median * 1e6, "p99_us": p99 * 1e6, "median_percent": median / budget * 100.0,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let blocks: usize = arg("--blocks").map(|b| b.parse().expect("--blocks N")).unwrap_or(100_000);
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");

    let rss_before = rss_mib();
    let link = Link::new();
    let worker = Worker::spawn(link.clone(), model).expect("the worker starts");
    let started = Instant::now();
    while !link.model_ready.load(Ordering::Acquire) {
        assert!(started.elapsed() < Duration::from_secs(30), "the model did not load: {:?}", worker.shared.status());
        std::thread::sleep(Duration::from_millis(5));
    }
    let rss_loaded = rss_mib();

    let real_time = real_time_priority();
    let locked = lock_memory();
    let cpu = pin_to_last_cpu();
    eprintln!(
        "timing thread: {}, memory {}, {}",
        if real_time { "SCHED_FIFO, priority 50" } else { "normal priority (SCHED_FIFO refused)" },
        if locked { "locked" } else { "not locked (mlockall refused)" },
        cpu.map_or("not pinned".to_string(), |c| format!("pinned to CPU {c}"))
    );
    let settings =
        Settings { mode: Mode::Continuous, pass_through: true, output_channel: 1, gap_steps: 4, ..Settings::default() };
    let mut results = Vec::new();
    for len in [64usize, 512, 4096] {
        let mut engine = Engine::new(link.clone());
        let mut sink = EventSink::with_capacity(2048);
        let mut input: Vec<NoteEvent> = Vec::with_capacity(16);
        let samples_per_beat = SR * 60.0 / TEMPO;
        let mut beat = 0.0;
        let mut x: u32 = 0x9e37_79b9;
        let block = |engine: &mut Engine, input: &[NoteEvent], beat: &mut f64, sink: &mut EventSink| -> f64 {
            sink.clear();
            let host =
                HostTransport { playing: true, tempo: Some(TEMPO), beat: Some(*beat), ..HostTransport::default() };
            let t = Instant::now();
            engine.process(host, SR, len, input, &settings, sink);
            let seconds = t.elapsed().as_secs_f64();
            *beat += len as f64 / samples_per_beat;
            seconds
        };
        // A short phrase, then silence until the continuous answer runs.
        let phrase = [
            NoteEvent::On { sample: 0, channel: 0, pitch: 60, velocity: 90 },
            NoteEvent::Off { sample: len / 2, channel: 0, pitch: 60 },
        ];
        block(&mut engine, &phrase, &mut beat, &mut sink);
        while !engine.status().answering() {
            block(&mut engine, &[], &mut beat, &mut sink);
            wait_for_worker(&link, engine.status());
        }
        let mut times = Vec::with_capacity(blocks);
        let mut baseline = Vec::with_capacity(blocks);
        let mut out_events = 0usize;
        for _ in 0..blocks {
            input.clear();
            for i in 0..8 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let pitch = 48 + (x % 36) as u8;
                let at = i * len / 8;
                input.push(NoteEvent::On { sample: at, channel: 0, pitch, velocity: 64 + (x % 60) as u8 });
                input.push(NoteEvent::Off { sample: (at + len / 16).min(len - 1), channel: 0, pitch });
            }
            input.sort_by_key(|e| e.sample());
            times.push(block(&mut engine, &input, &mut beat, &mut sink));
            // The baseline: the same timing around a fixed loop of arithmetic about as long
            // as a block's median, right after, on the same thread: what the machine itself
            // does to a piece of work that touches no memory.
            let t = Instant::now();
            let mut acc = 0u64;
            for i in 0..BASELINE_ITERATIONS {
                acc = std::hint::black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
            baseline.push(t.elapsed().as_secs_f64());
            out_events += sink.events().len();
            wait_for_worker(&link, engine.status());
        }
        engine.stop_all(0, &mut sink);
        times.sort_by(f64::total_cmp);
        baseline.sort_by(f64::total_cmp);
        let (baseline_median, baseline_worst) = (baseline[baseline.len() / 2], baseline[baseline.len() - 1]);
        let budget = len as f64 / SR;
        let (median, worst) = (times[times.len() / 2], times[times.len() - 1]);
        let p99 = times[(times.len() - 1) * 99 / 100];
        let p999 = times[(times.len() - 1) * 999 / 1000];
        eprintln!(
            "block {len:5}: median {:.2} µs ({:.4} % of {:.0} µs), p99 {:.2} µs, worst {:.1} µs ({:.3} %), {:.1} events out per block; baseline loop: median {:.2} µs, worst {:.1} µs",
            median * 1e6,
            median / budget * 100.0,
            budget * 1e6,
            p99 * 1e6,
            worst * 1e6,
            worst / budget * 100.0,
            out_events as f64 / blocks as f64,
            baseline_median * 1e6,
            baseline_worst * 1e6
        );
        results.push(json!({
            "block": len, "blocks": blocks, "budget_us": budget * 1e6,
            "median_us": median * 1e6, "p99_us": p99 * 1e6, "p999_us": p999 * 1e6, "worst_us": worst * 1e6,
            "median_percent": median / budget * 100.0, "worst_percent": worst / budget * 100.0,
            "events_out_per_block": out_events as f64 / blocks as f64,
            "baseline_median_us": baseline_median * 1e6, "baseline_worst_us": baseline_worst * 1e6,
            "late_steps": link.health.late_steps.load(Ordering::Relaxed),
        }));
    }
    let voice = [Patch::EPiano, Patch::Pluck, Patch::SoundFont].map(|patch| voice_cost(patch, blocks.min(20_000)));
    let report = json!({
        "voice": voice,
        "real_time_priority": real_time,
        "memory_locked": locked,
        "pinned_cpu": cpu,
        "process": results,
        "memory": { "rss_before_mib": rss_before, "rss_with_model_mib": rss_loaded },
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    match arg("--json") {
        Some(p) => std::fs::write(&p, text).unwrap_or_else(|e| panic!("{p}: {e}")),
        None => println!("{text}"),
    }
    drop(worker);
}
