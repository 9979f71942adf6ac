//! The inference worker with real models: loading another model swaps it in on the worker
//! thread, a bad file leaves the old model playing and says why, and key follow answers in
//! the player's key (or, off, in the model's C major / A minor frame).

use continuo::capture::{HeardNote, Phrase};
use continuo::events::StepToken;
use continuo::handle::Shared;
use continuo::learn::LearnState;
use continuo::link::{Command, Link, Request};
use continuo::worker::Worker;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A phrase of quarter notes (4 steps each) from step 0, at velocity 90.
fn quarter_notes(pitches: &[u8]) -> Phrase {
    let notes: Vec<HeardNote> = pitches
        .iter()
        .enumerate()
        .map(|(i, &pitch)| HeardNote { step: 4 * i as i64, steps: 4, pitch, velocity: 90 })
        .collect();
    Phrase::from_notes(&notes)
}

/// Ask for a 32-step answer to `phrase` from step 18, in the player's key, and wait for all
/// of it.
fn answer_32_steps(link: &Link, phrase: Phrase, seed: u64) {
    let request = Request {
        generation: link.current_generation(),
        phrase,
        start_step: 18,
        steps: 32,
        continuous: false,
        bar_steps: 16,
        bar_position: 2,
        seed,
        follow_key: true,
    };
    assert!(link.request(request));
    let mut got = 0;
    wait_until("the answer", || {
        while link.tokens.pop().is_some() {
            got += 1;
        }
        got == 32
    });
}

#[test]
fn the_model_is_described_in_a_musicians_words() {
    let card = |name: &str| continuo_core::card::ModelCard::load(&models().join(format!("{name}.json"))).unwrap();
    let folk = continuo::handle::summary(&card("folk-melody"));
    assert!(folk.starts_with("folk-melody plays melodies in sixteenth notes. Folk melodies: Essen"), "{folk}");
    let chords = continuo::handle::summary(&card("bach-chords"));
    assert!(chords.starts_with("bach-chords plays chords in eighth notes. "), "{chords}");
    for jargon in ["NLL", "tokens", "encoding", "LSTM"] {
        assert!(!folk.contains(jargon), "{folk}");
    }
}

#[test]
fn a_bad_model_file_keeps_the_old_model_playing() {
    let link = Link::new();
    let worker = Worker::spawn(link.clone(), models().join("essen-melody.onnx")).unwrap();
    wait_until("the first model", || worker.shared.status.lock().unwrap().name.is_some());
    assert_eq!(worker.shared.status.lock().unwrap().name.as_deref(), Some("essen-melody"));

    let temp = tempfile::Builder::new().prefix("continuo-bad-").tempdir().unwrap();
    let bad = temp.path().join("not-a-model.onnx");
    std::fs::write(&bad, b"not a model").unwrap();
    worker.load(bad.clone());
    wait_until("the error", || worker.shared.status.lock().unwrap().error.is_some());
    let status = worker.shared.status.lock().unwrap().clone();
    assert_eq!(status.name.as_deref(), Some("essen-melody"), "the old model keeps playing");
    let error = status.error.unwrap();
    let stem = bad.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(error.contains(&stem), "the error names the file: {error}");

    // Recurrent weights that are not numbers, which ONNX Runtime would play as saturated
    // gates: refused, the old model plays on (issue #24).
    let mut weights = continuo_trainer::weights::LstmWeights::random(20, 8, 16, 1, 6);
    weights.layers[0].w_hh[7] = f32::NAN;
    let nan = temp.path().join("nan-weights.onnx");
    let encoding = continuo_core::card::EncodingSpec::melody(60..=76);
    let card = continuo_trainer::export::model_card(
        &weights,
        "nan-weights",
        "nan-weights.onnx",
        encoding,
        Default::default(),
        Default::default(),
    );
    continuo_trainer::export::write_model(&weights, &nan, &card).unwrap();
    worker.load(nan);
    let named = || worker.shared.status.lock().unwrap().error.as_ref().is_some_and(|e| e.contains("nan-weights.onnx"));
    wait_until("the error naming the NaN model", named);
    let status = worker.shared.status.lock().unwrap().clone();
    assert_eq!(status.name.as_deref(), Some("essen-melody"), "the old model keeps playing");
    assert!(status.error.unwrap().contains("are not numbers"));

    worker.load(models().join("bach-chords.onnx"));
    wait_until("the new model", || worker.shared.status.lock().unwrap().name.as_deref() == Some("bach-chords"));
    assert!(worker.shared.status.lock().unwrap().error.is_none());
    // The model's grid reaches the audio thread: bach-chords is on eighth notes.
    assert_eq!(link.model_steps_per_beat.load(Ordering::Acquire), 2);
}

