//! The environment gate against a real PostgreSQL: environment × FORCE_RUN × confirmation ×
//! terminal. A pseudo-terminal plays the person at the keyboard. Every refusal is checked for
//! its message, its exit code, and the database being untouched.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::*;

/// Runs `pgshift args` in `dir` against `db` with a pseudo-terminal as stdin and stderr; when
/// the prompt appears, types `answer`. Returns the exit code and what the terminal showed.
fn in_terminal(
    dir: &std::path::Path,
    db: &str,
    env: &[(&str, &str)],
    args: &[&str],
    answer: Option<&str>,
) -> (Option<i32>, String) {
    in_terminal_doing(dir, db, env, args, answer, || {})
}

/// [`in_terminal`], doing `meanwhile` once the prompt is shown, before the answer is typed.
fn in_terminal_doing(
    dir: &std::path::Path,
    db: &str,
    env: &[(&str, &str)],
    args: &[&str],
    answer: Option<&str>,
    meanwhile: impl FnOnce(),
) -> (Option<i32>, String) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two file descriptors we then own.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty");
    // SAFETY: both descriptors are ours and open.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = pgshift_std(dir);
    cmd.env("DATABASE_URL", cluster().url(db))
        .args(args)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // the parent's copies of the terminal's slave side
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let mut writer = std::fs::File::from(master);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let reading = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child has exited and the slave side is closed.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    if let Some(answer) = answer {
        while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("to go ahead") {
            assert!(
                Instant::now() < deadline,
                "no prompt: {}",
                String::from_utf8_lossy(&seen.lock().unwrap())
            );
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        meanwhile();
        let _ = writer.write_all(format!("{answer}\n").as_bytes());
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    drop(writer);
    let _ = reading.join();
    let terminal = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    (status.code(), format!("{stdout}{terminal}"))
}

/// A project whose pending migration drops a table (allowed, with a reason).
fn gated_project() -> (tempfile::TempDir, String) {
    project(&[
        (
            "2026-01-01_items",
            "CREATE TABLE items (id int);\nALTER TABLE items ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON items USING (true);\n",
        ),
        (
            "2026-01-02_drop_legacy",
            "CREATE TABLE legacy (id int);\n-- @allow: dangerous/drop-table legacy is empty since the 2025 move\nDROP TABLE legacy;\n",
        ),
    ])
}

fn untouched(db: &str) {
    assert_eq!(
        sql(
            db,
            "SELECT to_regclass('schema_migrations') IS NULL AND to_regclass('items') IS NULL"
        ),
        "t",
        "the database was changed"
    );
}

#[test]
fn without_a_terminal_staging_needs_the_confirmation_and_never_waits() {
    let (dir, db) = gated_project();
    // No confirmation: refused at once (stdin is closed; CI=true as on a runner).
    pgshift(dir.path(), &db)
        .env("CI", "true")
        .args(["--env", "staging", "migrate"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(3)
        .stdout(contains("to apply").not())
        .stderr(contains(
            "needs the database's name confirmed, and there is no terminal to ask on",
        ))
        .stderr(contains(format!(
            "pass --confirm {db} (or set CONFIRM={db})"
        )));
    untouched(&db);
    // A wrong name: refused, and the name given is not echoed.
    pgshift(dir.path(), &db)
        .args([
            "--env",
            "staging",
            "migrate",
            "--confirm",
            "not_this_one_xq",
        ])
        .assert()
        .code(3)
        .stderr(contains("is not the database's: nothing was changed"))
        .stderr(contains("not_this_one_xq").not());
    untouched(&db);
    pgshift(dir.path(), &db)
        .env("CONFIRM", &db)
        .args(["--env", "staging", "migrate"])
        .assert()
        .success()
        .stdout(contains("Applied 2 migration(s)"));
}

#[test]
fn production_needs_force_run_and_the_confirmation() {
    let (dir, db) = gated_project();
    for args in [
        vec!["--env", "production", "migrate"],
        vec!["--env", "production", "migrate", "--confirm", db.as_str()],
    ] {
        pgshift(dir.path(), &db)
            .args(&args)
            .assert()
            .code(3)
            .stderr(contains("without FORCE_RUN=true"));
        untouched(&db);
    }
    pgshift(dir.path(), &db)
        .args(["--env", "production", "migrate", "--force"])
        .assert()
        .code(3)
        .stderr(contains(format!("pass --confirm {db}")));
    untouched(&db);
    pgshift(dir.path(), &db)
        .args([
            "--env",
            "production",
            "migrate",
            "--force",
            "--confirm",
            &db,
        ])
        .assert()
        .success();
    // Nothing pending: nothing to confirm.
    pgshift(dir.path(), &db)
        .args(["--env", "production", "migrate", "--force"])
        .assert()
        .success()
        .stdout(contains("Nothing to do"));
}

#[test]
fn development_runs_without_asking() {
    let (dir, db) = gated_project();
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Applied 2 migration(s)"));
}

#[test]
fn on_a_terminal_the_typed_name_decides() {
    let (dir, db) = gated_project();
    // A wrong name: one refusal, no second chance, nothing changed.
    let (code, shown) = in_terminal(
        dir.path(),
        &db,
        &[],
        &["--env", "staging", "migrate"],
        Some("shop"),
    );
    assert_eq!(code, Some(3), "{shown}");
    assert!(
        shown.contains("the name typed is not the database's: nothing was changed"),
        "{shown}"
    );
    untouched(&db);
    // The prompt: target, environment, what runs, every dangerous operation with its place.
    let (code, shown) = in_terminal(
        dir.path(),
        &db,
        &[],
        &["--env", "staging", "migrate"],
        Some(&db),
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains(&format!(
            "About to deploy to postgres@{}",
            cluster().socket_dir().display()
        )),
        "{shown}"
    );
    assert!(shown.contains(&format!("/{db} (staging).")), "{shown}");
    assert!(
        shown.contains("2 change(s):") && shown.contains("  2026-01-02_drop_legacy"),
        "{shown}"
    );
    assert!(
        shown.contains("1 dangerous operation(s):\n  migrations/2026-01-02_drop_legacy.sql:7:1: dangerous/drop-table:")
            || shown.contains("1 dangerous operation(s):\r\n  migrations/2026-01-02_drop_legacy.sql:7:1: dangerous/drop-table:"),
        "{shown}"
    );
    assert!(
        shown.contains("(allowed by @allow: legacy is empty since the 2025 move)"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("Type the database name ({db}) to go ahead")),
        "{shown}"
    );
    assert!(shown.contains("Applied 2 migration(s)"), "{shown}");
}

#[test]
fn tracking_tables_dropped_while_a_person_is_asked_are_made_again_before_the_first_migration() {
    let (dir, db) = gated_project();
    std::fs::rename(
        dir.path().join("migrations/2026-01-02_drop_legacy.sql"),
        dir.path().join("2026-01-02_drop_legacy.sql"),
    )
    .unwrap();
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    std::fs::rename(
        dir.path().join("2026-01-02_drop_legacy.sql"),
        dir.path().join("migrations/2026-01-02_drop_legacy.sql"),
    )
    .unwrap();
    // The layout was read under the lock before the prompt: stale once the person answers.
    let (code, shown) = in_terminal_doing(
        dir.path(),
        &db,
        &[],
        &["--env", "staging", "migrate"],
        Some(&db),
        || {
            sql(
                &db,
                "DROP TABLE schema_migrations, schema_migrations_events, schema_migrations_meta",
            );
            std::thread::sleep(Duration::from_millis(1100));
        },
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("Applied 1 migration(s)"), "{shown}");
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(version, ',') FROM schema_migrations"
        ),
        "2026-01-02_drop_legacy"
    );
}

#[test]
fn on_a_terminal_production_still_needs_force_run_and_ci_never_asks() {
    let (dir, db) = gated_project();
    let (code, shown) = in_terminal(
        dir.path(),
        &db,
        &[],
        &["--env", "production", "migrate"],
        None,
    );
    assert_eq!(code, Some(3), "{shown}");
    assert!(
        shown.contains("without FORCE_RUN=true") && !shown.contains("to go ahead"),
        "{shown}"
    );
    untouched(&db);
    // A CI runner may give a terminal; nobody is there to answer.
    let (code, shown) = in_terminal(
        dir.path(),
        &db,
        &[("CI", "true")],
        &["--env", "staging", "migrate"],
        None,
    );
    assert_eq!(code, Some(3), "{shown}");
    assert!(
        shown.contains("there is no terminal to ask on") && !shown.contains("to go ahead"),
        "{shown}"
    );
    untouched(&db);
    let (code, shown) = in_terminal(
        dir.path(),
        &db,
        &[("FORCE_RUN", "true")],
        &["--env", "production", "migrate"],
        Some(&db),
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("(production)") && shown.contains("Applied 2 migration(s)"),
        "{shown}"
    );
}

/// The backup `backup create` just made in `dir`.
fn the_backup(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(dir.join("backups/migrations"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".sql.gz"))
        .expect("a backup")
}

#[test]
fn a_restore_into_another_database_needs_its_source_named_and_the_prompt_lists_what_it_drops() {
    let (dir, source) = project(&[("2026-01-01_t", "CREATE TABLE shared_t (id int);\n")]);
    pgshift(dir.path(), &source)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    pgshift(dir.path(), &source)
        .args(["backup", "create"])
        .assert()
        .success();
    let file = the_backup(dir.path());
    let other = cluster().create_database("other").unwrap();
    sql(
        &other,
        "CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)",
    );
    let precious = || sql(&other, "SELECT count(*) FROM precious");
    // Into another database: refused, whichever command restores.
    for args in [
        vec!["backup", "restore", file.to_str().unwrap()],
        vec!["rollback", "--from-backup", file.to_str().unwrap()],
    ] {
        pgshift(dir.path(), &other)
            .args(&args)
            .assert()
            .code(3)
            .stderr(contains(format!(
                "refusing to restore {} into postgres@",
                file.display()
            )))
            .stderr(contains(format!("it was taken of database {source} (")))
            .stderr(contains(format!("pass --from-database {source}")));
    }
    pgshift(dir.path(), &other)
        .args([
            "backup",
            "restore",
            file.to_str().unwrap(),
            "--from-database",
            "someone_else",
        ])
        .assert()
        .code(3)
        .stderr(contains("not someone_else as --from-database says"));
    // The newest backup "of this database": there is none.
    pgshift(dir.path(), &other)
        .args(["rollback", "--from-backup"])
        .assert()
        .code(2)
        .stderr(contains(format!(
            "there is no backup of database {other} in"
        )));
    assert_eq!(precious(), "1");
    // Named, in staging: the prompt says what goes; "no" changes nothing.
    let restore = [
        "--env",
        "staging",
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--from-database",
        &source,
    ];
    let (code, shown) = in_terminal(dir.path(), &other, &[], &restore, Some("no"));
    assert_eq!(code, Some(3), "{shown}");
    assert!(
        shown.contains(&format!("restores a backup of database {source} (")),
        "{shown}"
    );
    assert!(
        shown.contains("DROPS what the backup does not hold, with CASCADE (and its data): TABLE public.precious"),
        "{shown}"
    );
    assert_eq!(precious(), "1");
    // Typed: done.
    let (code, shown) = in_terminal(dir.path(), &other, &[], &restore, Some(&other));
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(
        sql(
            &other,
            "SELECT to_regclass('precious') IS NULL, to_regclass('shared_t') IS NOT NULL"
        ),
        "t|t"
    );
    // A backup without a manifest: its source must be named even for its own database.
    std::fs::remove_file(format!("{}.json", file.display())).unwrap();
    pgshift(dir.path(), &source)
        .args(["backup", "restore", file.to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(contains("it has no manifest"))
        .stderr(contains(format!("pass --from-database {source}")));
    pgshift(dir.path(), &source)
        .args([
            "backup",
            "restore",
            file.to_str().unwrap(),
            "--from-database",
            &source,
        ])
        .assert()
        .success();
}

/// A dry run changes nothing, so it is never gated: a deploy's, a restore's.
#[test]
fn a_dry_run_is_never_gated() {
    let (dir, db) = gated_project();
    pgshift(dir.path(), &db)
        .env("CI", "true")
        .args(["--env", "staging", "migrate", "--dry-run"])
        .assert()
        .success();
    untouched(&db);
    pgshift(dir.path(), &db)
        .env("CONFIRM", &db)
        .args(["--env", "staging", "migrate"])
        .assert()
        .success();
    pgshift(dir.path(), &db)
        .env("CI", "true")
        .args(["--env", "staging", "rollback", "--from-backup", "--dry-run"])
        .assert()
        .success()
        .stdout(contains(
            "undoes the migrations applied since: 2026-01-01_items, 2026-01-02_drop_legacy",
        ))
        .stdout(contains("Dry run: nothing was restored"))
        .stderr(contains("confirmed").not());
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "2");
}
