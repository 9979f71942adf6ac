//! The Learn action: fine-tune the model playing on the player's takes (the kept takes and
//! the phrases saved in the takes folder) and play the new model when it is done. It runs
//! on a thread of its own at the lowest scheduling priority, on one core (its matrix
//! products on a one-thread pool), so the audio and the inference worker never wait for it.
//! The new model goes into `learnt/` in Continuo's per-user models folder, with its card
//! (parent model, takes folder) and golden file; the caller's `done` swaps it in through the
//! worker's hot swap. A deactivation (a host changing its buffer size) does not stop it;
//! cancelling (the editor, or closing the plugin) stops it at the next training window and
//! writes nothing.

use crate::error::PluginError;
use crate::sync::Locked;
use continuo_core::card::{card_path_for, ModelCard};
use continuo_core::corpus::{import, ImportOptions};
use continuo_core::midi::MidiOptions;
use continuo_trainer::error::TrainerError;
use continuo_trainer::finetune::{Finetune, FinetuneOptions, FINETUNE_LR};
use continuo_trainer::train::Progress;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long Learn trains at most: the fine-tuning benchmark's 2 minutes
/// (`docs/perf/finetune-folk-melody-on-bach-melody.md`).
pub const LEARN_BUDGET: Duration = Duration::from_secs(120);
/// Passes over the takes at most (a few takes are learnt in seconds).
const LEARN_EPOCHS: usize = 20;
/// Epochs without a better validation loss before it stops (when takes are held out).
const LEARN_PATIENCE: usize = 2;

/// What the Learn action is doing, for the editor.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LearnState {
    #[default]
    Idle,
    /// Reading the takes folder.
    Reading,
    /// Training: the epoch under way, of at most `epochs`, and the time so far.
    Training {
        takes: usize,
        epoch: usize,
        epochs: usize,
        seconds: f64,
    },
    /// The new model is written and asked to play.
    Done {
        model: PathBuf,
        epochs: usize,
        seconds: f64,
    },
    Failed(String),
    Cancelled,
}

impl LearnState {
    pub fn running(&self) -> bool {
        matches!(self, LearnState::Reading | LearnState::Training { .. })
    }
}

/// The Learn thread, at most one at a time.
#[derive(Default)]
pub struct Learner {
    state: Arc<Mutex<LearnState>>,
    cancel: Arc<AtomicBool>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

/// One learning to run: from which model, on which takes, into which folder.
pub struct LearnJob {
    pub parent: PathBuf,
    pub takes: PathBuf,
    pub models: PathBuf,
}

impl Learner {
    pub fn state(&self) -> LearnState {
        self.state.locked().clone()
    }

    /// Start learning, unless a learning runs. `changed` is called whenever the state
    /// changes; `done` with the new model's file when it is written. False when nothing
    /// started (one runs, or no thread could start: the state says why).
    pub fn start(
        &self,
        job: LearnJob,
        changed: impl Fn() + Send + Sync + 'static,
        done: impl FnOnce(PathBuf) + Send + 'static,
    ) -> bool {
        let mut handle = self.handle.locked();
        if self.state().running() {
            return false;
        }
        if let Some(old) = handle.take() {
            let _ = old.join(); // finished: it set its last state
        }
        self.cancel.store(false, Ordering::Relaxed);
        let (state, cancel) = (self.state.clone(), self.cancel.clone());
        set(&state, LearnState::Reading, &changed);
        let spawned = std::thread::Builder::new().name("continuo-learn".into()).spawn(move || {
            lowest_priority();
            let result = learn(&job, &cancel, &|s| set(&state, s, &changed));
            let end = match result {
                Ok((model, epochs, seconds)) => {
                    done(model.clone());
                    LearnState::Done { model, epochs, seconds }
                }
                Err(_) if cancel.load(Ordering::Relaxed) => LearnState::Cancelled,
                Err(why) => LearnState::Failed(why.to_string()),
            };
            set(&state, end, &changed);
        });
        match spawned {
            Ok(h) => *handle = Some(h),
            Err(e) => *self.state.locked() = LearnState::Failed(format!("no thread ({e})")),
        }
        handle.is_some()
    }

    /// Ask a learning under way to stop (any thread; returns at once).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for Learner {
    /// Closing the plugin cancels the learning and waits for its thread (a training window),
    /// never longer than `closing` allows.
    fn drop(&mut self) {
        self.cancel();
        if let Some(h) = self.handle.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            crate::closing::join_within(h, crate::closing::CLOSING_WAIT);
        }
    }
}

fn set(state: &Mutex<LearnState>, to: LearnState, changed: &dyn Fn()) {
    *state.locked() = to;
    changed();
}

