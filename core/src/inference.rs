//! The stateful ONNX model: a model file and its card, run with ONNX Runtime (loaded at run
//! time). Prime it with a seed, then feed one token at a time; the LSTM state is carried
//! between calls. Runs on the trainer's threads and on the plugin's inference worker —
//! never on the audio thread.
//!
//! The ONNX interface (written by `trainer export`, recorded in the card): inputs `tokens`
//! [T, 1] int64, `h0` and `c0` [layers, 1, hidden] float32, and in a metre-aware model
//! `metre` [T, 1, 2] int64 (each step's two metre rows of the embedding table, counted from
//! its start: [`crate::metre`]), and in a lookback model `lookback` [T, 1, 4] int64 (each
//! step's four lookback rows, counted the same way: [`crate::lookback`], which the model
//! works out from what it was fed), and in a harmony model `harmony` [T, 1, 12] int64 (each
//! step's twelve harmony rows after those: [`crate::accompaniment`], the chord set with
//! [`ContinuationModel::set_harmony`]); outputs `logits` [T, 1, V], `hn` and `cn` [layers, 1,
//! hidden]. A model without `metre` is fed tokens alone.

use crate::accompaniment;
use crate::card::{card_path_for, CardError, ModelCard};
use crate::chord::ClassMask;
use crate::golden::{golden_path_for, Golden, GoldenError};
use crate::lookback::{self, Lookback};
use crate::metre::METRE_ROWS;
use crate::vocab::Vocabulary;
use ort::memory::Allocator;
use ort::session::{IoBinding, Session};
use ort::value::Tensor;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ONNX Runtime library version Continuo is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The ONNX Runtime library could not be found or loaded.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error(transparent)]
    Card(#[from] CardError),
    /// The ONNX file could not be loaded or run.
    #[error("{}: {message}", path.display())]
    Onnx { path: PathBuf, message: String },
    /// The ONNX file and its card disagree.
    #[error("{}: does not match its model card: {why}", path.display())]
    Mismatch { path: PathBuf, why: String },
    /// The model, its card and its golden file do not belong together.
    #[error("{}: does not match its golden file: {source}", path.display())]
    Golden {
        path: PathBuf,
        #[source]
        source: GoldenError,
    },
}

/// How far an ONNX model's logits may be from its golden file's at load: a little more than
/// the 1e-4 the shipped models are held to, for other CPUs' arithmetic.
const GOLDEN_TOLERANCE: f32 = 1e-3;

fn library_names() -> [String; 2] {
    let (prefix, suffix) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    if cfg!(target_os = "linux") {
        [format!("{prefix}onnxruntime{suffix}.{ORT_VERSION}"), format!("{prefix}onnxruntime{suffix}")]
    } else {
        [format!("{prefix}onnxruntime.{ORT_VERSION}{suffix}"), format!("{prefix}onnxruntime{suffix}")]
    }
}

/// Continuo's per-user folder: `$CONTINUO_HOME`, else on Windows `%APPDATA%\Continuo`, else
/// `$XDG_DATA_HOME/continuo`, else `~/.local/share/continuo`. `cargo xtask install` (and the
/// Windows zip's `install.bat`) put the ONNX Runtime library in its `lib/` and the shipped
/// models in its `models/`; the plugin keeps its takes and learnt models there.
pub fn data_dir() -> Option<PathBuf> {
    data_dir_in(&|name| std::env::var_os(name), cfg!(windows))
}

/// [`data_dir`] for an environment `var` on Windows or not.
pub fn data_dir_in(var: &dyn Fn(&str) -> Option<std::ffi::OsString>, windows: bool) -> Option<PathBuf> {
    let var = |name: &str| var(name).filter(|p| !p.is_empty()).map(PathBuf::from);
    if let Some(home) = var("CONTINUO_HOME") {
        return Some(home);
    }
    if windows {
        return var("APPDATA").map(|a| a.join("Continuo"));
    }
    if let Some(xdg) = var("XDG_DATA_HOME") {
        return Some(xdg.join("continuo"));
    }
    var("HOME").map(|h| h.join(".local/share/continuo"))
}

/// The folder of the library running this code: the plugin's (`Continuo.clap`, or the
/// VST3 bundle's binary) inside a host, else the program's. What is unpacked beside it (the
/// ONNX Runtime library, `models/`) is found there.
pub fn module_dir() -> Option<PathBuf> {
    process_path::get_dylib_path().and_then(|p| p.parent().map(Path::to_path_buf))
}