#[test]
fn the_saved_model_path_is_played_and_a_missing_one_falls_back_to_the_default() {
    // The plugin's saved state names a model: the worker plays it when it starts.
    let saved = Arc::new(RwLock::new(models().join("bach-chords.onnx").display().to_string()));
    let link = Link::new();
    let worker = Worker::start(
        link.clone(),
        Shared::new(saved.clone(), Arc::default(), Arc::default(), models().join("essen-melody.onnx")),
    )
    .unwrap();
    wait_until("the saved model", || worker.shared.status.lock().unwrap().name.as_deref() == Some("bach-chords"));
    // A project saved with a model that has since gone: the default model plays, and the
    // editor says why the saved one did not.
    let gone = std::env::temp_dir().join("continuo-gone/model.onnx");
    let link = Link::new();
    let worker = Worker::start(
        link.clone(),
        Shared::new(
            Arc::new(RwLock::new(gone.display().to_string())),
            Arc::default(),
            Arc::default(),
            models().join("essen-melody.onnx"),
        ),
    )
    .unwrap();
    wait_until("the default model", || worker.shared.status.lock().unwrap().name.is_some());
    let status = worker.shared.status();
    assert_eq!(status.name.as_deref(), Some("essen-melody"));
    assert!(status.error.as_deref().is_some_and(|e| e.contains("continuo-gone")), "{status:?}");
    assert!(link.model_ready.load(Ordering::Acquire));
}

/// A G major phrase (G A B C D E F# G, quarter notes) answered for 16 bars; the pitch
/// classes of the answer's onsets.
fn answer_pitch_classes(follow_key: bool) -> [usize; 12] {
    let link = Link::new();
    let worker = Worker::spawn(link.clone(), models().join("essen-melody.onnx")).unwrap();
    wait_until("the model", || link.model_ready.load(Ordering::Acquire));
    let mut phrase = Phrase::default();
    for (i, pitch) in [67u8, 69, 71, 72, 74, 76, 78, 79].iter().enumerate() {
        phrase.notes[i] = HeardNote { step: 4 * i as i64, steps: 4, pitch: *pitch, velocity: 90 };
    }
    phrase.len = 8;
    let steps = 256;
    link.now_step.store(i64::MAX / 2, Ordering::Release);
    let request = Request {
        generation: link.current_generation(),
        phrase,
        start_step: 34,
        steps,
        continuous: false,
        bar_steps: 16,
        bar_position: 0,
        seed: 3,
        follow_key,
    };
    assert!(link.request(request));
    let mut classes = [0usize; 12];
    let mut got = 0;
    wait_until("the answer", || {
        while let Some(a) = link.tokens.pop() {
            got += 1;
            for p in a.token.pitches() {
                classes[(p % 12) as usize] += 1;
            }
        }
        got == steps as usize
    });
    drop(worker);
    classes
}

#[test]
fn key_follow_answers_in_the_players_key() {
    let (on, off) = (answer_pitch_classes(true), answer_pitch_classes(false));
    println!("pitch classes with key follow {on:?}, without {off:?}");
    // F# belongs to G major, F to C major (the model's frame).
    assert!(on[6] > on[5], "with key follow: F# {} vs F {}", on[6], on[5]);
    assert!(off[5] > off[6], "without key follow: F {} vs F# {}", off[5], off[6]);
}

