//! The `trainer` command line end to end on a small generated corpus: prepare → train →
//! eval → export → generate, and clear errors (non-zero exit, a message naming the problem)
//! for an empty corpus, a corrupt checkpoint and a missing model.

use continuo_core::midi::{read_midi_file, MidiOptions};
use std::path::Path;
use std::process::Command;

fn trainer(args: &[&str]) -> (bool, String) {
    trainer_with(args, &[])
}

fn trainer_with(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainer"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the trainer runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A fresh temporary folder, removed when the returned value is dropped.
fn temp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("continuo-cli-{name}-")).tempdir().unwrap()
}

/// Forty little kern tunes in G major: scales and arpeggios in quarters and eighths, each
/// ending in its own number of sixteenths and a rest.
fn write_corpus(dir: &Path) {
    let phrases = ["4g 4a 4b 4cc", "8d 8g 8b 8dd 4g 4r", "4b 4a 4g 4d", "8g 8a 8b 8a 4g 4g"];
    for i in 0..40 {
        let mut text = String::from("**kern\n*M4/4\n*G:\n");
        for k in 0..6 {
            text.push_str(&format!("={}\n", k + 1));
            for token in phrases[(i + k) % 4].split(' ') {
                text.push_str(token);
                text.push('\n');
            }
        }
        // A last bar of its own, so that no two tunes are the same (duplicates are kept once).
        text.push_str(&format!("=7\n{}4r\n==\n*-\n", "16g\n".repeat(1 + i / 4)));
        std::fs::write(dir.join(format!("tune{i:02}.krn")), text).unwrap();
    }
}