/// Where the ONNX Runtime library is looked for: only `$ORT_DYLIB_PATH` when it is set;
/// else its names in each of [`runtime_dirs`].
pub fn runtime_candidates(extra: &[PathBuf]) -> Vec<PathBuf> {
    // A path the user gave is the only one tried.
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    runtime_dirs(extra).iter().flat_map(|d| library_names().map(|name| d.join(name))).collect()
}

/// The folders the ONNX Runtime library is looked for in, in order: the running executable's
/// `lib/`, `../lib/` and own folder, the plugin library's own folder ([`module_dir`]), the
/// folders in `extra`, Continuo's per-user `lib/` ([`data_dir`]), and this checkout's
/// `target/onnxruntime/` (where `cargo xtask ort` puts it).
pub fn runtime_dirs(extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.join("lib"));
        dirs.push(exe_dir.join("..").join("lib"));
        dirs.push(exe_dir);
    }
    dirs.extend(module_dir());
    dirs.extend(extra.iter().cloned());
    dirs.extend(data_dir().map(|d| d.join("lib")));
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/onnxruntime"));
    dirs
}

static RUNTIME: OnceLock<Result<(ort::environment::Environment, PathBuf), ModelError>> = OnceLock::new();

/// The environment variable that turns ONNX Runtime's own telemetry off (since 1.29 on Linux
/// and macOS: a device id under `~/.cache/Microsoft/DeveloperTools/` and an upload when its
/// environment is made). It is read when the library makes its environment, and no API call
/// can come before that. The library never sets it: setting a variable while another thread
/// reads the environment can crash that thread, and a plugin lives in a host whose threads
/// are already running. A program sets it in `main`, first thing, before it starts any
/// thread (`trainer`, the standalone), unless the user did; a host that loads the plugin
/// keeps ONNX Runtime's default unless its own environment sets it (`docs/PLUGIN.md`).
pub const TELEMETRY_SWITCH: &str = "ORT_DISABLE_TELEMETRY";

/// Load ONNX Runtime once per process (later calls return the first outcome). The error
/// says where it looked and how to get the library.
pub fn init_runtime(extra_dirs: &[PathBuf]) -> Result<PathBuf, ModelError> {
    let outcome = RUNTIME.get_or_init(|| {
        let candidates = runtime_candidates(extra_dirs);
        let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
            let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            return Err(ModelError::Runtime(format!(
                "library not found (run `cargo xtask ort`, or set ORT_DYLIB_PATH); looked for: {}",
                looked.join(", ")
            )));
        };
        let failed = |e: &dyn std::fmt::Display| ModelError::Runtime(format!("{}: {e}", path.display()));
        let builder = ort::init_from(&path).map_err(|e| failed(&e))?;
        let env = builder.with_name("continuo").with_telemetry(false).build().map_err(|e| failed(&e))?;
        Ok((env, path.clone()))
    });
    match outcome {
        Ok((_, path)) => Ok(path.clone()),
        Err(e) => Err(e.clone()),
    }
}

/// The largest ONNX file loaded: the shipped models are under 8 MB, and ONNX Runtime reads
/// a file whole, so a huge one (a mistake, or a crafted path) would take the host's memory.
pub const MAX_MODEL_BYTES: u64 = 512 << 20;

/// The largest network a card may claim when the graph does not fix its state's shape.
const MAX_LAYERS: u32 = 16;
const MAX_HIDDEN: u32 = 16_384;

/// The card's state size against the graph's own `h0` shape [layers, 1, hidden], before
/// anything of that size is allocated: a card that claims another (or a huge) network is
/// an error, not an abort of the host.
fn check_state_shape(session: &Session, card: &ModelCard, onnx: &Path) -> Result<(), ModelError> {
    let (layers, hidden) = (card.onnx.layers, card.onnx.hidden_size);
    let graph: Option<Vec<i64>> =
        session.inputs().iter().find(|o| o.name() == "h0").and_then(|o| o.dtype().tensor_shape().map(|s| s.to_vec()));
    let fits = match graph.as_deref() {
        Some(&[l, 1, h]) if l > 0 && h > 0 => l == layers as i64 && h == hidden as i64,
        _ => layers <= MAX_LAYERS && hidden <= MAX_HIDDEN,
    };
    if fits {
        return Ok(());
    }
    let why = match graph {
        Some(shape) => format!("the card says {layers} layers of {hidden} units, the graph's `h0` is {shape:?}"),
        None => format!("the card says {layers} layers of {hidden} units, more than {MAX_LAYERS} of {MAX_HIDDEN}"),
    };
    Err(ModelError::Mismatch { path: onnx.to_path_buf(), why })
}