/// A model chosen during a continuous answer (which never ends by itself) plays from the
/// next bar line on, and the answer goes on.
#[test]
fn a_model_chosen_during_a_continuous_answer_plays_from_the_next_bar() {
    let link = Link::new();
    let worker = Worker::spawn(link.clone(), models().join("essen-melody.onnx")).unwrap();
    wait_until("the model", || link.model_ready.load(Ordering::Acquire));
    let phrase = quarter_notes(&[60, 62, 64, 65]);
    let request = Request {
        generation: link.current_generation(),
        phrase,
        start_step: 18,
        steps: 0,
        continuous: true,
        bar_steps: 16,
        bar_position: 0,
        seed: 5,
        follow_key: true,
    };
    link.now_step.store(40, Ordering::Release);
    assert!(link.request(request));
    let mut last = 0;
    let mut drain = |link: &Link| {
        while let Some(a) = link.tokens.pop() {
            assert_eq!(a.generation, request.generation);
            last = a.step;
        }
        last
    };
    wait_until("the first steps", || drain(&link) >= 40 - 2 + 2);
    worker.load(models().join("bach-chords.onnx"));
    // The music moves on; at the next bar line (step 50) the worker takes the new model.
    for now in 41..120 {
        link.now_step.store(now, Ordering::Release);
        link.wake();
        wait_until("the next step", || drain(&link) >= now + 2);
    }
    assert_eq!(worker.shared.status().name.as_deref(), Some("bach-chords"), "the new model plays");
    assert_eq!(link.model_steps_per_beat.load(Ordering::Acquire), 2);
    assert!(last >= 121, "the answer went on after the swap: last step {last}");
}

/// The session memory hears the phrase and everything answered, and forgets on request
/// (the editor's Forget button).
#[test]
fn the_session_memory_hears_phrase_and_answer_and_forgets() {
    let link = Link::new();
    let _worker = Worker::spawn(link.clone(), models().join("essen-melody.onnx")).unwrap();
    wait_until("the model", || link.model_ready.load(Ordering::Acquire));
    link.sampling.memory.store(0.4, Ordering::Relaxed);
    let mut phrase = Phrase::default();
    for (i, pitch) in [60u8, 64, 67, 72].iter().enumerate() {
        phrase.notes[i] = HeardNote { step: 4 * i as i64, steps: 4, pitch: *pitch, velocity: 90 };
    }
    phrase.len = 4;
    link.now_step.store(i64::MAX / 2, Ordering::Release);
    answer_32_steps(&link, phrase, 2);
    // The phrase's 16 sounding steps (not the gap of rests before the answer) and 31
    // answered ones at least (the count is published before each step).
    wait_until("the count", || link.health.remembered.load(Ordering::Relaxed) >= 16 + 31);
    link.send(Command::Forget);
    wait_until("forgetting", || link.health.remembered.load(Ordering::Relaxed) == 0);
}

/// Loop mode's steps of a take of `len` steps, as the worker sent them.
fn loop_take(link: &Link, len: usize) -> Vec<StepToken> {
    wait_until("the loop take", || link.loop_take.len() >= len);
    std::iter::from_fn(|| link.loop_take.pop()).map(|s| s.token).collect()
}

