//! A hint for the program that embeds the library: a large input (a data file of megabytes)
//! is about to be worked through. The pgshift binary answers it by having its allocator give
//! freed memory back to the system at once (`main.rs`), which bounds the peak while such a
//! file streams; until then freed memory is kept for a moment, and a run of small allocations
//! (a deploy with nothing to do, the validation of hundreds of files) reuses it without
//! faulting its pages in again.

use std::sync::OnceLock;

static ON_LARGE_INPUT: OnceLock<fn()> = OnceLock::new();

/// Sets what [`large_input`] calls. The first call wins.
pub fn on_large_input(hook: fn()) {
    let _ = ON_LARGE_INPUT.set(hook);
}

/// Says that a large input is about to be parsed and sent.
pub fn large_input() {
    if let Some(hook) = ON_LARGE_INPUT.get() {
        hook();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    thread_local! {
        /// Calls on this thread: other tests may parse large texts on theirs meanwhile.
        static CALLS: Cell<usize> = const { Cell::new(0) };
    }

    fn count() {
        CALLS.with(|c| c.set(c.get() + 1));
    }

    #[test]
    fn a_large_text_to_parse_calls_the_hook_and_a_small_one_does_not() {
        super::on_large_input(count);
        crate::sql::parse("SELECT 1;").unwrap();
        assert_eq!(CALLS.with(Cell::get), 0);
        let large = "INSERT INTO t VALUES (1);\n".repeat(50_000);
        crate::sql::parse(&large).unwrap();
        assert_eq!(CALLS.with(Cell::get), 1);
        assert!(crate::sql::normalized_checksum(&large).is_some());
        assert_eq!(CALLS.with(Cell::get), 2);
    }
}
