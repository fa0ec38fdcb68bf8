//! `pgshift test`: the rollback test on the example sets, a down file that forgets an index,
//! and no cluster, process or directory left behind, also when interrupted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::str::contains;

use crate::common::*;

/// A temporary directory for the throwaway cluster, that the `postgres` user can enter.
fn cluster_tmp() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

fn test_cmd(dir: &Path, tmp: &Path) -> Command {
    let mut c = pgshift_in(dir);
    c.env("TMPDIR", tmp);
    c
}

/// Whether a process mentions `path` on its command line.
fn processes_under(path: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(&*path.to_string_lossy()) {
                found.push(cmd);
            }
        }
    }
    found
}

/// Waits until nothing is left in `tmp` and no process runs from it.
fn assert_nothing_left(tmp: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let entries: Vec<_> = std::fs::read_dir(tmp)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        let procs = processes_under(tmp);
        if entries.is_empty() && procs.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: {entries:?}, processes: {procs:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_rollback_test_passes_on_the_example_set_and_leaves_nothing_behind() {
    let tmp = cluster_tmp();
    test_cmd(root(), tmp.path())
        .args([
            "--dir",
            "examples/eneas-os/migrations",
            "test",
            "--rollback",
        ])
        .env("APP_PASSWORD", "a-test-only-password")
        .assert()
        .success()
        .stdout(contains("Test passed"))
        .stdout(contains("ok    2025-12-28_enable_rls"))
        .stdout(contains(
            "down file(s) checked: each one restored the schema",
        ));
    assert_nothing_left(tmp.path());
}

#[test]
fn the_supabase_example_passes_with_the_stub_and_its_health_is_clean() {
    let tmp = cluster_tmp();
    test_cmd(root(), tmp.path())
        .args([
            "--dir",
            "examples/supabase/migrations",
            "test",
            "--supabase",
            "--rollback",
        ])
        .assert()
        .success()
        .stdout(contains(
            "4 down file(s) checked: each one restored the schema",
        ))
        .stdout(contains("0 failed, 0 warning(s)"));
    assert_nothing_left(tmp.path());
}

#[test]
fn a_down_file_that_forgets_an_index_fails_naming_the_migration_and_the_index() {
    let (dir, _db) = project(&[
        ("2026-01-01_users", "CREATE TABLE users (id int PRIMARY KEY, email text);\n"),
        (
            "2026-01-02_email_index",
            "-- @depends-on: 2026-01-01_users.sql\nCREATE INDEX users_email_idx ON users (email);\nALTER TABLE users ADD COLUMN name text;\n",
        ),
    ]);
    let m = dir.path().join("migrations");
    std::fs::write(m.join("2026-01-01_users.down.sql"), "DROP TABLE users;\n").unwrap();
    std::fs::write(
        m.join("2026-01-02_email_index.down.sql"),
        "ALTER TABLE users DROP COLUMN name;\n",
    )
    .unwrap();
    let tmp = cluster_tmp();
    let out = test_cmd(dir.path(), tmp.path())
        .args(["test", "--rollback"])
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("ok    2026-01-01_users"), "{text}");
    assert!(
        text.contains("FAIL  2026-01-02_email_index  the schema after the down file differs from the one before up"),
        "{text}"
    );
    assert!(
        text.contains("+CREATE INDEX users_email_idx ON public.users USING btree (email);"),
        "{text}"
    );
    assert!(text.contains("Test FAILED"), "{text}");
    assert_nothing_left(tmp.path());
}

#[test]
fn an_interrupted_test_removes_its_cluster() {
    let tmp = cluster_tmp();
    let mut child = pgshift_std(root())
        .args([
            "--dir",
            "examples/eneas-os/migrations",
            "test",
            "--rollback",
        ])
        .env("APP_PASSWORD", "a-test-only-password")
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the cluster is up and the migrations are running, Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(tmp.path()).unwrap().next().is_none() {
        assert!(Instant::now() < deadline, "no cluster was started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_nothing_left(tmp.path());
}

#[test]
fn on_a_database_given_by_url_applied_migrations_are_left_alone_and_the_rest_checked() {
    let (dir, db) = project(&[
        (
            "2026-01-01_users",
            "CREATE TABLE users (id int PRIMARY KEY);\n",
        ),
        (
            "2026-01-02_posts",
            "CREATE TABLE posts (id int PRIMARY KEY);\n",
        ),
    ]);
    let m = dir.path().join("migrations");
    std::fs::write(m.join("2026-01-01_users.down.sql"), "DROP TABLE users;\n").unwrap();
    std::fs::write(m.join("2026-01-02_posts.down.sql"), "DROP TABLE posts;\n").unwrap();
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--target", "2026-01-01_users"])
        .assert()
        .success();
    pgshift(dir.path(), &db)
        .args(["test", "--rollback", "--database-url", &cluster().url(&db)])
        .assert()
        .success()
        .stdout(contains(
            "-     2026-01-01_users  applied in this database before: not run again, not checked",
        ))
        .stdout(contains("ok    2026-01-02_posts  up, down, up"))
        .stdout(contains("1 migration(s) applied; 1 down file(s) checked"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "2"
    );
}

/// A project with `users` (first and last name) and a migration that adds `full_name`
/// computed by `compute`; its down file runs `down`. Its data tests seed two users and
/// assert Ada's full name.
fn full_name_project(compute: &str, down: &str) -> (tempfile::TempDir, String) {
    let (dir, db) = project(&[
        (
            "2026-01-01_users",
            "CREATE TABLE users (id int PRIMARY KEY, first text, last text);\n",
        ),
        (
            "2026-01-02_full_name",
            &format!("-- @depends-on: 2026-01-01_users.sql\nALTER TABLE users ADD COLUMN full_name text;\nUPDATE users SET full_name = {compute} WHERE true;\n"),
        ),
    ]);
    let m = dir.path().join("migrations");
    std::fs::write(m.join("2026-01-01_users.down.sql"), "DROP TABLE users;\n").unwrap();
    std::fs::write(m.join("2026-01-02_full_name.down.sql"), down).unwrap();
    std::fs::create_dir(m.join("tests")).unwrap();
    std::fs::write(
        m.join("tests/2026-01-02_full_name.before.sql"),
        "INSERT INTO users VALUES (1, 'Ada', 'Lovelace'), (2, 'Alan', 'Turing');\n",
    )
    .unwrap();
    std::fs::write(
        m.join("tests/2026-01-02_full_name.after.sql"),
        "-- Ada's full name, with a space\nSELECT 1;\nDO $$ BEGIN\n  IF (SELECT full_name FROM users WHERE id = 1) IS DISTINCT FROM 'Ada Lovelace' THEN\n    RAISE EXCEPTION 'full_name is %', (SELECT full_name FROM users WHERE id = 1);\n  END IF;\nEND $$;\n",
    )
    .unwrap();
    (dir, db)
}

#[test]
fn a_data_test_catches_a_column_computed_wrongly_naming_the_file_and_line() {
    let (dir, db) = full_name_project(
        "first || last",
        "ALTER TABLE users DROP COLUMN full_name;\n",
    );
    let out = pgshift(dir.path(), &db)
        .args(["test", "--database-url", &cluster().url(&db)])
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  2026-01-02_full_name  after test failed at migrations/tests/2026-01-02_full_name.after.sql:3: full_name is AdaLovelace"),
        "{text}"
    );
    assert!(
        text.contains("2 data test file(s) ran: 1 failed (2026-01-02_full_name after)"),
        "{text}"
    );
    // The assertions ran in a transaction rolled back; the seed rows stay.
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(full_name, ',' ORDER BY id) FROM users"
        ),
        "AdaLovelace,AlanTuring"
    );
}

#[test]
fn the_rollback_test_catches_a_down_file_that_loses_rows_unless_it_says_so() {
    let (dir, db) = full_name_project(
        "first || ' ' || last",
        "ALTER TABLE users DROP COLUMN full_name;\nDELETE FROM users WHERE id = 2;\n",
    );
    let out = pgshift(dir.path(), &db)
        .args(["test", "--rollback", "--database-url", &cluster().url(&db)])
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("up, down, up: the down file restores the schema and every table's rows"),
        "{text}"
    );
    assert!(
        text.contains("FAIL  2026-01-02_full_name  the rows after the down file differ from the ones before up"),
        "{text}"
    );
    assert!(
        text.contains("public.users: 2 row(s) before, 1 after"),
        "{text}"
    );
    assert!(text.contains("2 data test file(s) passed"), "{text}");

    // Said on purpose: the rows are not compared, the schema still is.
    let m = dir.path().join("migrations");
    std::fs::write(
        m.join("2026-01-02_full_name.down.sql"),
        "-- @drops-data: row 2 is test data\nALTER TABLE users DROP COLUMN full_name;\nDELETE FROM users WHERE id = 2;\n",
    )
    .unwrap();
    let (dir2, db2) = (dir, cluster().create_database("deploy").unwrap());
    let out = pgshift(dir2.path(), &db2)
        .args(["test", "--rollback", "--database-url", &cluster().url(&db2)])
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("rows not compared: the down file says @drops-data"),
        "{text}"
    );
}

