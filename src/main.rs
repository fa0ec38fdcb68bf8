use std::process::ExitCode;

use clap::Parser;
use pgshift::memory::Work;

/// glibc's allocator grows each thread's heap a few pages at a time (an `mprotect` per step):
/// validating a thousand files on every core spent more time there than in the parser.
/// mimalloc takes memory from the system in large pieces and reuses it per thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` (mimalloc.h: the 16th option, 15 from 0, in its v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// `mi_option_allow_thp` (mimalloc.h: the 44th option, 43 from 0, in its v3, the one built).
#[cfg(target_os = "linux")]
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Whether this process may have huge pages: not when whoever started it said no (Linux's
/// setting is inherited). Noted before the first allocation, when huge pages are turned off
/// until the command is known: those faulted in at the start of a command that then parses
/// files by the hundred held 4 MB more than it used (13.5 MB for `validate` of one file,
/// 18 MB with them).
#[cfg(target_os = "linux")]
static HUGE_PAGES_ALLOWED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static SMALL_PAGES_FIRST: extern "C" fn() = {
    extern "C" fn first() {
        // SAFETY: reads, then sets, a flag of this process; touches none of its memory.
        let allowed = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) } == 0;
        HUGE_PAGES_ALLOWED.store(allowed, std::sync::atomic::Ordering::Relaxed);
        small_pages();
    }
    first
};

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
    // A command that reads little (`status`, a deploy with nothing to do: the index, the
    // records, a report) has its memory in huge pages where the system allows them (the
    // allocator asks with `madvise`), and keeps what it frees for reuse rather than give it
    // back before it ends: `status` at 10,000 migrations faulted in 1,100 pages instead of
    // 6,200 and took 17–20% less time (30 MB at its peak before, 44 MB now). Until the library
    // says what comes next (`pgshift::memory`). Freed memory is kept, not scheduled to go back
    // in a second: a second scheduled first held back what the work announced next gives back
    // after 2 ms, and validating the regression SQL then peaked at 70–78 MB instead of 62.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    pgshift::memory::on_work(|work| match work {
        // Files read or parsed by the hundred (every command but those that read little starts
        // here): small pages (huge ones took validating PostgreSQL's regression SQL from 62 to
        // 88–102 MB), and freed memory back after 2 ms, which took 14% less time than at once
        // (pages freed and faulted in again between files) with the same peak; a second kept
        // a third more.
        Work::ManyFiles => {
            small_pages();
            unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 2) };
        }
        // A large data file: freed memory back at once, so that the peak stays near glibc's
        // instead of growing with the file.
        Work::LargeInput => {
            small_pages();
            unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
        }
    });
    let cli = pgshift::cli::Cli::parse();
    match cli.command.reads_little() {
        true => huge_pages(),
        false => pgshift::memory::many_files(),
    }
    pgshift::cli::run(cli)
}

/// Huge pages from now on, unless whoever started pgshift said no to them (Linux's setting, or
/// `MIMALLOC_ALLOW_THP=0`).
fn huge_pages() {
    #[cfg(target_os = "linux")]
    if HUGE_PAGES_ALLOWED.load(std::sync::atomic::Ordering::Relaxed)
        // SAFETY: reads an option of the allocator.
        && unsafe { libmimalloc_sys::mi_option_is_enabled(MI_OPTION_ALLOW_THP) }
    {
        // SAFETY: sets a flag of this process; reads and writes none of its memory.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
        }
    }
}

/// No more huge pages for this process (those it has stay): what it faults in from now on
/// comes in small pages, and so does what the programs it starts fault in (the setting goes
/// to them, as Linux does).
fn small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: sets a flag of this process; reads and writes none of its memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
