//! `pgshift stop`: the emergency stop of a running deploy, from another process (as from another
//! machine: everything goes through the database).

use predicates::str::contains;

use crate::common::*;

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

/// The deploy's statement is inside `pg_sleep` (not merely started: a cancel that lands while
/// a DO block is still being compiled is outside its exception handler).
fn sleeping(db: &str) {
    wait_for(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
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

/// A deploy as `stop_deployer` (a plain role owning its database), a member of that role, and
/// a role that may only log in.
fn roles_for_stop(db: &str) {
    role("stop_deployer", "LOGIN");
    role("stop_member", "LOGIN");
    role("stop_stranger", "LOGIN");
    cluster()
        .psql("postgres", "GRANT stop_deployer TO stop_member")
        .unwrap();
    sql(db, &format!("ALTER DATABASE {db} OWNER TO stop_deployer"));
}

fn notify_as(db: &str, user: &str, payload: &str) {
    let out = cluster()
        .psql_command(db)
        .args([
            "-U",
            user,
            "-c",
            &format!("SELECT pg_notify('pgshift_stop', '{payload}')"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
}

#[test]
fn only_the_deploying_role_a_member_of_it_or_a_superuser_may_stop_a_deploy() {
    let (dir, db) = project(&[
        ("2026-01-01_wait", "SELECT pg_sleep(3);\n"),
        ("2026-01-02_next", "CREATE TABLE next_one (id int);\n"),
    ]);
    roles_for_stop(&db);
    let child = spawn_pgshift(
        dir.path(),
        &url_as(&db, "stop_deployer"),
        &["migrate", "--skip-backup"],
    );
    sleeping(&db);
    // Every payload a stranger could guess: the old one (the lock key), the table's name,
    // anything; by hand or through pgshift.
    let key = pgshift::db::tracking::Tracking::new("public", "schema_migrations").lock_key();
    for payload in [key.to_string(), "schema_migrations".into(), String::new()] {
        notify_as(&db, "stop_stranger", &payload);
    }
    let refused = pgshift(dir.path(), &db)
        .env("DATABASE_URL", url_as(&db, "stop_stranger"))
        .arg("stop")
        .output()
        .unwrap();
    let text = both(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("refusing to stop the deploy on stop_stranger@")
            && text.contains("role stop_stranger is not the deploying role (stop_deployer), a member of it, or a superuser; nothing was sent")
            && text.contains("GRANT stop_deployer TO <you>"),
        "{text}"
    );
    // The deploy did not stop: both migrations are applied, and the requests were logged.
    let (code, log) = finished(child);
    assert_eq!(code, 0, "{log}");
    assert_eq!(
        log.matches("ignored a stop request from server process")
            .count(),
        3,
        "{log}"
    );
    assert!(log.contains("Applied 2 migration(s)"), "{log}");
    assert!(
        std::fs::read_to_string(log_file(dir.path()))
            .unwrap()
            .contains("ignored a stop request"),
        "the refusal is in the day's log"
    );
    // The token is the deployer's alone: the stranger cannot read it, the member can.
    let read = |user: &str| {
        cluster()
            .psql_command(&db)
            .args([
                "-U",
                user,
                "-tAc",
                "SELECT count(*) FROM schema_migrations_meta WHERE key = 'stop_token'",
            ])
            .output()
            .unwrap()
    };
    assert!(!read("stop_stranger").status.success());
    assert_eq!(
        String::from_utf8_lossy(&read("stop_member").stdout).trim(),
        "1"
    );

    // A member of the deploying role stops the next deploy.
    write(
        &dir,
        "2026-01-03_slow",
        "CREATE TABLE half_done (id int);\nSELECT pg_sleep(60);\n",
    );
    let child = spawn_pgshift(
        dir.path(),
        &url_as(&db, "stop_deployer"),
        &["migrate", "--skip-backup"],
    );
    sleeping(&db);
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", url_as(&db, "stop_member"))
        .arg("stop")
        .assert()
        .success()
        .stdout(contains("Stopped pgshift pid"));
    let (code, log) = finished(child);
    assert_eq!(code, 130, "{log}");
    assert_eq!(sql(&db, "SELECT to_regclass('half_done') IS NULL"), "t");
}

#[test]
fn a_lock_held_by_a_session_this_role_cannot_see_is_named_and_a_superuser_can_end_it() {
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE t (id int);\n")]);
    roles_for_stop(&db);
    // A squatter: another role takes the deploy lock by hand and sits on it.
    let key = pgshift::db::tracking::Tracking::new("public", "schema_migrations").lock_key();
    let mut squatter = cluster()
        .psql_command(&db)
        .args(["-U", "stop_stranger", "-c", &format!("SELECT pg_advisory_lock({key}); DO $$ BEGIN PERFORM pg_sleep(120); EXCEPTION WHEN query_canceled THEN PERFORM pg_sleep(120); END $$")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&db, &format!("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint = {}", key as u32 as i64));
    // The deployer may not read the squatter's address or start (no pg_read_all_stats).
    let as_deployer = |args: &[&str]| {
        let out = pgshift(dir.path(), &db)
            .env("DATABASE_URL", url_as(&db, "stop_deployer"))
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), both(&out))
    };
    let (code, text) = as_deployer(&["migrate", "--skip-backup", "--lock-timeout", "1"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("another deploy holds the lock")
            && text.contains("user stop_stranger; its address and start are hidden from this role"),
        "{text}"
    );
    let (code, text) = as_deployer(&["status"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("user stop_stranger"), "{text}");
    let (code, text) = as_deployer(&["stop"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("role stop_deployer is not the deploying role (stop_stranger)"),
        "{text}"
    );
    // A superuser ends the squatter's session; the deploy then goes through.
    pgshift(dir.path(), &db)
        .args(["stop", "--terminate-after", "1"])
        .assert()
        .success()
        .stdout(contains("Stopped psql (server process"))
        .stdout(contains("it was not a pgshift deploy"))
        .stdout(contains("Its session was ended"));
    let _ = squatter.wait();
    let (code, text) = as_deployer(&["migrate", "--skip-backup"]);
    assert_eq!(code, Some(0), "{text}");
}
