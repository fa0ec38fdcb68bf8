//! `pgshift stop`: the emergency stop of a running deploy, from another process (as from another
//! machine: everything goes through the database).

use predicates::str::contains;

mod common;
use common::*;

fn deploy_in_background(dir: &tempfile::TempDir, db: &str) -> std::process::Child {
    deploy_in_background_with(dir, db, &[])
}

fn deploy_in_background_with(
    dir: &tempfile::TempDir,
    db: &str,
    extra: &[&str],
) -> std::process::Child {
    let mut args = vec!["migrate", "--skip-backup"];
    args.extend_from_slice(extra);
    spawn_pgshift(dir.path(), &cluster().url(db), &args)
}

fn sleeping(db: &str) {
    wait_for(db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
}

fn finished(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn stop_rolls_back_the_running_migration_and_the_deployer_exits_130() {
    let (dir, db) = project(&[
        ("2026-01-01_first", "CREATE TABLE first (id int);\n"),
        (
            "2026-01-02_slow",
            "CREATE TABLE half_done (id int);\nSELECT pg_sleep(60);\n",
        ),
        ("2026-01-03_after", "CREATE TABLE after (id int);\n"),
    ]);
    let child = deploy_in_background(&dir, &db);
    sleeping(&db);
    pgshift(dir.path(), &db)
        .arg("stop")
        .assert()
        .success()
        .stdout(contains("Stopped pgshift pid"))
        .stdout(contains(
            "it was applying 2026-01-02_slow (2/3): that migration was rolled back",
        ))
        .stdout(contains("The deploy lock is free"));
    let (code, log) = finished(child);
    assert_eq!(code, 130, "{log}");
    assert!(log.contains("stopped from another session"), "{log}");
    assert_eq!(sql(&db, "SELECT to_regclass('first') IS NOT NULL, to_regclass('half_done') IS NULL, to_regclass('after') IS NULL"), "t|t|t");
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations_events WHERE event = 'interrupted' AND version = '2026-01-02_slow'"),
        "1"
    );
    // Nothing runs now: a second stop says so.
    pgshift(dir.path(), &db)
        .arg("stop")
        .assert()
        .code(2)
        .stderr(contains("no deploy is running on"));
    // The next deploy goes on from there.
    write(
        &dir,
        "2026-01-02_slow",
        "CREATE TABLE half_done (id int);\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("Applied 2 migration(s)"));
}

#[test]
fn a_stopped_no_transaction_file_is_partial_and_resumes() {
    let (dir, db) = project(&[(
        "2026-01-01_batches",
        "-- @no-transaction\nCREATE TABLE batch_one (id int);\nSELECT pg_sleep(:secs);\nCREATE TABLE batch_two (id int);\n",
    )]);
    let child = deploy_in_background_with(&dir, &db, &["--var", "secs=60"]);
    sleeping(&db);
    pgshift(dir.path(), &db).arg("stop").assert().success();
    let (code, log) = finished(child);
    assert_eq!(code, 130, "{log}");
    assert_eq!(
        sql(
            &db,
            "SELECT to_regclass('batch_one') IS NOT NULL, to_regclass('batch_two') IS NULL"
        ),
        "t|t"
    );
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .stdout(contains("PARTIAL"))
        .stdout(contains("1 statement(s) ran and stay"));
    // The documented recovery: deploy again; it resumes after the statement that finished.
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--var", "secs=0"])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT to_regclass('batch_two') IS NOT NULL"), "t");
}

#[test]
fn between_migrations_the_deploy_stops_before_the_next_one() {
    // The running statement swallows the cancel, so only the stop request (heard between
    // statements) can stop the deploy: after this migration, before the next.
    let (dir, db) = project(&[
        (
            "2026-01-01_stubborn",
            "CREATE TABLE stubborn (id int);\nDO $$ BEGIN PERFORM pg_sleep(60); EXCEPTION WHEN query_canceled THEN NULL; END $$;\n",
        ),
        ("2026-01-02_next", "CREATE TABLE next_one (id int);\n"),
    ]);
    let child = deploy_in_background(&dir, &db);
    sleeping(&db);
    pgshift(dir.path(), &db)
        .arg("stop")
        .assert()
        .success()
        .stdout(contains("Stopped pgshift pid"));
    let (code, log) = finished(child);
    assert_eq!(code, 130, "{log}");
    assert!(
        log.contains("stopped by `pgshift stop` before 2026-01-02_next"),
        "{log}"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT to_regclass('stubborn') IS NOT NULL, to_regclass('next_one') IS NULL"
        ),
        "t|t"
    );
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations_events WHERE event = 'interrupted' AND detail->>'by' = 'pgshift stop'"),
        "1"
    );
}

#[test]
fn stop_during_the_backup_ends_the_deploy_before_any_migration() {
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE after_stop (id int);\n")]);
    // Enough rows that the backup is still running when `stop` comes.
    sql(
        &db,
        "CREATE TABLE filler AS SELECT g, md5(g::text) AS x FROM generate_series(1, 2000000) g",
    );
    let child = spawn_pgshift(dir.path(), &cluster().url(&db), &["migrate"]);
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgshift backup' AND datname = current_database() AND state = 'active'");
    let stop = pgshift(dir.path(), &db).args(["stop"]).output().unwrap();
    assert_eq!(stop.status.code(), Some(0), "{}", both(&stop));
    let (code, text) = finished(child);
    assert_eq!(code, 130, "{text}");
    assert!(
        text.contains("stopped by `pgshift stop` after the backup, before any migration ran"),
        "{text}"
    );
    assert_eq!(sql(&db, "SELECT to_regclass('after_stop') IS NULL"), "t");
}
