//! pgshift beside its peers on one throwaway cluster with the server's default durability
//! (fsync and synchronous_commit on), in one run, printed as one table: applying N migrations
//! (psql in one session, sqlx, dbmate, pgshift), a deploy with nothing to do and the status at N
//! applied and at 10,000 applied (against one `psql -c` query), and a 100 MB data migration as
//! INSERTs and as COPY (against `psql -1 -f`), each with its peak memory.
//!
//! The peers are found in `target/tools/bin` (`scripts/bench.sh` installs them: dbmate from
//! npm, sqlx-cli from crates.io) or through `BENCH_SQLX` / `BENCH_DBMATE`; a peer that is
//! missing is left out of the table, with a line saying so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{measure, median};
use pgshift::ephemeral::{Cluster, ClusterOptions};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The i-th migration: a table, an index and a comment.
fn migration(i: usize) -> String {
    format!("CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());\nCREATE INDEX t{i}_name ON t{i} (name);\nCOMMENT ON TABLE t{i} IS 'bench {i}';\n")
}

fn tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/tools/bin")
        .join(name);
    p.is_file().then_some(p)
}

struct Row {
    what: String,
    cells: Vec<(String, String)>,
    target: String,
    met: Option<bool>,
}

fn cell(d: Duration, kb: i64) -> String {
    if ms(d) < 1000.0 {
        format!("{:.1} ms, {:.0} MB", ms(d), kb as f64 / 1024.0)
    } else {
        format!("{:.2} s, {:.0} MB", d.as_secs_f64(), kb as f64 / 1024.0)
    }
}

