//! The training loop: epochs of shuffled songs in parallel streams with truncated BPTT
//! windows (or shuffled zero-state windows), Adam with clipping, warm-up and weight decay, a
//! learning-rate schedule, early stopping, and a checkpoint after every epoch (`last.ckpt`,
//! and `best.ckpt` when validation improved). Deterministic for a seed: the shuffle and the
//! dropout masks of epoch N come from (seed, N), so a resumed run continues identically.
//!
//! Each window's streams are split into [`PARTS`] parts that run forward and backward side
//! by side, one core each, and their gradients are summed before the step (data
//! parallelism: each core runs whole passes, so nothing but the sum waits for the other).
//! The split is fixed, not the number of threads, so the numbers do not depend on the
//! machine. A model with batch norm runs as one part, since its statistics need the batch.

use crate::checkpoint::{Checkpoint, EpochRecord, Header, Schedule, TrainConfig, WindowOrder};
use crate::codes::Code;
use crate::data::Streams;
use crate::error::{Divergence, TrainerError};
use crate::network::{Batch, Grads, Model, State, Stats, Workspace};
use crate::optim::clip_global_norm;
use continuo_core::corpus::{Corpus, Split};
use continuo_core::vocab::Vocabulary;
use continuo_core::Token;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

/// Optimiser steps over which the learning rate ramps up from zero.
pub const WARMUP_STEPS: u64 = 50;
/// Parts a training window's streams are split into (see the module's notes).
const PARTS: usize = 2;

/// One part of the training windows: its streams, its copy of their data, and its own
/// state, buffers, gradients and dropout masks.
struct Part {
    /// The part's streams within the window's: `first..first + streams`.
    first: usize,
    streams: usize,
    inputs: Vec<crate::codes::Code>,
    targets: Vec<i32>,
    state: State,
    ws: Workspace,
    grads: Grads,
    dropout: Pcg64Mcg,
}

/// The parts of every training window (see the module's notes).
struct Parts(Vec<Part>);

impl Parts {
    /// [`PARTS`] parts, or one for a model with batch norm.
    fn new(model: &Model) -> Parts {
        let n = if model.batch_norm.is_some() { 1 } else { PARTS };
        let ws = || if n == 1 { Workspace::default() } else { Workspace::one_core() };
        let part = |_| Part {
            first: 0,
            streams: 0,
            inputs: Vec::new(),
            targets: Vec::new(),
            state: State::zeros(0, 0, 0),
            ws: ws(),
            grads: Grads::zeros_like(model),
            dropout: epoch_rng(0, 0, 0),
        };
        Parts((0..n).map(part).collect())
    }

    /// Starts windows of `streams` streams from a zero state, with `epoch`'s dropout masks.
    /// With fewer streams than parts, some parts have none and sit out.
    fn start(&mut self, streams: usize, c: &TrainConfig, epoch: usize) {
        let n = self.0.len();
        for (k, part) in self.0.iter_mut().enumerate() {
            part.first = k * streams / n;
            part.streams = (k + 1) * streams / n - part.first;
            part.state = State::zeros(c.layers, part.streams, c.hidden);
            part.dropout = epoch_rng(c.seed, epoch, 2 + ((k as u64) << 8));
        }
    }

    /// Forward over the window, each part on its own core: the whole window's loss.
    fn forward(&mut self, model: &mut Model, batch: &Batch, hold: u32) -> Stats {
        if let [part] = &mut self.0[..] {
            return model.forward(batch, &mut part.state, &mut part.ws, Some(&mut part.dropout), hold);
        }
        let model = &*model;
        let stats: Vec<Stats> = self
            .0
            .par_iter_mut()
            .map(|part| {
                if part.streams == 0 {
                    return Stats::default(); // fewer streams than parts
                }
                part.take(batch);
                let batch =
                    Batch { inputs: &part.inputs, targets: &part.targets, steps: batch.steps, streams: part.streams };
                model.forward_part(&batch, &mut part.state, &mut part.ws, Some(&mut part.dropout), hold)
            })
            .collect();
        stats.iter().fold(Stats::default(), |mut all, s| {
            all.add(s);
            all
        })
    }

