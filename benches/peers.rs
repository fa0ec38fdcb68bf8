//! pgshift beside its peers, every daily path in one run and one table ([14/15]'s targets):
//! - applying N migrations with the server's default durability (fsync and synchronous_commit
//!   on): psql in one session, sqlx, dbmate, pgshift, interleaved, medians;
//! - 300 migrations on a cluster without fsync (the bar: the disk out of the picture), against
//!   psql;
//! - a deploy with nothing to do and `status`, at N applied (against sqlx and dbmate) and at
//!   10,000 applied (against one `psql -c` query);
//! - `validate` of PostgreSQL's regression SQL (when `scripts/bench.sh` could fetch it) and of
//!   20,000 generated files, against squawk;
//! - a 100 MB data migration as INSERTs and as COPY, against `psql -1 -f`.
//!
//! Every row's tools run in turn, round after round (medians of interleaved runs), each with
//! its peak memory. The peers are found in `target/tools/bin` (`scripts/bench.sh`
//! installs them: dbmate from npm, sqlx-cli from crates.io, squawk from PyPI) or through
//! `BENCH_SQLX` / `BENCH_DBMATE`; a peer that is missing is left out, with a line saying so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{env_usize, measure, median};
use pgshift::ephemeral::{Cluster, ClusterOptions};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The i-th migration: a table, an index and a comment.
fn migration(i: usize) -> String {
    format!("CREATE TABLE t{i} (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());\nCREATE INDEX t{i}_name ON t{i} (name);\nCOMMENT ON TABLE t{i} IS 'bench {i}';\n")
}

fn header(name: &str, i: usize) -> String {
    format!(
        "-- MIGRATION: bench {i}\n-- Version: {}\n-- Author: bench\n-- Dependencies: None\n",
        &name[..10]
    )
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

/// The median wall time and the largest peak memory of each command over `runs` rounds. Each
/// round runs every command once, starting one further along each time, so all of them see
/// the same moments of the machine. `ok`: the exit codes that mean it ran (findings: 1).
fn interleaved(
    runs: usize,
    ok: &[i32],
    cmds: &mut [&mut dyn FnMut() -> Command],
) -> Vec<(Duration, i64)> {
    let n = cmds.len();
    let mut times = vec![Vec::new(); n];
    let mut peaks = vec![0; n];
    for round in 0..runs {
        for k in 0..n {
            let i = (round + k) % n;
            let (t, kb) = common::measure_exit(&mut cmds[i](), ok);
            times[i].push(t);
            peaks[i] = peaks[i].max(kb);
        }
    }
    times
        .into_iter()
        .zip(peaks)
        .map(|(t, kb)| (median(t), kb))
        .collect()
}

/// psql's and pgshift's medians and peaks over `runs` interleaved runs (the same moments of
/// the machine for both), and pgshift's ratio to psql.
struct Paired {
    psql: (Duration, i64),
    ours: (Duration, i64),
    ratio: f64,
}

impl Paired {
    fn run(
        runs: usize,
        mut psql: impl FnMut() -> Command,
        mut ours: impl FnMut() -> Command,
    ) -> Paired {
        let got = interleaved(runs, &[0], &mut [&mut psql, &mut ours]);
        let ((p, pkb), (o, okb)) = (got[0], got[1]);
        Paired {
            psql: (p, pkb),
            ours: (o, okb),
            ratio: ms(o) / ms(p),
        }
    }

    /// The two cells: psql's as `psql_label`, pgshift's with its ratio.
    fn cells(&self, psql_label: &str) -> Vec<(String, String)> {
        vec![
            (psql_label.to_string(), cell(self.psql.0, self.psql.1)),
            (
                "pgshift".into(),
                format!("{} ({:.2}×)", cell(self.ours.0, self.ours.1), self.ratio),
            ),
        ]
    }
}

/// A project folder with `pgshift.toml` and `migrations/`.
fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("migrations")).unwrap();
    std::fs::write(
        d.path().join("pgshift.toml"),
        "[deploy]\nexposed_schemas = []\n",
    )
    .unwrap();
    d
}

