//! The migrations a deploy runs, with their order: already loaded, or being loaded on another
//! thread while the deploy connects, takes its lock and reads the records. Thousands of files
//! then cost little wall time of their own, and neither does a slow connection (TLS to a
//! distant server).

use std::sync::mpsc::Receiver;
use std::sync::{Mutex, OnceLock};
use std::thread::ScopedJoinHandle;

use super::DeployError;
use crate::migration::MigrationSet;
use crate::plan::Plan;

/// A set and its plan.
pub type Loaded = (MigrationSet, Plan);

/// What a deploy runs.
#[derive(Clone, Copy)]
pub enum Files<'a> {
    /// Loaded and ordered.
    Ready(&'a MigrationSet, &'a Plan),
    /// Being loaded (see [`Loading`]).
    Loading(&'a (dyn Wait + Sync)),
}

/// A set being loaded that can be waited for.
pub trait Wait {
    /// The set and its plan, once loaded.
    fn wait(&self) -> Result<(&MigrationSet, &Plan), DeployError>;
}

impl<'a> Files<'a> {
    /// The set and its plan, waiting for them when they are still being loaded. A load that
    /// failed is [`DeployError::FilesUnusable`]: whoever loaded them kept and says why.
    pub fn get(&self) -> Result<(&'a MigrationSet, &'a Plan), DeployError> {
        match self {
            Files::Ready(set, plan) => Ok((set, plan)),
            Files::Loading(l) => l.wait(),
        }
    }
}

/// A set being loaded by a thread of a `std::thread::scope`; `None` when it could not be.
pub struct Loading<'scope> {
    handle: Mutex<Option<ScopedJoinHandle<'scope, ()>>>,
    made: Mutex<Option<Receiver<Option<Loaded>>>>,
    done: OnceLock<Option<Loaded>>,
}

impl<'scope> Loading<'scope> {
    /// Runs `load` on a thread of `scope`. Its result is taken as soon as it is made, not when
    /// the thread has ended: a thread's end gives back its allocator's memory (0.8 ms of
    /// `status` at 10,000 migrations).
    pub fn spawn<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        load: impl FnOnce() -> Option<Loaded> + Send + 'scope,
    ) -> Loading<'scope> {
        let (made, receive) = std::sync::mpsc::sync_channel(1);
        let handle = scope.spawn(move || {
            let _ = made.send(load());
        });
        Loading {
            handle: Mutex::new(Some(handle)),
            made: Mutex::new(Some(receive)),
            done: OnceLock::new(),
        }
    }

    /// Waits for the loader's thread to end. A panic there is a load that made nothing, as
    /// [`Wait::wait`] says; it does not go on up.
    pub fn join(&self) {
        if let Some(handle) = self.handle.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

impl Wait for Loading<'_> {
    fn wait(&self) -> Result<(&MigrationSet, &Plan), DeployError> {
        let loaded = self.done.get_or_init(|| {
            let made = self.made.lock().ok().and_then(|mut m| m.take());
            // A loader that panicked sent nothing: said like a failed load.
            made.and_then(|m| m.recv().ok().flatten())
        });
        match loaded {
            Some((set, plan)) => Ok((set, plan)),
            None => Err(DeployError::FilesUnusable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(dir: &str) -> Loaded {
        let set = MigrationSet {
            dir: dir.into(),
            ..MigrationSet::default()
        };
        (set, Plan::default())
    }

    /// Held by a thread, holds up its end until told (or 10 s have passed).
    struct HoldsTheEnd(std::sync::mpsc::Receiver<()>);

    impl Drop for HoldsTheEnd {
        fn drop(&mut self) {
            let _ = self.0.recv_timeout(std::time::Duration::from_secs(10));
        }
    }

    thread_local! {
        static AT_END: std::cell::RefCell<Option<HoldsTheEnd>> = const { std::cell::RefCell::new(None) };
    }

    #[test]
    fn the_set_is_taken_as_soon_as_it_is_made_before_the_loader_ends() {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let loading = Loading::spawn(scope, move || {
                // The thread's end (its thread-locals dropped) waits for the test.
                AT_END.with(|end| *end.borrow_mut() = Some(HoldsTheEnd(hold)));
                Some(loaded("made"))
            });
            let asked = std::time::Instant::now();
            let (set, _) = Files::Loading(&loading).get().unwrap();
            assert!(
                asked.elapsed() < std::time::Duration::from_secs(5),
                "the set waited for the loader's thread to end"
            );
            assert_eq!(set.dir, std::path::Path::new("made"));
            let _ = release.send(());
            loading.join();
        });
    }

    #[test]
    fn a_loader_that_panics_is_a_failed_load_not_a_panic() {
        std::thread::scope(|scope| {
            let loading = Loading::spawn(scope, || panic!("the loader broke"));
            assert!(matches!(
                Files::Loading(&loading).get(),
                Err(DeployError::FilesUnusable)
            ));
            loading.join();
        });
    }
}