/// Median wall time and the largest peak memory of `runs` runs of `cmd()`.
fn timed(runs: usize, mut cmd: impl FnMut() -> Command) -> (Duration, i64) {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let (t, kb) = measure(&mut cmd());
        times.push(t);
        peak = peak.max(kb);
    }
    (median(times), peak)
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let data_mb: usize = std::env::var("BENCH_DATA_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let cluster = Cluster::start(&ClusterOptions {
        fast: false,
        settings: vec!["autovacuum=off".into()],
        ..ClusterOptions::default()
    })
    .expect("PostgreSQL starts");
    let sqlx = tool("BENCH_SQLX", "sqlx");
    let dbmate = tool("BENCH_DBMATE", "dbmate");
    for (name, t) in [("sqlx", &sqlx), ("dbmate", &dbmate)] {
        if t.is_none() {
            println!("peers: {name} is not installed (scripts/bench.sh installs it): left out");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The same N migrations in each tool's layout.
    for sub in ["pgshift/migrations", "sqlx", "dbmate"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(
        root.join("pgshift/pgshift.toml"),
        "[deploy]\nexposed_schemas = []\n",
    )
    .unwrap();
    let mut all = String::new();
    for i in 0..n {
        let sql = migration(i);
        let name = common::dated_name(i, "bench");
        let header = format!(
            "-- MIGRATION: bench {i}\n-- Version: {}\n-- Author: bench\n-- Dependencies: None\n",
            &name[..10]
        );
        std::fs::write(
            root.join(format!("pgshift/migrations/{name}.sql")),
            format!("{header}{sql}"),
        )
        .unwrap();
        std::fs::write(root.join(format!("sqlx/{:05}_bench.sql", i + 1)), &sql).unwrap();
        std::fs::write(
            root.join(format!("dbmate/{:05}_bench.sql", i + 1)),
            format!("-- migrate:up\n{sql}\n-- migrate:down\n"),
        )
        .unwrap();
        all.push_str(&sql);
    }
    std::fs::write(root.join("all.sql"), &all).unwrap();

    let pgshift_bin = env!("CARGO_BIN_EXE_pgshift");
    let pgshift = |db: &str, args: &[&str]| {
        let mut c = Command::new(pgshift_bin);
        c.current_dir(root.join("pgshift"))
            .env("DATABASE_URL", cluster.tcp_url(db))
            .env("SKIP_BACKUP", "true")
            .args(args);
        c
    };
    let tcp = |db: &str| cluster.tcp_url(db);
    // Every tool, psql included, reaches the server the same way: TCP on 127.0.0.1.
    let psql = |db: &str| {
        let mut c = Command::new(cluster.client_program("psql"));
        c.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &cluster.tcp_url(db),
        ]);
        c
    };
    let mut rows: Vec<Row> = Vec::new();

    // Apply N.
    let mut apply = Row {
        what: format!("apply {n} migrations"),
        cells: Vec::new(),
        target: "ahead of every tool that commits once per migration".into(),
        met: None,
    };
    let db = cluster.create_database("psql").unwrap();
    let (psql_apply, kb) = measure(psql(&db).arg("-f").arg(root.join("all.sql")));
    apply
        .cells
        .push(("psql (one session)".into(), cell(psql_apply, kb)));
    let db_ours = cluster.create_database("pgshift").unwrap();
    let (ours, kb) = measure(&mut pgshift(&db_ours, &["migrate", "--skip-health"]));
    apply.cells.push(("pgshift".into(), cell(ours, kb)));
    let mut per_migration_peers = Vec::new();
    let db_sqlx = cluster.create_database("sqlx").unwrap();
    if let Some(s) = &sqlx {
        let (t, kb) = measure(
            Command::new(s)
                .args(["migrate", "run", "--source"])
                .arg(root.join("sqlx"))
                .args(["--database-url", &tcp(&db_sqlx)]),
        );
        apply.cells.push(("sqlx".into(), cell(t, kb)));
        per_migration_peers.push(t);
    }
    let db_dbmate = cluster.create_database("dbmate").unwrap();
    let dbmate_cmd = |db: &str, verb: &str| {
        let mut c = Command::new(dbmate.as_ref().unwrap());
        c.args(["--no-dump-schema", "--migrations-dir"])
            .arg(root.join("dbmate"))
            .args(["--url", &format!("{}?sslmode=disable", tcp(db)), verb]);
        c
    };
    if dbmate.is_some() {
        let (t, kb) = measure(&mut dbmate_cmd(&db_dbmate, "up"));
        apply.cells.push(("dbmate".into(), cell(t, kb)));
        per_migration_peers.push(t);
    }
    if !per_migration_peers.is_empty() {
        apply.met = Some(per_migration_peers.iter().all(|t| ours < *t));
    }
    rows.push(apply);

    // No-op and status at N.
    let select1 = timed(9, || {
        let mut c = psql(&db_ours);
        c.args(["-c", "SELECT 1"]);
        c
    });
    let mut noop = Row {
        what: format!("deploy with nothing to do, {n} applied"),
        cells: vec![("psql -c 'SELECT 1'".into(), cell(select1.0, select1.1))],
        target: "faster than sqlx".into(),
        met: None,
    };
    let ours_noop = timed(9, || pgshift(&db_ours, &["migrate", "--skip-health"]));
    noop.cells
        .push(("pgshift".into(), cell(ours_noop.0, ours_noop.1)));
    let mut status = Row {
        what: format!("status, {n} applied"),
        cells: vec![("psql -c 'SELECT 1'".into(), cell(select1.0, select1.1))],
        target: "faster than sqlx".into(),
        met: None,
    };
    let ours_status = timed(9, || pgshift(&db_ours, &["status"]));
    status
        .cells
        .push(("pgshift".into(), cell(ours_status.0, ours_status.1)));
    if let Some(s) = &sqlx {
        let run = timed(9, || {
            let mut c = Command::new(s);
            c.args(["migrate", "run", "--source"])
                .arg(root.join("sqlx"))
                .args(["--database-url", &tcp(&db_sqlx)]);
            c
        });
        noop.cells.push(("sqlx".into(), cell(run.0, run.1)));
        noop.met = Some(ours_noop.0 < run.0);
        let info = timed(9, || {
            let mut c = Command::new(s);
            c.args(["migrate", "info", "--source"])
                .arg(root.join("sqlx"))
                .args(["--database-url", &tcp(&db_sqlx)]);
            c
        });
        status.cells.push(("sqlx".into(), cell(info.0, info.1)));
        status.met = Some(ours_status.0 < info.0);
    }
    if dbmate.is_some() {
        let up = timed(9, || dbmate_cmd(&db_dbmate, "up"));
        noop.cells.push(("dbmate".into(), cell(up.0, up.1)));
        let st = timed(9, || dbmate_cmd(&db_dbmate, "status"));
        status.cells.push(("dbmate".into(), cell(st.0, st.1)));
    }
    rows.push(noop);
    rows.push(status);

    // No-op and status at 10,000 applied: the files are recorded with `baseline` (running
    // 10,000 migrations would time the server, not pgshift).
    let big = 10_000;
    let big_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(big_dir.path().join("migrations")).unwrap();
    std::fs::write(
        big_dir.path().join("pgshift.toml"),
        "[deploy]\nexposed_schemas = []\n",
    )
    .unwrap();
    for i in 0..big {
        let name = common::dated_name(i, "many");
        std::fs::write(
            big_dir.path().join(format!("migrations/{name}.sql")),
            format!("-- MIGRATION: many {i}\n-- Version: {}\n-- Author: bench\n-- Dependencies: None\nCREATE TABLE m{i} (id int);\n", &name[..10]),
        )
        .unwrap();
    }
    let db_big = cluster.create_database("many").unwrap();
    let in_big = |args: &[&str]| {
        let mut c = Command::new(pgshift_bin);
        c.current_dir(big_dir.path())
            .env("DATABASE_URL", cluster.tcp_url(&db_big))
            .env("SKIP_BACKUP", "true")
            .args(args);
        c
    };
    let last = common::dated_name(big - 1, "many");
    measure(&mut in_big(&["baseline", &last]));
    let select1 = timed(9, || {
        let mut c = psql(&db_big);
        c.args(["-c", "SELECT 1"]);
        c
    });
    for (what, args) in [
        (
            "deploy with nothing to do",
            &["migrate", "--skip-health"][..],
        ),
        ("status", &["status"][..]),
    ] {
        let t = timed(7, || in_big(args));
        let ratio = ms(t.0) / ms(select1.0);
        rows.push(Row {
            what: format!("{what}, {big} applied"),
            cells: vec![
                ("psql -c 'SELECT 1'".into(), cell(select1.0, select1.1)),
                (
                    "pgshift".into(),
                    format!("{} ({ratio:.2}×)", cell(t.0, t.1)),
                ),
            ],
            target: "within 2.5× of one psql -c".into(),
            met: Some(ratio <= 2.5),
        });
    }

    // A 100 MB data migration, as INSERTs and as COPY, against `psql -1 -f`.
    for kind in ["INSERT", "COPY"] {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("migrations")).unwrap();
        std::fs::write(
            d.path().join("pgshift.toml"),
            "[deploy]\nexposed_schemas = []\n",
        )
        .unwrap();
        // Written as it is made: the bench's own memory would count in its children's peak
        // (they start as copies of it).
        let header =
            "-- MIGRATION: data\n-- Version: 2026-01-01\n-- Author: bench\n-- Dependencies: None\n";
        write_data_migration(
            kind,
            data_mb << 20,
            &[
                (d.path().join("migrations/2026-01-01_data.sql"), header),
                (d.path().join("data.sql"), ""),
            ],
        );
        let db_p = cluster.create_database("data_psql").unwrap();
        let (p, pkb) = measure(
            psql(&db_p)
                .args(["-1", "-f"])
                .arg(d.path().join("data.sql")),
        );
        let db_o = cluster.create_database("data_pgshift").unwrap();
        let (o, okb) = measure(
            Command::new(pgshift_bin)
                .current_dir(d.path())
                .env("DATABASE_URL", cluster.tcp_url(&db_o))
                .env("SKIP_BACKUP", "true")
                .args(["migrate", "--skip-health"]),
        );
        let ratio = ms(o) / ms(p);
        rows.push(Row {
            what: format!("{data_mb} MB data migration ({kind})"),
            cells: vec![
                ("psql -1 -f".into(), cell(p, pkb)),
                ("pgshift".into(), format!("{} ({ratio:.2}×)", cell(o, okb))),
            ],
            target: "≤ 1.1× psql, < 128 MB".into(),
            met: Some(ratio <= 1.1 && okb < 128 * 1024),
        });
    }

    println!("\n| what | results | target | met |\n| --- | --- | --- | --- |");
    for r in rows {
        let cells: Vec<String> = r.cells.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "n/a (no peer)",
        };
        println!(
            "| {} | {} | {} | {met} |",
            r.what,
            cells.join("; "),
            r.target
        );
    }
}