/// The recent takes: each answer is kept; Regenerate answers the chosen take's phrase again,
/// all at once, with a new random seed, and the editor, Export and loop mode get it;
/// Previous goes back to the first take.
#[test]
fn answers_are_kept_as_takes_answered_again_and_chosen() {
    let link = Link::new();
    let worker = Worker::spawn(link.clone(), models().join("essen-melody.onnx")).unwrap();
    wait_until("the model", || link.model_ready.load(Ordering::Acquire));
    let phrase = quarter_notes(&[60, 62, 64, 67]);
    link.now_step.store(i64::MAX / 2, Ordering::Release);
    answer_32_steps(&link, phrase, 1);
    let shared = &worker.shared;
    wait_until("the first take", || shared.recent.lock().unwrap().position() == Some((1, 1)));
    let first = shared.recent.lock().unwrap().chosen().unwrap().history.clone();
    assert_eq!(first.answer.len(), 32);

    link.send(Command::Regenerate);
    wait_until("the second take", || shared.recent.lock().unwrap().position() == Some((2, 2)));
    let second = shared.recent.lock().unwrap().chosen().unwrap().clone();
    assert_eq!(second.number, 2);
    assert_eq!(second.history.phrase, first.phrase, "the same phrase");
    assert_ne!(second.request.seed, 1, "a new random seed");
    assert_ne!(second.history.answer, first.answer, "answered differently");
    assert_eq!(second.history.answer.len(), 32);
    assert_eq!(*shared.history.lock().unwrap(), second.history, "the editor shows and exports the new take");
    let tokens = |h: &continuo::history::History| h.answer.iter().map(StepToken::from_token).collect::<Vec<_>>();
    assert_eq!(loop_take(&link, 32), tokens(&second.history), "loop mode plays the new take");

    link.send(Command::Choose(-1));
    wait_until("the first take again", || shared.history.lock().unwrap().answer == first.answer);
    assert_eq!(shared.recent.lock().unwrap().position(), Some((1, 2)));
    assert_eq!(loop_take(&link, 32), tokens(&first));
}

/// Answers per phrase 4: the answer played is the chosen take, with three more answers to
/// its phrase beside it, each its own; Answer ×4 makes four more and chooses the first of
/// them; every one is the same phrase answered with another random seed.
#[test]
fn four_answers_per_phrase_and_answer_four_times_make_takes_to_choose_from() {
    let link = Link::new();
    let worker = Worker::spawn(link.clone(), models().join("essen-melody.onnx")).unwrap();
    wait_until("the model", || link.model_ready.load(Ordering::Acquire));
    link.answers_per_phrase.store(4, Ordering::Relaxed);
    link.now_step.store(i64::MAX / 2, Ordering::Release);
    answer_32_steps(&link, quarter_notes(&[60, 62, 64, 67]), 1);
    let shared = &worker.shared;
    wait_until("four takes", || shared.recent.lock().unwrap().position() == Some((1, 4)));
    let played = shared.recent.lock().unwrap().chosen().unwrap().clone();
    assert_eq!((played.number, played.request.seed), (1, 1), "the answer played stays chosen");
    let answers = |shared: &continuo::handle::Shared| {
        let mut recent = shared.recent.lock().unwrap();
        let n = recent.position().unwrap().1;
        recent.choose(-(n as i32));
        let mut all = vec![recent.chosen().unwrap().clone()];
        while let Some(next) = recent.choose(1).cloned().filter(|t| t.number != all.last().unwrap().number) {
            all.push(next);
        }
        all
    };
    let takes = answers(shared);
    assert_eq!(takes.len(), 4);
    for (i, a) in takes.iter().enumerate() {
        assert_eq!(a.history.phrase, played.history.phrase, "the same phrase");
        assert_eq!(a.history.answer.len(), 32);
        for b in &takes[i + 1..] {
            assert_ne!(a.request.seed, b.request.seed);
            assert_ne!(a.history.answer, b.history.answer, "takes {} and {} answer alike", a.number, b.number);
        }
    }

    link.send(Command::Variations(4));
    wait_until("four more", || shared.recent.lock().unwrap().position() == Some((5, 8)));
    let chosen = shared.recent.lock().unwrap().chosen().unwrap().clone();
    assert_eq!(chosen.number, 5, "the first of the new ones is chosen");
    assert_eq!(*shared.history.lock().unwrap(), chosen.history, "the editor shows it");
}

