//! Continuations that respect their seed, each defect found with held-out files reproduced
//! with a small seed file: a wrong key signature, tempo changes, a change of metre, a seed
//! ending in a rest, a hold as the first token, and continuing after the first bars. Runs
//! the shipped melody model (needs `cargo xtask ort`).

mod common;

use continuo_core::chord::Progression;
use continuo_core::continuation::{continue_score, first_bars, seed_end, seed_key, Continued, Continuer};
use continuo_core::inference::ContinuationModel;
use continuo_core::key::{Key, Mode};
use continuo_core::midi::{parse_midi, write_midi, MidiOptions};
use continuo_core::sampler::SamplerSettings;
use continuo_core::score::{Note, Score, TempoChange, TimeSignature};
use continuo_core::song::KeyNormalisation;
use continuo_core::{kern::parse_kern, Token};
use std::path::Path;

fn continuer(seed: u64) -> Continuer {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/essen-melody.onnx");
    let model = ContinuationModel::load(&path).unwrap_or_else(|e| panic!("{e} (run `cargo xtask ort`)"));
    Continuer::new(model, seed)
}

/// A score through a Standard MIDI file and back, as `trainer generate` reads a seed.
fn through_midi(score: &Score) -> Score {
    parse_midi(&write_midi(score), &MidiOptions::default()).unwrap()
}

fn melody(pitches: &[u8], beats: f64) -> Vec<Note> {
    pitches
        .iter()
        .enumerate()
        .map(|(i, &pitch)| Note { onset: i as f64 * beats, duration: beats, pitch, velocity: 80, voice: 0 })
        .collect()
}

fn continued(seed: &Score, bars: usize, random_seed: u64) -> Continued {
    continue_score(&mut continuer(random_seed), seed, bars, &Progression::default(), &SamplerSettings::default(), 90)
        .unwrap()
}

fn added(c: &Continued) -> Vec<Note> {
    c.score.notes.iter().filter(|n| n.voice == 1).copied().collect()
}

#[test]
fn a_wrong_key_signature_gives_way_to_the_notes() {
    // E minor (E F# G A B, ending on E), in a file that declares C major.
    let tune = [64, 66, 67, 69, 71, 69, 67, 66, 64, 71, 67, 64, 66, 64, 62, 64];
    let seed = through_midi(&Score { notes: melody(&tune, 1.0), declared_key: Some(Key::C_MAJOR), ..Score::default() });
    assert_eq!(seed.declared_key, Some(Key::C_MAJOR));
    let key = seed_key(&seed, KeyNormalisation::CMajorAMinor);
    assert!(key.followed_notes, "{key:?}");
    assert_eq!(key.key, Some(Key::new(4, Mode::Minor)));
    // The continuation stays in E minor (natural or with D#).
    let scale = [4, 6, 7, 9, 11, 0, 2, 3];
    let (mut inside, mut all) = (0, 0);
    for random_seed in 0..10 {
        let c = continued(&seed, 4, random_seed);
        assert_eq!(c.score.declared_key, Some(Key::new(4, Mode::Minor)));
        for n in added(&c) {
            inside += scale.contains(&(n.pitch % 12)) as usize;
            all += 1;
        }
    }
    let rate = inside as f64 / all as f64;
    println!("in E minor: {rate:.3} of {all} notes");
    assert!(all > 0 && rate >= 0.85, "{rate} of {all}");

    // A declared key that fits is kept.
    let fits = Score { notes: melody(&[60, 62, 64, 65, 67, 65, 64, 62, 60], 1.0), ..seed.clone() };
    assert!(!seed_key(&fits, KeyNormalisation::CMajorAMinor).followed_notes);
}

#[test]
fn tempo_changes_and_metres_of_the_seed_are_kept_and_the_last_ones_continue() {
    // 3/4 at 120 BPM for two bars, then 4/4 at 80 BPM for a bar and three beats.
    let notes = melody(&[60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64], 1.0);
    let seed = through_midi(&Score {
        notes,
        tempi: vec![TempoChange { beat: 0.0, bpm: 120.0 }, TempoChange { beat: 6.0, bpm: 80.0 }],
        time_signatures: vec![
            TimeSignature { beat_milli: 0, numerator: 3, denominator: 4 },
            TimeSignature { beat_milli: 6000, numerator: 4, denominator: 4 },
        ],
        ..Score::default()
    });
    let c = continued(&seed, 2, 1);
    assert_eq!(c.start, 13.0);
    let out = through_midi(&c.score);
    let tempi: Vec<(f64, f64)> = out.tempi.iter().map(|t| (t.beat, t.bpm.round())).collect();
    assert_eq!(tempi, vec![(0.0, 120.0), (6.0, 80.0)]);
    let metres: Vec<(f64, u8)> = out.time_signatures.iter().map(|t| (t.beat(), t.numerator)).collect();
    assert_eq!(metres, vec![(0.0, 3), (6.0, 4)]);
    // The rest of the bar the seed ends in, and two 4/4 bars: to beat 13 + 1 + 8 = 22.
    assert_eq!(c.score.length, Some(22.0));
    assert_eq!(c.tokens.len(), 9 * 4);
    assert!(added(&c).iter().all(|n| n.onset >= 13.0 && n.end() <= 22.0 + 1e-9));
}

