//! `pgshift order` on 10,000 generated migrations with random dependencies.
//! Run: `cargo bench --bench order` (target: under one second).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Writes `n` migrations; each depends on up to 3 random earlier-generated ones (dates random,
/// so many dependencies point at later dates).
fn generate(dir: &Path, n: usize) {
    let mut seed: u64 = 0x5eed;
    let mut next = |bound: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % bound.max(1)
    };
    let names: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "20{:02}-{:02}-{:02}_migration_{i}",
                10 + next(15),
                1 + next(12),
                1 + next(28)
            )
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        let deps: Vec<String> = if i == 0 {
            Vec::new()
        } else {
            (0..next(4))
                .map(|_| format!("{}.sql", names[next(i)]))
                .collect()
        };
        let deps = if deps.is_empty() {
            "None".to_string()
        } else {
            deps.join(", ")
        };
        let text = format!(
            "-- MIGRATION: generated {i}\n-- Version: {}\n-- Author: bench\n-- Dependencies: {deps}\n\n\
             CREATE TABLE IF NOT EXISTS t_{i} (id bigint PRIMARY KEY, note text);\n",
            &name[..10]
        );
        std::fs::write(dir.join(format!("{name}.sql")), text).unwrap();
    }
}

fn main() {
    let n = 10_000;
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), n);
    let bin = env!("CARGO_BIN_EXE_pgshift");
    let mut times: Vec<Duration> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new(bin)
                .arg("--dir")
                .arg(dir.path())
                .arg("order")
                .output()
                .unwrap();
            let t = start.elapsed();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            t
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "pgshift order, {n} files with random dependencies: median {:.1} ms (min {:.1} ms, max {:.1} ms, 7 runs); target < 1000 ms",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}