/// A loaded model with its LSTM state.
pub struct ContinuationModel {
    card: ModelCard,
    vocab: Vocabulary,
    path: PathBuf,
    session: Session,
    h: Tensor<f32>,
    c: Tensor<f32>,
    logits: Vec<f32>,
    /// A zeroed copy of the state, to reset from without allocating.
    zeros: Vec<f32>,
    step: StepBinding,
    /// The model takes the `metre` input.
    metre: bool,
    /// What a lookback model was fed since the piece began (`None`: no `lookback` input).
    lookback: Option<Lookback>,
    /// A harmony model's first harmony row (`None`: no `harmony` input).
    harmony: Option<i64>,
    /// The harmony under the steps predicted from now on ([`ContinuationModel::set_harmony`]).
    harmony_now: ClassMask,
}

/// The one-token step's inputs and outputs, allocated once and bound to the session: a step
/// writes the token id, runs, and copies the new state back into `h` and `c` (which stay
/// bound as the inputs).
struct StepBinding {
    binding: IoBinding,
    token: Tensor<i64>,
    metre: Tensor<i64>,
    lookback: Tensor<i64>,
    harmony: Tensor<i64>,
    logits: Tensor<f32>,
    hn: Tensor<f32>,
    cn: Tensor<f32>,
}

impl StepBinding {
    fn new(
        session: &Session,
        h: &Tensor<f32>,
        c: &Tensor<f32>,
        layers: usize,
        hidden: usize,
        vocab: usize,
        inputs: (bool, bool, bool),
    ) -> ort::Result<StepBinding> {
        let (metre, lookback, harmony) = inputs;
        let cpu = Allocator::default();
        let mut step = StepBinding {
            binding: session.create_binding()?,
            token: Tensor::new(&cpu, [1usize, 1])?,
            metre: Tensor::new(&cpu, [1usize, 1, 2])?,
            lookback: Tensor::new(&cpu, [1usize, 1, lookback::INPUTS])?,
            harmony: Tensor::new(&cpu, [1usize, 1, accompaniment::INPUTS])?,
            logits: Tensor::new(&cpu, [1usize, 1, vocab])?,
            hn: Tensor::new(&cpu, [layers, 1, hidden])?,
            cn: Tensor::new(&cpu, [layers, 1, hidden])?,
        };
        step.binding.bind_input("tokens", &step.token)?;
        if metre {
            step.binding.bind_input("metre", &step.metre)?;
        }
        if lookback {
            step.binding.bind_input("lookback", &step.lookback)?;
        }
        if harmony {
            step.binding.bind_input("harmony", &step.harmony)?;
        }
        step.binding.bind_input("h0", h)?;
        step.binding.bind_input("c0", c)?;
        step.binding.bind_output("logits", &mut step.logits)?;
        step.binding.bind_output("hn", &mut step.hn)?;
        step.binding.bind_output("cn", &mut step.cn)?;
        Ok(step)
    }
}

impl fmt::Debug for ContinuationModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContinuationModel").field("path", &self.path).field("name", &self.card.name).finish()
    }
}

fn onnx_err(path: &Path, e: impl fmt::Display) -> ModelError {
    ModelError::Onnx { path: path.to_path_buf(), message: e.to_string() }
}

/// What a model file must be before anything reads it: an `.onnx` (not its card), there, a
/// regular file (a FIFO would block), no larger than any model.
fn check_model_file(onnx: &Path) -> Result<(), ModelError> {
    if onnx.extension().is_some_and(|e| e == "json") {
        return Err(onnx_err(onnx, "this is a model card; give the model, its .onnx file beside it"));
    }
    if !onnx.exists() {
        return Err(onnx_err(onnx, "no such file"));
    }
    if !crate::is_regular_file(onnx) {
        return Err(onnx_err(onnx, "not a regular file"));
    }
    let bytes = std::fs::metadata(onnx).map_or(0, |m| m.len());
    if bytes > MAX_MODEL_BYTES {
        let why = format!("{bytes} bytes, more than any model Continuo plays ({MAX_MODEL_BYTES})");
        return Err(onnx_err(onnx, why));
    }
    Ok(())
}

