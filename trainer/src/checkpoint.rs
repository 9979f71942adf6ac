//! Checkpoints: everything needed to resume training or export a model, in one file — a
//! JSON header (settings, encoding, progress, history) and the raw little-endian f32 data
//! (parameters, batch-norm statistics, Adam moments) with a checksum. Written to a
//! temporary file and renamed, so an interrupted run never loses the last good one; a
//! truncated or corrupt file is a clear error.

use crate::error::TrainerError;
use crate::network::Model;
use crate::optim::Adam;
use crate::weights::LstmWeights;
use continuo_core::card::EncodingSpec;
use continuo_core::corpus::fnv1a64;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 16] = b"CONTINUO-CKPT-1\n";

/// The shape and training settings of a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub preset: String,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    pub dropout: f32,
    pub batch_norm: bool,
    /// Parallel streams per batch.
    pub batch: usize,
    /// Steps per truncated-BPTT window.
    pub window: usize,
    pub lr: f32,
    pub clip: f32,
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    pub seed: u64,
    /// How the learning rate changes from epoch to epoch.
    #[serde(default)]
    pub schedule: Schedule,
    /// How each epoch cuts the training songs into windows.
    #[serde(default)]
    pub windows: WindowOrder,
    /// Decoupled weight decay (AdamW), per unit of learning rate.
    #[serde(default)]
    pub weight_decay: f32,
    /// Give the network each step's metre ([`continuo_core::metre`]): its position in the
    /// bar and its bar in a four-bar group.
    #[serde(default)]
    pub metre: bool,
    /// Give the network each step's lookback ([`continuo_core::lookback`]): the tokens one
    /// and two bars back and whether the music repeats them (needs `metre`).
    #[serde(default)]
    pub lookback: bool,
    /// Give the network the harmony under each step ([`continuo_core::accompaniment`]),
    /// from a corpus prepared with it.
    #[serde(default)]
    pub harmony: bool,
}

/// The learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Halve the rate after every epoch without a better validation loss.
    #[default]
    Halve,
    /// Halve it after every second epoch in a row without a better validation loss.
    HalveAfter2,
    /// Keep the rate constant.
    Constant,
    /// Cosine decay from the rate to a tenth of it over the epoch limit.
    Cosine,
}

/// How an epoch's training windows are cut.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum WindowOrder {
    /// Songs (shuffled) laid into parallel streams, windows in time order with the state
    /// carried from one window to the next.
    #[default]
    Carried,
    /// Windows cut at a random offset from all songs in a row, shuffled, each from a zero
    /// state.
    Random,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_nll: f64,
    pub validation_nll: f64,
    pub validation_accuracy: f64,
    pub validation_accuracy_no_hold: f64,
    pub lr: f32,
    pub tokens_per_second: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub config: TrainConfig,
    pub encoding: EncodingSpec,
    /// The prepared corpus folder and the command that trained this.
    pub corpus: String,
    pub command: String,
    /// Completed epochs.
    pub epoch: usize,
    /// None until the first epoch is validated.
    pub best_validation_nll: Option<f64>,
    pub best_epoch: usize,
    pub epochs_since_best: usize,
    pub history: Vec<EpochRecord>,
    pub adam: Adam,
    pub train_seconds: f64,
    /// Length of every tensor in the data section, in order.
    pub tensors: Vec<usize>,
    pub checksum: u64,
}

pub struct Checkpoint {
    pub header: Header,
    pub model: Model,
}

/// An untrained model of a config's shape.
pub fn new_model(config: &TrainConfig, vocab: usize) -> Model {
    let mut weights = LstmWeights::random(vocab, config.embed, config.hidden, config.layers, config.seed);
    if config.lookback {
        weights = weights.with_lookback(config.seed);
    } else if config.metre {
        weights = weights.with_metre(config.seed);
    }
    if config.harmony {
        weights = weights.with_harmony(config.seed);
    }
    Model::new(weights, config.batch_norm, config.dropout)
}

/// The data section's tensors, in order: the parameters (in [`Model::tensors_mut`]'s order),
/// the batch-norm statistics, then Adam's first and second moments.
fn data_tensors<'a>(model: &'a mut Model, adam: &'a mut Adam) -> Vec<&'a mut Vec<f32>> {
    let (mut all, statistics) = model.tensors_and_statistics_mut();
    all.extend(statistics);
    all.extend(adam.m.iter_mut());
    all.extend(adam.v.iter_mut());
    all
}