#[test]
fn prepare_train_eval_export_generate() {
    let dir = temp("pipeline");
    let root = dir.path();
    let songs = root.join("songs");
    std::fs::create_dir_all(&songs).unwrap();
    write_corpus(&songs);
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let (corpus, run, model) = (root.join("corpus"), root.join("run"), root.join("tiny.onnx"));

    let (ok, text) = trainer(&["prepare", "-i", &s(&songs), "-o", &s(&corpus)]);
    assert!(ok, "{text}");
    assert!(text.contains("40 music files found, 40 read, 0 skipped"), "{text}");

    let train_args =
        ["train", "--corpus", &s(&corpus), "--out", &s(&run), "--preset", "esac", "--hidden", "16", "--embed", "8"];
    let (ok, text) = trainer(&[&train_args[..], &["--batch", "4", "--window", "16", "--max-epochs", "2"]].concat());
    assert!(ok, "{text}");
    assert!(run.join("best.ckpt").is_file() && run.join("last.ckpt").is_file());
    let log = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert!(log.starts_with("epoch,train_nll,validation_nll") && log.lines().count() == 3, "{log}");
    // The run is not replaced by accident, and a resumed run keeps its recipe.
    let (ok, text) = trainer(&["train", "--corpus", &s(&corpus), "--out", &s(&run), "--preset", "esac"]);
    assert!(!ok && text.contains("already holds a training run") && text.contains("--force"), "{text}");
    let (ok, text) = trainer(&["train", "--corpus", &s(&corpus), "--out", &s(&run), "--resume", "--preset", "melody"]);
    assert!(!ok && text.contains("--preset: --resume goes on with the run's own recipe (preset `esac`)"), "{text}");
    // Resuming for one more epoch picks up where it stopped, and its log goes on.
    let (ok, text) = trainer(&["train", "--corpus", &s(&corpus), "--out", &s(&run), "--resume", "--max-epochs", "3"]);
    assert!(ok && text.contains("resuming") && text.contains("done after 3 epochs"), "{text}");
    assert_eq!(std::fs::read_to_string(run.join("history.csv")).unwrap().lines().count(), 4);

    let (ok, text) = trainer(&[
        "eval",
        "--checkpoint",
        &s(&run.join("best.ckpt")),
        "--corpus",
        &s(&corpus),
        "--out",
        &s(&run),
        "--songs",
        "5",
    ]);
    assert!(ok, "{text}");
    for f in ["eval.json", "loss.png", "continuation.png"] {
        assert!(run.join(f).is_file(), "{f} missing: {text}");
    }

    let (ok, text) = trainer(&[
        "export",
        "--checkpoint",
        &s(&run.join("best.ckpt")),
        "--out",
        &s(&model),
        "--eval",
        &s(&run.join("eval.json")),
    ]);
    assert!(ok, "{text}");
    let card = continuo_core::card::ModelCard::load(&root.join("tiny.json")).unwrap();
    assert!(card.evaluation.contains_key("test_nll_nats") && card.training.command.contains("train"), "{card:?}");

    // Written again from the ONNX file alone: the same card, the same continuation.
    let again = root.join("again.onnx");
    let (ok, text) = trainer(&["export", "--onnx", &s(&model), "--out", &s(&again)]);
    assert!(ok, "{text}");
    let mut card_again = continuo_core::card::ModelCard::load(&root.join("again.json")).unwrap();
    assert_eq!(card_again.onnx.file, "again.onnx");
    card_again.onnx.file = card.onnx.file.clone();
    assert_eq!(card_again, card);

    // Fine-tuned on the same corpus for a few epochs (at a training run's rate: the tiny
    // model is far from trained): a new model that eval loads, whose card names its parent,
    // and that beats its parent on the held-out songs.
    let tuned = root.join("tuned.onnx");
    let args = ["finetune", "--model", &s(&model), "--corpus", &s(&corpus), "--out", &s(&tuned)];
    let (ok, text) = trainer(&[&args[..], &["--epochs", "3", "--lr", "3e-3"]].concat());
    assert!(ok && text.contains("held-out loss") && text.contains("against the parent's"), "{text}");
    let tuned_card = continuo_core::card::ModelCard::load(&root.join("tuned.json")).unwrap();
    assert_eq!(tuned_card.training.details["parent_name"], "tiny");
    assert!(tuned_card.training.command.contains("finetune") && root.join("tuned.golden.json").is_file());
    let (ok, text) = trainer(&["eval", "--model", &s(&tuned), "--corpus", &s(&corpus), "--json"]);
    assert!(ok && text.contains("\"nll_nats\""), "{text}");
    // Continuations at three speeds, beside the songs' own continuations (the reference).
    let args = ["eval", "--model", &s(&tuned), "--corpus", &s(&corpus), "--split", "all", "--speeds", "--json"];
    let (ok, text) = trainer(&args);
    assert!(ok, "{text}");
    let report: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or("")).expect("one JSON object");
    let speeds = report["speeds"].as_array().expect("the speeds");
    assert_eq!(speeds.iter().map(|s| s["speed"].as_f64().unwrap()).collect::<Vec<_>>(), [1.0, 2.0, 0.5]);
    for s in speeds {
        for field in ["in_scale", "noise_share", "real_in_scale", "real_noise_share"] {
            let v = s[field].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=1.0).contains(&v), "{field}: {v} in {text}");
        }
        assert!(s["continuations"].as_u64().unwrap() > 0, "no song was continued: {text}");
    }
    // A fine-tuning that cannot beat its parent on the held-out songs writes nothing, leaves
    // no run folder, and says what to try.
    let stale = root.join("stale.onnx");
    let args = ["finetune", "--model", &s(&model), "--corpus", &s(&corpus), "--out", &s(&stale), "--epochs", "1"];
    let (ok, text) = trainer(&[&args[..], &["--lr", "1e-12"]].concat());
    assert!(!ok && text.contains("did not beat the parent") && !stale.exists(), "{text}");
    assert!(text.contains("Try a lower learning rate") && !root.join("stale.runs").exists(), "{text}");

    let out = root.join("continued.mid");
    let seed = songs.join("tune00.krn");
    // Four bars after the seed tune, with random seed 9.
    let generate = |model: &Path, out: &Path| {
        let args = ["--seed", &s(&seed), "--bars", "4", "--random-seed", "9"];
        trainer(&[&["generate", "--model", &s(model), "--out", &s(out)][..], &args].concat())
    };
    let (ok, text) = generate(&model, &out);
    assert!(ok, "{text}");
    let out_again = root.join("continued-again.mid");
    let (ok, text) = generate(&again, &out_again);
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&out_again).unwrap(),
        "the re-exported model continues differently"
    );
    let score = read_midi_file(&out, &MidiOptions::default()).unwrap();
    // Six bars, a sixteenth and a quarter rest: the continuation starts after the rest and
    // ends four bars after the bar line that ends the seed's last bar.
    let seed_end = 6.0 * 4.0 + 0.25 + 1.0;
    assert!(score.notes.iter().filter(|n| n.voice == 0).all(|n| n.onset < seed_end));
    assert!(score.notes.iter().any(|n| n.voice == 1 && n.onset >= seed_end), "no continuation notes");
    assert!(score.end_beat() <= 7.0 * 4.0 + 16.0 + 1e-9);
    // The same random seed gives the same file.
    let again = root.join("again.mid");
    assert!(generate(&model, &again).0);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    // Without the ONNX Runtime library: a clear error, no panic.
    let missing = [("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")];
    let (ok, text) =
        trainer_with(&["generate", "--model", &s(&model), "--seed", &s(&seed), "--out", &s(&again)], &missing);
    assert!(
        !ok && text.contains("ONNX Runtime")
            && text.contains("/nonexistent/libonnxruntime.so")
            && !text.contains("panicked"),
        "{text}"
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = temp("bad");
    let root = dir.path();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, text) = trainer(&["prepare", "-i", &s(&empty), "-o", &s(&root.join("c"))]);
    assert!(!ok && text.contains("no music could be read: 0 music files found"), "{text}");
    assert!(!root.join("c").exists(), "an empty corpus was written");

    std::fs::write(root.join("broken.ckpt"), b"CONTINUO-CKPT-1\nxx").unwrap();
    let (ok, text) =
        trainer(&["export", "--checkpoint", &s(&root.join("broken.ckpt")), "--out", &s(&root.join("m.onnx"))]);
    assert!(!ok && text.contains("broken.ckpt"), "{text}");

    let (ok, text) = trainer(&["export", "--onnx", &s(&root.join("broken.ckpt")), "--out", &s(&root.join("m.onnx"))]);
    assert!(!ok && text.contains("broken.ckpt") && text.contains("not an ONNX model"), "{text}");

    let (ok, text) = trainer(&[
        "generate",
        "--model",
        &s(&root.join("none.onnx")),
        "--seed",
        "x.mid",
        "--out",
        &s(&root.join("o.mid")),
    ]);
    assert!(!ok && text.contains("none.onnx: no such file"), "{text}");

    let (ok, text) = trainer(&["prepare", "-i", &s(&root.join("missing")), "-o", &s(&root.join("c2"))]);
    assert!(!ok && text.contains("no such folder or file"), "{text}");

    let ckpt = s(&root.join("broken.ckpt"));
    let (ok, text) =
        trainer(&["eval", "--checkpoint", &ckpt, "--out", &s(root), "--corpus", "c", "--continuations", "5"]);
    assert!(!ok && text.contains("--continuations and --chords need an exported model"), "{text}");

    // Sampling options out of range are refused, naming the option.
    for (option, value) in
        [("--temperature", "-1"), ("--temperature", "NaN"), ("--top-p", "2"), ("--entropy", "5"), ("--velocity", "200")]
    {
        let (ok, text) =
            trainer(&["generate", "--model", "m.onnx", "--seed", "x.mid", "--out", "o.mid", option, value]);
        assert!(!ok && text.contains(option) && text.contains(value), "{option} {value}: {text}");
    }
}