/// Writes about `bytes` of rows for table `d`, as multi-row INSERTs or as one COPY, to each
/// file after its header, a statement at a time.
fn write_data_migration(kind: &str, bytes: usize, files: &[(PathBuf, &str)]) {
    use std::io::Write;
    let mut outs: Vec<std::io::BufWriter<std::fs::File>> = files
        .iter()
        .map(|(p, header)| {
            let mut w = std::io::BufWriter::new(std::fs::File::create(p).unwrap());
            w.write_all(header.as_bytes()).unwrap();
            w
        })
        .collect();
    let mut put = |s: &str| {
        for w in &mut outs {
            w.write_all(s.as_bytes()).unwrap();
        }
        s.len()
    };
    let mut written =
        put("CREATE TABLE d (id bigint PRIMARY KEY, name text, amount numeric, note text);\n");
    let mut id = 0u64;
    if kind == "COPY" {
        written += put("COPY d FROM stdin;\n");
        while written < bytes {
            id += 1;
            written += put(&format!(
                "{id}\tname {id}\t{}.{:02}\tsome note text for row {id} with padding\n",
                id % 1000,
                id % 100
            ));
        }
        put("\\.\n");
    } else {
        while written < bytes {
            let rows: Vec<String> = (0..100)
                .map(|_| {
                    id += 1;
                    format!(
                        "({id},'name {id}',{}.{:02},'some note text for row {id} with padding')",
                        id % 1000,
                        id % 100
                    )
                })
                .collect();
            written += put(&format!("INSERT INTO d VALUES {};\n", rows.join(",\n")));
        }
    }
    for w in &mut outs {
        w.flush().unwrap();
    }
}
