//! SIGINT and SIGTERM for every command (the program installs them; the library's code
//! reads [`super::requested`]). The first one is noted for the library
//! (`crate::interrupt`): where code is handling interruptions (a migration or a down file
//! running, the rollback test, a fleet), it cancels, rolls back, records and exits 130 itself,
//! within [`GRACE`]; anywhere else (validating, connecting, waiting for the lock, backing up,
//! at a prompt) pgshift ends at once with 130. A second signal always ends it at once.
//!
//! The handler only writes the signal's number into a pipe (all a handler may safely do); a
//! thread reads it and decides. No async runtime: every command pays for this, so it costs a
//! pipe and a sleeping thread.

use std::time::Duration;

/// The exit code of an interrupted run (SPEC §16, as a shell gives for SIGINT).
const INTERRUPTED: i32 = 130;

/// How long handled code gets to finish an interruption before the process ends anyway (a
/// server that stopped answering, a cancel request that cannot get through).
pub const GRACE: Duration = Duration::from_secs(15);

/// The pipe's write end, for the handler.
static PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE.load(std::sync::atomic::Ordering::Relaxed);
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; the buffer is one byte on the stack.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Listens for SIGINT and SIGTERM, from now until the process ends.
pub fn install() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two descriptors; sigaction installs a handler that only
        // writes to the pipe.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return;
            }
            PIPE.store(fds[1], std::sync::atomic::Ordering::Relaxed);
            for signal in [libc::SIGINT, libc::SIGTERM] {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
        let read_end = fds[0];
        // A small stack: the thread sleeps in poll(2) and formats one message at most.
        let _ = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || listen(read_end));
    });
}

/// The next signal's name, or `None` when `limit` passes first.
fn next(fd: libc::c_int, limit: Option<Duration>) -> Option<&'static str> {
    loop {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = limit.map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as i32);
        // SAFETY: one pollfd of ours; read fills one byte of ours.
        let ready = unsafe { libc::poll(&mut poll, 1, ms) };
        if ready == 0 {
            return None;
        }
        if ready < 0 {
            continue; // EINTR
        }
        let mut byte = 0u8;
        if unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) } == 1 {
            return Some(if byte as libc::c_int == libc::SIGTERM {
                "SIGTERM"
            } else {
                "SIGINT"
            });
        }
    }
}

fn listen(fd: libc::c_int) {
    let Some(name) = next(fd, None) else {
        return;
    };
    crate::interrupt::request();
    if !crate::interrupt::handled() {
        end(&format!(
            "interrupted by {name}: pgshift stopped at once. Nothing it had not committed stays (the server rolls back an open transaction when the connection closes); `pgshift status` shows where the database stands"
        ));
    }
    end(&match next(fd, Some(GRACE)) {
        Some(again) => format!("{again} again: pgshift stopped at once, without waiting for the interrupted work to finish; the server rolls back an open transaction when the connection closes"),
        None => format!(
            "still busy {} s after {name}: pgshift stopped at once (the server did not answer in time); the server rolls back an open transaction when the connection closes, and `pgshift status` shows where the database stands",
            GRACE.as_secs()
        ),
    });
}

/// Says why on stderr and ends the process with 130.
fn end(message: &str) -> ! {
    use std::io::Write;
    let text = format!("error: {message}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    std::process::exit(INTERRUPTED)
}
