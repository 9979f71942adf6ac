//! Closing never waits without a bound: when the plugin closes, each of its threads (the
//! inference worker, Learn, the SoundFont loader) is asked to stop and waited for, but only
//! so long. A thread blocked in the kernel (a model or a SoundFont on a stalled network
//! folder) cannot be interrupted; it is left to finish on its own, holding only what it
//! shares through `Arc`s, and the host closes the plugin on time.
//!
//! Runs on whichever thread closes the plugin (the host's main thread).

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long closing waits for each thread.
pub const CLOSING_WAIT: Duration = Duration::from_secs(2);

/// Join `handle` if it finishes within `limit`; otherwise leave it running. True when it was
/// joined.
pub fn join_within(handle: JoinHandle<()>, limit: Duration) -> bool {
    let asked = Instant::now();
    while !handle.is_finished() {
        if asked.elapsed() >= limit {
            eprintln!(
                "continuo: the thread {:?} did not stop within {limit:?} (blocked reading a file?); closing without it",
                handle.thread().name().unwrap_or("?")
            );
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = handle.join();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_does_not_stop_is_left_after_the_limit() {
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let stuck = std::thread::Builder::new()
            .name("stuck".into())
            .spawn(move || {
                let _ = blocked.recv();
            })
            .unwrap();
        let started = Instant::now();
        assert!(!join_within(stuck, Duration::from_millis(100)));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        drop(release);
        let quick = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(20)));
        assert!(join_within(quick, Duration::from_secs(5)));
    }
}