/// `trainer` turns ONNX Runtime's telemetry off itself, first thing in `main`: with a fresh
/// `HOME` and the switch not set by anyone, generating with a model leaves no telemetry
/// store (issue #24: the library never sets the environment; a program's `main` does).
#[test]
fn the_trainer_turns_onnx_runtimes_telemetry_off() {
    let home = temp("telemetry");
    let out = home.path().join("out.mid");
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/example-phrase.krn");
    let result = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["generate", "--model", models.to_str().unwrap(), "--seed", seed.to_str().unwrap(), "--bars", "1"])
        .arg("--out")
        .arg(&out)
        .env("HOME", home.path())
        .env_remove(continuo_core::inference::TELEMETRY_SWITCH)
        .output()
        .expect("the trainer runs");
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let store = home.path().join(".cache/Microsoft/DeveloperTools/.onnxruntime");
    assert!(!store.exists(), "{} appeared", store.display());
}

/// The share of the continuation's notes (voice 1) on beats 1 and 3 of their bar that are
/// tones of the chord sounding there (voice 2), and the count of those notes.
fn chord_tones_on_strong_beats(path: &Path) -> (f64, usize) {
    let score = read_midi_file(path, &MidiOptions::default()).unwrap();
    let chord = |beat: f64| -> Vec<u8> {
        let notes = score.notes.iter().filter(|n| n.voice == 2 && n.onset <= beat + 1e-6 && n.end() > beat + 1e-6);
        notes.map(|n| n.pitch % 12).collect()
    };
    let strong = score.notes.iter().filter(|n| n.voice == 1 && (n.onset.rem_euclid(2.0)).abs() < 1e-6);
    let (mut hits, mut count) = (0, 0);
    for n in strong {
        let tones = chord(n.onset);
        assert!(!tones.is_empty(), "no chord under the note at beat {}", n.onset);
        count += 1;
        hits += usize::from(tones.contains(&(n.pitch % 12)));
    }
    (hits as f64 / count.max(1) as f64, count)
}