    /// Backward after [`Parts::forward`]: the gradient of the mean loss over the window's
    /// `count` targets, summed into the first part's gradients, which it returns.
    fn backward(&mut self, model: &Model, batch: &Batch, count: usize) -> &mut Grads {
        let single = self.0.len() == 1;
        self.0.par_iter_mut().for_each(|part| {
            part.grads.clear();
            if single {
                model.backward(batch, &mut part.ws, &mut part.grads, count);
            } else if part.streams > 0 {
                let batch =
                    Batch { inputs: &part.inputs, targets: &part.targets, steps: batch.steps, streams: part.streams };
                model.backward(&batch, &mut part.ws, &mut part.grads, count);
            }
        });
        let (first, rest) = self.0.split_first_mut().expect("at least one part");
        for part in rest {
            first.grads.add(&mut part.grads);
        }
        &mut first.grads
    }
}

impl Part {
    /// Copies the part's streams of `batch` (time-major rows `t·B + b`).
    fn take(&mut self, batch: &Batch) {
        let (all, range) = (batch.streams, self.first..self.first + self.streams);
        self.inputs.clear();
        self.targets.clear();
        for t in 0..batch.steps {
            self.inputs.extend_from_slice(&batch.inputs[t * all + range.start..t * all + range.end]);
            self.targets.extend_from_slice(&batch.targets[t * all + range.start..t * all + range.end]);
        }
    }
}

/// Token ids of a corpus's songs, by split.
pub struct Songs {
    pub train: Vec<Vec<Code>>,
    pub validation: Vec<Vec<Code>>,
    pub test: Vec<Vec<Code>>,
}

impl Songs {
    /// The corpus's songs as token ids.
    pub fn from_corpus(corpus: &Corpus, vocab: &Vocabulary) -> Songs {
        Songs::from_corpus_in(corpus, vocab, false)
    }

    /// The corpus's songs as input codes ([`crate::codes`]): token ids, with each token's
    /// metre and lookback when `metre` (a song's closing `/`, and every token of a song
    /// without a recorded metre, has none), and the harmony the corpus records.
    pub fn from_corpus_in(corpus: &Corpus, vocab: &Vocabulary, metre: bool) -> Songs {
        let song_end = special_id(vocab, Token::SongEnd);
        let codes = |song: &continuo_core::corpus::SongRecord| {
            let ids = vocab.encode(&song.tokens);
            let last = ids.len().saturating_sub(1);
            let rows = |k: usize| {
                (metre && k < last && !song.metre.is_empty())
                    .then(|| continuo_core::metre::rows_at(&song.metre, k as i64))
            };
            let mut codes = crate::codes::with_lookback(&ids, rows, song_end);
            crate::codes::with_harmony(&mut codes, &song.harmony, |_| true);
            codes
        };
        let split = |split| corpus.split(split).map(codes).collect::<Vec<_>>();
        Songs { train: split(Split::Train), validation: split(Split::Validation), test: split(Split::Test) }
    }
}

impl Songs {
    /// Hide the harmony from part of the training songs, so that a harmony network learns to
    /// play with no chord known (nothing held) and to take a chord up when it comes: a third
    /// of the songs have none, a third none until a point of their own, a third all of it.
    pub fn hide_some_harmony(&mut self) {
        for (i, song) in self.train.iter_mut().enumerate() {
            let hidden = match i % 3 {
                0 => song.len(),
                1 => (i.wrapping_mul(2_654_435_761) >> 7) % song.len().max(1),
                _ => 0,
            };
            song[..hidden].iter_mut().for_each(|c| *c = crate::codes::without_harmony(*c));
        }
    }

