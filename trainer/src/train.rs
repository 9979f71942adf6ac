//! The training loop: epochs of shuffled songs in parallel streams with truncated BPTT
//! windows (or shuffled zero-state windows), Adam with clipping, warm-up and weight decay, a
//! learning-rate schedule, early stopping, and a checkpoint after every epoch (`last.ckpt`,
//! and `best.ckpt` when validation improved). Deterministic for a seed: the shuffle and the
//! dropout masks of epoch N come from (seed, N), so a resumed run continues identically.

use crate::checkpoint::{Checkpoint, EpochRecord, Header, Schedule, WindowOrder};
use crate::data::Streams;
use crate::error::TrainerError;
use crate::network::{Batch, Grads, Model, State, Stats, Workspace};
use crate::optim::clip_global_norm;
use continuo_core::corpus::{Corpus, Split};
use continuo_core::vocab::Vocabulary;
use continuo_core::Token;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::path::Path;
use std::time::Instant;

/// Optimiser steps over which the learning rate ramps up from zero.
pub const WARMUP_STEPS: u64 = 50;

/// Token ids of a corpus's songs, by split.
pub struct Songs {
    pub train: Vec<Vec<u32>>,
    pub validation: Vec<Vec<u32>>,
    pub test: Vec<Vec<u32>>,
}

impl Songs {
    pub fn from_corpus(corpus: &Corpus, vocab: &Vocabulary) -> Songs {
        let ids = |split| corpus.split(split).map(|s| vocab.encode(&s.tokens)).collect::<Vec<_>>();
        Songs { train: ids(Split::Train), validation: ids(Split::Validation), test: ids(Split::Test) }
    }
}

/// What the loop reports as it goes.
pub enum Progress<'a> {
    Epoch { epoch: usize, windows: usize },
    Window { done: usize, nll: f64, tokens_per_second: f64 },
    Validating,
    EpochDone(&'a EpochRecord),
}

pub fn special_id(vocab: &Vocabulary, token: Token) -> u32 {
    vocab.id(&token).expect("every vocabulary holds `/`, `r` and `_`")
}

/// Mean NLL and accuracies of `model` over songs (no dropout, batch norm with its running
/// statistics).
pub fn evaluate(
    model: &mut Model,
    songs: &[Vec<u32>],
    streams: usize,
    window: usize,
    hold: u32,
    song_end: u32,
) -> Stats {
    let refs: Vec<&[u32]> = songs.iter().map(Vec::as_slice).collect();
    let data = Streams::new(&refs, streams, song_end);
    let mut state = State::zeros(model.weights.num_layers(), data.streams, model.weights.hidden);
    let mut ws = Workspace::default();
    let mut stats = Stats::default();
    for (t, steps) in data.windows(window) {
        let (inputs, targets) = data.window(t, steps);
        let batch = Batch { inputs, targets, steps, streams: data.streams };
        stats.add(&model.forward(&batch, &mut state, &mut ws, None, hold));
    }
    stats
}

fn epoch_rng(seed: u64, epoch: usize, purpose: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose)
}

/// The learning rate for `epoch` (from 1): the schedule's, from the configured rate and,
/// for the halving schedules, the rate and plateau after the epoch before.
fn scheduled_lr(h: &Header, epoch: usize) -> f32 {
    let (base, last) = (h.config.lr, h.adam.lr);
    let plateau = h.epochs_since_best;
    match h.config.schedule {
        Schedule::Constant => base,
        Schedule::Cosine => {
            let progress = (epoch - 1) as f32 / h.config.max_epochs.max(1) as f32;
            base * (0.1 + 0.45 * (1.0 + (std::f32::consts::PI * progress).cos()))
        }
        Schedule::Halve if plateau > 0 => last * 0.5,
        Schedule::HalveAfter2 if plateau > 0 && plateau.is_multiple_of(2) => last * 0.5,
        Schedule::Halve | Schedule::HalveAfter2 => last,
    }
}

/// A mean loss (nats/token) beyond this many times a uniform guess's (ln V) is divergence.
const DIVERGED_VS_UNIFORM: f64 = 10.0;

