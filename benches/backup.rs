//! `pgshift backup create` against `pg_dump --clean --if-exists | gzip` on the same throwaway
//! cluster, on a database of generated data (BENCH_BACKUP_MB, default 1024 MB on disk):
//! wall time of each, interleaved, their ratio, the file sizes, and pgshift's peak memory.
//! Run: `cargo bench --bench backup` (in `scripts/bench.sh`; TMPDIR=/dev/shm keeps the disk's
//! noise out).

use std::process::Command;
use std::time::Instant;

use pgshift::ephemeral::{Cluster, ClusterOptions};

mod common;
use common::{measure, median};

fn main() {
    let mb: u64 = std::env::var("BENCH_BACKUP_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let cluster = Cluster::start(&ClusterOptions {
        settings: vec!["autovacuum=off".into()],
        ..ClusterOptions::default()
    })
    .expect("PostgreSQL starts");
    let db = cluster.create_database("bench_backup").unwrap();
    // About 131 bytes a row on disk: text that compresses like real rows do (hex, words, numbers).
    let rows = mb * 1024 * 1024 / 131;
    let t = Instant::now();
    cluster
        .psql(
            &db,
            &format!(
                "CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz, kind text, payload text, amount numeric);
                 INSERT INTO events SELECT g, '2026-01-01'::timestamptz + g * interval '1 second',
                   (ARRAY['click','view','buy','refund'])[1 + g % 4],
                   md5(g::text) || ' ' || md5((g * 7)::text) || ' user-' || (g % 10000), (g % 100000) / 100.0
                 FROM generate_series(1, {rows}) g;
                 CHECKPOINT;"
            ),
        )
        .unwrap();
    let size = cluster
        .psql(&db, "SELECT pg_database_size(current_database()) / 1048576")
        .unwrap();
    println!(
        "backup bench: {} MB database ({rows} rows) generated in {:.0} s",
        size.trim(),
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let pg_dump = cluster.client_program("pg_dump");
    let reference_file = dir.path().join("reference.sql.gz");
    let mut reference = Command::new("sh");
    reference.arg("-c").arg(format!(
        "'{}' --clean --if-exists -h '{}' -p {} -U postgres '{db}' | gzip > '{}'",
        pg_dump.display(),
        cluster.socket_dir().display(),
        cluster.port(),
        reference_file.display()
    ));
    let bin = env!("CARGO_BIN_EXE_pgshift");
    let mut ours = Command::new(bin);
    ours.current_dir(dir.path())
        .env("DATABASE_URL", cluster.url(&db))
        .args(["backup", "create"]);
    let (mut theirs_t, mut ours_t, mut peak) = (Vec::new(), Vec::new(), 0);
    for run in 0..runs {
        if run % 2 == 0 {
            theirs_t.push(measure(&mut reference).0);
            let (t, m) = measure(&mut ours);
            ours_t.push(t);
            peak = peak.max(m);
        } else {
            let (t, m) = measure(&mut ours);
            ours_t.push(t);
            peak = peak.max(m);
            theirs_t.push(measure(&mut reference).0);
        }
        let _ = std::fs::remove_dir_all(dir.path().join("backups"));
    }
    let ours_file = {
        measure(&mut ours);
        std::fs::read_dir(dir.path().join("backups/migrations"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".sql.gz"))
            .unwrap()
    };
    let (a, b) = (median(theirs_t), median(ours_t));
    println!(
        "backup {mb} MB: pg_dump | gzip median {:.1} s ({} MB), pgshift backup create median {:.1} s ({} MB, verified), ratio {:.2} (target <= 1.10), {runs} runs",
        a.as_secs_f64(),
        std::fs::metadata(&reference_file).unwrap().len() >> 20,
        b.as_secs_f64(),
        std::fs::metadata(&ours_file).unwrap().len() >> 20,
        b.as_secs_f64() / a.as_secs_f64()
    );
    println!(
        "pgshift peak memory during the backup: {:.1} MB (target < 64 MB)",
        peak as f64 / 1024.0
    );
}