    /// Hide the harmony from every song (a harmony network's figures with no chord known).
    pub fn hide_all_harmony(&mut self) {
        for song in self.train.iter_mut().chain(&mut self.validation).chain(&mut self.test) {
            song.iter_mut().for_each(|c| *c = crate::codes::without_harmony(*c));
        }
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
    songs: &[Vec<Code>],
    streams: usize,
    window: usize,
    hold: u32,
    song_end: u32,
) -> Stats {
    let refs: Vec<&[Code]> = songs.iter().map(Vec::as_slice).collect();
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
fn divergence(what: &'static str, nll: f64, vocab: usize) -> Option<Divergence> {
    let uniform = (vocab as f64).ln();
    let bound = DIVERGED_VS_UNIFORM * uniform;
    let fine = nll.partial_cmp(&bound).is_some_and(|o| o.is_le());
    (!fine).then_some(Divergence::Loss { what, nll, uniform })
}

/// One truncated-BPTT window: forward, backward, clipping, warm-up and an Adam step. Stops
/// before the step with the cause when the loss or the gradient is not a number, or the loss
/// shows divergence.
fn train_window(ckpt: &mut Checkpoint, batch: &Batch, parts: &mut Parts, hold: u32) -> Result<Stats, Divergence> {
    let stats = parts.forward(&mut ckpt.model, batch, hold);
    if stats.count == 0 {
        return Ok(stats);
    }
    if let Some(cause) = divergence("training", stats.mean_nll(), ckpt.model.weights.vocab) {
        return Err(cause);
    }
    let grads = parts.backward(&ckpt.model, batch, stats.count);
    let norm = clip_global_norm(&mut grads.tensors_mut(), ckpt.header.config.clip);
    if !norm.is_finite() {
        return Err(Divergence::GradientNorm(norm));
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
    let refs: Vec<&[Code]> = songs.train.iter().map(Vec::as_slice).collect();
    let data = Streams::new(&refs, config.batch, song_end);
    let mut parts = Parts::new(&ckpt.model);
    parts.start(data.streams, &config, 1);
    let mut tokens = 0;
    let mut started = Instant::now();
    for (k, (t, steps)) in data.windows(config.window).take(warmup + windows).enumerate() {
        if k == warmup {
            started = Instant::now();
            tokens = 0;
        }
        let (inputs, targets) = data.window(t, steps);
        let batch = Batch { inputs, targets, steps, streams: data.streams };
        let stats = train_window(ckpt, &batch, &mut parts, hold).map_err(|cause| TrainerError::Diverged {
            epoch: 1,
            during: format!("window {}", k + 1),
            cause,
        })?;
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
    std::fs::create_dir_all(out).map_err(TrainerError::io(out))?;
    let vocab = Vocabulary::from_tokens(ckpt.header.encoding.vocabulary.clone())?;
    let ids = Ids { hold: special_id(&vocab, Token::Hold), song_end: special_id(&vocab, Token::SongEnd) };
    let config = ckpt.header.config.clone();
    let mut parts = Parts::new(&ckpt.model);
    while ckpt.header.epoch < config.max_epochs && ckpt.header.epochs_since_best < config.patience {
        let epoch = ckpt.header.epoch + 1;
        let started = Instant::now();
        let batches = epoch_batches(songs, &config, epoch, ids.song_end);
        progress(Progress::Epoch { epoch, windows: batches.iter().map(|b| b.windows(config.window).count()).sum() });
        ckpt.header.adam.lr = scheduled_lr(&ckpt.header, epoch);
        let (total, stopped) = train_epoch(ckpt, &batches, &mut parts, (epoch, ids.hold, started), stop, progress)?;
        let train_seconds = started.elapsed().as_secs_f64();
        if total.count == 0 {
            break; // the deadline passed before this epoch trained anything
        }
        progress(Progress::Validating);
        // Without validation songs, the training figures stand in.
        let val = if songs.validation.is_empty() {
            total
        } else {
            evaluate(&mut ckpt.model, &songs.validation, config.batch, config.window, ids.hold, ids.song_end)
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
        keep_epoch(ckpt, &record, songs.validation.is_empty(), out)?;
        progress(Progress::EpochDone(&record));
        if stopped {
            break;
        }
    }
    Ok(())
}

/// The vocabulary's hold and song-end ids.
#[derive(Clone, Copy)]
struct Ids {
    hold: u32,
    song_end: u32,
}

/// An epoch's training songs in a shuffled order (seeded by the epoch), as carried streams
/// or as shuffled windows from a zero state.
fn epoch_batches(songs: &Songs, config: &TrainConfig, epoch: usize, song_end: u32) -> Vec<Streams> {
    let mut order: Vec<usize> = (0..songs.train.len()).collect();
    let mut shuffle = epoch_rng(config.seed, epoch, 1);
    for i in (1..order.len()).rev() {
        order.swap(i, (shuffle.next_u64() % (i as u64 + 1)) as usize);
    }
    let refs: Vec<&[Code]> = order.iter().map(|&i| songs.train[i].as_slice()).collect();
    match config.windows {
        WindowOrder::Carried => vec![Streams::new(&refs, config.batch, song_end)],
        WindowOrder::Random => Streams::random_windows(&refs, config.window, config.batch, song_end, &mut shuffle),
    }
}

/// Train on every window of `batches` (`at`: the epoch, the hold id, when the epoch
/// started), reporting each; stops early when `stop` says so. The epoch's training figures,
/// and whether it stopped early.
fn train_epoch(
    ckpt: &mut Checkpoint,
    batches: &[Streams],
    parts: &mut Parts,
    at: (usize, u32, Instant),
    stop: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Stats, bool), TrainerError> {
    let ((epoch, hold, started), window) = (at, ckpt.header.config.window);
    let (mut total, mut k) = (Stats::default(), 0);
    for data in batches {
        parts.start(data.streams, &ckpt.header.config, epoch);
        for (t, steps) in data.windows(window) {
            if stop() {
                return Ok((total, true));
            }
            let (inputs, targets) = data.window(t, steps);
            let batch = Batch { inputs, targets, steps, streams: data.streams };
            let stats = train_window(ckpt, &batch, parts, hold).map_err(|cause| TrainerError::Diverged {
                epoch,
                during: format!("window {}", k + 1),
                cause,
            })?;
            total.add(&stats);
            k += 1;
            let tokens_per_second = total.count as f64 / started.elapsed().as_secs_f64();
            progress(Progress::Window { done: k, nll: total.mean_nll(), tokens_per_second });
        }
    }
    Ok((total, false))
}

/// The epoch goes into the checkpoint's history; the best so far (by validation NLL, or
/// every epoch `without_validation`) is saved as `best.ckpt`, every epoch as `last.ckpt`.
fn keep_epoch(
    ckpt: &mut Checkpoint,
    record: &EpochRecord,
    without_validation: bool,
    out: &Path,
) -> Result<(), TrainerError> {
    let h = &mut ckpt.header;
    h.epoch = record.epoch;
    h.train_seconds += record.seconds;
    h.history.push(record.clone());
    let improved = without_validation || h.best_validation_nll.is_none_or(|best| record.validation_nll < best - 1e-4);
    if improved {
        h.best_validation_nll = Some(record.validation_nll);
        h.best_epoch = record.epoch;
        h.epochs_since_best = 0;
        ckpt.save(&out.join("best.ckpt"))?;
    } else {
        h.epochs_since_best += 1;
    }
    ckpt.save(&out.join("last.ckpt"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::preset;
    use crate::weights::LstmWeights;
    use continuo_core::parity::agree;

    /// The parts' summed gradients are those of one pass over the whole window, and the loss
    /// is the same: the split changes where the work runs, not what it computes. Also with
    /// one stream, where a part has none.
    #[test]
    fn parts_compute_the_whole_windows_loss_and_gradients() {
        for streams in [5, 1] {
            whole_against_parts(streams);
        }
    }

    fn whole_against_parts(streams: usize) {
        let (v, steps) = (9, 6);
        let config = TrainConfig { layers: 2, hidden: 8, ..preset("melody").unwrap().config() };
        let mut model = Model::new(LstmWeights::random(v, 4, 8, 2, 3), false, 0.0);
        let inputs: Vec<Code> = (0..steps * streams).map(|i| (i * 7 % v) as Code).collect();
        let targets: Vec<i32> =
            (0..steps * streams).map(|i| if i % 5 == 2 { -1 } else { (i * 3 % v) as i32 }).collect();
        let batch = Batch { inputs: &inputs, targets: &targets, steps, streams };

        let mut ws = Workspace::default();
        let mut state = State::zeros(2, streams, 8);
        let whole = model.forward(&batch, &mut state, &mut ws, Some(&mut epoch_rng(1, 1, 2)), 0);
        let mut expected = Grads::zeros_like(&model);
        model.backward(&batch, &mut ws, &mut expected, whole.count);

        let mut parts = Parts::new(&model);
        assert_eq!(parts.0.len(), PARTS);
        parts.start(streams, &config, 1);
        let split = parts.forward(&mut model, &batch, 0);
        assert_eq!((split.count, split.correct), (whole.count, whole.correct));
        assert!((split.nll - whole.nll).abs() < 1e-4, "{} against {}", split.nll, whole.nll);
        let got = parts.backward(&model, &batch, split.count);
        for (g, e) in got.tensors_mut().into_iter().zip(expected.tensors_mut()) {
            agree(g, e, 1e-5).unwrap();
        }
    }

    #[test]
    fn a_model_with_batch_norm_trains_as_one_part() {
        let model = Model::new(LstmWeights::random(9, 4, 8, 1, 3), true, 0.0);
        assert_eq!(Parts::new(&model).0.len(), 1);
    }
}
