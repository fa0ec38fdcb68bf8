use std::process::ExitCode;

use clap::Parser;

/// glibc's allocator grows each thread's heap a few pages at a time (an `mprotect` per step):
/// validating a thousand files on every core spent more time there than in the parser.
/// mimalloc takes memory from the system in large pieces and reuses it per thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` (mimalloc.h: the 16th option, 15 from 0, in its v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Whether stdout is open, noted before Rust's runtime starts: the runtime puts /dev/null on a
/// closed standard descriptor, which then cannot be told from a `/dev/null` a program gave on
/// purpose (Python's `subprocess.DEVNULL` opens it read-write, as the runtime does). glibc runs
/// `.init_array` before `main`, and so before the runtime.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static NOTE_STDOUT: extern "C" fn() = {
    extern "C" fn note() {
        // SAFETY: asks about a descriptor number; reads and changes nothing of ours.
        let open = unsafe { libc::fcntl(1, libc::F_GETFD) } != -1;
        pgshift::report::terminal::note_stdout_at_exec(open);
    }
    note
};

fn main() -> ExitCode {
    // Memory freed goes back to the system after 2 ms: validating PostgreSQL's regression SQL
    // took 14% less time than with 0 (pages freed and faulted in again between files), with the
    // same peak; mimalloc's own default kept a third more. Once a large data file is handled, at
    // once: its peak stays near glibc's instead of growing with the file.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 2) };
    pgshift::memory::on_large_input(|| unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0)
    });
    pgshift::cli::run(pgshift::cli::Cli::parse())
}