/// `generate --chords` writes the chords as a third track, one a bar from the continuation's
/// first bar line, and the continuation follows them on beats 1 and 3 at Follow chords 1,
/// and not at 0. A chord file gives the same; a bad chord name is a clear error.
#[test]
fn generate_over_chords_follows_them_and_writes_them() {
    let dir = temp("chords");
    let root = dir.path();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/folk-melody.onnx");
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/example-phrase.krn");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let run = |out: &Path, extra: &[&str]| {
        let args = ["generate", "--model", &s(&models), "--seed", &s(&seed), "--bars", "8", "--out", &s(out)];
        trainer(&[&args[..], &["--random-seed", "1"], extra].concat())
    };
    let (following, ignoring) = (root.join("following.mid"), root.join("ignoring.mid"));
    let (ok, text) = run(&following, &["--chords", "C Am F G", "--follow-chords", "1"]);
    assert!(ok, "{text}");
    let (ok, text) = run(&ignoring, &["--chords", "C Am F G", "--follow-chords", "0"]);
    assert!(ok, "{text}");
    let ((follows, n), (ignores, m)) =
        (chord_tones_on_strong_beats(&following), chord_tones_on_strong_beats(&ignoring));
    println!("chord tones on beats 1 and 3: {follows:.2} of {n} notes following, {ignores:.2} of {m} ignoring");
    assert!(n >= 8 && follows >= 0.9 && follows > ignores, "{follows} of {n}, against {ignores}");

    // The chord track of the first file, as a chord file, gives the same continuation.
    let mut chords = read_midi_file(&following, &MidiOptions::default()).unwrap();
    let start = chords.notes.iter().filter(|n| n.voice == 2).map(|n| n.onset).fold(f64::MAX, f64::min);
    chords.notes.retain(|n| n.voice == 2);
    chords.notes.iter_mut().for_each(|n| n.onset -= start);
    let chord_file = root.join("chords.mid");
    continuo_core::midi::write_midi_file(&chord_file, &chords).unwrap();
    let from_file = root.join("from-file.mid");
    let (ok, text) = run(&from_file, &["--chords-file", &s(&chord_file), "--follow-chords", "1"]);
    assert!(ok, "{text}");
    let notes = |p: &Path| read_midi_file(p, &MidiOptions::default()).unwrap().notes;
    let melody =
        |p: &Path| notes(p).into_iter().filter(|n| n.voice == 1).map(|n| (n.pitch, n.onset)).collect::<Vec<_>>();
    assert_eq!(melody(&from_file), melody(&following));

    let (ok, text) = run(&root.join("bad.mid"), &["--chords", "C Hm F"]);
    assert!(!ok && text.contains("`Hm` is not a chord"), "{text}");

    // The tracks are named; --answer-only leaves the seed out; --samples writes one file per
    // random seed, each saying its seed.
    let bytes = std::fs::read(&following).unwrap();
    let named = |b: &[u8], name: &str| b.windows(name.len()).any(|w| w == name.as_bytes());
    assert!(named(&bytes, "seed") && named(&bytes, "answer") && named(&bytes, "chords"));
    let (ok, text) = run(&root.join("take.mid"), &["--chords", "C Am F G", "--answer-only", "--samples", "2"]);
    assert!(ok && text.contains("random seed 1;") && text.contains("random seed 2;"), "{text}");
    let takes: Vec<Vec<u8>> =
        [1, 2].iter().map(|k| notes(&root.join(format!("take-{k}.mid"))).iter().map(|n| n.voice).collect()).collect();
    assert!(takes.iter().all(|voices| !voices.contains(&0) && voices.contains(&1)), "{takes:?}");
    assert_ne!(melody(&root.join("take-1.mid")), melody(&root.join("take-2.mid")), "two samples, two continuations");

    // As the plugin does: without --random-seed each run draws its own and says which (so
    // that a run can be repeated), and the answer plays at the seed's mean velocity.
    let fresh = |out: &Path| {
        let (ok, text) = trainer(&["generate", "--model", &s(&models), "--seed", &s(&seed), "--out", &s(out)]);
        assert!(ok, "{text}");
        text.split("random seed ").nth(1).and_then(|r| r.split(';').next()).unwrap().to_string()
    };
    assert_ne!(fresh(&root.join("a.mid")), fresh(&root.join("b.mid")), "each run its own random seed");
    let seed_notes = continuo_core::read_music_file(&seed, &MidiOptions::default()).unwrap().notes;
    let mean = seed_notes.iter().map(|n| n.velocity as f64).sum::<f64>() / seed_notes.len() as f64;
    let answer: Vec<u8> = notes(&root.join("a.mid")).iter().filter(|n| n.voice == 1).map(|n| n.velocity).collect();
    assert!(!answer.is_empty() && answer.iter().all(|&v| v == mean.round() as u8), "{answer:?} against {mean}");
}

