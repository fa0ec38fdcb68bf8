//! `pgshift review --base main` of a git repository whose `main` holds N migrations (default
//! 500: a table each, with a foreign key to the previous one, its index, RLS, a policy and a
//! comment) and whose branch adds 10 (a column, an index built concurrently, a foreign key
//! NOT VALID and its validation, a CHECK, a trigger, a view, an UPDATE…). Timed statically
//! beside `pgshift validate` of the same set (review validates it too) and squawk on the 10
//! new files when it is installed; with `--rehearse` (REF's N migrations built on a
//! throwaway cluster, the 10 run and observed) beside `pgshift test` of the branch's set.
//! Run: `scripts/bench.sh` or `cargo bench --bench review` (BENCH_N, BENCH_RUNS to change).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::{env_usize, find_squawk, linked_table, measure, measure_exit, median};

/// The i-th of the 10 new migrations, on table t_{k}.
fn change(i: usize, k: usize) -> String {
    match i % 10 {
        0 => format!("ALTER TABLE t_{k} ADD COLUMN note text;\n"),
        1 => format!("CREATE INDEX CONCURRENTLY t_{k}_owner ON t_{k} (owner);\n"),
        2 => format!("ALTER TABLE t_{k} ADD CONSTRAINT t_{k}_self FOREIGN KEY (parent_id) REFERENCES t_{} (id) NOT VALID;\n", k - 2),
        3 => format!("ALTER TABLE t_{k} VALIDATE CONSTRAINT t_{k}_parent_id_fkey;\n"),
        4 => format!("ALTER TABLE t_{k} ADD CONSTRAINT t_{k}_owner_check CHECK (owner <> '');\n"),
        5 => format!("CREATE FUNCTION touch_{k}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\nCREATE TRIGGER t_{k}_touch BEFORE UPDATE ON t_{k} FOR EACH ROW EXECUTE FUNCTION touch_{k}();\n"),
        6 => format!("CREATE VIEW v_{k} AS SELECT id, owner FROM t_{k};\n"),
        7 => format!("UPDATE t_{k} SET owner = lower(owner) WHERE id < 100;\n"),
        8 => format!("ALTER TABLE t_{k} ALTER COLUMN owner SET STATISTICS 500;\n"),
        _ => format!("CREATE POLICY read_{k} ON t_{k} FOR SELECT USING (true);\n"),
    }
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.email=b@example.com", "-c", "user.name=bench"])
        .args(args)
        .output()
        .expect("git runs")
        .status
        .success();
    assert!(ok, "git {args:?}");
}

fn write(migrations: &Path, name: &str, deps: &str, body: &str) {
    std::fs::write(
        migrations.join(format!("{name}.sql")),
        format!(
            "-- MIGRATION: {name}\n-- Version: {}\n-- Author: bench\n-- Dependencies: {deps}\n{body}",
            &name[..10]
        ),
    )
    .unwrap();
}

fn main() {
    let n = env_usize("BENCH_N", 500);
    let runs = env_usize("BENCH_RUNS", 5);
    let pgshift = env!("CARGO_BIN_EXE_pgshift");
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    let name = |i: usize| common::dated_name(i, "table");
    for i in 0..n {
        let deps = if i == 0 {
            "None".to_string()
        } else {
            format!("{}.sql", name(i - 1))
        };
        write(&migrations, &name(i), &deps, &linked_table(i, false));
    }
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "main"]);
    git(dir.path(), &["checkout", "-q", "-b", "feature"]);
    let mut new_files = Vec::new();
    for i in 0..10 {
        let v = common::dated_name(n + i, "change");
        write(&migrations, &v, "None", &change(i, n - 10 + i));
        new_files.push(migrations.join(format!("{v}.sql")));
    }
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "feature"]);
    let run = |args: &[&str]| {
        let mut cmd = Command::new(pgshift);
        cmd.current_dir(dir.path()).args(args).env("NO_COLOR", "1");
        cmd
    };
    let timed = |args: &[&str], ok: &[i32], times: usize| {
        let (mut all, mut peak) = (Vec::<Duration>::new(), 0);
        for _ in 0..times {
            let (t, mem) = measure_exit(&mut run(args), ok);
            all.push(t);
            peak = peak.max(mem);
        }
        (median(all), peak as f64 / 1024.0)
    };
    let (review, review_mem) = timed(
        &["review", "--base", "main", "--format", "json"],
        &[0, 1],
        runs,
    );
    let (validate, _) = timed(&["validate"], &[0, 1], runs);
    let squawk = find_squawk().map(|s| {
        let mut all = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(&s);
            cmd.args(&new_files);
            all.push(measure_exit(&mut cmd, &[0, 1]).0);
        }
        median(all)
    });
    println!(
        "review: {n} migrations + 10 new, static: median {:.0} ms; validate of the set {:.0} ms ({:.2}×){}; peak {review_mem:.1} MB",
        review.as_secs_f64() * 1e3,
        validate.as_secs_f64() * 1e3,
        review.as_secs_f64() / validate.as_secs_f64(),
        squawk
            .map(|s| format!("; squawk on the 10 new files {:.0} ms", s.as_secs_f64() * 1e3))
            .unwrap_or_default()
    );
    let (rehearse, rehearse_mem) = timed(
        &["review", "--base", "main", "--rehearse", "--format", "json"],
        &[0, 1],
        runs.min(3),
    );
    let mut tests = Vec::new();
    for _ in 0..runs.min(3) {
        tests.push(measure(&mut run(&["test"])).0);
    }
    let test = median(tests);
    println!(
        "review --rehearse: {n} migrations built + 10 observed: median {:.2} s; pgshift test of the branch's set {:.2} s ({:.2}×); peak {rehearse_mem:.1} MB",
        rehearse.as_secs_f64(),
        test.as_secs_f64(),
        rehearse.as_secs_f64() / test.as_secs_f64()
    );
}