/// Why a loss shows that training diverged, if it does: not a number, or far worse than
/// guessing every token uniformly.
fn divergence(what: &str, nll: f64, vocab: usize) -> Option<String> {
    let uniform = (vocab as f64).ln();
    let bound = DIVERGED_VS_UNIFORM * uniform;
    let fine = nll.partial_cmp(&bound).is_some_and(|o| o.is_le());
    (!fine).then(|| format!("the {what} loss is {nll:.4e} nats/token (a uniform guess scores {uniform:.2})"))
}

/// One truncated-BPTT window: forward, backward, clipping, warm-up and an Adam step. Stops
/// before the step with the cause when the loss or the gradient is not a number, or the loss
/// shows divergence.
fn train_window(
    ckpt: &mut Checkpoint,
    batch: &Batch,
    state: &mut State,
    ws: &mut Workspace,
    grads: &mut Grads,
    dropout: &mut Pcg64Mcg,
    hold: u32,
) -> Result<Stats, String> {
    let stats = ckpt.model.forward(batch, state, ws, Some(dropout), hold);
    if stats.count == 0 {
        return Ok(stats);
    }
    if let Some(cause) = divergence("training", stats.mean_nll(), ckpt.model.weights.vocab) {
        return Err(cause);
    }
    grads.clear();
    ckpt.model.backward(batch, ws, grads, stats.count);
    let norm = clip_global_norm(&mut grads.tensors_mut(), ckpt.header.config.clip);
    if !norm.is_finite() {
        return Err(format!("the gradient norm is {norm}"));
    }
    let adam = &mut ckpt.header.adam;
    let base = adam.lr;
    adam.lr = base * ((adam.t + 1) as f32 / WARMUP_STEPS as f32).min(1.0);
    adam.step(ckpt.model.tensors_mut(), grads.tensors_mut());
    adam.lr = base;
    Ok(stats)
}

/// Training speed: `windows` windows of the first epoch (after `warmup` untimed ones) as
/// `train` runs them, without validation or checkpoints. Returns (tokens, seconds).
pub fn throughput(
    ckpt: &mut Checkpoint,
    songs: &Songs,
    warmup: usize,
    windows: usize,
) -> Result<(usize, f64), TrainerError> {
    let vocab = Vocabulary::from_tokens(ckpt.header.encoding.vocabulary.clone())?;
    let (hold, song_end) = (special_id(&vocab, Token::Hold), special_id(&vocab, Token::SongEnd));
    let config = ckpt.header.config.clone();
    let refs: Vec<&[u32]> = songs.train.iter().map(Vec::as_slice).collect();
    let data = Streams::new(&refs, config.batch, song_end);
    let (mut grads, mut ws) = (Grads::zeros_like(&ckpt.model), Workspace::default());
    let mut dropout_rng = epoch_rng(config.seed, 1, 2);
    let mut state = State::zeros(config.layers, data.streams, config.hidden);
    let mut tokens = 0;
    let mut started = Instant::now();
    for (k, (t, steps)) in data.windows(config.window).take(warmup + windows).enumerate() {
        if k == warmup {
            started = Instant::now();
            tokens = 0;
        }
        let (inputs, targets) = data.window(t, steps);
        let batch = Batch { inputs, targets, steps, streams: data.streams };
        let stats = train_window(ckpt, &batch, &mut state, &mut ws, &mut grads, &mut dropout_rng, hold)
            .map_err(|cause| TrainerError::Diverged { epoch: 1, during: format!("window {}", k + 1), cause })?;
        tokens += stats.count;
    }
    Ok((tokens, started.elapsed().as_secs_f64()))
}

/// Train from the checkpoint's state until early stopping or the epoch limit, writing
/// checkpoints into `out`. A diverging run stops with [`TrainerError::Diverged`], keeping
/// the checkpoints of the epochs before.
pub fn train(
    ckpt: &mut Checkpoint,
    songs: &Songs,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), TrainerError> {
    if songs.validation.is_empty() {
        return Err(TrainerError::Invalid(
            "the corpus needs songs in both the training and the validation split".into(),
        ));
    }
    train_until(ckpt, songs, out, &|| false, progress)
}