impl ContinuationModel {
    /// Load `model.onnx` and its card `model.json`, on one thread, no spinning (the plugin's
    /// worker steps one token at a time: per-call overhead matters, not parallelism).
    pub fn load(onnx: &Path) -> Result<ContinuationModel, ModelError> {
        check_model_file(onnx)?;
        let card = ModelCard::load(&card_path_for(onnx)).map_err(ModelError::Card)?;
        init_runtime(&[])?;
        let env = &RUNTIME.get().expect("initialised above").as_ref().expect("checked above").0;
        let session = Session::builder(env)
            .and_then(|b| Ok(b.with_intra_threads(1)?))
            .and_then(|b| Ok(b.with_inter_threads(1)?))
            .and_then(|b| Ok(b.with_intra_op_spinning(false)?))
            .and_then(|b| Ok(b.with_inter_op_spinning(false)?))
            .and_then(|mut b| b.commit_from_file(onnx))
            .map_err(|e| onnx_err(onnx, e))?;
        let mismatch = |why: String| ModelError::Mismatch { path: onnx.to_path_buf(), why };
        for (want, have) in [("inputs", session.inputs()), ("outputs", session.outputs())] {
            let names: Vec<&str> = have.iter().map(|o| o.name()).collect();
            let spec = if want == "inputs" { &card.onnx.inputs } else { &card.onnx.outputs };
            for s in spec {
                if !names.contains(&s.name.as_str()) {
                    return Err(mismatch(format!("the card names {want} `{}`, the model has {names:?}", s.name)));
                }
            }
        }
        for name in ["tokens", "h0", "c0"] {
            if !session.inputs().iter().any(|o| o.name() == name) {
                return Err(mismatch(format!("the model has no input `{name}`")));
            }
        }
        if let Some(out) = session.outputs().iter().find(|o| o.name() == "logits") {
            if let Some(&v) = out.dtype().tensor_shape().and_then(|s| s.last()) {
                if v > 0 && v as usize != card.encoding.vocabulary.len() {
                    return Err(mismatch(format!(
                        "`logits` has {v} classes, the card's vocabulary {} tokens",
                        card.encoding.vocabulary.len()
                    )));
                }
            }
        }
        check_state_shape(&session, &card, onnx)?;
        let (layers, hidden) = (card.onnx.layers as usize, card.onnx.hidden_size as usize);
        let state =
            |_| Tensor::from_array(([layers, 1, hidden], vec![0f32; layers * hidden])).map_err(|e| onnx_err(onnx, e));
        let vocab = card.vocabulary();
        let (h, c) = (state(0)?, state(1)?);
        let named = |input: &str| card.onnx.inputs.iter().any(|s| s.name == input);
        let (metre, lookback, harmony) = (named("metre"), named("lookback"), named("harmony"));
        if lookback && !metre {
            return Err(mismatch("the card names the input `lookback` without `metre`, which it reads".into()));
        }
        let song_end = vocab.id(&crate::Token::SongEnd).expect("every vocabulary holds `/`");
        let vocab_len = vocab.len();
        let step = StepBinding::new(&session, &h, &c, layers, hidden, vocab.len(), (metre, lookback, harmony))
            .map_err(|e| onnx_err(onnx, e))?;
        let mut model = ContinuationModel {
            h,
            c,
            step,
            logits: vec![0.0; vocab.len()],
            zeros: vec![0.0; layers * hidden],
            vocab,
            card,
            path: onnx.to_path_buf(),
            session,
            metre,
            lookback: lookback.then(|| Lookback::new(song_end)),
            harmony: harmony.then(|| harmony_base(vocab_len, metre, lookback)),
            harmony_now: 0,
        };
        model.check_first_steps(song_end)?;
        model.check_golden()?;
        Ok(model)
    }

    /// When the model has a golden file beside it: the card names the file's tokens at its
    /// ids, and the model reproduces its logits. Leaves the state fresh.
    fn check_golden(&mut self) -> Result<(), ModelError> {
        let path = golden_path_for(&self.path);
        if !path.exists() {
            return Ok(());
        }
        let model = self.path.clone();
        let failed = |source: GoldenError| ModelError::Golden { path: model.clone(), source };
        let golden = Golden::read(&path).map_err(failed)?;
        golden.check_tokens(&self.vocab).map_err(failed)?;
        if golden.ids.is_empty() {
            return Ok(());
        }
        let mut logits = Vec::with_capacity(golden.ids.len() * self.vocab.len());
        self.run(&golden.ids, Some(&golden.metre_rows()), Some(&golden.harmony_masks()), Some(&mut logits))?;
        self.reset();
        golden.check_logits(&logits, GOLDEN_TOLERANCE).map_err(failed)?;
        Ok(())
    }

