//! Without the ONNX Runtime library the plugin still works as a MIDI pass-through and says
//! why it does not answer. (A test binary of its own: the runtime is loaded once per
//! process, and this one must never find it.)

use continuo::clock::HostTransport;
use continuo::engine::{Engine, Settings};
use continuo::events::{EventSink, NoteEvent};
use continuo::link::Link;
use continuo::worker::Worker;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[test]
fn without_onnx_runtime_notes_pass_through_and_the_status_says_why() {
    // SAFETY: set before any other thread of this test binary exists.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so") };
    let link = Link::new();
    let worker =
        Worker::spawn(link.clone(), PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx"))
            .unwrap();
    let started = Instant::now();
    while worker.shared.status().error.is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "no error reported");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = worker.shared.status();
    assert!(status.name.is_none() && !link.model_ready.load(Ordering::Acquire));
    let error = status.error.unwrap();
    assert!(error.contains("ONNX Runtime") && error.contains("/nonexistent/libonnxruntime.so"), "{error}");

    let mut engine = Engine::new(link.clone());
    let mut sink = EventSink::with_capacity(64);
    let settings = Settings { pass_through: true, ..Settings::default() };
    let notes = [
        NoteEvent::On { sample: 10, channel: 0, pitch: 60, velocity: 100 },
        NoteEvent::Off { sample: 300, channel: 0, pitch: 60 },
    ];
    let mut beat = 0.0;
    let mut out = Vec::new();
    for block in 0..400 {
        sink.clear();
        let input: &[NoteEvent] = if block == 0 { &notes } else { &[] };
        let timing = engine.process(
            HostTransport { playing: true, tempo: Some(120.0), beat: Some(beat), ..HostTransport::default() },
            48_000.0,
            512,
            input,
            &settings,
            &mut sink,
        );
        beat = timing.end_beat();
        out.extend_from_slice(sink.events());
    }
    assert_eq!(out, notes, "the player's notes pass through, and nothing else is played");
}
