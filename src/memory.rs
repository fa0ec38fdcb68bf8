//! Hints for the program that embeds the library: what kind of work is about to start, so
//! that its allocator can suit it. The pgshift binary answers them (`main.rs`):
//!
//! - until a hint, a command that reads little (the index, the records, a report: `status`,
//!   a deploy with nothing to do) has its memory in huge pages, not given back before it
//!   ends; the binary starts every other command as if [`many_files`] had been said;
//! - [`many_files`]: files are about to be read from disk or parsed by the hundred, their
//!   memory coming and going file by file: small pages, freed memory given back after a
//!   moment, which bounds the peak;
//! - [`large_input`]: a data file of megabytes is about to be read or worked through: small
//!   pages, freed memory given back at once, so that the peak does not grow with the file.
//!
//! The hints only go up that list: a validation after a large data file leaves memory as the
//! large file set it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// The work a hint announces, from the least to the most demanding of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    /// Many files about to be read or parsed.
    ManyFiles = 1,
    /// A large input (a data file of megabytes) about to be read, parsed or sent.
    LargeInput = 2,
}

/// The hook and the most demanding work it was told of.
struct Hints {
    hook: OnceLock<fn(Work)>,
    /// The most demanding work announced so far (0: none).
    so_far: AtomicU8,
}

impl Hints {
    const fn new() -> Hints {
        Hints {
            hook: OnceLock::new(),
            so_far: AtomicU8::new(0),
        }
    }

    /// Calls the hook when `work` is more demanding than any before it.
    fn announce(&self, work: Work) {
        let level = work as u8;
        if self.so_far.fetch_max(level, Ordering::Relaxed) < level {
            if let Some(hook) = self.hook.get() {
                hook(work);
            }
        }
    }
}

static HINTS: Hints = Hints::new();

/// Sets what the hints call, once for each kind of work, in increasing order. The first call
/// wins.
pub fn on_work(hook: fn(Work)) {
    let _ = HINTS.hook.set(hook);
}

/// Says that many files are about to be read or parsed.
pub fn many_files() {
    announce(Work::ManyFiles);
}

/// Says that a large input is about to be read, parsed or sent.
pub fn large_input() {
    announce(Work::LargeInput);
}

fn announce(work: Work) {
    #[cfg(test)]
    SAID_HERE.with(|said| said.borrow_mut().push(work));
    HINTS.announce(work);
}

#[cfg(test)]
thread_local! {
    /// The hints said on this thread (the process's hints are shared by every test).
    static SAID_HERE: std::cell::RefCell<Vec<Work>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The hints said on this thread since the last call, for tests.
#[cfg(test)]
pub(crate) fn said_here() -> Vec<Work> {
    SAID_HERE.with(|said| std::mem::take(&mut *said.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::{Hints, Work};
    use std::sync::Mutex;

    static HEARD: Mutex<Vec<Work>> = Mutex::new(Vec::new());

    fn hear(work: Work) {
        HEARD.lock().unwrap().push(work);
    }

    #[test]
    fn the_hook_hears_each_kind_of_work_once_and_only_going_up() {
        let hints = Hints::new();
        hints.announce(Work::ManyFiles);
        // Before a hook, a hint is remembered, not heard.
        let _ = hints.hook.set(hear);
        hints.announce(Work::ManyFiles);
        hints.announce(Work::LargeInput);
        hints.announce(Work::LargeInput);
        hints.announce(Work::ManyFiles);
        assert_eq!(
            std::mem::take(&mut *HEARD.lock().unwrap()),
            [Work::LargeInput]
        );
        let hints = Hints::new();
        let _ = hints.hook.set(hear);
        for work in [
            Work::ManyFiles,
            Work::ManyFiles,
            Work::LargeInput,
            Work::ManyFiles,
        ] {
            hints.announce(work);
        }
        assert_eq!(*HEARD.lock().unwrap(), [Work::ManyFiles, Work::LargeInput]);
    }

    #[test]
    fn a_large_text_says_large_input_and_a_small_one_nothing() {
        super::said_here();
        crate::sql::parse("SELECT 1;").unwrap();
        assert_eq!(super::said_here(), []);
        let large = "INSERT INTO t VALUES (1);\n".repeat(50_000);
        crate::sql::parse(&large).unwrap();
        assert_eq!(super::said_here(), [Work::LargeInput]);
        assert!(crate::sql::normalized_checksum(&large).is_some());
        assert_eq!(super::said_here(), [Work::LargeInput]);
    }

    #[test]
    fn validating_a_set_says_many_files() {
        super::said_here();
        let settings = crate::config::Settings::defaults(
            std::path::Path::new("migrations"),
            crate::config::Environment::Development,
        );
        let none = |_: &str| None;
        let options = crate::validate::Options::from_settings(&settings, &none);
        crate::validate::validate_set(&crate::migration::MigrationSet::default(), &options);
        assert_eq!(super::said_here(), [Work::ManyFiles]);
    }
}
