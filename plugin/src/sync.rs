//! Locks that outlive a panic: the worker, the editor and the background threads share a
//! few `Mutex`es and `RwLock`s, and a thread that panicked while holding one must not take
//! the rest of the plugin down with it (the data behind a lock is plain and always valid).
//! So every lock is taken through these, which recover a poisoned lock's guard. Never used
//! on the audio thread, which takes no lock.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A `Mutex` locked, poisoned or not.
pub trait Locked<T: ?Sized> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An `RwLock` read or written, poisoned or not.
pub trait ReadWrite<T: ?Sized> {
    fn reading(&self) -> RwLockReadGuard<'_, T>;
    fn writing(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T: ?Sized> ReadWrite<T> for RwLock<T> {
    fn reading(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(|e| e.into_inner())
    }

    fn writing(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_still_gives_its_data() {
        let (m, l) = (std::sync::Arc::new(Mutex::new(1)), std::sync::Arc::new(RwLock::new(2)));
        let (m2, l2) = (m.clone(), l.clone());
        let _ = std::thread::spawn(move || {
            let (_a, _b) = (m2.lock().unwrap(), l2.write().unwrap());
            panic!("poison both");
        })
        .join();
        assert!(m.is_poisoned() && l.is_poisoned());
        *m.locked() += 1;
        *l.writing() += 1;
        assert_eq!((*m.locked(), *l.reading()), (2, 3));
    }
}