/// The takes: with "save every phrase" on, a phrase is written when it is answered; Keep
/// writes the phrase and its answer. Both into `$CONTINUO_HOME/takes`, by the takes' own
/// thread, as MIDI files that read back. Then Learn fine-tunes the model on them in the
/// background and the worker plays the learnt model; a learning cancelled at once writes
/// nothing; "original model" plays the model it came from again.
#[test]
fn kept_takes_are_written_learnt_from_and_the_learnt_model_plays() {
    let home = tempfile::Builder::new().prefix("continuo-home-").tempdir().unwrap();
    std::env::set_var("CONTINUO_HOME", home.path());
    let link = Link::new();
    link.save_phrases.store(true, Ordering::Release);
    let worker = Worker::spawn(link.clone(), models().join("essen-melody.onnx")).unwrap();
    wait_until("the model", || link.model_ready.load(Ordering::Acquire));
    let mut phrase = Phrase::default();
    for (i, pitch) in [60u8, 64, 67, 72].iter().enumerate() {
        phrase.notes[i] = HeardNote { step: 4 * i as i64, steps: 4, pitch: *pitch, velocity: 70 + i as u8 };
    }
    phrase.len = 4;
    link.now_step.store(i64::MAX / 2, Ordering::Release);
    answer_32_steps(&link, phrase, 1);
    link.send(Command::Keep);
    let folder = home.path().join("takes");
    let files = || -> Vec<PathBuf> {
        let mut f: Vec<PathBuf> = std::fs::read_dir(&folder).map_or(vec![], |d| d.map(|e| e.unwrap().path()).collect());
        f.sort();
        f
    };
    wait_until("two takes", || worker.shared.takes_status().is_some_and(|s| s.kept + s.phrases == 2));
    let written = files();
    assert_eq!(written.len(), 2, "{written:?}");
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name(&written[0]).ends_with("-phrase.mid") && name(&written[1]).ends_with("-kept.mid"), "{written:?}");
    let options = continuo_core::midi::MidiOptions::default();
    let kept = continuo_core::midi::read_midi_file(&written[1], &options).unwrap();
    let phrase_notes: Vec<(u8, u8)> =
        kept.notes.iter().filter(|n| n.voice == 0).map(|n| (n.pitch, n.velocity)).collect();
    assert_eq!(phrase_notes, vec![(60, 70), (64, 71), (67, 72), (72, 73)]);
    assert!(kept.notes.iter().any(|n| n.voice == 1), "the answer is in the take");
    assert!(kept.title.unwrap().contains("model essen-melody"));
    learn_from_the_takes(&link, &worker, home.path());
    drop(worker);
}

fn learn_from_the_takes(link: &Link, worker: &Worker, home: &std::path::Path) {
    let shared = &worker.shared;
    link.send(Command::Learn);
    wait_until("the learning", || matches!(shared.learning(), LearnState::Done { .. } | LearnState::Failed(_)));
    let LearnState::Done { model, epochs, .. } = shared.learning() else { panic!("{:?}", shared.learning()) };
    assert!(model.starts_with(home.join("models/learnt")), "{}", model.display());
    assert!(epochs >= 1);
    let card = continuo_core::card::ModelCard::load(&continuo_core::card::card_path_for(&model)).unwrap();
    assert_eq!(card.training.details["parent_name"], "essen-melody");
    assert!(card.training.corpus[0].ends_with("takes"), "{:?}", card.training.corpus);
    wait_until("the learnt model", || shared.status().name.is_some_and(|n| n.starts_with("essen-melody-learnt-")));
    let original = models().join("essen-melody.onnx");
    assert_eq!(*shared.original_model.read().unwrap(), original.to_string_lossy());
    let mut phrase = Phrase::default();
    phrase.notes[0] = HeardNote { step: 0, steps: 8, pitch: 62, velocity: 80 };
    phrase.len = 1;
    answer_32_steps(link, phrase, 2);

    // Learning again, cancelled at once: no model is written, the learnt one keeps playing.
    let learnt = || std::fs::read_dir(home.join("models/learnt")).unwrap().count();
    let before = learnt();
    shared.learn(link.repaint.clone());
    shared.cancel_learning();
    wait_until("the cancel", || !shared.learning().running());
    assert_eq!(shared.learning(), LearnState::Cancelled);
    assert_eq!(learnt(), before, "a cancelled learning wrote a file");
    assert!(shared.status().name.is_some_and(|n| n.starts_with("essen-melody-learnt-")));

    shared.revert_learning();
    wait_until("the original model", || shared.status().name.as_deref() == Some("essen-melody"));
    assert!(shared.original_model.read().unwrap().is_empty());
}

