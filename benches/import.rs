//! `pgshift import` then `pgshift validate` of N migrations (default 1,000) in each layout pgshift
//! imports, each file a table with an index; the target is under a second for both together.
//! Run: `scripts/bench.sh` or `cargo bench --bench import` (BENCH_N, BENCH_RUNS to change).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::{measure, median};

fn sql(i: usize) -> String {
    format!("CREATE TABLE t_{i} (id bigint PRIMARY KEY, name text NOT NULL);\nCREATE INDEX t_{i}_name ON t_{i} (name);\n")
}

fn stamp(i: usize) -> String {
    // One a minute from 2024-01-01 00:00.
    let day = 1 + i / 1440;
    format!(
        "202401{:02}{:02}{:02}00",
        day.min(28),
        (i / 60) % 24,
        i % 60
    )
}

/// Writes N migrations of `tool`'s layout under `dir`.
fn generate(tool: &str, dir: &Path, n: usize) {
    let w = |p: &Path, s: String| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    };
    let mut plan = String::from("%syntax-version=1.0.0\n%project=bench\n\n");
    for i in 0..n {
        let up = sql(i);
        let down = format!("DROP TABLE t_{i};\n");
        match tool {
            "supabase" => w(
                &dir.join(format!("supabase/migrations/{}_t_{i}.sql", stamp(i))),
                up,
            ),
            "prisma" => w(
                &dir.join(format!(
                    "prisma/migrations/{}_t_{i}/migration.sql",
                    stamp(i)
                )),
                up,
            ),
            "dbmate" => w(
                &dir.join(format!("db/migrations/{}_t_{i}.sql", stamp(i))),
                format!("-- migrate:up\n{up}\n-- migrate:down\n{down}"),
            ),
            "goose" => w(
                &dir.join(format!("{:05}_t_{i}.sql", i + 1)),
                format!("-- +goose Up\n{up}\n-- +goose Down\n{down}"),
            ),
            "golang-migrate" => {
                w(&dir.join(format!("{}_t_{i}.up.sql", i + 1)), up);
                w(&dir.join(format!("{}_t_{i}.down.sql", i + 1)), down);
            }
            "flyway" => w(&dir.join(format!("sql/V1.{}__t_{i}.sql", i + 1)), up),
            "numbered" => w(&dir.join(format!("{:04}_t_{i}.sql", i + 1)), up),
            "sqitch" => {
                let req = if i == 0 {
                    String::new()
                } else {
                    format!(" [t_{}]", i - 1)
                };
                let s = stamp(i);
                plan.push_str(&format!(
                    "t_{i}{req} {}-{}-{}T{}:{}:00Z Bench <b@example.com> # table {i}\n",
                    &s[..4],
                    &s[4..6],
                    &s[6..8],
                    &s[8..10],
                    &s[10..12]
                ));
                w(
                    &dir.join(format!("deploy/t_{i}.sql")),
                    format!("BEGIN;\n{up}COMMIT;\n"),
                );
                w(
                    &dir.join(format!("revert/t_{i}.sql")),
                    format!("BEGIN;\n{down}COMMIT;\n"),
                );
            }
            _ => unreachable!(),
        }
    }
    if tool == "sqitch" {
        w(&dir.join("sqitch.plan"), plan);
    }
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
    let bin = env!("CARGO_BIN_EXE_pgshift");
    for tool in [
        "supabase",
        "prisma",
        "dbmate",
        "goose",
        "golang-migrate",
        "flyway",
        "sqitch",
        "numbered",
    ] {
        let source = tempfile::tempdir().unwrap();
        generate(tool, source.path(), n);
        let (mut imports, mut validates, mut copies, mut peak) = (
            Vec::<Duration>::new(),
            Vec::<Duration>::new(),
            Vec::<Duration>::new(),
            0,
        );
        for _ in 0..runs {
            // The floor the disk sets: copying the source's files, as `cp -r` does.
            let copy = tempfile::tempdir().unwrap();
            let (t, _) = measure(
                Command::new("cp")
                    .arg("-r")
                    .arg(source.path())
                    .arg(copy.path().join("set")),
            );
            copies.push(t);
            let project = tempfile::tempdir().unwrap();
            let (t, m) = measure(
                Command::new(bin)
                    .current_dir(project.path())
                    .args(["import", "--from", tool])
                    .arg(source.path()),
            );
            imports.push(t);
            peak = peak.max(m);
            let (t, m) = measure(
                Command::new(bin)
                    .current_dir(project.path())
                    .arg("validate"),
            );
            validates.push(t);
            peak = peak.max(m);
        }
        let (i, v, c) = (median(imports), median(validates), median(copies));
        println!(
            "import {tool:<14} {n} migrations: import {:.0} ms + validate {:.0} ms = {:.0} ms (target < 1000 ms), peak {:.1} MB; cp -r of the source {:.0} ms (import/cp {:.2}x)",
            i.as_secs_f64() * 1e3,
            v.as_secs_f64() * 1e3,
            (i + v).as_secs_f64() * 1e3,
            peak as f64 / 1024.0,
            c.as_secs_f64() * 1e3,
            i.as_secs_f64() / c.as_secs_f64().max(1e-9)
        );
    }
}
