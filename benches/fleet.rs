//! `pgshift migrate --targets FILE`: the example set (examples/eneas-os, 17 migrations) deployed
//! to N databases (default 200) of one throwaway cluster, PARALLEL_JOBS 1, 2, 4 and 8, each run
//! on fresh databases. Reports the wall time, the speed-up over one at a time, and the time per
//! database. Backups are off (they would measure pg_dump); health runs after each deploy.
//! Run: `cargo bench --bench fleet` (BENCH_N and BENCH_JOBS to change).

use std::process::Command;
use std::time::Instant;

use pgshift::ephemeral::{Cluster, ClusterOptions};

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let jobs: Vec<usize> = std::env::var("BENCH_JOBS")
        .ok()
        .map(|v| v.split(',').filter_map(|j| j.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4, 8]);
    let cluster = Cluster::start(&ClusterOptions {
        settings: vec!["max_connections=200".into()],
        ..ClusterOptions::default()
    })
    .expect("PostgreSQL starts");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let migrations = root.join("examples/eneas-os/migrations");
    let dir = tempfile::tempdir().unwrap();
    let pgshift = env!("CARGO_BIN_EXE_pgshift");
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "fleet: {n} databases, the example set (17 migrations each), on one cluster; this machine has {cores} core(s)"
    );
    let mut one = None;
    for j in jobs {
        let list: String = (0..n)
            .map(|_| cluster.url(&cluster.create_database("tenant").unwrap()) + "\n")
            .collect();
        let targets = dir.path().join(format!("targets_{j}.txt"));
        std::fs::write(&targets, list).unwrap();
        let start = Instant::now();
        let out = Command::new(pgshift)
            .current_dir(dir.path())
            .arg("--dir")
            .arg(&migrations)
            .args(["migrate", "--skip-backup", "--targets"])
            .arg(&targets)
            .env("PARALLEL_JOBS", j.to_string())
            .env("APP_PASSWORD", "bench-only")
            .env("NO_COLOR", "1")
            .output()
            .expect("pgshift runs");
        let t = start.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let base = *one.get_or_insert(t);
        println!(
            "PARALLEL_JOBS={j}: {t:.2} s ({:.0} ms per database), speed-up {:.2}x over 1 at a time",
            t * 1000.0 / n as f64,
            base / t
        );
    }
}
