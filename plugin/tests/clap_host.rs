//! The built CLAP plugin in a host: `clack-host` loads the shared library this build made
//! (the same file `cargo xtask bundle` copies to `Continuo.clap`), finds Continuo in its
//! factory, activates it, and plays an 8-bar phrase into it through CLAP note events with a
//! running transport. The answer comes back as CLAP note events, each on the exact sample
//! of a 16th-note step, in blocks of an odd size; stopping the transport ends every note.
//!
//! Set `CONTINUO_CLAP` to test another build (for example `target/bundled/Continuo.clap`).

mod common;

use clack_host::events::event_types::{NoteOffEvent, NoteOnEvent, TransportEvent, TransportFlags};
use clack_host::events::spaces::CoreEventSpace;
use clack_host::events::{EventFlags, Match};
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};
use common::eight_bars;
use continuo::clock::SAMPLE_TOLERANCE;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct TestHostShared;
impl SharedHandler<'_> for TestHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

struct TestHost;
impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// The plugin library of this build: `libcontinuo.so` beside the test binary.
fn plugin_library() -> PathBuf {
    if let Some(p) = std::env::var_os("CONTINUO_CLAP") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps.join("libcontinuo.so"), deps.parent().unwrap().join("libcontinuo.so")]
        .into_iter()
        .find(|p| p.is_file())
        .expect("libcontinuo.so is built with the tests (crate-type cdylib)")
}

const SR: f64 = 48_000.0;
const TEMPO: f64 = 120.0;
const BLOCK: u32 = 333;

fn transport(playing: bool, beat: f64) -> TransportEvent {
    let mut flags = TransportFlags::HAS_TEMPO
        | TransportFlags::HAS_BEATS_TIMELINE
        | TransportFlags::HAS_SECONDS_TIMELINE
        | TransportFlags::HAS_TIME_SIGNATURE;
    if playing {
        flags |= TransportFlags::IS_PLAYING;
    }
    TransportEvent {
        header: EventHeader::new_core(0, EventFlags::empty()),
        flags,
        song_pos_beats: BeatTime::from_float(beat),
        song_pos_seconds: SecondsTime::from_float(beat * 60.0 / TEMPO),
        tempo: TEMPO,
        tempo_inc: 0.0,
        loop_start_beats: BeatTime::from_float(0.0),
        loop_end_beats: BeatTime::from_float(0.0),
        loop_start_seconds: SecondsTime::from_float(0.0),
        loop_end_seconds: SecondsTime::from_float(0.0),
        bar_start: BeatTime::from_float((beat / 4.0).floor() * 4.0),
        bar_number: (beat / 4.0).floor() as i32,
        time_signature_numerator: 4,
        time_signature_denominator: 4,
    }
}