const BIN: &str = env!("CARGO_BIN_EXE_pgshift");

fn pgshift(dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("DATABASE_URL", url)
        .env("SKIP_BACKUP", "true")
        .args(args);
    c
}

/// psql as every tool reaches the server: TCP on 127.0.0.1.
fn psql(cluster: &Cluster, db: &str) -> Command {
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
}

/// The same N migrations in each tool's layout.
struct Sets {
    _dir: tempfile::TempDir,
    pgshift: PathBuf,
    sqlx: PathBuf,
    dbmate: PathBuf,
    all: PathBuf,
}

impl Sets {
    fn write(n: usize) -> Sets {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
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
            std::fs::write(
                root.join(format!("pgshift/migrations/{name}.sql")),
                format!("{}{sql}", header(&name, i)),
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
        Sets {
            pgshift: root.join("pgshift"),
            sqlx: root.join("sqlx"),
            dbmate: root.join("dbmate"),
            all: root.join("all.sql"),
            _dir: dir,
        }
    }
}

struct Peers {
    sqlx: Option<PathBuf>,
    dbmate: Option<PathBuf>,
    squawk: Option<PathBuf>,
}

impl Peers {
    fn sqlx(&self, dir: &Path, url: &str, verb: &str) -> Option<Command> {
        let mut c = Command::new(self.sqlx.as_ref()?);
        c.args(["migrate", verb, "--source"])
            .arg(dir)
            .args(["--database-url", url]);
        Some(c)
    }