#[test]
fn junit_and_tap_list_one_case_per_step_in_a_shape_junit_readers_accept() {
    let (dir, db) = full_name_project(
        "first || last",
        "ALTER TABLE users DROP COLUMN full_name;\n",
    );
    let report = dir.path().join("junit.xml");
    let out = pgshift(dir.path(), &db)
        .args(["test", "--rollback", "--tap", "--junit"])
        .arg(&report)
        .args(["--database-url", &cluster().url(&db)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let tap = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = tap
        .lines()
        .filter(|l| l.starts_with("ok") || l.starts_with("not ok"))
        .collect();
    assert!(tap.starts_with("TAP version 13\n1..7\n"), "{tap}");
    assert_eq!(
        lines,
        [
            "ok 1 - 2026-01-01_users up",
            "ok 2 - 2026-01-01_users down",
            "ok 3 - 2026-01-02_full_name before",
            "ok 4 - 2026-01-02_full_name up",
            "not ok 5 - 2026-01-02_full_name after",
            "ok 6 - 2026-01-02_full_name down",
            "ok 7 - health check",
        ],
        "{tap}"
    );
    // JUnit: the elements and attributes the JUnit schema (Jenkins' junit-4.xsd, which
    // GitHub's, GitLab's and Jenkins' readers follow) requires, and counts that add up.
    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    let suite = suites
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    for attr in ["name", "tests", "failures", "errors", "time"] {
        assert!(
            suite.attribute(attr).is_some(),
            "testsuite lacks {attr}: {xml}"
        );
    }
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(suite.attribute("tests").unwrap(), cases.len().to_string());
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|f| f.has_tag_name("failure")))
        .collect();
    assert_eq!(
        suite.attribute("failures").unwrap(),
        failed.len().to_string()
    );
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].attribute("name"),
        Some("2026-01-02_full_name after")
    );
    for c in &cases {
        assert!(
            c.attribute("classname").is_some_and(|s| !s.is_empty()),
            "{xml}"
        );
        assert!(c.attribute("time").unwrap().parse::<f64>().is_ok(), "{xml}");
    }
    let failure = failed[0]
        .children()
        .find(|f| f.has_tag_name("failure"))
        .unwrap();
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains("full_name is AdaLovelace"),
        "{xml}"
    );
}