    /// A few steps from a fresh state (`/` and the first tokens of the vocabulary), before the
    /// model may play: a model whose weights are not numbers (or blow up) is refused here,
    /// where the one playing can keep playing, instead of answering with silence or noise.
    /// (One step is not enough: from a zero state, infinite recurrent weights meet only
    /// zeros.) Leaves the state fresh.
    fn check_first_steps(&mut self, song_end: u32) -> Result<(), ModelError> {
        let v = self.vocab.len() as u32;
        let ids = [song_end, 0, 1 % v, 2 % v, 3 % v];
        let logits = self.feed_all_at(&ids, &[crate::metre::UNKNOWN; 5])?;
        let bad = logits.iter().find(|x| !x.is_finite()).copied();
        self.reset();
        match bad {
            Some(x) => Err(ModelError::Mismatch {
                path: self.path.clone(),
                why: format!("its first steps give a logit of {x}: weights that are not numbers, or that blow up"),
            }),
            None => Ok(()),
        }
    }

    /// Whether the model is metre-aware (takes each step's metre rows).
    pub fn has_metre(&self) -> bool {
        self.metre
    }

    /// Whether the model reads the harmony under the melody ([`crate::accompaniment`]).
    pub fn has_harmony(&self) -> bool {
        self.harmony.is_some()
    }

