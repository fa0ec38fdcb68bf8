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

/// The i-th of N generated tables: a primary key, a foreign key to the previous table and its
/// index, RLS, a policy and a comment; `changed` adds a column and another comment.
pub fn linked_table(i: usize, changed: bool) -> String {
    let parent = if i == 0 {
        String::new()
    } else {
        format!(", parent_id bigint REFERENCES t_{} (id)", i - 1)
    };
    let index = if i == 0 {
        String::new()
    } else {
        format!("CREATE INDEX t_{i}_parent ON t_{i} (parent_id);\n")
    };
    let extra = if changed { ", note text" } else { "" };
    let comment = if changed { "changed" } else { "table" };
    format!(
        "CREATE TABLE t_{i} (id bigint PRIMARY KEY, owner text NOT NULL{parent}{extra});\n{index}\
         ALTER TABLE t_{i} ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY own ON t_{i} USING (owner = current_user);\n\
         COMMENT ON TABLE t_{i} IS '{comment} {i}';\n"
    )
}

/// A number from the environment (BENCH_N, BENCH_RUNS), or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// squawk (`pip install squawk-cli`), on PATH or in ~/.local/bin.
pub fn find_squawk() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(home.map(|h| h.join(".local/bin")))
        .map(|d| d.join("squawk"))
        .find(|p| p.is_file())
}
