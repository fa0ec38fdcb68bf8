//! Helpers of the integration tests that run pgshift against the shared throwaway cluster.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use tempfile::TempDir;

use pgshift::ephemeral::Cluster;

pub fn cluster() -> &'static Cluster {
    Cluster::shared().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"))
}

/// A project with `files` and a fresh database; returns the folder and the database name.
pub fn project(files: &[(&str, &str)]) -> (TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    for (name, sql) in files {
        write(&dir, name, sql);
    }
    let db = cluster().create_database("deploy").unwrap();
    (dir, db)
}

pub fn write(dir: &TempDir, name: &str, sql: &str) {
    let date = &name[..10];
    let text = format!(
        "-- MIGRATION: {name}\n-- Version: {date}\n-- Author: tests\n-- Dependencies: None\n{sql}"
    );
    std::fs::write(
        dir.path().join("migrations").join(format!("{name}.sql")),
        text,
    )
    .unwrap();
}

/// pgshift against `db` of the shared cluster, run in `dir` (see [`pgshift_in`]).
pub fn pgshift(dir: &Path, db: &str) -> Command {
    let mut c = pgshift_in(dir);
    c.env("DATABASE_URL", cluster().url(db));
    c
}

/// pgshift run in `dir` as a user would run it: no colour, and none of the machine's variables
/// that would change what it does ([`HERMETIC`]): no database unless the test gives one.
pub fn pgshift_in(dir: &Path) -> Command {
    Command::from_std(pgshift_std(dir))
}

/// [`pgshift_in`] as a standard `Command`, to spawn in the background or on a terminal.
pub fn pgshift_std(dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgshift"));
    c.current_dir(dir).env("NO_COLOR", "1");
    for v in HERMETIC {
        c.env_remove(v);
    }
    c
}

/// pgshift with `args` started in the background in `dir` against `url`, as a user would run
/// it (no colour, none of the machine's variables), its output piped.
pub fn spawn_pgshift(dir: &Path, url: &str, args: &[&str]) -> std::process::Child {
    let mut c = pgshift_std(dir);
    c.env("DATABASE_URL", url)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c.spawn().unwrap()
}

/// Variables of the machine running the tests that would change what pgshift does: every
/// test starts without them, and sets the ones it means.
pub const HERMETIC: &[&str] = &[
    "DATABASE_URL",
    "SUPABASE_DB_URL",
    "SUPABASE_URL",
    "SUPABASE_SERVICE_KEY",
    "SUPABASE_DB_PASSWORD",
    "APP_PASSWORD",
    "CI",
    "NOTIFY_WEBHOOK_URL",
    "ENVIRONMENT",
    "FORCE_RUN",
    "DRY_RUN",
    "TIMEOUT",
    "DEBUG",
    "PARALLEL_JOBS",
    "CONFIRM",
    "SKIP_BACKUP",
    "GITHUB_STEP_SUMMARY",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLMODE",
    "PGAPPNAME",
];

pub fn sql(db: &str, q: &str) -> String {
    cluster().psql(db, q).unwrap().trim().to_string()
}

