//! The training loop through the library's public interface, on small synthetic corpora:
//! it learns, it is deterministic for a seed, a resumed run equals an uninterrupted one,
//! evaluation equals the reference forward pass, and bad checkpoints are clear errors.

use continuo_core::card::EncodingSpec;
use continuo_trainer::checkpoint::{Checkpoint, Schedule, TrainConfig, WindowOrder};
use continuo_trainer::codes::Code;
use continuo_trainer::error::TrainerError;
use continuo_trainer::train::{evaluate, train, train_until, Songs};
use continuo_trainer::weights::LstmState;
use std::time::{Duration, Instant};

/// `/ r _ 60..=67`: ids 0, 1, 2, then pitches from 3.
fn encoding() -> EncodingSpec {
    EncodingSpec::melody(60..=67)
}

/// Songs that walk up a scale from a start note with holds: very learnable.
fn songs(count: usize, offset: usize) -> Vec<Vec<Code>> {
    (0..count)
        .map(|i| {
            let start = (i + offset) % 4;
            let mut s = Vec::new();
            for k in 0..12 {
                s.push(3 + ((start + k) % 8) as Code);
                s.push(2);
            }
            s.push(0);
            s
        })
        .collect()
}

fn config(max_epochs: usize) -> TrainConfig {
    TrainConfig {
        preset: "test".into(),
        embed: 8,
        hidden: 16,
        layers: 2,
        dropout: 0.1,
        batch_norm: false,
        batch: 4,
        window: 10,
        lr: 1e-2,
        clip: 1.0,
        max_epochs,
        patience: 100,
        seed: 3,
        schedule: Default::default(),
        windows: Default::default(),
        weight_decay: 0.0,
        metre: false,
        lookback: false,
        harmony: false,
    }
}

fn fresh(config: TrainConfig) -> Checkpoint {
    Checkpoint::fresh(config, encoding(), "synthetic".into(), "test".into())
}

fn data() -> Songs {
    Songs { train: songs(24, 0), validation: songs(6, 1), test: songs(6, 2) }
}

fn out_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("continuo-train-{name}-")).tempdir().unwrap()
}

#[test]
fn random_windows_with_each_schedule_learn_too() {
    for schedule in [Schedule::Constant, Schedule::Cosine, Schedule::HalveAfter2] {
        let config = TrainConfig { windows: WindowOrder::Random, schedule, weight_decay: 0.01, ..config(25) };
        let mut ckpt = fresh(config);
        train(&mut ckpt, &data(), out_dir("random").path(), &mut |_| {}).unwrap();
        let first = ckpt.header.history[0].validation_nll;
        let best = ckpt.header.best_validation_nll.expect("a validated epoch");
        println!("{schedule:?}: validation NLL epoch 1 {first:.3}, best {best:.3}");
        assert!(best < 0.5 * first, "{schedule:?}: first {first}, best {best}");
    }
}

#[test]
fn a_deadline_stops_training_and_no_validation_songs_is_fine() {
    let songs = Songs { validation: vec![], ..data() };
    let mut ckpt = fresh(config(1000));
    let dir = out_dir("deadline");
    let deadline = Instant::now() + Duration::from_millis(300);
    train_until(&mut ckpt, &songs, dir.path(), &|| Instant::now() >= deadline, &mut |_| {}).unwrap();
    assert!(Instant::now() < deadline + Duration::from_secs(2), "training ran past its deadline");
    assert!(ckpt.header.epoch > 0 && ckpt.header.epoch < 1000, "{} epochs", ckpt.header.epoch);
    // Every epoch counts as the best: the last one is saved as best.
    assert_eq!(ckpt.header.best_epoch, ckpt.header.epoch);
    assert!(dir.path().join("best.ckpt").is_file());
}

#[test]
fn it_learns_a_simple_corpus() {
    let mut ckpt = fresh(config(25));
    train(&mut ckpt, &data(), out_dir("learns").path(), &mut |_| {}).unwrap();
    let first = ckpt.header.history[0].validation_nll;
    let best = ckpt.header.best_validation_nll.expect("a validated epoch");
    println!("validation NLL: epoch 1 {first:.3}, best {best:.3}");
    assert!(best < 0.5 * first && best < 0.6, "first {first}, best {best}");
}

#[test]
fn runs_are_deterministic_and_resume_exactly() {
    let (a_dir, b_dir) = (out_dir("a"), out_dir("b"));
    let mut a = fresh(config(3));
    train(&mut a, &data(), a_dir.path(), &mut |_| {}).unwrap();
    // The same run in two parts: one epoch, saved and reloaded, then two more.
    let mut b = fresh(config(1));
    train(&mut b, &data(), b_dir.path(), &mut |_| {}).unwrap();
    let mut b = Checkpoint::load(&b_dir.path().join("last.ckpt")).unwrap();
    b.header.config.max_epochs = 3;
    train(&mut b, &data(), b_dir.path(), &mut |_| {}).unwrap();
    assert_eq!(a.model, b.model);
    let nll = |c: &Checkpoint| c.header.history.iter().map(|r| r.validation_nll).collect::<Vec<_>>();
    assert_eq!(nll(&a), nll(&b));
}

