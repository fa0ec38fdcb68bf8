//! `pgshift wait`, as an application's init container runs it: against a database that is
//! behind, one that catches up during the wait, one that cannot be reached, and while a
//! deploy holds the lock.

use std::time::Duration;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::*;

fn two_migrations() -> (tempfile::TempDir, String) {
    project(&[
        ("2026-01-01_items", "CREATE TABLE items (id int);\n"),
        ("2026-01-02_tags", "CREATE TABLE tags (id int);\n"),
    ])
}

#[test]
fn a_database_that_stays_behind_exits_1_naming_what_is_missing_with_a_line_per_poll() {
    let (dir, db) = two_migrations();
    // Nothing deployed yet: no tracking table is "behind", not an error.
    pgshift(dir.path(), &db)
        .args(["wait", "--timeout", "2", "--interval", "1"])
        .assert()
        .code(1)
        .stdout(contains("is behind: 2 of 2 migration(s) not applied (2026-01-01_items (pending), 2026-01-02_tags (pending))"))
        .stdout(contains("no time left"))
        .stderr(contains("still behind after 2 s: 2 migration(s) not applied"))
        .stderr(contains("pgshift migrate"));
    // One applied, the other still missing: only it is named.
    std::fs::rename(
        dir.path().join("migrations/2026-01-02_tags.sql"),
        dir.path().join("tags.sql.later"),
    )
    .unwrap();
    migrate(dir.path(), &db).success();
    std::fs::rename(
        dir.path().join("tags.sql.later"),
        dir.path().join("migrations/2026-01-02_tags.sql"),
    )
    .unwrap();
    let out = pgshift(dir.path(), &db)
        .args(["--json", "wait", "--timeout", "0"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let line = String::from_utf8_lossy(&out.stdout);
    let poll: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(poll["state"], "behind");
    assert_eq!(poll["migrations"], 2);
    assert_eq!(
        poll["waiting_for"],
        serde_json::json!(["2026-01-02_tags (pending)"])
    );
}

#[test]
fn a_database_that_catches_up_during_the_wait_ends_it_with_exit_0() {
    let (dir, db) = two_migrations();
    let waiting = spawn_pgshift(
        dir.path(),
        &cluster().url(&db),
        &["wait", "--timeout", "120", "--interval", "1"],
    );
    // The wait has looked at least once before the deploy.
    std::thread::sleep(Duration::from_millis(1500));
    migrate(dir.path(), &db).success();
    let out = finish_within(waiting, Duration::from_secs(60), "pgshift wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(stdout.contains("is behind: 2 of 2"), "{stdout}");
    assert!(
        stdout
            .trim_end()
            .ends_with("is current: all 2 migration(s) applied."),
        "{stdout}"
    );
}

#[test]
fn an_unreachable_database_is_tried_until_the_timeout_then_exit_2() {
    let (dir, _db) = two_migrations();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    pgshift_in(dir.path())
        .env(
            "DATABASE_URL",
            format!("postgresql://postgres@127.0.0.1:{port}/app?connect_timeout=2"),
        )
        .args(["wait", "--timeout", "3", "--interval", "1"])
        .assert()
        .code(2)
        .stdout(
            contains("next look in 1 s")
                .count(2)
                .or(contains("next look in 1 s").count(3)),
        )
        .stderr(contains(format!("127.0.0.1:{port}")))
        .stderr(contains("nothing listens there"));
    // Tried again and again until the deadline, not given up at the first refusal (a guard
    // that it waited, not a timing).
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[test]
fn a_refused_role_ends_the_wait_at_once_and_says_whose_connection_to_use() {
    let (dir, db) = two_migrations();
    migrate(dir.path(), &db).success();
    role("wait_app_role", "LOGIN");
    pgshift_in(dir.path())
        .env("DATABASE_URL", url_as(&db, "wait_app_role"))
        .args(["wait", "--timeout", "600"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(contains("permission denied"))
        .stderr(contains("deploying role"));
}

#[test]
fn wait_takes_no_lock_and_answers_while_a_deploy_holds_it() {
    let (dir, db) = two_migrations();
    migrate(dir.path(), &db).success();
    // A session holds pgshift's deploy lock, as a running deploy does.
    let mut holder = hold_deploy_lock(&db);
    // (A timeout larger than the clock can add is no panic.)
    pgshift(dir.path(), &db)
        .args(["wait", "--timeout", &u64::MAX.to_string()])
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .stdout(contains("is current: all 2 migration(s) applied."));
    // Still held by its owner: wait neither took nor waited for it.
    assert_eq!(sql(&db, DEPLOY_LOCKS_HERE), "1");
    let _ = holder.kill();
    let _ = holder.wait();
}