/// The errors a developer met first with `generate` and `export` (issue #26) say what is
/// wrong with what they typed, and the surprises are refused: a negative temperature, a
/// register given high first, a model file that does not exist or is its card, no bars, an
/// output that is the seed. A register by note names works, and `export` makes the folder
/// its output goes into.
#[test]
fn the_first_errors_are_clear_and_the_surprises_refused() {
    let dir = temp("first");
    let root = dir.path();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let model = s(&models.join("folk-melody.onnx"));
    let seed = root.join("seed.krn");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/example-phrase.krn"), &seed)
        .unwrap();
    let out = s(&root.join("out.mid"));
    let generate = |extra: &[&str]| {
        let bars: &[&str] = if extra.contains(&"--bars") { &[] } else { &["--bars", "1"] };
        let args = ["generate", "--model", &model, "--seed", &s(&seed), "--out", &out];
        trainer(&[&args[..], bars, extra].concat())
    };
    let cases: [(&[&str], &str); 4] = [
        (&["--temperature", "-1"], "-1 is below 0"),
        (&["--register", "80-60"], "the low pitch comes first: C4-G#5"),
        (&["--bars", "0"], "0 would add nothing"),
        (&["--register", "C4-H5"], "expected LOW-HIGH as note names or MIDI pitches"),
    ];
    for (extra, message) in cases {
        let (ok, text) = generate(extra);
        assert!(!ok && text.contains(message), "{extra:?}: {text}");
    }
    let (ok, text) = generate(&["--register", "C4-E5"]);
    assert!(ok, "a register by note names: {text}");
    for (model, message) in
        [("nosuch.onnx", "nosuch.onnx: no such file"), ("models/folk-melody.json", "this is a model card")]
    {
        let (ok, text) = trainer(&["generate", "--model", model, "--seed", &s(&seed), "--out", &out]);
        assert!(!ok && text.contains(message) && !text.contains("nosuch.json"), "{model}: {text}");
    }
    let before = std::fs::read(&seed).unwrap();
    let (ok, text) = trainer(&["generate", "--model", &model, "--seed", &s(&seed), "--out", &s(&seed)]);
    assert!(!ok && text.contains("is the seed"), "{text}");
    assert_eq!(std::fs::read(&seed).unwrap(), before, "the seed was overwritten");
    let deep = root.join("new/folder/mine.onnx");
    let (ok, text) = trainer(&["export", "--onnx", &model, "--out", &s(&deep)]);
    assert!(ok && deep.is_file(), "{text}");

    // `prepare` takes a single file, says which files it reads when it finds none, and warns
    // of empty splits; `eval` says what it needs.
    let one = root.join("one");
    let (ok, text) = trainer(&["prepare", "-i", &s(&seed), "-o", &s(&one)]);
    assert!(ok && text.contains("songs: 1 train") && text.contains("warning: 0 validation songs"), "{text}");
    let (ok, text) = trainer(&["inspect", &s(&seed)]);
    assert!(ok && text.contains("pitch  67 G4") && text.contains("into C major, the model's key frame"), "{text}");
    let (ok, text) = trainer(&["prepare", "-i", &s(&root.join("new")), "-o", &s(&root.join("none"))]);
    assert!(!ok && text.contains("files ending .mid, .midi, .smf, .krn, .kern"), "{text}");
    let (ok, text) = trainer(&["prepare", "-i", &s(&seed), "-o", &s(&root.join("t")), "--tracks", "0"]);
    assert!(!ok && text.contains("--tracks"), "tracks count from 1: {text}");
    // A small corpus: a larger validation share gives training more songs to stop on, and the
    // corpus says its rule.
    let few = root.join("few");
    std::fs::create_dir_all(&few).unwrap();
    write_corpus(&few);
    let validation_songs = |text: &str| {
        let counts = text.split("songs: ").nth(1).unwrap();
        counts.split(", ").nth(1).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap()
    };
    let (ok, default) = trainer(&["prepare", "-i", &s(&few), "-o", &s(&root.join("few-10"))]);
    assert!(ok, "{default}");
    let args = ["prepare", "-i", &s(&few), "-o", &s(&root.join("few-50")), "--validation-share", "50"];
    let (ok, half) = trainer(&[&args[..], &["--test-share", "0"]].concat());
    assert!(ok && validation_songs(&half) > validation_songs(&default) && half.contains(", 0 test"), "{half}");
    let manifest = std::fs::read_to_string(root.join("few-50/corpus.json")).unwrap();
    assert!(manifest.contains("0-49 train, 50-99 validation;"), "{manifest}");
    let (ok, text) = trainer(&["prepare", "-i", &s(&few), "-o", &s(&root.join("x")), "--validation-share", "0"]);
    assert!(!ok && text.contains("--validation-share"), "{text}");
    let (ok, text) = trainer(&["eval", "--corpus", &s(&one)]);
    assert!(!ok && text.contains("give --model NAME.onnx"), "{text}");
    let (ok, text) = trainer(&["eval", "--model", &model, "--corpus", &s(&root.join("new"))]);
    assert!(!ok && text.contains("not a prepared corpus") && text.contains("trainer prepare"), "{text}");
}

