//! `pgshift rollback` against a real PostgreSQL: the last run, one version, everything after a
//! version, dependents refused or cascaded, a missing down file, a failing down file, a dry
//! run, and a rollback from a backup.

use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

use crate::common::*;

fn down(dir: &TempDir, name: &str, sql: &str) {
    std::fs::write(
        dir.path()
            .join("migrations")
            .join(format!("{name}.down.sql")),
        sql,
    )
    .unwrap();
}

fn tables(db: &str) -> String {
    sql(
        db,
        "SELECT coalesce(string_agg(tablename, ',' ORDER BY tablename), '') FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'schema_migrations%'",
    )
}

fn recorded(db: &str) -> String {
    sql(
        db,
        "SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM schema_migrations",
    )
}

/// a, b (depends on a), c (depends on b): a and b in one deploy, c in a second.
fn three() -> (TempDir, String) {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\n"),
        (
            "2026-01-02_b",
            "-- @depends-on: 2026-01-01_a.sql\nCREATE TABLE b (id int);\n",
        ),
    ]);
    down(&dir, "2026-01-01_a", "DROP TABLE a;\n");
    down(&dir, "2026-01-02_b", "DROP TABLE b;\n");
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    write(
        &dir,
        "2026-01-03_c",
        "-- @depends-on: 2026-01-02_b.sql\nCREATE TABLE c (id int);\n",
    );
    down(&dir, "2026-01-03_c", "DROP TABLE c;\n");
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    (dir, db)
}

#[test]
fn the_last_run_is_undone_by_default_and_a_dry_run_changes_nothing() {
    let (dir, db) = three();
    pgshift(dir.path(), &db)
        .args(["rollback", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("Dry run: 1 migration(s) would be rolled back"))
        .stdout(contains("2026-01-03_c"))
        .stdout(contains("2026-01-03_c.down.sql"));
    assert_eq!(tables(&db), "a,b,c");
    pgshift(dir.path(), &db)
        .arg("rollback")
        .assert()
        .success()
        .stdout(contains("↩ 2026-01-03_c"))
        .stdout(contains("Rolled back 1 migration(s)"));
    assert_eq!(tables(&db), "a,b");
    assert_eq!(recorded(&db), "2026-01-01_a,2026-01-02_b");
    assert!(sql(&db, "SELECT string_agg(event || ':' || coalesce(version, ''), ',' ORDER BY id) FROM schema_migrations_events").ends_with("rolled_back:2026-01-03_c"));
    // The last run is now the one that applied a and b: they go together, b first.
    pgshift(dir.path(), &db)
        .arg("rollback")
        .assert()
        .success()
        .stdout(
            contains("Rolled back 2 migration(s) in")
                .and(contains(": 2026-01-02_b, 2026-01-01_a.")),
        );
    assert_eq!(tables(&db), "");
    pgshift(dir.path(), &db)
        .arg("rollback")
        .assert()
        .code(1)
        .stderr(contains("no migration is applied: nothing to roll back"));
}

#[test]
fn dependents_are_refused_unless_cascade_and_to_undoes_everything_after() {
    let (dir, db) = three();
    pgshift(dir.path(), &db)
        .args(["rollback", "--version", "2026-01-01_a"])
        .assert()
        .code(1)
        .stderr(contains(
            "applied migrations depend on what would be rolled back: 2026-01-02_b, 2026-01-03_c",
        ))
        .stderr(contains("--cascade"));
    assert_eq!(tables(&db), "a,b,c");
    pgshift(dir.path(), &db)
        .args(["rollback", "--version", "2026-01-02_b.sql", "--cascade"])
        .assert()
        .success()
        .stdout(contains(": 2026-01-03_c, 2026-01-02_b."));
    assert_eq!(tables(&db), "a");
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    pgshift(dir.path(), &db)
        .args(["rollback", "--to", "2026-01-01_a"])
        .assert()
        .success()
        .stdout(contains(": 2026-01-03_c, 2026-01-02_b."));
    assert_eq!(recorded(&db), "2026-01-01_a");
}

#[test]
fn a_missing_down_file_names_the_backup_and_from_backup_restores_it() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    down(&dir, "2026-01-01_a", "DROP TABLE a;\n");
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    write(
        &dir,
        "2026-01-02_data",
        "CREATE TABLE kept (v text);\nINSERT INTO kept VALUES ('x');\n",
    );
    write(&dir, "2026-01-02_more", "CREATE TABLE more (v text);\n");
    write(&dir, "2026-01-02_other", "CREATE TABLE other (v text);\n");
    // The template `new` writes: no SQL yet.
    down(
        &dir,
        "2026-01-02_other",
        "-- Undoes 2026-01-02_other.sql: write the statements\n",
    );
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    let assert = pgshift(dir.path(), &db).arg("rollback").assert().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    // Newest first; one deploy, one backup: its command is named once.
    assert!(stderr.contains("2026-01-02_more has no down file (2026-01-02_more.down.sql): restore the backup taken before it instead, `pgshift rollback --from-backup backups/migrations/backup_before_migration_"), "{stderr}");
    assert_eq!(
        stderr.matches("--from-backup backups/").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("2026-01-02_data has no down file (2026-01-02_data.down.sql): the same backup undoes it"), "{stderr}");
    assert!(
        stderr.contains(
            "2026-01-02_other's down file (migrations/2026-01-02_other.down.sql) holds no SQL yet"
        ),
        "{stderr}"
    );
    assert_eq!(tables(&db), "a,kept,more,other");
    // --from-backup: the newest backup, taken before the second deploy.
    pgshift(dir.path(), &db)
        .args(["rollback", "--from-backup"])
        .assert()
        .success()
        .stdout(contains("Restored"))
        .stdout(contains(
            "Undone with it (their records are the backup's): 2026-01-02_data, 2026-01-02_more, 2026-01-02_other.",
        ));
    assert_eq!(tables(&db), "a");
    assert_eq!(recorded(&db), "2026-01-01_a");
}

#[test]
fn a_failing_down_file_leaves_the_migration_applied() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    down(
        &dir,
        "2026-01-01_a",
        "DROP TABLE a;\nDROP TABLE not_there;\n",
    );
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    pgshift(dir.path(), &db)
        .arg("rollback")
        .assert()
        .code(1)
        .stderr(contains("table \"not_there\" does not exist"))
        .stderr(contains("--> migrations/2026-01-01_a.down.sql:2:1"))
        .stderr(contains("the rollback of 2026-01-01_a was itself rolled back: 2026-01-01_a is still applied and recorded"));
    assert_eq!(tables(&db), "a");
    assert_eq!(recorded(&db), "2026-01-01_a");
    assert!(sql(
        &db,
        "SELECT string_agg(event, ',' ORDER BY id) FROM schema_migrations_events"
    )
    .ends_with("rollback_failed"));
    // Through the gate in staging, like a deploy.
    down(&dir, "2026-01-01_a", "DROP TABLE a;\n");
    pgshift(dir.path(), &db)
        .args(["--env", "staging", "rollback"])
        .assert()
        .code(3)
        .stderr(contains(format!("pass --confirm {db}")));
    pgshift(dir.path(), &db)
        .args(["--env", "staging", "rollback", "--confirm", &db])
        .assert()
        .success();
    assert_eq!(tables(&db), "");
}