/// [`train`], stopping also when `stop` says so, asked before every window (a deadline, a
/// cancel: the epoch under way is validated and saved as it stands). Without validation
/// songs every epoch counts as the best and the epoch limit or `stop` ends it (fine-tuning
/// on a few phrases).
pub fn train_until(
    ckpt: &mut Checkpoint,
    songs: &Songs,
    out: &Path,
    stop: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), TrainerError> {
    if songs.train.is_empty() {
        return Err(TrainerError::Invalid("the corpus has no training songs".into()));
    }
    let mut stopped = false;
    std::fs::create_dir_all(out).map_err(TrainerError::io(out))?;
    let vocab = Vocabulary::from_tokens(ckpt.header.encoding.vocabulary.clone())?;
    let (hold, song_end) = (special_id(&vocab, Token::Hold), special_id(&vocab, Token::SongEnd));
    let config = ckpt.header.config.clone();
    let mut grads = Grads::zeros_like(&ckpt.model);
    let mut ws = Workspace::default();
    while !stopped && ckpt.header.epoch < config.max_epochs && ckpt.header.epochs_since_best < config.patience {
        let epoch = ckpt.header.epoch + 1;
        let started = Instant::now();
        let mut order: Vec<usize> = (0..songs.train.len()).collect();
        let mut shuffle = epoch_rng(config.seed, epoch, 1);
        for i in (1..order.len()).rev() {
            order.swap(i, (shuffle.next_u64() % (i as u64 + 1)) as usize);
        }
        let refs: Vec<&[u32]> = order.iter().map(|&i| songs.train[i].as_slice()).collect();
        let batches = match config.windows {
            WindowOrder::Carried => vec![Streams::new(&refs, config.batch, song_end)],
            WindowOrder::Random => Streams::random_windows(&refs, config.window, config.batch, song_end, &mut shuffle),
        };
        let windows = batches.iter().map(|b| b.windows(config.window).count()).sum();
        progress(Progress::Epoch { epoch, windows });
        ckpt.header.adam.lr = scheduled_lr(&ckpt.header, epoch);
        let mut dropout_rng = epoch_rng(config.seed, epoch, 2);
        let mut total = Stats::default();
        let mut k = 0;
        'batches: for data in &batches {
            let mut state = State::zeros(config.layers, data.streams, config.hidden);
            for (t, steps) in data.windows(config.window) {
                if stop() {
                    stopped = true;
                    break 'batches;
                }
                let (inputs, targets) = data.window(t, steps);
                let batch = Batch { inputs, targets, steps, streams: data.streams };
                let stats = train_window(ckpt, &batch, &mut state, &mut ws, &mut grads, &mut dropout_rng, hold)
                    .map_err(|cause| TrainerError::Diverged { epoch, during: format!("window {}", k + 1), cause })?;
                total.add(&stats);
                k += 1;
                let seconds = started.elapsed().as_secs_f64();
                progress(Progress::Window {
                    done: k,
                    nll: total.mean_nll(),
                    tokens_per_second: total.count as f64 / seconds,
                });
            }
        }
        let train_seconds = started.elapsed().as_secs_f64();
        if total.count == 0 {
            break; // the deadline passed before this epoch trained anything
        }
        progress(Progress::Validating);
        // Without validation songs, the training figures stand in.
        let val = if songs.validation.is_empty() {
            total
        } else {
            evaluate(&mut ckpt.model, &songs.validation, config.batch, config.window, hold, song_end)
        };
        if let Some(cause) = divergence("validation", val.mean_nll(), vocab.len()) {
            return Err(TrainerError::Diverged { epoch, during: "validation".into(), cause });
        }
        let record = EpochRecord {
            epoch,
            train_nll: total.mean_nll(),
            validation_nll: val.mean_nll(),
            validation_accuracy: val.correct as f64 / val.count.max(1) as f64,
            validation_accuracy_no_hold: val.correct_no_hold as f64 / val.count_no_hold.max(1) as f64,
            lr: ckpt.header.adam.lr,
            tokens_per_second: total.count as f64 / train_seconds,
            seconds: started.elapsed().as_secs_f64(),
        };
        let h = &mut ckpt.header;
        h.epoch = epoch;
        h.train_seconds += record.seconds;
        h.history.push(record.clone());
        let improved =
            songs.validation.is_empty() || h.best_validation_nll.is_none_or(|best| record.validation_nll < best - 1e-4);
        if improved {
            h.best_validation_nll = Some(record.validation_nll);
            h.best_epoch = epoch;
            h.epochs_since_best = 0;
        } else {
            h.epochs_since_best += 1;
        }
        if improved {
            ckpt.save(&out.join("best.ckpt"))?;
        }
        ckpt.save(&out.join("last.ckpt"))?;
        progress(Progress::EpochDone(&record));
    }
    Ok(())
}