/// Thirty little chorales: a melody of chord tones over a chord a bar (I, IV, V, I in C
/// major), the chords held below it.
fn write_chorales(dir: &Path) {
    use continuo_core::note::Note;
    let chords: [[u8; 3]; 4] = [[48, 52, 55], [53, 57, 60], [55, 59, 62], [48, 52, 55]];
    for i in 0..30 {
        let mut notes = Vec::new();
        for (bar, chord) in chords.iter().cycle().take(8).enumerate() {
            let onset = bar as f64 * 4.0;
            for &p in chord {
                notes.push(Note { onset, duration: 4.0, pitch: p, velocity: 80, voice: 1 });
            }
            for beat in 0..4 {
                let tone = chord[(i + bar * 3 + beat) % 3] + 24;
                notes.push(Note { onset: onset + beat as f64, duration: 1.0, pitch: tone, velocity: 80, voice: 0 });
            }
        }
        // A last note of its own length, so that no two tunes are the same.
        notes.push(Note { onset: 32.0, duration: 0.25 * (1 + i) as f64, pitch: 72, velocity: 80, voice: 0 });
        let score = continuo_core::score::Score { notes, ..Default::default() };
        continuo_core::midi::write_midi_file(&dir.join(format!("chorale{i:02}.mid")), &score).unwrap();
    }
}