    /// The pitch classes that sound under the melody (in the model's frame; 0: none known) at
    /// the steps that the tokens fed from now on predict. A model without the input ignores it.
    pub fn set_harmony(&mut self, mask: ClassMask) {
        self.harmony_now = mask;
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    pub fn vocab(&self) -> &Vocabulary {
        &self.vocab
    }

    /// Forget the state: the next token starts a new piece.
    pub fn reset(&mut self) {
        for t in [&mut self.h, &mut self.c] {
            t.extract_tensor_mut().1.copy_from_slice(&self.zeros);
        }
        if let Some(l) = &mut self.lookback {
            l.reset();
        }
        self.harmony_now = 0;
    }

    /// Feed tokens (ids), carrying the state; returns the logits after the last one. A
    /// metre-aware model is told that their metre is unknown.
    pub fn feed(&mut self, ids: &[u32]) -> Result<&[f32], ModelError> {
        self.run(ids, None, None, None)?;
        Ok(&self.logits)
    }

    /// Feed tokens with each one's metre rows ([`crate::metre::Metre::rows`]; a model
    /// without the metre input ignores them); returns the logits after the last one.
    pub fn feed_at(&mut self, ids: &[u32], metre: &[[u32; 2]]) -> Result<&[f32], ModelError> {
        self.run(ids, Some(metre), None, None)?;
        Ok(&self.logits)
    }

    /// Feed tokens and return the logits after each one, `ids.len() × V` values.
    pub fn feed_all(&mut self, ids: &[u32]) -> Result<Vec<f32>, ModelError> {
        let mut all = Vec::with_capacity(ids.len() * self.vocab.len());
        self.run(ids, None, None, Some(&mut all))?;
        Ok(all)
    }

    /// As [`ContinuationModel::feed_all`], with each token's metre rows.
    pub fn feed_all_at(&mut self, ids: &[u32], metre: &[[u32; 2]]) -> Result<Vec<f32>, ModelError> {
        let mut all = Vec::with_capacity(ids.len() * self.vocab.len());
        self.run(ids, Some(metre), None, Some(&mut all))?;
        Ok(all)
    }

    /// As [`ContinuationModel::feed_all_at`], with the harmony under each step that each
    /// token predicts (a model without the input ignores it).
    pub fn feed_all_over(
        &mut self,
        ids: &[u32],
        metre: &[[u32; 2]],
        harmony: &[ClassMask],
    ) -> Result<Vec<f32>, ModelError> {
        let mut all = Vec::with_capacity(ids.len() * self.vocab.len());
        self.run(ids, Some(metre), Some(harmony), Some(&mut all))?;
        Ok(all)
    }

    /// The embedding-table rows of a step's harmony (`harmony[i]`, else the one set).
    fn harmony_rows(&self, harmony: Option<&[ClassMask]>, i: usize) -> [i64; accompaniment::INPUTS] {
        let base = self.harmony.unwrap_or(0);
        let mask = harmony.and_then(|h| h.get(i)).copied().unwrap_or(self.harmony_now);
        accompaniment::rows(mask).map(|r| base + r as i64)
    }

    /// The embedding-table rows of a step's metre (unknown without one).
    fn metre_rows(&self, rows: Option<&[[u32; 2]]>, i: usize) -> [i64; 2] {
        let r = rows.and_then(|r| r.get(i)).copied().unwrap_or(crate::metre::UNKNOWN);
        let v = self.vocab.len() as i64;
        [v + (r[0] as usize % METRE_ROWS) as i64, v + (r[1] as usize % METRE_ROWS) as i64]
    }

    /// A lookback model takes token `id`, fed with the metre `rows` (absolute, as
    /// [`ContinuationModel::metre_rows`] gives them): the embedding-table rows of its
    /// lookback ([`crate::lookback`]); zeros for another model.
    fn lookback_rows(&mut self, id: u32, rows: [i64; 2]) -> [i64; lookback::INPUTS] {
        let v = self.vocab.len();
        let Some(l) = &mut self.lookback else { return [0; lookback::INPUTS] };
        l.push(id);
        let bar = lookback::bar_steps_of((rows[0] - v as i64) as u32);
        l.rows(bar, v).map(|r| (v + METRE_ROWS) as i64 + r as i64)
    }

    fn run(
        &mut self,
        ids: &[u32],
        metre: Option<&[[u32; 2]]>,
        harmony: Option<&[ClassMask]>,
        all: Option<&mut Vec<f32>>,
    ) -> Result<(), ModelError> {
        if ids.is_empty() {
            return Ok(());
        }
        let v = self.vocab.len();
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= v) {
            return Err(onnx_err(&self.path, format!("token id {bad} is outside the vocabulary of {v}")));
        }
        if let ([id], None) = (ids, &all) {
            let rows = self.metre_rows(metre, 0);
            let lookback = self.lookback_rows(*id, rows);
            let under = self.harmony_rows(harmony, 0);
            return self.run_step(*id, rows, lookback, under);
        }
        let tokens: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        let tokens = Tensor::from_array(([ids.len(), 1], tokens)).map_err(|e| onnx_err(&self.path, e))?;
        // Only the inputs this model reads: its metre rows, and its lookback rows.
        let rows: Vec<[i64; 2]> =
            if self.metre { (0..ids.len()).map(|i| self.metre_rows(metre, i)).collect() } else { vec![] };
        let lookback: Vec<i64> = if self.lookback.is_some() {
            ids.iter().zip(&rows).flat_map(|(&id, &r)| self.lookback_rows(id, r)).collect()
        } else {
            vec![]
        };
        let mut inputs = ort::inputs!["tokens" => tokens, "h0" => self.h.view(), "c0" => self.c.view()];
        if self.harmony.is_some() {
            let under: Vec<i64> = (0..ids.len()).flat_map(|i| self.harmony_rows(harmony, i)).collect();
            let under = Tensor::from_array(([ids.len(), 1, accompaniment::INPUTS], under))
                .map_err(|e| onnx_err(&self.path, e))?;
            inputs.extend(ort::inputs!["harmony" => under]);
        }
        if self.metre {
            let rows = Tensor::from_array(([ids.len(), 1, 2], rows.concat())).map_err(|e| onnx_err(&self.path, e))?;
            inputs.extend(ort::inputs!["metre" => rows]);
        }
        if self.lookback.is_some() {
            let lookback = Tensor::from_array(([ids.len(), 1, lookback::INPUTS], lookback))
                .map_err(|e| onnx_err(&self.path, e))?;
            inputs.extend(ort::inputs!["lookback" => lookback]);
        }
        let outputs = self.session.run(inputs).map_err(|e| onnx_err(&self.path, e))?;
        let (shape, logits) = outputs["logits"].try_extract_tensor::<f32>().map_err(|e| onnx_err(&self.path, e))?;
        if logits.len() != ids.len() * v {
            return Err(ModelError::Mismatch {
                path: self.path.clone(),
                why: format!("`logits` came back with shape {shape:?}, expected [{}, 1, {v}]", ids.len()),
            });
        }
        self.logits.copy_from_slice(&logits[logits.len() - v..]);
        if let Some(all) = all {
            all.extend_from_slice(logits);
        }
        let (_, hn) = outputs["hn"].try_extract_tensor::<f32>().map_err(|e| onnx_err(&self.path, e))?;
        let (_, cn) = outputs["cn"].try_extract_tensor::<f32>().map_err(|e| onnx_err(&self.path, e))?;
        let (hn, cn) = (hn.to_vec(), cn.to_vec());
        drop(outputs);
        self.h.extract_tensor_mut().1.copy_from_slice(&hn);
        self.c.extract_tensor_mut().1.copy_from_slice(&cn);
        Ok(())
    }