impl Checkpoint {
    /// An untrained model and its optimiser, about to be trained on `corpus` by `command`.
    pub fn fresh(config: TrainConfig, encoding: EncodingSpec, corpus: String, command: String) -> Checkpoint {
        let mut model = new_model(&config, encoding.vocabulary.len());
        let shapes: Vec<usize> = model.tensors_mut().iter().map(|t| t.len()).collect();
        let header = Header {
            format: "continuo-checkpoint".into(),
            encoding,
            corpus,
            command,
            epoch: 0,
            best_validation_nll: None,
            best_epoch: 0,
            epochs_since_best: 0,
            history: vec![],
            adam: Adam { weight_decay: config.weight_decay, ..Adam::new(config.lr, &shapes) },
            train_seconds: 0.0,
            tensors: vec![],
            checksum: 0,
            config,
        };
        Checkpoint { header, model }
    }

    /// Write the checkpoint, refusing one that could not be loaded again: a parameter or a
    /// figure that is not a number (JSON would store it as `null`).
    pub fn save(&mut self, path: &Path) -> Result<(), TrainerError> {
        let refuse = |why: String| TrainerError::Checkpoint { path: path.to_path_buf(), why };
        let mut data = Vec::new();
        let mut lengths = Vec::new();
        for (k, t) in data_tensors(&mut self.model, &mut self.header.adam).into_iter().enumerate() {
            if let Some(i) = t.iter().position(|x| !x.is_finite()) {
                return Err(refuse(format!("tensor {k} holds {} at {i}; not written", t[i])));
            }
            lengths.push(t.len());
            for x in t.iter() {
                data.extend_from_slice(&x.to_le_bytes());
            }
        }
        self.header.tensors = lengths;
        self.header.checksum = fnv1a64(&data);
        let header = serde_json::to_vec(&self.header).map_err(|e| refuse(e.to_string()))?;
        if let Err(e) = serde_json::from_slice::<Header>(&header) {
            return Err(refuse(format!("its header would not read back ({e}): a figure is not a number; not written")));
        }
        let tmp = path.with_extension("ckpt.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            f.write_all(MAGIC)?;
            f.write_all(&(header.len() as u64).to_le_bytes())?;
            f.write_all(&header)?;
            f.write_all(&data)?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(TrainerError::io(path))
    }

    pub fn load(path: &Path) -> Result<Checkpoint, TrainerError> {
        let bad = |why: &str| TrainerError::Checkpoint { path: path.to_path_buf(), why: why.to_string() };
        let bytes = std::fs::read(path).map_err(TrainerError::io(path))?;
        if bytes.len() < 24 || &bytes[..16] != MAGIC {
            return Err(bad("it does not start like a Continuo checkpoint"));
        }
        let header_len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;
        let header_end =
            24usize.checked_add(header_len).filter(|&e| e <= bytes.len()).ok_or_else(|| bad("truncated header"))?;
        let header: Header =
            serde_json::from_slice(&bytes[24..header_end]).map_err(|e| bad(&format!("header: {e}")))?;
        let data = &bytes[header_end..];
        let expected: usize = header.tensors.iter().sum::<usize>() * 4;
        if data.len() != expected {
            return Err(bad(&format!("truncated or padded data: {} bytes, expected {expected}", data.len())));
        }
        if fnv1a64(data) != header.checksum {
            return Err(bad("the data does not match its checksum"));
        }
        let vocab = header.encoding.vocabulary.len();
        let mut model = new_model(&header.config, vocab);
        let mut header = header;
        let shapes: Vec<usize> = model.tensors_mut().iter().map(|t| t.len()).collect();
        header.adam.m = shapes.iter().map(|&n| vec![0.0; n]).collect();
        header.adam.v = shapes.iter().map(|&n| vec![0.0; n]).collect();
        let mut adam = header.adam.clone();
        let tensors = data_tensors(&mut model, &mut adam);
        if tensors.len() != header.tensors.len() || tensors.iter().zip(&header.tensors).any(|(t, &n)| t.len() != n) {
            return Err(bad("its tensors do not fit the network its settings describe"));
        }
        let mut at = 0;
        for t in tensors {
            for x in t.iter_mut() {
                *x = f32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes"));
                at += 4;
            }
        }
        header.adam = adam;
        Ok(Checkpoint { header, model })
    }
}
