//! `pgshift diff` and `pgshift drift` at size. Two databases of N tables (default 1,000), each
//! with a primary key, a foreign key to the previous table and its index, a policy and a
//! comment; every tenth table differs (a column more, another comment). `diff` of the two is
//! reported beside `pg_dump --schema-only` of both on the same cluster (the target: within 2×).
//! Then the same N tables as N migrations, deployed: `drift` (which builds them again on a
//! throwaway cluster and compares) beside `pgshift test` of the same set (the target: within 2×).
//! Then `squash --to` the last of those N migrations (build, baseline, proof on throwaway
//! databases), beside the same `pgshift test`.
//! Run: `scripts/bench.sh` or `cargo bench --bench diff` (BENCH_N, BENCH_RUNS to change).

use std::process::Command;
use std::time::Duration;

use pgshift::ephemeral::{Cluster, ClusterOptions};

mod common;
use common::{env_usize, linked_table as table, measure, measure_exit, median};

fn main() {
    let n = env_usize("BENCH_N", 1000);
    let runs = env_usize("BENCH_RUNS", 5);
    let cluster = Cluster::start(&ClusterOptions::default()).expect("PostgreSQL starts");
    let (a, b) = (
        cluster.create_database("diff_a").unwrap(),
        cluster.create_database("diff_b").unwrap(),
    );
    let script = |changed: bool| {
        (0..n)
            .map(|i| table(i, changed && i % 10 == 0))
            .collect::<String>()
    };
    for (db, changed) in [(&a, false), (&b, true)] {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), script(changed)).unwrap();
        let out = cluster
            .psql_command(db)
            .arg("-f")
            .arg(file.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pgshift = env!("CARGO_BIN_EXE_pgshift");
    let dir = tempfile::tempdir().unwrap();
    let diff = || {
        let mut c = Command::new(pgshift);
        c.current_dir(dir.path()).args([
            "diff",
            "--from",
            &cluster.url(&a),
            "--to",
            &cluster.url(&b),
        ]);
        c
    };
    let dump = |db: &str| {
        let mut c = Command::new(cluster.client_program("pg_dump"));
        c.args(["--schema-only", "-h"])
            .arg(cluster.socket_dir())
            .args(["-p", &cluster.port().to_string(), "-U", "postgres", db]);
        c
    };
    let (mut ours, mut dumps, mut peak) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs {
        let d = measure(&mut dump(&a)).0 + measure(&mut dump(&b)).0;
        dumps.push(d);
        let (t, mem) = measure_exit(&mut diff(), &[1]);
        ours.push(t);
        peak = peak.max(mem);
    }
    let (t, d) = (median(ours), median(dumps));
    println!(
        "diff: {n} tables a side: median {:.0} ms over {runs} runs; pg_dump --schema-only of both {:.0} ms ({:.2}×); peak {:.1} MB",
        t.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3,
        t.as_secs_f64() / d.as_secs_f64(),
        peak as f64 / 1024.0
    );

    // drift: the same tables as migrations, deployed.
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for i in 0..n {
        let name = common::dated_name(i, "table");
        let deps = if i == 0 {
            "None".to_string()
        } else {
            format!("{}.sql", common::dated_name(i - 1, "table"))
        };
        std::fs::write(
            migrations.join(format!("{name}.sql")),
            format!(
                "-- MIGRATION: table {i}\n-- Version: {}\n-- Author: bench\n-- Dependencies: {deps}\n{}",
                &name[..10],
                table(i, false)
            ),
        )
        .unwrap();
    }
    let c = cluster.create_database("drift").unwrap();
    let url = cluster.url(&c);
    let run = |args: &[&str]| {
        let mut cmd = Command::new(pgshift);
        cmd.current_dir(dir.path())
            .args(args)
            .env("DATABASE_URL", &url);
        cmd
    };
    measure(&mut run(&["migrate", "--skip-backup", "--skip-health"]));
    let (mut drifts, mut tests, mut peak) = (Vec::<Duration>::new(), Vec::<Duration>::new(), 0);
    for _ in 0..runs.min(3) {
        let mut test = run(&["test"]);
        test.env_remove("DATABASE_URL");
        tests.push(measure(&mut test).0);
        let (t, mem) = measure(&mut run(&["drift"]));
        drifts.push(t);
        peak = peak.max(mem);
    }
    let (t, d) = (median(drifts), median(tests));
    println!(
        "drift: {n} migrations: median {:.2} s; pgshift test of the same set {:.2} s ({:.2}×); peak {:.1} MB",
        t.as_secs_f64(),
        d.as_secs_f64(),
        t.as_secs_f64() / d.as_secs_f64(),
        peak as f64 / 1024.0
    );

    // squash: the N migrations into one baseline, proven. It moves the files: each run on a
    // copy of the folder.
    let last = common::dated_name(n - 1, "table");
    let (mut squashes, mut peak) = (Vec::<Duration>::new(), 0);
    for _ in 0..runs.min(3) {
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir(copy.path().join("migrations")).unwrap();
        for e in std::fs::read_dir(&migrations).unwrap().flatten() {
            std::fs::copy(e.path(), copy.path().join("migrations").join(e.file_name())).unwrap();
        }
        let mut cmd = Command::new(pgshift);
        cmd.current_dir(copy.path()).args(["squash", "--to", &last]);
        let (t, mem) = measure(&mut cmd);
        squashes.push(t);
        peak = peak.max(mem);
    }
    let t = median(squashes);
    println!(
        "squash: {n} migrations: median {:.2} s; pgshift test of the same set {:.2} s ({:.2}×); peak {:.1} MB",
        t.as_secs_f64(),
        d.as_secs_f64(),
        t.as_secs_f64() / d.as_secs_f64(),
        peak as f64 / 1024.0
    );
}