/// Polls until `q` returns a non-zero count (at most 20 s).
pub fn wait_for(db: &str, q: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if sql(db, q) != "0" {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for: {q}");
}

/// What a command printed, stdout then stderr.
pub fn both(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The day's log file in a project's `logs/`.
pub fn log_file(project: &Path) -> std::path::PathBuf {
    std::fs::read_dir(project.join("logs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a log file")
}

/// The eneas-os example creates and alters the cluster-wide role `eneas_app`: two tests doing
/// that at once can collide ("tuple concurrently updated"), so they take turns.
pub static ROLE_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Roles are cluster-wide: create one once, whichever test comes first (two creating it at
/// once: the second sees the first's row in the catalog's unique index).
pub fn role(name: &str, options: &str) {
    cluster()
        .psql(
            "postgres",
            &format!("DO $$ BEGIN CREATE ROLE {name} {options}; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"),
        )
        .unwrap();
}

/// Loads pgshift's Supabase stub into `db` as pgshift loads it: its roles are the cluster's,
/// and a load that collides with another (pgshift's own, in another test) is tried again.
/// These loads take turns among themselves, so that fewer collide.
pub fn supabase_stub(db: &str) {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let spec = pgshift::db::connect::ConnectionSpec::parse(&cluster().url(db)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Err(e) = rt.block_on(pgshift::supabase::load_stub(&spec)) {
        panic!("{db}: {e}");
    }
}

/// The socket URL of `db` as `user` (the socket trusts every user).
pub fn url_as(db: &str, user: &str) -> String {
    cluster()
        .url(db)
        .replace("user=postgres", &format!("user={user}"))
}

/// How far a [`SilentServer`] goes before it stops answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// Accepts the TCP connection and never says a word.
    AtOnce,
    /// Refuses TLS ('N'), as PostgreSQL without TLS does, then says nothing.
    AfterTlsRefused,
    /// Finishes the startup (authentication ok, ready for query), then answers no query.
    AfterStartup,
    /// Finishes the startup saying its version (`server_version`, as PostgreSQL does), then
    /// answers no query.
    AfterStartupWithVersion,
}

/// A TCP server on 127.0.0.1 that takes connections and stops answering (a hung server, or a
/// load balancer with nothing behind it). Connections are held until the process ends.
pub struct SilentServer {
    pub port: u16,
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SilentServer {
    pub fn start(silence: Silence) -> SilentServer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut s = stream;
                    let read_message = |s: &mut std::net::TcpStream| -> Option<Vec<u8>> {
                        let mut len = [0u8; 4];
                        s.read_exact(&mut len).ok()?;
                        let n = u32::from_be_bytes(len) as usize;
                        let mut body = vec![0u8; n.saturating_sub(4)];
                        s.read_exact(&mut body).ok()?;
                        Some(body)
                    };
                    if silence != Silence::AtOnce {
                        // SSLRequest (80877103) or the startup message itself.
                        let mut first = read_message(&mut s);
                        if first
                            .as_deref()
                            .is_some_and(|b| b.starts_with(&80877103u32.to_be_bytes()))
                        {
                            let _ = s.write_all(b"N");
                            first = if silence == Silence::AfterTlsRefused {
                                None
                            } else {
                                read_message(&mut s)
                            };
                        }
                        if first.is_some() && silence != Silence::AfterTlsRefused {
                            // AuthenticationOk, the version maybe, then ReadyForQuery (idle).
                            let _ = s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0]);
                            if silence == Silence::AfterStartupWithVersion {
                                let _ = s.write_all(b"S\0\0\0\x18server_version\x0015.4\0");
                            }
                            let _ = s.write_all(&[b'Z', 0, 0, 0, 5, b'I']);
                        }
                    }
                    // Read and drop whatever comes; answer nothing, close nothing.
                    let mut sink = [0u8; 4096];
                    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                    std::thread::sleep(Duration::from_secs(3600));
                });
            }
        });
        SilentServer { port, accepted }
    }

    pub fn url(&self, options: &str) -> String {
        format!(
            "postgresql://nobody@127.0.0.1:{}/silent?{options}",
            self.port
        )
    }

    /// Waits until `n` connections came (at most 20 s).
    pub fn wait_for_connections(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.accepted.load(std::sync::atomic::Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "pgshift never connected");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Advisory locks granted in the database the query runs in (`pg_locks` shows the whole
/// cluster's, and tests run side by side).
pub const DEPLOY_LOCKS_HERE: &str = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

/// A psql session that holds pgshift's deploy lock on `db` (as a running deploy does) for up
/// to a minute, once it holds it. Kill it to let go.
pub fn hold_deploy_lock(db: &str) -> std::process::Child {
    let key = pgshift::db::tracking::Tracking::new("public", "schema_migrations").lock_key();
    let holder = cluster()
        .psql_command(db)
        .args([
            "-c",
            &format!("SELECT pg_advisory_lock({key}); SELECT pg_sleep(60)"),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(db, DEPLOY_LOCKS_HERE);
    holder
}

/// Waits for `child` at most `limit` (a guard against a hang, not a timing): kills it and
/// panics when it is still running then.
pub fn finish_within(
    mut child: std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what} still ran after {limit:?} (killed):\n{}", both(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A project holding a copy of `examples/<name>/migrations`.
pub fn example_copy(name: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("migrations");
    let dst = dir.path().join("migrations");
    std::fs::create_dir(&dst).unwrap();
    // The files only: not the index pgshift keeps beside them (`.pgshift/`).
    for e in std::fs::read_dir(src).unwrap().flatten() {
        if e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    dir
}

/// `pgshift migrate --skip-backup` of `dir`'s migrations to `db`.
pub fn migrate(dir: &Path, db: &str) -> assert_cmd::assert::Assert {
    pgshift(dir, db).args(["migrate", "--skip-backup"]).assert()
}

/// A fresh database of the shared cluster where `dir`'s migrations are deployed.
pub fn fresh_deploy(dir: &Path, prefix: &str, supabase: bool) -> String {
    let db = cluster().create_database(prefix).unwrap();
    if supabase {
        supabase_stub(&db);
    }
    migrate(dir, &db).success();
    db
}
