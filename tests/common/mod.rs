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

pub fn pgshift(dir: &Path, db: &str) -> Command {
    let mut c = Command::cargo_bin("pgshift").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DATABASE_URL", cluster().url(db));
    for v in HERMETIC {
        c.env_remove(v);
    }
    c
}

/// pgshift with `args` started in the background in `dir` against `url`, as a user would run
/// it (no colour, none of the machine's variables), its output piped.
pub fn spawn_pgshift(dir: &Path, url: &str, args: &[&str]) -> std::process::Child {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgshift"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DATABASE_URL", url)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for v in HERMETIC {
        c.env_remove(v);
    }
    c.spawn().unwrap()
}

/// Variables of the machine running the tests that would change what pgshift does.
pub const HERMETIC: [&str; 21] = [
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

/// Roles are cluster-wide: create one once, whichever test comes first.
pub fn role(name: &str, options: &str) {
    cluster()
        .psql(
            "postgres",
            &format!("DO $$ BEGIN CREATE ROLE {name} {options}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"),
        )
        .unwrap();
}

/// The socket URL of `db` as `user` (the socket trusts every user).
pub fn url_as(db: &str, user: &str) -> String {
    cluster()
        .url(db)
        .replace("user=postgres", &format!("user={user}"))
}