/// A phrase that starts on beat 3 of the host's bar: the model is told where the answer
/// starts in the host's bar, and the answer lands its phrase on beat 3 of the host's last
/// bar (the key's tonic or dominant, struck or held into it, held for a beat, then only the
/// rest of the tonic triad).
#[test]
fn an_answer_is_primed_with_the_hosts_bar_position() {
    let link = Link::new();
    let worker = Worker::spawn(link.clone(), models().join("folk-melody.onnx")).unwrap();
    wait_until("the model", || link.model_ready.load(Ordering::Acquire));
    link.now_step.store(i64::MAX / 2, Ordering::Release);
    // C E G C G E in quarter notes from step 8: beat 3 of a 4/4 bar whose downbeat is step 0.
    let notes: Vec<HeardNote> = [60u8, 64, 67, 72, 67, 64]
        .iter()
        .enumerate()
        .map(|(i, &pitch)| HeardNote { step: 8 + 4 * i as i64, steps: 4, pitch, velocity: 90 })
        .collect();
    // Answers from step 40 (beat 3 of the third bar) and, as if the host's bars started
    // a beat later, from its beat 2.
    for (start_step, bar_position) in [(40i64, 8u32), (40, 4)] {
        let steps = 40u32;
        let request = Request {
            generation: link.current_generation(),
            phrase: Phrase::from_notes(&notes),
            start_step,
            steps,
            continuous: false,
            bar_steps: 16,
            bar_position,
            seed: 5,
            follow_key: true,
        };
        assert!(link.request(request));
        let mut answer = Vec::new();
        wait_until("the answer", || {
            while let Some(a) = link.tokens.pop() {
                answer.push(a.token);
            }
            answer.len() == steps as usize
        });
        assert_eq!(worker.shared.history.lock().unwrap().bar_position, bar_position as usize);
        // 40 steps from beat 3 (or 2) of a bar: the last bar starts 24 (or 28) steps in, and
        // its beat 3 comes 8 steps later.
        let last_downbeat = (0..steps as usize).rev().find(|i| (bar_position as usize + i).is_multiple_of(16)).unwrap();
        let close = last_downbeat + 8;
        // The note sounding there: struck on it, or a C or G held into it.
        let struck = (0..=close).rev().find(|&i| answer[i] != StepToken::Hold).unwrap();
        let closing = answer[struck].pitches();
        assert!(
            !closing.is_empty() && closing.iter().all(|p| p % 12 == 0 || p % 12 == 7),
            "the answer closes on C or G on beat 3 of the host's last bar (step {close}): {answer:?}"
        );
        // It rings for a beat; then only the tonic triad (C, E, G) sounds, and not the
        // closing pitch again.
        let ring = &answer[close + 1..(close + 4).min(steps as usize)];
        assert!(ring.iter().all(|&t| t == StepToken::Hold), "the closing note rings: {answer:?}");
        let mut after = answer[(close + 4).min(steps as usize)..].iter().flat_map(|t| t.pitches().to_vec());
        assert!(
            after.all(|p| [0, 4, 7].contains(&(p % 12)) && p != closing[0]),
            "the tonic triad after the close: {answer:?}"
        );
    }
    drop(worker);
}
