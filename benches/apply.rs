//! Applying N small migrations (a table with a primary key, a secondary index and a comment):
//! psql running all files concatenated in one session, against `pgshift migrate` (without its
//! backup, which psql does not take: it is timed on its own), each on a fresh database of the
//! same throwaway cluster, repeated and interleaved. Then the backup a deploy adds, the health
//! check it ends with, a no-op deploy and `status` with N applied, and pgshift's peak memory.
//! Run: `scripts/bench.sh` or `cargo bench --bench apply` (BENCH_N, BENCH_RUNS to change).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pgshift::ephemeral::{Cluster, ClusterOptions};

fn migration(i: usize) -> String {
    format!(
        "CREATE TABLE bench_{i} (id bigint PRIMARY KEY, name text NOT NULL);\n\
         CREATE INDEX bench_{i}_name ON bench_{i} (name);\n\
         COMMENT ON TABLE bench_{i} IS 'benchmark table {i}';\n"
    )
}

fn name(i: usize) -> String {
    common::dated_name(i, "bench")
}

mod common;
use common::{measure, median};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    // Autovacuum would clean up after one run's DDL during the next run: noise for both sides.
    let cluster = Cluster::start(&ClusterOptions {
        settings: vec!["autovacuum=off".into()],
        ..ClusterOptions::default()
    })
    .expect("PostgreSQL starts");
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    let mut all = String::new();
    for i in 0..n {
        let sql = migration(i);
        let date = &name(i)[..10];
        let header = format!("-- MIGRATION: bench {i}\n-- Version: {date}\n-- Author: bench\n-- Dependencies: None\n");
        std::fs::write(
            migrations.join(format!("{}.sql", name(i))),
            format!("{header}{sql}"),
        )
        .unwrap();
        all.push_str(&sql);
    }
    let all_path = dir.path().join("all.sql");
    std::fs::write(&all_path, &all).unwrap();
    // The bench tables are internal: no RLS findings for them.
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\nexposed_schemas = []\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_pgshift");
    let pgshift = |db: &str, args: &[&str]| {
        let mut c = Command::new(bin);
        c.current_dir(dir.path())
            .env("DATABASE_URL", cluster.url(db))
            .args(args);
        c
    };

    let (mut psql_times, mut ours, mut peak) = (Vec::new(), Vec::new(), 0);
    for run in 0..runs {
        let db_psql = cluster.create_database("bench_psql").unwrap();
        let db_ours = cluster.create_database("bench_pgshift").unwrap();
        let mut psql = cluster.psql_command(&db_psql);
        psql.arg("-f").arg(&all_path);
        // Applying is compared with psql, which takes no backup and checks nothing after: the
        // backup a deploy takes first and the health check after are measured on their own.
        let mut deploy = pgshift(&db_ours, &["migrate", "--skip-health"]);
        deploy.env("SKIP_BACKUP", "true");
        // Interleaved, alternating who goes first.
        let (a, b) = if run % 2 == 0 {
            let a = measure(&mut psql);
            (a, measure(&mut deploy))
        } else {
            let b = measure(&mut deploy);
            (measure(&mut psql), b)
        };
        psql_times.push(a.0);
        ours.push(b.0);
        peak = peak.max(b.1);
        assert_eq!(
            cluster
                .psql(
                    &db_ours,
                    "SELECT count(*) FROM schema_migrations WHERE success"
                )
                .unwrap()
                .trim(),
            n.to_string()
        );
    }
    // The machine's speed drifts between runs (other tenants' disk and CPU): each pgshift run is
    // compared with the psql run beside it, and the median of those ratios is the result.
    let mut paired: Vec<f64> = ours
        .iter()
        .zip(&psql_times)
        .map(|(o, p)| ms(*o) / ms(*p))
        .collect();
    paired.sort_by(f64::total_cmp);
    let (p, o) = (median(psql_times), median(ours));
    println!("apply {n} migrations: psql (one session) median {:.0} ms, pgshift median {:.0} ms, ratio {:.2}; median of paired ratios {:.2} (target <= 1.10), {runs} runs", ms(p), ms(o), ms(o) / ms(p), paired[paired.len() / 2]);

    // The backup a deploy takes before its first migration, of a database like this one before
    // its first deploy: a fixed cost per deploy, whatever the number of migrations.
    let backups: Vec<Duration> = (0..5)
        .map(|_| {
            let db = cluster.create_database("bench_backup").unwrap();
            measure(&mut pgshift(&db, &["backup", "create"])).0
        })
        .collect();
    println!(
        "with a deploy's backup first: + {:.0} ms per deploy (pg_dump, gzip, read back; median of 5)",
        ms(median(backups))
    );

    let db = cluster.create_database("bench_noop").unwrap();
    measure(&mut pgshift(&db, &["migrate", "--skip-health"]));
    // The health check a deploy that applied something ends with, on these N tables.
    let health: Vec<Duration> = (0..5)
        .map(|_| measure(&mut pgshift(&db, &["health"])).0)
        .collect();
    println!(
        "with the health check after: + {:.0} ms per deploy that applied something ({n} applied; median of 5)",
        ms(median(health))
    );
    let noop = median(
        (0..7)
            .map(|_| measure(&mut pgshift(&db, &["migrate"])).0)
            .collect(),
    );
    let status = median(
        (0..7)
            .map(|_| measure(&mut pgshift(&db, &["status"])).0)
            .collect(),
    );
    println!("with {n} applied: no-op deploy median {:.1} ms, status median {:.1} ms (target < 50 ms each)", ms(noop), ms(status));
    println!(
        "pgshift peak memory while applying {n}: {:.1} MB (target < 64 MB)",
        peak as f64 / 1024.0
    );
    let _ = Path::new(bin);
}
