//! Traffic-safe locking: a migration behind a busy table gives up after its lock_timeout, is
//! rolled back and tried again; 5 s by default in staging and production.

use std::process::Stdio;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::*;

/// A reader holding `ACCESS SHARE` on `table` for `secs` seconds, in the background.
fn reader(db: &str, table: &str, secs: f64) -> std::process::Child {
    let child = cluster()
        .psql_command(db)
        .args([
            "-c",
            &format!(
                "BEGIN; LOCK TABLE {table} IN ACCESS SHARE MODE; SELECT pg_sleep({secs}); COMMIT;"
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(db, &format!("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '{table}' AND l.mode = 'AccessShareLock' AND l.granted"));
    child
}

#[test]
fn a_migration_behind_a_busy_table_is_retried_until_the_lock_comes() {
    let (dir, db) = project(&[]);
    sql(&db, "CREATE TABLE busy (id int)");
    write(
        &dir,
        "2026-01-01_add",
        "ALTER TABLE busy ADD COLUMN note text;\n",
    );
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\nstatement_lock_timeout = \"300ms\"\nlock_retries = 6\n",
    )
    .unwrap();
    let mut r = reader(&db, "busy", 1.5);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("could not get a lock in time"))
        .stdout(contains("try 2 of 7"))
        .stdout(contains("Applied 1 migration(s)"));
    r.wait().unwrap();
    assert_eq!(sql(&db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy' AND column_name = 'note'"), "1");
    // Only the success is recorded; the tries are in the day's log.
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations_events WHERE event = 'failed'"
        ),
        "0"
    );
    let log = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(log.contains("\"event\":\"retrying\""), "{log}");
}

#[test]
fn a_reader_that_never_lets_go_fails_the_migration_after_the_last_try() {
    let (dir, db) = project(&[]);
    sql(&db, "CREATE TABLE held (id int)");
    write(
        &dir,
        "2026-01-01_add",
        "ALTER TABLE held ADD COLUMN note text;\n",
    );
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\nstatement_lock_timeout = \"200ms\"\nlock_retries = 2\n",
    )
    .unwrap();
    let mut r = reader(&db, "held", 30.0);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stdout(contains("try 3 of 3"))
        .stderr(contains("canceling statement due to lock timeout"))
        .stderr(contains("55P03"));
    r.kill().unwrap();
    r.wait().unwrap();
    assert_eq!(
        sql(&db, "SELECT success, sqlstate FROM schema_migrations"),
        "f|55P03"
    );
}

#[test]
fn staging_and_production_set_a_lock_timeout_by_default_and_the_lint_knows() {
    let (dir, db) = project(&[(
        "2026-01-01_seen",
        "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout;\n",
    )]);
    // No API serves this table: the RLS rule (an error in staging) is not the point here.
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[rules]\n\"rls/table-without-rls\" = \"off\"\n",
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .env("ENVIRONMENT", "staging")
        .args(["migrate", "--skip-backup", "--confirm", &db])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT lock_timeout FROM seen"), "5s");
    // The rule asks a file for its own lock_timeout only where the deploys that meet traffic
    // set none: by default they do, so it is quiet even when validating for development.
    write(
        &dir,
        "2026-01-02_alter",
        "ALTER TABLE seen ADD COLUMN x int;\n",
    );
    for env in ["development", "staging"] {
        pgshift(dir.path(), &db)
            .env("ENVIRONMENT", env)
            .arg("validate")
            .assert()
            .stdout(contains("locking/missing-lock-timeout").not());
    }
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\nstatement_lock_timeout = 0\n[rules]\n\"rls/table-without-rls\" = \"off\"\n",
    )
    .unwrap();
    for env in ["development", "production"] {
        pgshift(dir.path(), &db)
            .env("ENVIRONMENT", env)
            .arg("validate")
            .assert()
            .stdout(contains("locking/missing-lock-timeout"));
    }
    // Durations with their unit; a wrong one names the setting, never guesses.
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\nstatement_lock_timeout = \"2 fortnights\"\n",
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .arg("validate")
        .assert()
        .code(2)
        .stderr(contains("statement_lock_timeout ([deploy] in"))
        .stderr(contains("unknown unit"));
}