    /// One token through the bound inputs and outputs: no tensor is created.
    fn run_step(
        &mut self,
        id: u32,
        metre: [i64; 2],
        lookback: [i64; lookback::INPUTS],
        harmony: [i64; accompaniment::INPUTS],
    ) -> Result<(), ModelError> {
        self.step.token.extract_tensor_mut().1[0] = id as i64;
        self.step.harmony.extract_tensor_mut().1.copy_from_slice(&harmony);
        self.step.metre.extract_tensor_mut().1.copy_from_slice(&metre);
        self.step.lookback.extract_tensor_mut().1.copy_from_slice(&lookback);
        run_bound(&self.session, &self.step.binding, &self.path)?;
        self.logits.copy_from_slice(self.step.logits.extract_tensor().1);
        self.h.extract_tensor_mut().1.copy_from_slice(self.step.hn.extract_tensor().1);
        self.c.extract_tensor_mut().1.copy_from_slice(self.step.cn.extract_tensor().1);
        Ok(())
    }
}

/// A harmony model's first harmony row: after the vocabulary's, and the metre's and the
/// lookback's where it has them.
fn harmony_base(vocab: usize, metre: bool, lookback: bool) -> i64 {
    let metre_rows = if metre { METRE_ROWS } else { 0 };
    let lookback_rows = if lookback { lookback::rows(vocab) } else { 0 };
    (vocab + metre_rows + lookback_rows) as i64
}

/// Runs `session` on its bound inputs and outputs, and nothing else: ort's `run_binding`
/// also fetches the bound outputs back as new values (an allocation and a reference count
/// each), which a step reads from its own tensors anyway. An error names the model's `path`.
fn run_bound(session: &Session, binding: &IoBinding, path: &Path) -> Result<(), ModelError> {
    use ort::AsPointer;
    let api = ort::api();
    // SAFETY: both pointers come from live ort objects borrowed for the call; the session
    // is not run from another thread meanwhile (`&mut self` in the caller); a non-null status
    // is read once and released.
    unsafe {
        let status = (api.RunWithBinding)(session.ptr().cast_mut(), std::ptr::null(), binding.ptr());
        if status.0.is_null() {
            return Ok(());
        }
        let message = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0)).to_string_lossy().into_owned();
        (api.ReleaseStatus)(status.0);
        Err(onnx_err(path, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_per_user_folder_is_where_each_system_keeps_an_apps_data() {
        let linux = env(&[("HOME", "/home/ann"), ("APPDATA", "ignored")]);
        assert_eq!(data_dir_in(&linux, false), Some(PathBuf::from("/home/ann/.local/share/continuo")));
        let xdg = env(&[("HOME", "/home/ann"), ("XDG_DATA_HOME", "/data")]);
        assert_eq!(data_dir_in(&xdg, false), Some(PathBuf::from("/data/continuo")));
        let windows = env(&[("APPDATA", r"C:\Users\Ann\AppData\Roaming"), ("HOME", "/not/this")]);
        assert_eq!(data_dir_in(&windows, true), Some(PathBuf::from(r"C:\Users\Ann\AppData\Roaming").join("Continuo")));
        let chosen = env(&[("CONTINUO_HOME", "/here"), ("APPDATA", "x"), ("HOME", "y")]);
        assert_eq!(data_dir_in(&chosen, true), Some(PathBuf::from("/here")));
        assert_eq!(data_dir_in(&env(&[("HOME", "")]), false), None);
    }

    #[test]
    fn the_runtime_is_looked_for_beside_the_running_library() {
        let dir = module_dir().expect("this test's own folder");
        assert!(runtime_dirs(&[]).contains(&dir), "{dir:?}");
    }
}
