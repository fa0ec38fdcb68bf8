//! The migrations a deploy runs, with their order: already loaded, or being loaded on another
//! thread while the deploy connects, takes its lock and reads the records. Thousands of files
//! then cost little wall time of their own, and neither does a slow connection (TLS to a
//! distant server).

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
    handle: Mutex<Option<ScopedJoinHandle<'scope, Option<Loaded>>>>,
    done: OnceLock<Option<Loaded>>,
}

impl<'scope> Loading<'scope> {
    /// Waits on `handle`'s thread when the set is first needed.
    pub fn new(handle: ScopedJoinHandle<'scope, Option<Loaded>>) -> Loading<'scope> {
        Loading {
            handle: Mutex::new(Some(handle)),
            done: OnceLock::new(),
        }
    }
}

impl Wait for Loading<'_> {
    fn wait(&self) -> Result<(&MigrationSet, &Plan), DeployError> {
        let loaded = self.done.get_or_init(|| {
            let handle = self.handle.lock().ok().and_then(|mut h| h.take());
            // A loader that panicked loaded nothing: said like a failed load.
            handle.and_then(|h| h.join().ok().flatten())
        });
        match loaded {
            Some((set, plan)) => Ok((set, plan)),
            None => Err(DeployError::FilesUnusable),
        }
    }
}