#[test]
fn a_data_test_named_after_no_migration_stops_the_test_before_it_starts() {
    let (dir, db) = project(&[("2026-01-01_users", "CREATE TABLE users (id int);\n")]);
    let m = dir.path().join("migrations");
    std::fs::create_dir(m.join("tests")).unwrap();
    std::fs::write(m.join("tests/2026-01-09_gone.after.sql"), "SELECT 1;\n").unwrap();
    pgshift(dir.path(), &db)
        .args(["test", "--database-url", &cluster().url(&db)])
        .assert()
        .code(2)
        .stderr(contains(
            "2026-01-09_gone.after.sql names no migration of the set",
        ));
    // The folder is not read as migrations.
    pgshift(dir.path(), &db)
        .args(["validate"])
        .assert()
        .success();
}

#[test]
fn a_pgtap_style_not_ok_row_fails_the_after_test_with_its_diagnostics() {
    let (dir, db) = project(&[(
        "2026-01-01_users",
        "CREATE TABLE users (id int, name text);\n",
    )]);
    let m = dir.path().join("migrations");
    std::fs::create_dir(m.join("tests")).unwrap();
    // What pgTAP's is() returns when it fails: a `not ok` line, then `#` diagnostics.
    std::fs::write(
        m.join("tests/2026-01-01_users.after.sql"),
        "SELECT 'ok 1 - users exists';\nSELECT x FROM (VALUES (1, 'not ok 2 - users is empty'), (2, '#     have: 1'), (3, '#     want: 0')) v (i, x) ORDER BY i;\n",
    )
    .unwrap();
    let out = pgshift(dir.path(), &db)
        .args(["test", "--database-url", &cluster().url(&db)])
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("after test failed at migrations/tests/2026-01-01_users.after.sql:2: not ok 2 - users is empty"),
        "{text}"
    );
    assert!(text.contains("#     have: 1"), "{text}");
}