/// A melody model that reads the harmony under it (issue #25): `prepare --harmony` records
/// the notes under the melody, `train --harmony true` trains on them (and refuses a corpus
/// without), the exported model loads (its golden file with the harmony), the harmony
/// changes its test figures, and it continues a seed over chords.
#[test]
fn a_melody_over_its_harmony_is_prepared_trained_and_played_over_chords() {
    let dir = temp("harmony");
    let root = dir.path();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let (songs, kern) = (root.join("songs"), root.join("kern"));
    std::fs::create_dir_all(&songs).unwrap();
    std::fs::create_dir_all(&kern).unwrap();
    write_chorales(&songs);
    write_corpus(&kern);
    let (corpus, plain, run, model) = (root.join("corpus"), root.join("plain"), root.join("run"), root.join("m.onnx"));
    let (ok, text) = trainer(&["prepare", "-i", &s(&songs), "-o", &s(&corpus), "--harmony"]);
    assert!(ok, "{text}");
    let first = std::fs::read_to_string(corpus.join("songs.jsonl")).unwrap();
    assert!(first.lines().all(|l| l.contains("\"harmony\":[")), "{}", &first[..300]);
    let (ok, text) = trainer(&["prepare", "-i", &s(&songs), "-o", &s(&plain), "--harmony", "--encoding", "chords"]);
    assert!(!ok && text.contains("--harmony") && text.contains("--encoding melody"), "{text}");
    let (ok, text) = trainer(&["prepare", "-i", &s(&kern), "-o", &s(&plain)]);
    assert!(ok, "{text}");

    let train = |corpus: &Path| {
        let args = ["train", "--corpus", &s(corpus), "--out", &s(&run), "--preset", "melody", "--harmony", "true"];
        trainer(
            &[&args[..], &["--hidden", "16", "--embed", "8", "--batch", "4", "--max-epochs", "2", "--force"]].concat(),
        )
    };
    let (ok, text) = train(&plain);
    assert!(!ok && text.contains("records no harmony") && text.contains("--harmony"), "{text}");
    let (ok, text) = train(&corpus);
    assert!(ok, "{text}");
    let ckpt = s(&run.join("best.ckpt"));
    let (ok, text) = trainer(&["export", "--checkpoint", &ckpt, "--out", &s(&model), "--corpus", &s(&corpus)]);
    assert!(ok, "{text}");
    let golden = std::fs::read_to_string(root.join("m.golden.json")).unwrap();
    assert!(golden.contains("\"harmony\":["), "the golden file holds the harmony");

    let nll = |extra: &[&str]| {
        let (ok, text) =
            trainer(&[&["eval", "--model", &s(&model), "--corpus", &s(&corpus), "--split", "all"], extra].concat());
        assert!(ok, "{text}");
        text.split("NLL ").nth(1).and_then(|t| t.split(' ').next()).unwrap().to_string()
    };
    assert_ne!(nll(&[]), nll(&["--without-harmony"]), "the harmony is read");

    let seed = root.join("songs/chorale00.mid");
    let out = root.join("over.mid");
    let args = ["generate", "--model", &s(&model), "--seed", &s(&seed), "--bars", "4", "--out", &s(&out)];
    let (ok, text) = trainer(&[&args[..], &["--chords", "C F G C"]].concat());
    assert!(ok && out.is_file(), "{text}");
}

