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
