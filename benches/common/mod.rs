//! What the benchmarks that run pgshift as a process share.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a command and returns its wall time and peak resident memory (KiB); it must exit 0.
pub fn measure(cmd: &mut Command) -> (Duration, i64) {
    measure_exit(cmd, &[0])
}

/// [`measure`], for a command whose exit code says something (`diff`: 1 when different).
#[allow(clippy::zombie_processes)] // reaped by wait4, which also reports its memory
pub fn measure_exit(cmd: &mut Command, ok: &[i32]) -> (Duration, i64) {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `usage` is a valid rusage to fill.
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert!(
        libc::WIFEXITED(status) && ok.contains(&libc::WEXITSTATUS(status)),
        "{:?} failed",
        cmd.get_program()
    );
    (elapsed, usage.ru_maxrss)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The name of the i-th of many generated migrations: `20YY-MM-DD_{slug}_{i:05}`, 28 a month, so
/// that dates stay real and the order is the number's.
pub fn dated_name(i: usize, slug: &str) -> String {
    format!(
        "20{:02}-{:02}-{:02}_{slug}_{i:05}",
        20 + i / 336,
        1 + (i / 28) % 12,
        1 + i % 28
    )
}