/// A little MusicXML tune (what notation programs export), `n` making each its own: a bar of
/// 3/4 in G major, a tie into the second bar, and a last note of its own.
fn musicxml_tune(n: usize) -> String {
    let last = ["G", "A", "B", "C", "D", "E"][n % 6];
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0">
  <part-list><score-part id="P1"><part-name>Melody</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>1</fifths></key>
        <time><beats>3</beats><beat-type>4</beat-type></time></attributes>
      <note><pitch><step>G</step><octave>4</octave></pitch><duration>2</duration></note>
      <note><pitch><step>F</step><alter>1</alter><octave>4</octave></pitch><duration>1</duration></note>
      <note><pitch><step>E</step><octave>4</octave></pitch><duration>1</duration></note>
      <note><pitch><step>D</step><octave>4</octave></pitch><duration>2</duration><tie type="start"/></note>
    </measure>
    <measure number="2">
      <note><pitch><step>D</step><octave>4</octave></pitch><duration>2</duration><tie type="stop"/></note>
      <note><pitch><step>{last}</step><octave>4</octave></pitch><duration>{}</duration></note>
    </measure>
  </part>
</score-partwise>"#,
        1 + n % 4
    )
}

/// An ABC tune book of `tunes` little jigs in G, `n` making each its own: a repeated part
/// with first and second endings.
fn abc_book(tunes: usize) -> String {
    let mut book = String::from("%abc-2.1\nM:6/8\nL:1/8\n\n");
    for n in 0..tunes {
        let (last, third) = (["G", "A", "B", "c", "d", "e"][n % 6], ["B", "c"][n / 6 % 2]);
        book += &format!("X:{}\nT:Jig {n}\nK:G\n|:GA{third} c2d|e2f g2{last}|1 d3 B3:|2 d3 G3|]\n\n", n + 1);
    }
    book
}

/// An ABC tune book goes through `prepare` (each tune a song of its own, split on its own)
/// and `inspect` (a tune's notes by name, metre, key and played-out repeats); a broken tune
/// is skipped, naming its line (issue #26).
#[test]
fn an_abc_tune_book_is_prepared_tune_by_tune_and_inspected() {
    let dir = temp("abc");
    let root = dir.path();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let songs = root.join("book");
    std::fs::create_dir_all(&songs).unwrap();
    let mut book = abc_book(12);
    book += "X:13\nT:Broken\nK:G\nGAB & c|\n";
    std::fs::write(songs.join("jigs.abc"), book).unwrap();
    let (ok, text) = trainer(&["prepare", "-i", &s(&songs), "-o", &s(&root.join("corpus"))]);
    assert!(ok && text.contains("13 music files found, 12 read, 1 skipped"), "{text}");
    assert!(text.contains("jigs.abc#13") && text.contains("line 68: malformed ABC"), "{text}");
    let corpus = std::fs::read_to_string(root.join("corpus/corpus.json")).unwrap();
    for split in ["\"train\"", "\"validation\"", "\"test\""] {
        assert!(corpus.contains(split), "the tunes of one book fall into every split: {split}");
    }
    let (ok, text) = trainer(&["inspect", &s(&songs.join("jigs.abc")), "--tune", "2", "--notes", "40"]);
    assert!(ok && text.contains("tune: 2 of 13") && text.contains("title: Jig 1"), "{text}");
    assert!(text.contains("F#5") && text.contains("6/8") && text.contains("G major"), "{text}");
    // Two bars, the first ending, the two bars again and the second: 6 bars of 6/8.
    assert!(text.contains("over 18.00 beats"), "{text}");
}

/// MusicXML files go through `prepare` (a folder of them, each its own tune) and `inspect`
/// (its notes by name, its metre and key), and a broken one is skipped, saying why.
#[test]
fn musicxml_files_are_prepared_and_inspected() {
    let dir = temp("musicxml");
    let root = dir.path();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let songs = root.join("scores");
    std::fs::create_dir_all(&songs).unwrap();
    for n in 0..12 {
        std::fs::write(songs.join(format!("tune{n:02}.musicxml")), musicxml_tune(n)).unwrap();
    }
    std::fs::write(songs.join("broken.xml"), "<score-partwise><part").unwrap();
    let (ok, text) = trainer(&["prepare", "-i", &s(&songs), "-o", &s(&root.join("corpus"))]);
    assert!(ok && text.contains("13 music files found, 12 read, 1 skipped"), "{text}");
    assert!(text.contains("broken.xml") && text.contains("not MusicXML"), "{text}");
    let (ok, text) = trainer(&["inspect", &s(&songs.join("tune01.musicxml"))]);
    assert!(ok && text.contains("F#4") && text.contains("3/4") && text.contains("G major"), "{text}");
}