#[test]
fn the_clap_build_answers_a_phrase_on_the_grid_in_a_host() {
    // The phrases it saves (the default) go into a folder of the test's own.
    let home = tempfile::Builder::new().prefix("continuo-home-").tempdir().unwrap();
    std::env::set_var("CONTINUO_HOME", home.path());
    let library = plugin_library();
    let scan = Instant::now();
    let entry = unsafe { PluginEntry::load(&library) }.unwrap_or_else(|e| panic!("{}: {e:?}", library.display()));
    let factory = entry.get_plugin_factory().expect("a plugin factory");
    let descriptor = factory
        .plugin_descriptors()
        .find(|d| d.id().is_some_and(|id| id.to_bytes() == b"org.continuo.continuo"))
        .expect("Continuo in the factory");
    assert_eq!(descriptor.name().unwrap().to_bytes(), b"Continuo");
    let host_info = HostInfo::new("continuo-test-host", "Continuo", "https://example.invalid", "0.1").unwrap();
    let mut instance =
        PluginInstance::<TestHost>::new(|_| TestHostShared, |_| (), &entry, descriptor.id().unwrap(), &host_info)
            .expect("the plugin instantiates");
    // Scanning loads no model: this is the time a host's scan takes.
    println!("load + instantiate: {:.1} ms", scan.elapsed().as_secs_f64() * 1e3);

    let config = PluginAudioConfiguration { sample_rate: SR, min_frames_count: 1, max_frames_count: BLOCK };
    let processor = instance.activate(|_, _| (), config).expect("the plugin activates");

    let samples_per_beat = SR * 60.0 / TEMPO;
    let phrase = eight_bars();
    // (absolute sample, on?, pitch) of every note event the plugin sent.
    let (processor, out) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut processor = processor.start_processing().expect("processing starts");
            let mut out_channels = [vec![0.0f32; BLOCK as usize], vec![0.0f32; BLOCK as usize]];
            let mut ports_out = AudioPorts::with_capacity(2, 1);
            let mut input = EventBuffer::with_capacity(64);
            let mut output = EventBuffer::with_capacity(1024);
            let mut out: Vec<(u64, bool, u8)> = Vec::new();
            let mut run = |processor: &mut StartedPluginAudioProcessor<TestHost>,
                           from: u64,
                           to: u64,
                           playing: bool,
                           notes: &[(f64, bool, u8)],
                           out: &mut Vec<(u64, bool, u8)>| {
                let mut at = from;
                while at < to {
                    let len = BLOCK.min((to - at) as u32);
                    input.clear();
                    output.clear();
                    for &(beat, on, pitch) in notes {
                        let sample = (beat * samples_per_beat).round() as u64;
                        if (at..at + len as u64).contains(&sample) {
                            let t = (sample - at) as u32;
                            let pckn = Pckn::new(0u16, 0u16, pitch as u16, Match::All);
                            if on {
                                input.push(&NoteOnEvent::new(t, pckn, 0.8));
                            } else {
                                input.push(&NoteOffEvent::new(t, pckn, 0.0));
                            }
                        }
                    }
                    input.sort();
                    let beat = at as f64 / samples_per_beat;
                    let [l, r] = &mut out_channels;
                    let mut audio_out = ports_out.with_output_buffers([AudioPortBuffer {
                        latency: 0,
                        channels: AudioPortBufferType::f32_output_only(
                            [&mut l[..len as usize], &mut r[..len as usize]].into_iter(),
                        ),
                    }]);
                    processor
                        .process(
                            &InputAudioBuffers::empty(),
                            &mut audio_out,
                            &input.as_input(),
                            &mut output.as_output(),
                            Some(at),
                            Some(&transport(playing, beat)),
                        )
                        .expect("process");
                    for e in output.iter() {
                        let time = at + e.header().time() as u64;
                        match e.as_core_event() {
                            Some(CoreEventSpace::NoteOn(n)) => {
                                out.push((time, true, n.key().into_specific().unwrap_or(0) as u8))
                            }
                            Some(CoreEventSpace::NoteOff(n)) => {
                                out.push((time, false, n.key().into_specific().unwrap_or(0) as u8))
                            }
                            _ => {}
                        }
                    }
                    at += len as u64;
                    // A little real time per block for the inference worker (a block is 7 ms).
                    std::thread::sleep(Duration::from_micros(500));
                }
            };
            // Idle a second with the transport stopped while the worker loads the model.
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(1) {
                run(&mut processor, 0, BLOCK as u64, false, &[], &mut out);
            }
            out.clear();
            // The phrase, its answer (2 bars from beat 32.25) and a little more, then stop.
            let end = (44.0 * samples_per_beat) as u64;
            run(&mut processor, 0, end, true, &phrase, &mut out);
            run(&mut processor, end, end + 4 * BLOCK as u64, false, &[], &mut out);
            (processor.stop_processing(), out)
        })
        .join()
        .unwrap()
    });
    instance.deactivate(processor);

    // Notes sent before the phrase ended are the player's, passed through; after it, the
    // answer's.
    let phrase_end = (32.0 * samples_per_beat) as u64;
    let answer: Vec<_> = out.iter().filter(|(t, _, _)| *t >= phrase_end).collect();
    let ons = answer.iter().filter(|(_, on, _)| *on).count();
    println!("{} events out, {ons} answer notes", out.len());
    assert!(ons > 0, "no answer came back: {out:?}");
    let step = samples_per_beat / 4.0;
    for (t, on, pitch) in &answer {
        let k = (*t as f64 / step).round();
        assert_eq!(
            *t,
            (k * step - SAMPLE_TOLERANCE).ceil() as u64,
            "note {pitch} (on: {on}) at sample {t} is off the 16th grid"
        );
    }
    let mut sounding = [0i32; 128];
    for (t, on, pitch) in &out {
        let s = &mut sounding[*pitch as usize];
        *s += if *on { 1 } else { -1 };
        assert!(*s <= 1, "note {pitch} on twice at {t}");
    }
    assert!(sounding.iter().all(|&s| s <= 0), "stuck notes after the transport stopped: {sounding:?}");
}