#[test]
fn a_seed_ending_in_a_rest_is_continued_after_the_rest() {
    // Three quarter notes and a quarter rest before the final bar line.
    let seed = parse_kern("**kern\n*M4/4\n*C:\n4c\n4d\n4e\n4r\n=\n4e\n4d\n4c\n4r\n==\n*-\n").unwrap();
    assert_eq!(seed.end_beat(), 7.0);
    assert_eq!(seed_end(&seed), 8.0);
    for random_seed in 0..10 {
        let c = continued(&seed, 2, random_seed);
        assert_eq!(c.start, 8.0);
        assert_eq!(c.score.length, Some(16.0));
        assert!(added(&c).iter().all(|n| n.onset >= 8.0), "{:?}", added(&c));
        // Nothing sounds at the seed's end, so the answer does not start with a hold.
        assert_ne!(c.tokens[0], Token::Hold);
    }
}

#[test]
fn a_hold_first_continues_the_sounding_note() {
    // A seed whose last note lasts to its end: a first hold lengthens it, with no gap.
    let seed = through_midi(&Score { notes: melody(&[60, 64, 67, 72, 67, 64, 62, 60], 0.5), ..Score::default() });
    let mut holds = 0;
    for random_seed in 0..40 {
        let c = continued(&seed, 1, random_seed);
        if c.tokens[0] == Token::Hold {
            holds += 1;
            let last =
                c.score.notes.iter().filter(|n| n.voice == 0).max_by(|a, b| a.onset.total_cmp(&b.onset)).unwrap();
            assert!(last.end() > c.start + 0.2, "the held note ends at {} (start {})", last.end(), c.start);
        }
    }
    println!("{holds} of 40 answers began with a hold");
    assert!(holds > 0, "no answer began with a hold: the test checks nothing");
}

#[test]
fn continuing_after_the_first_bars() {
    // A pickup of one beat, then four 2/4 bars.
    let seed = parse_kern("**kern\n*M2/4\n*C:\n4G\n=1\n4c\n4d\n=2\n4e\n4f\n=3\n4g\n4e\n=4\n2c\n==\n*-\n").unwrap();
    let two = first_bars(&seed, 2).unwrap();
    assert_eq!(two.length, Some(5.0));
    assert_eq!(two.notes.len(), 5);
    assert!(first_bars(&seed, 4).is_none(), "the piece is not longer than 4 bars");
    let c = continued(&two, 2, 3);
    assert_eq!(c.start, 5.0);
    assert_eq!(c.score.length, Some(9.0));
}

/// The next-step probabilities of `model` after `call` primed in `metre`.
fn after(name: &str, call: &[Token], metre: continuo_core::metre::Metre) -> Vec<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../models/{name}.onnx"));
    let model = ContinuationModel::load(&path).unwrap_or_else(|e| panic!("{e} (run `cargo xtask ort`)"));
    let mut c = Continuer::new(model, 1);
    c.prime_in(call, 0, metre).unwrap();
    let logits = c.logits().unwrap().to_vec();
    let mut p = vec![0.0; logits.len()];
    continuo_core::sampler::softmax(&logits, &mut p);
    p
}

/// The shipped default model hears where the bar lines are: the same call, primed on beat
/// 1 and on beat 3 of a 4/4 bar, gives other chances for the next step; it expects a new
/// note on a downbeat more than off it. A model without metre inputs hears no difference.
#[test]
fn the_default_model_hears_the_bar_position() {
    use continuo_core::metre::Metre;
    let call: Vec<Token> = "60 _ _ _ 64 _ _ _ 67 _ _ _ 72 _ _ _ 71 _ _ _ 67 _ _ _ 62 _ _ _ 60 _ _ _"
        .split(' ')
        .map(|t| t.parse().unwrap())
        .collect();
    // The next step (32) is a downbeat, or the middle of a bar.
    let on = Metre { bar_steps: 16, downbeat: 0 };
    let off = Metre { bar_steps: 16, downbeat: 8 };
    let hold = |p: &[f32]| p[2];
    let (a, b) = (after("folk-melody", &call, on), after("folk-melody", &call, off));
    let moved: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
    println!(
        "folk-melody: a hold next {:.3} on the downbeat, {:.3} mid-bar; total change {moved:.3}",
        hold(&a),
        hold(&b)
    );
    assert!(moved > 0.05, "the bar position changes what the model expects: {moved}");
    let (a, b) = (after("essen-melody", &call, on), after("essen-melody", &call, off));
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6), "a model without metre inputs ignores it");
}
