//! `pgshift validate` on 1,000 generated, realistic migrations (target: under 0.5 s on
//! 2 cores), and squawk on the same files when it is installed (`pip install squawk-cli`).
//! Run: `scripts/bench.sh` or `cargo bench --bench validate`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

/// One migration: a table with RLS, policies and indexes, and changes to an earlier table.
fn migration(i: usize) -> String {
    let date = format!(
        "20{:02}-{:02}-{:02}",
        20 + i / 336,
        1 + (i / 28) % 12,
        1 + i % 28
    );
    let dep = if i == 0 {
        "None".to_string()
    } else {
        format!("{}.sql", name(i - 1))
    };
    let mut sql = format!(
        "-- =============================================\n\
         -- MIGRATION: Generated migration {i}\n\
         -- Version: {date}\n\
         -- Author: Bench\n\
         -- Dependencies: {dep}\n\
         -- =============================================\n\n\
         SET LOCAL lock_timeout = '5s';\n\n\
         CREATE TABLE IF NOT EXISTS items_{i} (\n\
           id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n\
           tenant_id   uuid NOT NULL,\n\
           name        text NOT NULL,\n\
           amount      numeric(12, 2) NOT NULL DEFAULT 0 CHECK (amount >= 0),\n\
           payload     jsonb NOT NULL DEFAULT '{{}}'::jsonb,\n\
           created_at  timestamptz NOT NULL DEFAULT now()\n\
         );\n\n\
         CREATE INDEX IF NOT EXISTS items_{i}_tenant_idx ON items_{i} (tenant_id, created_at DESC);\n\
         ALTER TABLE items_{i} ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY items_{i}_tenant ON items_{i}\n\
           USING (tenant_id = current_setting('app.tenant_id', true)::uuid)\n\
           WITH CHECK (tenant_id = current_setting('app.tenant_id', true)::uuid);\n\
         COMMENT ON TABLE items_{i} IS 'Generated table number {i}';\n"
    );
    if i > 0 {
        sql.push_str(&format!(
            "\nALTER TABLE items_{p} ADD COLUMN IF NOT EXISTS note_{i} text;\n\
             UPDATE items_{p} SET note_{i} = 'migrated' WHERE id IN (SELECT id FROM items_{p} WHERE note_{i} IS NULL LIMIT 1000);\n",
            p = i - 1
        ));
    }
    sql
}

fn name(i: usize) -> String {
    format!(
        "20{:02}-{:02}-{:02}_generated_{i:04}",
        20 + i / 336,
        1 + (i / 28) % 12,
        1 + i % 28
    )
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm the page cache
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let n = 1000;
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..n)
        .map(|i| {
            let p = dir.path().join(format!("{}.sql", name(i)));
            std::fs::write(&p, migration(i)).unwrap();
            p
        })
        .collect();
    let bin = env!("CARGO_BIN_EXE_pgshift");
    let ours = time(7, || {
        let out = Command::new(bin)
            .arg("--dir")
            .arg(dir.path())
            .arg("validate")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "pgshift validate, {n} files, {cores} cores: median {:.1} ms over 7 runs (target < 500 ms)",
        ours.as_secs_f64() * 1e3
    );
    match common::find_squawk() {
        Some(squawk) => {
            let theirs = time(3, || {
                let _ = Command::new(&squawk)
                    .args(files.iter().map(|p| p.as_path()))
                    .output()
                    .unwrap();
            });
            let version = Command::new(&squawk)
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            println!(
                "{version} on the same files: median {:.1} ms over 3 runs; pgshift/squawk = {:.2}",
                theirs.as_secs_f64() * 1e3,
                ours.as_secs_f64() / theirs.as_secs_f64()
            );
        }
        None => println!("squawk not installed (pip install squawk-cli): no comparison"),
    }
    let _ = Path::new(bin);
}
