//! `pgshift health` on a database of N tables (default 1,000), each created by its own migration
//! with a primary key, a foreign key to the previous table and its index, row level security and
//! a policy using `(select auth.uid())`, with the API's roles there, so every check runs on
//! every table. Reported beside one `psql -c 'SELECT 1'` on the same cluster, the floor of any
//! client that connects and asks one thing.
//! Run: `scripts/bench.sh` or `cargo bench --bench health` (BENCH_N, BENCH_RUNS to change).

use std::process::Command;
use std::time::Duration;

use pgshift::ephemeral::{Cluster, ClusterOptions};

mod common;
use common::{measure, median};

fn name(i: usize) -> String {
    common::dated_name(i, "table")
}

fn migration(i: usize) -> String {
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
    format!(
        "CREATE TABLE t_{i} (id bigint PRIMARY KEY, owner uuid NOT NULL{parent});\n{index}\
         ALTER TABLE t_{i} ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY own ON t_{i} USING (owner = (select auth.uid()));\n"
    )
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let cluster = Cluster::start(&ClusterOptions::default()).expect("PostgreSQL starts");
    let db = cluster.create_database("health").unwrap();
    cluster
        .psql(&db, pgshift::supabase::STUB_SQL)
        .expect("the Supabase stub loads");
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for i in 0..n {
        let date = &name(i)[..10];
        let deps = if i == 0 {
            "None".to_string()
        } else {
            format!("{}.sql", name(i - 1))
        };
        std::fs::write(
            migrations.join(format!("{}.sql", name(i))),
            format!("-- MIGRATION: table {i}\n-- Version: {date}\n-- Author: bench\n-- Dependencies: {deps}\n{}", migration(i)),
        )
        .unwrap();
    }
    let url = cluster.url(&db);
    let pgshift = env!("CARGO_BIN_EXE_pgshift");
    let status = Command::new(pgshift)
        .current_dir(dir.path())
        .args(["migrate", "--skip-backup", "--skip-health"])
        .env("DATABASE_URL", &url)
        .output()
        .expect("pgshift runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let health = || {
        let mut c = Command::new(pgshift);
        c.current_dir(dir.path())
            .arg("health")
            .env("DATABASE_URL", &url);
        c
    };
    let psql = || {
        let mut c = cluster.psql_command(&db);
        c.args(["-c", "SELECT 1"]);
        c
    };
    let mut times: Vec<Duration> = Vec::new();
    let mut floor: Vec<Duration> = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        floor.push(measure(&mut psql()).0);
        let (t, mem) = measure(&mut health());
        times.push(t);
        peak = peak.max(mem);
    }
    let (h, p) = (median(times), median(floor));
    println!(
        "health: {n} tables, 19 checks: median {:.1} ms over {runs} runs (psql -c 'SELECT 1': {:.1} ms), peak {:.1} MB",
        h.as_secs_f64() * 1e3,
        p.as_secs_f64() * 1e3,
        peak as f64 / 1024.0
    );
}
