//! The inference worker's lifecycle: its own thread, owning the model (loaded there, never
//! on the audio thread: [`crate::slot`]). It takes continuation requests from the audio
//! thread and answers the newest one ([`crate::answering`]); between answers it follows the
//! editor's commands (a model to load, a take to choose or answer again, the session memory
//! to forget: [`crate::retake`], [`crate::answering::follow_memory`]) and a SoundFont to
//! load. The model to play is the path in `Shared::model_path` (the plugin's saved state):
//! the worker loads it whenever it changes, and during a continuous answer at the next bar
//! line. With nothing to do the worker parks; the audio thread wakes it (`Link::wake`), and
//! it looks at the model path again at least every `IDLE_CHECK`. Keeping takes (the takes'
//! thread) and learning from them (the Learn thread) are started from here or the editor,
//! never run here. Dropping the worker stops and joins its thread.

use crate::answering::{answer, follow_memory};
use crate::handle::Shared;
use crate::inbox::Inbox;
use crate::link::Link;
use crate::retake::{follow_recent, record};
use crate::slot::Slot;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a parked worker looks for a new model path (set by the editor or a restored
/// project) without being woken.
const IDLE_CHECK: Duration = Duration::from_millis(100);

pub struct Worker {
    link: Arc<Link>,
    handle: Option<JoinHandle<()>>,
    pub shared: Arc<Shared>,
}

impl Worker {
    /// Start the worker thread with `model` as the model to play.
    pub fn spawn(link: Arc<Link>, model: PathBuf) -> std::io::Result<Worker> {
        Worker::start(link, Shared::new(Arc::default(), Arc::default(), Arc::default(), model))
    }

    /// Start the worker thread for `shared`, whose model it loads and plays. Fails when the
    /// system cannot start a thread.
    pub fn start(link: Arc<Link>, shared: Arc<Shared>) -> std::io::Result<Worker> {
        let (l, s) = (link.clone(), shared.clone());
        let handle = std::thread::Builder::new().name("continuo-inference".into()).spawn(move || run(l, s))?;
        // Set once per link: a second worker on the same link is woken through the first's
        // handle, which no longer parks.
        let _ = link.worker.set(handle.thread().clone());
        Ok(Worker { link, handle: Some(handle), shared })
    }

    pub fn load(&self, path: PathBuf) {
        self.shared.load(path);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.link.shutdown.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            crate::closing::join_within(h, crate::closing::CLOSING_WAIT);
        }
    }
}

fn run(link: Arc<Link>, shared: Arc<Shared>) {
    let mut slot = Slot::default();
    let mut inbox = Inbox::default();
    while !link.shutdown.load(Ordering::Acquire) {
        slot.follow(&link, &shared);
        // A SoundFont, if the audio thread wants one (a loader thread reads it).
        shared.fonts.follow(&link.fonts, &link.repaint);
        // Only the newest request of the current generation matters.
        let mut newest = None;
        while let Some(r) = link.requests.pop() {
            newest = Some(r);
        }
        let Some(request) = newest.filter(|r| r.generation == link.current_generation()) else {
            if let Some(continuer) = slot.continuer.as_mut() {
                follow_memory(continuer, &link, &shared, &mut inbox);
            }
            follow_recent(&mut slot, &link, &shared, &mut inbox);
            std::thread::park_timeout(IDLE_CHECK);
            continue;
        };
        let started = slot.continuer.is_some();
        match answer(&mut slot, &link, &request, &shared, &mut inbox) {
            Ok(()) if started && !request.continuous => record(&mut slot, &link, &request, &shared),
            Ok(()) => {}
            Err(e) => {
                shared.fail(e.to_string());
                link.repaint.request_repaint();
            }
        }
    }
}