    fn dbmate(&self, dir: &Path, url: &str, verb: &str) -> Option<Command> {
        let mut c = Command::new(self.dbmate.as_ref()?);
        c.args(["--no-dump-schema", "--migrations-dir"])
            .arg(dir)
            .args(["--url", &format!("{url}?sslmode=disable"), verb]);
        Some(c)
    }
}

fn main() {
    let n = env_usize("BENCH_N", 1000);
    let runs = env_usize("BENCH_RUNS", 3);
    let cluster = Cluster::start(&ClusterOptions {
        fast: false,
        settings: vec!["autovacuum=off".into()],
        ..ClusterOptions::default()
    })
    .expect("PostgreSQL starts");
    let peers = Peers {
        sqlx: tool("BENCH_SQLX", "sqlx"),
        dbmate: tool("BENCH_DBMATE", "dbmate"),
        squawk: common::find_squawk(),
    };
    for (name, missing) in [
        ("sqlx", peers.sqlx.is_none()),
        ("dbmate", peers.dbmate.is_none()),
        ("squawk", peers.squawk.is_none()),
    ] {
        if missing {
            println!("peers: {name} is not installed (scripts/bench.sh installs it): left out");
        }
    }
    let sets = Sets::write(n);
    let mut rows = Vec::new();
    rows.push(apply(&cluster, &sets, &peers, n, runs));
    rows.extend(nothing_to_do(&cluster, &sets, &peers, n));
    rows.extend(ten_thousand(&cluster));
    drop(cluster);
    rows.push(bar(runs));
    rows.extend(validation(&peers));
    rows.extend(data_files());
    print(rows);
}

fn print(rows: Vec<Row>) {
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

/// Applying N, each tool on a fresh database, `runs` rounds interleaved (each round starting one
/// tool further along); medians. Each run starts from a checkpoint, so that none pays for
/// writing out the files the one before it created (5 per migration here).
fn apply(cluster: &Cluster, sets: &Sets, peers: &Peers, n: usize, runs: usize) -> Row {
    let mut times: [Vec<Duration>; 4] = Default::default();
    let mut peaks = [0i64; 4];
    for round in 0..runs {
        for j in 0..4 {
            let k = (round + j) % 4;
            let db = cluster
                .create_database(["psql", "pgshift", "sqlx", "dbmate"][k])
                .unwrap();
            let url = cluster.tcp_url(&db);
            cluster.psql("postgres", "CHECKPOINT").unwrap();
            let cmd = match k {
                0 => {
                    let mut c = psql(cluster, &db);
                    c.arg("-f").arg(&sets.all);
                    Some(c)
                }
                1 => Some(pgshift(&sets.pgshift, &url, &["migrate", "--skip-health"])),
                2 => peers.sqlx(&sets.sqlx, &url, "run"),
                _ => peers.dbmate(&sets.dbmate, &url, "up"),
            };
            if let Some(mut c) = cmd {
                let (t, kb) = measure(&mut c);
                times[k].push(t);
                peaks[k] = peaks[k].max(kb);
            }
        }
    }
    let names = ["psql (one session)", "pgshift", "sqlx", "dbmate"];
    let medians: Vec<Option<Duration>> = times
        .iter()
        .map(|t| (!t.is_empty()).then(|| median(t.clone())))
        .collect();
    let ours = medians[1].unwrap_or_default();
    let cells = names
        .iter()
        .zip(&medians)
        .zip(peaks)
        .filter_map(|((name, t), kb)| Some((name.to_string(), cell((*t)?, kb))))
        .collect();
    let others: Vec<Duration> = [0, 2, 3].iter().filter_map(|&k| medians[k]).collect();
    Row {
        what: format!("apply {n} migrations (default durability; median of {runs})"),
        cells,
        target: "ahead of every peer, ≤ 1.0× psql".into(),
        met: Some(others.iter().all(|t| ours <= *t)),
    }
}

/// A deploy with nothing to do and `status`, N applied, against sqlx and dbmate.
fn nothing_to_do(cluster: &Cluster, sets: &Sets, peers: &Peers, n: usize) -> Vec<Row> {
    let db = cluster.create_database("idle").unwrap();
    let url = cluster.tcp_url(&db);
    measure(&mut pgshift(
        &sets.pgshift,
        &url,
        &["migrate", "--skip-health"],
    ));
    let db_sqlx = cluster.create_database("idle_sqlx").unwrap();
    let sqlx_url = cluster.tcp_url(&db_sqlx);
    let db_dbmate = cluster.create_database("idle_dbmate").unwrap();
    let dbmate_url = cluster.tcp_url(&db_dbmate);
    if let Some(mut c) = peers.sqlx(&sets.sqlx, &sqlx_url, "run") {
        measure(&mut c);
    }
    if let Some(mut c) = peers.dbmate(&sets.dbmate, &dbmate_url, "up") {
        measure(&mut c);
    }
    let mut rows = Vec::new();
    for (what, ours_args, sqlx_verb, dbmate_verb) in [
        (
            "deploy with nothing to do",
            &["migrate", "--skip-health"][..],
            "run",
            "up",
        ),
        ("status", &["status"][..], "info", "status"),
    ] {
        let mut ours = || pgshift(&sets.pgshift, &url, ours_args);
        let mut sqlx = || peers.sqlx(&sets.sqlx, &sqlx_url, sqlx_verb).unwrap();
        let mut dbmate = || {
            peers
                .dbmate(&sets.dbmate, &dbmate_url, dbmate_verb)
                .unwrap()
        };
        let mut cmds: Vec<(&str, &mut dyn FnMut() -> Command)> = vec![("pgshift", &mut ours)];
        if peers.sqlx.is_some() {
            cmds.push(("sqlx", &mut sqlx));
        }
        if peers.dbmate.is_some() {
            cmds.push(("dbmate", &mut dbmate));
        }
        let labels: Vec<&str> = cmds.iter().map(|(l, _)| *l).collect();
        let mut runners: Vec<&mut dyn FnMut() -> Command> =
            cmds.into_iter().map(|(_, c)| c).collect();
        let got = interleaved(15, &[0], &mut runners);
        let cells = labels
            .iter()
            .zip(&got)
            .map(|(l, t)| (l.to_string(), cell(t.0, t.1)))
            .collect();
        let ours = got[0].0;
        let others: Vec<Duration> = got[1..].iter().map(|t| t.0).collect();
        rows.push(Row {
            what: format!("{what}, {n} applied (median of 15, interleaved)"),
            cells,
            target: "faster than every peer".into(),
            met: (!others.is_empty()).then(|| others.iter().all(|t| ours < *t)),
        });
    }
    rows
}

/// A deploy with nothing to do and `status` at 10,000 applied (recorded with `baseline`:
/// running them would time the server), against one `psql -c` query.
fn ten_thousand(cluster: &Cluster) -> Vec<Row> {
    let big = 10_000;
    let dir = project();
    for i in 0..big {
        let name = common::dated_name(i, "many");
        std::fs::write(
            dir.path().join(format!("migrations/{name}.sql")),
            format!("{}CREATE TABLE m{i} (id int);\n", header(&name, i)),
        )
        .unwrap();
    }
    let db = cluster.create_database("many").unwrap();
    let url = cluster.tcp_url(&db);
    let last = common::dated_name(big - 1, "many");
    measure(&mut pgshift(dir.path(), &url, &["baseline", &last]));
    // The files settle (the index trusts a file's times 3 s after it was written), then the
    // index is written once, as by the first deploy after a checkout.
    std::thread::sleep(Duration::from_secs(4));
    measure(&mut pgshift(dir.path(), &url, &["status"]));
    let mut rows = Vec::new();
    for (what, args) in [
        (
            "deploy with nothing to do",
            &["migrate", "--skip-health"][..],
        ),
        ("status", &["status"][..]),
    ] {
        let pair = Paired::run(
            9,
            || {
                let mut c = psql(cluster, &db);
                c.args(["-c", "SELECT 1"]);
                c
            },
            || pgshift(dir.path(), &url, args),
        );
        rows.push(Row {
            what: format!("{what}, {big} applied (median of 9, interleaved)"),
            cells: pair.cells("psql -c 'SELECT 1'"),
            target: "≤ 2.5× one psql -c".into(),
            met: Some(pair.ratio <= 2.5),
        });
    }
    rows
}

/// 300 migrations on a cluster without fsync: pgshift's own cost against psql's.
fn bar(runs: usize) -> Row {
    let cluster = Cluster::start(&ClusterOptions {
        fast: true,
        settings: vec!["autovacuum=off".into()],
        ..ClusterOptions::default()
    })
    .expect("PostgreSQL starts");
    let sets = Sets::write(300);
    // A run takes a quarter of a second: nine of them, since five left the median to the
    // machine's moods (1.03× to 1.36× psql on the same code).
    let pair = Paired::run(
        runs.max(9),
        || {
            let db = cluster.create_database("bar_psql").unwrap();
            let mut c = psql(&cluster, &db);
            c.arg("-f").arg(&sets.all);
            c
        },
        || {
            let db = cluster.create_database("bar_pgshift").unwrap();
            pgshift(
                &sets.pgshift,
                &cluster.tcp_url(&db),
                &["migrate", "--skip-health"],
            )
        },
    );
    Row {
        what: "apply 300 migrations, fsync off (the bar; median of 9, interleaved)".into(),
        cells: pair.cells("psql (one session)"),
        target: "≤ 1.1× psql".into(),
        met: Some(pair.ratio <= 1.1),
    }
}

/// `validate` against squawk: PostgreSQL's regression SQL and 20,000 generated files.
fn validation(peers: &Peers) -> Vec<Row> {
    let regress = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/regress");
    let mut corpora: Vec<(String, tempfile::TempDir)> = Vec::new();
    match std::fs::read_dir(&regress) {
        Ok(entries) => {
            let dir = project();
            let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            names.sort();
            for (i, p) in names
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "sql"))
                .enumerate()
            {
                let stem = p.file_stem().unwrap().to_string_lossy().replace('-', "_");
                let name = common::dated_name(i, &stem);
                std::fs::copy(p, dir.path().join(format!("migrations/{name}.sql"))).unwrap();
            }
            corpora.push(("PostgreSQL's regression SQL".into(), dir));
        }
        Err(_) => println!(
            "peers: {} is missing (scripts/bench.sh fetches it): the regression SQL is left out",
            regress.display()
        ),
    }
    let dir = project();
    for i in 0..20_000 {
        let name = common::dated_name(i, "file");
        std::fs::write(
            dir.path().join(format!("migrations/{name}.sql")),
            format!("{}{}", header(&name, i), common::linked_table(i, false)),
        )
        .unwrap();
    }
    corpora.push(("20,000 files".into(), dir));
    let mut rows = Vec::new();
    for (what, dir) in corpora {
        let files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("migrations"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        let largest = files
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0);
        let bytes: u64 = files
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let mut ours = || {
            let mut c = Command::new(BIN);
            c.current_dir(dir.path()).arg("validate");
            c
        };
        let mut squawk = || {
            let mut c = Command::new(peers.squawk.as_ref().unwrap());
            c.current_dir(dir.path().join("migrations"))
                .args(files.iter().filter_map(|p| p.file_name()));
            c
        };
        // Both exit 1 when they find something (the regression SQL is full of it).
        let got = if peers.squawk.is_some() {
            interleaved(3, &[0, 1], &mut [&mut ours, &mut squawk])
        } else {
            interleaved(3, &[0, 1], &mut [&mut ours])
        };
        let ours = got[0];
        let mut cells = vec![("pgshift".to_string(), cell(ours.0, ours.1))];
        let mut met = ours.1 < (64 << 10) + (largest as i64 >> 10);
        if let Some(t) = got.get(1) {
            cells.push(("squawk".into(), cell(t.0, t.1)));
            met &= ours.0 <= t.0;
        }
        rows.push(Row {
            what: format!(
                "validate {what} ({} files, {:.1} MB)",
                files.len(),
                bytes as f64 / 1e6
            ),
            cells,
            target: format!(
                "≤ squawk, < 64 MB + the largest file ({} KB)",
                largest / 1024
            ),
            met: Some(met),
        });
    }
    rows
}

