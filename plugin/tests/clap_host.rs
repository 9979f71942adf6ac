//! The built CLAP plugin in a host: `clack-host` loads the shared library this build made
//! (the same file `cargo xtask bundle` copies to `Continuo.clap`), finds Continuo in its
//! factory, activates it, and plays an 8-bar phrase into it through CLAP note events with a
//! running transport. The answer comes back as CLAP note events, each on the exact sample
//! of a 16th-note step, in blocks of an odd size; stopping the transport ends every note.
//! Then the host presses Keep and Learn through parameter events: the take is written, a
//! model learnt from the takes appears in `$CONTINUO_HOME/models/learnt`, and the plugin,
//! now playing it, answers the phrase again. `scripts/test.sh` runs this test once more with
//! nice-plug's check that aborts on any allocation in `process`.
//!
//! Set `CONTINUO_CLAP` to test another build (for example `target/bundled/Continuo.clap`).

mod common;

use clack_host::events::event_types::{NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags};
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

/// The CLAP id of the parameter with string id `id`, as nice-plug derives it
/// (`nice_plug::wrapper::util::hash_param_id`, which is not public).
fn param_id(id: &str) -> ClapId {
    let hash = id.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    ClapId::new(hash & !(1 << 31))
}

/// Call `block` until `until` holds or `seconds` pass.
fn wait(seconds: f64, until: &dyn Fn() -> bool, mut block: impl FnMut()) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs_f64(seconds) && !until() {
        block();
    }
}

/// The ONNX files learnt into `home`.
fn learnt_models(home: &std::path::Path) -> Vec<PathBuf> {
    let dir = home.join("models/learnt");
    let files = std::fs::read_dir(dir).map_or(vec![], |d| d.map(|e| e.unwrap().path()).collect::<Vec<_>>());
    files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "onnx")).collect()
}

/// Where the answer starts: notes sent before the phrase ended are the player's, passed
/// through; after it, the answer's. Each answer note is on a 16th-note step.
fn answer_on_the_grid(out: &[(u64, bool, u8)], samples_per_beat: f64) -> usize {
    let phrase_end = (32.0 * samples_per_beat) as u64;
    let answer: Vec<_> = out.iter().filter(|(t, _, _)| *t >= phrase_end).collect();
    let step = samples_per_beat / 4.0;
    for (t, on, pitch) in &answer {
        let k = (*t as f64 / step).round();
        assert_eq!(
            *t,
            (k * step - SAMPLE_TOLERANCE).ceil() as u64,
            "note {pitch} (on: {on}) at sample {t} is off the 16th grid"
        );
    }
    answer.iter().filter(|(_, on, _)| *on).count()
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
                           params: &[(&str, f64)],
                           out: &mut Vec<(u64, bool, u8)>| {
                let mut at = from;
                while at < to {
                    let len = BLOCK.min((to - at) as u32);
                    input.clear();
                    output.clear();
                    if at == from {
                        for &(id, value) in params {
                            input.push(&ParamValueEvent::new(0, param_id(id), Pckn::match_all(), value));
                        }
                    }
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
            let end = (44.0 * samples_per_beat) as u64;
            // The phrase, its answer (2 bars from beat 32.25) and a little more, then stop;
            // or a stopped block after it, with parameter changes.
            let mut act = |p: &mut StartedPluginAudioProcessor<TestHost>,
                           phrase_too: bool,
                           params: &[(&str, f64)],
                           out: &mut Vec<(u64, bool, u8)>| {
                if phrase_too {
                    run(p, 0, end, true, &phrase, &[], out);
                }
                run(p, end, end + BLOCK as u64 * if phrase_too { 4 } else { 1 }, false, &[], params, out);
            };
            // Idle a second with the transport stopped while the worker loads the model.
            let mut ignored = Vec::new();
            wait(1.0, &|| false, || act(&mut processor, false, &[], &mut ignored));
            act(&mut processor, true, &[], &mut out);
            // Keep it (the rising edge of the Keep parameter), then Learn, and wait for the
            // learnt model, playing blocks meanwhile.
            act(&mut processor, false, &[("keep", 1.0)], &mut ignored);
            act(&mut processor, false, &[("keep", 0.0)], &mut ignored);
            wait(1.0, &|| false, || act(&mut processor, false, &[], &mut ignored));
            act(&mut processor, false, &[("learn", 1.0)], &mut ignored);
            let learnt = || !learnt_models(home.path()).is_empty();
            wait(120.0, &learnt, || act(&mut processor, false, &[], &mut ignored));
            // The worker looks for a new model every 100 ms while idle.
            wait(1.0, &|| false, || act(&mut processor, false, &[], &mut ignored));
            let mut again = Vec::new();
            act(&mut processor, true, &[], &mut again);
            (processor.stop_processing(), (out, again))
        })
        .join()
        .unwrap()
    });
    let (out, again) = out;
    instance.deactivate(processor);

    let ons = answer_on_the_grid(&out, samples_per_beat);
    println!("{} events out, {ons} answer notes", out.len());
    assert!(ons > 0, "no answer came back: {out:?}");
    let mut sounding = [0i32; 128];
    for (t, on, pitch) in &out {
        let s = &mut sounding[*pitch as usize];
        *s += if *on { 1 } else { -1 };
        assert!(*s <= 1, "note {pitch} on twice at {t}");
    }
    assert!(sounding.iter().all(|&s| s <= 0), "stuck notes after the transport stopped: {sounding:?}");

    let takes: Vec<_> = std::fs::read_dir(home.path().join("takes")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(takes.iter().any(|t| t.to_string_lossy().ends_with("-kept.mid")), "no kept take: {takes:?}");
    let learnt = learnt_models(home.path());
    assert_eq!(learnt.len(), 1, "one model learnt from the takes: {learnt:?}");
    let card = std::fs::read_to_string(learnt[0].with_extension("json")).unwrap();
    assert!(card.contains("\"parent_name\": \"folk-melody\""), "{card}");
    let ons = answer_on_the_grid(&again, samples_per_beat);
    println!("after learning: {ons} answer notes from {}", learnt[0].display());
    assert!(ons > 0, "no answer after learning: {again:?}");
}