/// The learnt model's file, `NAME-learnt-SECONDS[-K].onnx` (the parent's name without an
/// earlier `-learnt-…`; names sort by time), and its checkpoint folder beside it
/// (`….runs`), reserved by creating that folder: two learnings in one second, in this
/// instance or another, never share a name, and no existing model (one playing, say) is
/// overwritten.
pub fn reserve_learnt(models: &Path, parent_name: &str, at: SystemTime) -> std::io::Result<(PathBuf, PathBuf)> {
    let base = parent_name.split("-learnt-").next().unwrap_or(parent_name);
    let seconds = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for k in 1..10_000 {
        let name = if k == 1 { format!("{base}-learnt-{seconds}") } else { format!("{base}-learnt-{seconds}-{k}") };
        let (out, work) = (models.join(format!("{name}.onnx")), models.join(format!("{name}.runs")));
        if out.exists() {
            continue;
        }
        match std::fs::create_dir(&work) {
            Ok(()) => return Ok((out, work)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free name for the learnt model"))
}

/// Read the takes in the parent's encoding and fine-tune it on them, on a one-thread pool.
/// Returns the new model's file, the epochs trained and the seconds taken.
fn learn(
    job: &LearnJob,
    cancel: &AtomicBool,
    report: &(dyn Fn(LearnState) + Sync),
) -> Result<(PathBuf, usize, f64), PluginError> {
    let started = Instant::now();
    let parent = ModelCard::load(&card_path_for(&job.parent)).map_err(continuo_core::Error::from)?;
    if !job.takes.is_dir() {
        return Err(PluginError::NoTakes);
    }
    let options = ImportOptions {
        kind: parent.encoding.kind,
        grid: parent.grid(),
        key_normalisation: parent.encoding.key_normalisation,
        midi: MidiOptions::default(),
        min_chord_count: parent.encoding.min_chord_count.unwrap_or(1),
        // Every take is for learning: none set aside as a test split (two takes could both
        // land there and leave nothing to learn from).
        shares: continuo_core::corpus::Shares { validation: 10, test: 0 },
        harmony: false,
        threads: 1,
    };
    let corpus = import(std::slice::from_ref(&job.takes), &options, &|_, _| {})?;
    let takes = corpus.songs.len();
    std::fs::create_dir_all(&job.models).map_err(PluginError::io(&job.models))?;
    let (out, work) =
        reserve_learnt(&job.models, &parent.name, SystemTime::now()).map_err(PluginError::io(&job.models))?;
    let options = FinetuneOptions {
        parent: job.parent.clone(),
        out: out.clone(),
        name: out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        description: Some(format!("{}, learnt from the takes in {}", parent.name, job.takes.display())),
        work: work.clone(),
        corpus_label: job.takes.display().to_string(),
        command: format!("Continuo's Learn: fine-tune {} on {}", job.parent.display(), job.takes.display()),
        lr: FINETUNE_LR,
        max_epochs: LEARN_EPOCHS,
        patience: LEARN_PATIENCE,
        deadline: Some(started + LEARN_BUDGET),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "continuo-learn-pool".into())
        .start_handler(|_| lowest_priority())
        .build()?;
    let result = pool.install(|| {
        let job = Finetune::new(&corpus, &options)?;
        let mut epoch = 1;
        job.run(cancel, &mut |p| {
            if let Progress::Epoch { epoch: e, .. } = p {
                epoch = e;
            }
            if matches!(p, Progress::Epoch { .. } | Progress::EpochDone(_)) {
                let seconds = started.elapsed().as_secs_f64();
                report(LearnState::Training { takes, epoch, epochs: LEARN_EPOCHS, seconds });
            }
        })
    });
    // The checkpoints are only a means: the model file holds what was learnt.
    let _ = std::fs::remove_dir_all(&work);
    let report = result.map_err(|e| match e {
        TrainerError::NotImproved { .. } => PluginError::NothingLearnt,
        e => PluginError::Trainer(e),
    })?;
    Ok((out, report.epochs, report.seconds))
}

/// Run the calling thread at the lowest priority the system has (Linux: `SCHED_IDLE`, which
/// only runs when nothing else wants the core, else the weakest nice value, which Linux keeps
/// per thread; Windows: `THREAD_PRIORITY_IDLE`). Elsewhere the thread keeps the normal
/// priority.
fn lowest_priority() {
    #[cfg(windows)]
    // SAFETY: the call changes only the calling thread, through its pseudo-handle.
    unsafe {
        use windows_sys::Win32::System::Threading::{GetCurrentThread, SetThreadPriority, THREAD_PRIORITY_IDLE};
        SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_IDLE);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: both calls only read the parameter given and change the calling thread.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two learnings in one second (of this instance or another) never share a model name
    /// or a checkpoint folder, and an existing model is never overwritten (issue #24).
    #[test]
    fn learnings_in_one_second_reserve_names_of_their_own() {
        let models = tempfile::tempdir().unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (first, first_work) = reserve_learnt(models.path(), "folk-melody", at).unwrap();
        let (second, second_work) = reserve_learnt(models.path(), "folk-melody-learnt-17", at).unwrap();
        assert_eq!(first.file_name().unwrap(), "folk-melody-learnt-1800000000.onnx");
        assert_eq!(second.file_name().unwrap(), "folk-melody-learnt-1800000000-2.onnx");
        assert!(first_work.is_dir() && second_work.is_dir() && first_work != second_work);
        // A model of the next name exists already (one playing): it is passed over.
        std::fs::write(models.path().join("folk-melody-learnt-1800000000-3.onnx"), b"playing").unwrap();
        let (third, _) = reserve_learnt(models.path(), "folk-melody", at).unwrap();
        assert_eq!(third.file_name().unwrap(), "folk-melody-learnt-1800000000-4.onnx");
    }
}