/// Rounds of each data migration: five (three up to run 44): on this machine's disk one slow
/// round of either tool weighed on a median of three.
const DATA_RUNS: usize = 5;

/// A 100 MB data migration, as INSERTs and as COPY, against `psql -1 -f`.
fn data_files() -> Vec<Row> {
    let data_mb = env_usize("BENCH_DATA_MB", 100);
    let cluster = Cluster::start(&ClusterOptions {
        fast: false,
        settings: vec!["autovacuum=off".into()],
        ..ClusterOptions::default()
    })
    .expect("PostgreSQL starts");
    let mut rows = Vec::new();
    for kind in ["INSERT", "COPY"] {
        let d = project();
        // Written as it is made: the bench's own memory would count in its children's peak
        // (they start as copies of it).
        write_data_migration(
            kind,
            data_mb << 20,
            &[
                (
                    d.path().join("migrations/2026-01-01_data.sql"),
                    "-- MIGRATION: data\n-- Version: 2026-01-01\n-- Author: bench\n-- Dependencies: None\n",
                ),
                (d.path().join("data.sql"), ""),
            ],
        );
        let pair = Paired::run(
            DATA_RUNS,
            || {
                let db = cluster.create_database("data_psql").unwrap();
                let mut c = psql(&cluster, &db);
                c.args(["-1", "-f"]).arg(d.path().join("data.sql"));
                c
            },
            || {
                let db = cluster.create_database("data_pgshift").unwrap();
                pgshift(
                    d.path(),
                    &cluster.tcp_url(&db),
                    &["migrate", "--skip-health"],
                )
            },
        );
        rows.push(Row {
            what: format!("{data_mb} MB data migration ({kind}; median of {DATA_RUNS})"),
            cells: pair.cells("psql -1 -f"),
            target: "≤ 1.1× psql, < 128 MB".into(),
            met: Some(pair.ratio <= 1.1 && pair.ours.1 < 128 * 1024),
        });
    }
    rows
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