#[test]
fn evaluation_equals_the_reference_forward_pass() {
    let mut ckpt = fresh(config(1));
    let songs = songs(5, 0);
    // One stream per song: every song starts from a zero state after a `/`.
    let stats = evaluate(&mut ckpt.model, &songs, songs.len(), 7, 2, 0);
    let w = &ckpt.model.weights;
    let (mut nll, mut count) = (0.0f64, 0usize);
    for song in &songs {
        let mut state = LstmState::zeros(w.num_layers(), w.hidden);
        let inputs: Vec<Code> = std::iter::once(0).chain(song[..song.len() - 1].iter().copied()).collect();
        let logits = w.forward(&inputs, &mut state);
        for (t, &target) in song.iter().enumerate() {
            let row = &logits[t * w.vocab..(t + 1) * w.vocab];
            let max = row.iter().copied().fold(f32::MIN, f32::max);
            let lse = row.iter().map(|x| ((x - max) as f64).exp()).sum::<f64>().ln() + max as f64;
            nll += lse - row[target as usize] as f64;
            count += 1;
        }
    }
    assert_eq!(stats.count, count);
    assert!((stats.mean_nll() - nll / count as f64).abs() < 1e-4, "{} vs {}", stats.mean_nll(), nll / count as f64);
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let dir = out_dir("bad");
    let mut ckpt = fresh(config(1));
    train(&mut ckpt, &data(), dir.path(), &mut |_| {}).unwrap();
    let path = dir.path().join("last.ckpt");
    let bytes = std::fs::read(&path).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated.ckpt", bytes[..bytes.len() - 10].to_vec(), "truncated"),
        ("cut-header.ckpt", bytes[..40].to_vec(), "truncated header"),
        (
            "flipped.ckpt",
            {
                let mut b = bytes.clone();
                let n = b.len();
                b[n - 3] ^= 0x40;
                b
            },
            "checksum",
        ),
        ("text.ckpt", b"hello".to_vec(), "does not start like"),
    ];
    for (name, content, why) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let err = Checkpoint::load(&p).err().unwrap_or_else(|| panic!("{name} loaded")).to_string();
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
    }
    assert!(Checkpoint::load(&dir.path().join("missing.ckpt")).is_err());
    // An empty training split is refused.
    let empty = Songs { train: vec![], validation: songs(2, 0), test: vec![] };
    assert!(train(&mut fresh(config(1)), &empty, dir.path(), &mut |_| {}).is_err());
}

/// An absurd learning rate makes the run diverge: it stops with an error naming the epoch and
/// the cause, reports no figure, and writes no checkpoint after the blow-up.
#[test]
fn a_diverging_run_stops_with_an_error() {
    let dir = out_dir("diverges");
    let mut ckpt = fresh(TrainConfig { lr: 1e30, ..config(20) });
    let err = train(&mut ckpt, &data(), dir.path(), &mut |_| {}).expect_err("training with lr 1e30 succeeded");
    let message = err.to_string();
    println!("{message}");
    assert!(matches!(err, TrainerError::Diverged { epoch: 1.., .. }), "{message}");
    assert!(message.contains("diverged in epoch") && message.contains("loss"), "{message}");
    assert!(ckpt.header.history.iter().all(|r| r.validation_nll.is_finite() && r.train_nll.is_finite()));
    assert!(!dir.path().join("best.ckpt").exists() || Checkpoint::load(&dir.path().join("best.ckpt")).is_ok());
}

/// A checkpoint whose figures or parameters are not numbers is refused, not written as a
/// file that cannot be read back.
#[test]
fn a_checkpoint_that_would_not_load_is_not_written() {
    let dir = out_dir("non-finite");
    let mut ckpt = fresh(config(1));
    ckpt.model.weights.out_b[0] = f32::NAN;
    assert!(matches!(ckpt.save(&dir.path().join("nan-weight.ckpt")), Err(TrainerError::Checkpoint { .. })));
    let mut ckpt = fresh(config(1));
    ckpt.header.train_seconds = f64::INFINITY;
    let err = ckpt.save(&dir.path().join("inf-figure.ckpt")).unwrap_err().to_string();
    assert!(err.contains("inf-figure.ckpt") && err.contains("not a number"), "{err}");
    assert!(!dir.path().join("nan-weight.ckpt").exists() && !dir.path().join("inf-figure.ckpt").exists());
    let mut ckpt = fresh(config(1));
    ckpt.save(&dir.path().join("fine.ckpt")).unwrap();
    assert!(Checkpoint::load(&dir.path().join("fine.ckpt")).is_ok());
}
