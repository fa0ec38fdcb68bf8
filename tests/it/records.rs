//! `repair`, `forget` and `baseline` against a real PostgreSQL: records change, nothing of a
//! migration runs, every change is an event, and the gate guards them like deploys.

use predicates::str::contains;

use crate::common::*;

fn events(db: &str) -> String {
    sql(
        db,
        "SELECT string_agg(event || ':' || coalesce(version, '') || ':' || applied_by, ',' ORDER BY id) FROM schema_migrations_events",
    )
}

#[test]
fn repair_accepts_a_changed_file_or_clears_a_failure() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\n"),
        ("2026-01-02_b", "SELECT 1/0;\n"),
    ]);
    pgshift(dir.path(), &db).arg("migrate").assert().code(1);
    // The failed record is cleared: pending again, nothing run.
    pgshift(dir.path(), &db)
        .args(["repair", "2026-01-02_b"])
        .assert()
        .success()
        .stdout(contains("repaired 2026-01-02_b: cleared the failed record"));
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations WHERE version = '2026-01-02_b'"
        ),
        "0"
    );
    // An applied file edited: the deploy stops, a repair accepts it, the SQL is not run again.
    write(&dir, "2026-01-02_b", "SELECT 2;\n");
    write(
        &dir,
        "2026-01-01_a",
        "CREATE TABLE a (id int, extra int);\n",
    );
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(1)
        .stderr(contains(
            "applied migrations changed since they ran: 2026-01-01_a",
        ));
    pgshift(dir.path(), &db)
        .args(["repair", "2026-01-01_a.sql"])
        .assert()
        .success()
        .stdout(contains(
            "repaired 2026-01-01_a: the recorded checksum is now the file's",
        ));
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("✓ 2026-01-02_b"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'a' AND column_name = 'extra'"),
        "0",
        "a repair never runs the migration"
    );
    assert_eq!(
        events(&db),
        "backup::postgres,applied:2026-01-01_a:postgres,failed:2026-01-02_b:postgres,repaired:2026-01-02_b:postgres,repaired:2026-01-01_a:postgres,backup::postgres,applied:2026-01-02_b:postgres"
    );
    // Nothing to repair: said, and nothing changes.
    pgshift(dir.path(), &db)
        .args(["repair", "2026-01-01_a"])
        .assert()
        .code(1)
        .stderr(contains(
            "is applied and its file is unchanged: nothing to repair",
        ));
    pgshift(dir.path(), &db)
        .args(["repair", "2026-09-09_nope"])
        .assert()
        .code(1)
        .stderr(contains("neither a migration file nor a recorded version"));
}

#[test]
fn a_partial_run_is_not_repaired_away() {
    let (dir, db) = project(&[(
        "2026-01-01_idx",
        "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1), (1);\nCREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a);\n",
    )]);
    pgshift(dir.path(), &db).arg("migrate").assert().code(1);
    pgshift(dir.path(), &db)
        .args(["repair", "2026-01-01_idx"])
        .assert()
        .code(1)
        .stderr(contains(
            "2 statement(s) of 2026-01-01_idx ran and stay applied",
        ))
        .stderr(contains("pgshift forget 2026-01-01_idx"));
}

#[test]
fn forget_removes_a_record_and_runs_nothing() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    cluster()
        .psql(&db, "INSERT INTO schema_migrations (version, checksum, success, run_id) VALUES ('2025-12-01_gone', 'x', true, 'r')")
        .unwrap();
    pgshift(dir.path(), &db)
        .args(["forget", "2025-12-01_gone"])
        .assert()
        .success()
        .stdout(contains(
            "forgotten 2025-12-01_gone: its record is removed (it had no file)",
        ));
    pgshift(dir.path(), &db)
        .args(["forget", "2026-01-01_a"])
        .assert()
        .success()
        .stdout(contains(
            "forgotten 2026-01-01_a: its record (applied) is removed; nothing was run",
        ));
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "0");
    assert_eq!(
        sql(&db, "SELECT to_regclass('a') IS NOT NULL"),
        "t",
        "the schema stays"
    );
    assert!(
        events(&db).ends_with("forgotten:2025-12-01_gone:postgres,forgotten:2026-01-01_a:postgres")
    );
    pgshift(dir.path(), &db)
        .args(["forget", "2026-01-01_a"])
        .assert()
        .code(1)
        .stderr(contains("is not recorded: nothing to forget"));
}

#[test]
fn baseline_records_an_existing_database_up_to_a_version() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE a (id int);\n"),
        ("2026-01-02_b", "CREATE TABLE b (id int);\n"),
        (
            "2026-01-03_seed",
            "-- @env: staging\nINSERT INTO a VALUES (1);\n",
        ),
        ("2026-01-04_c", "CREATE TABLE c (id int);\n"),
    ]);
    // The database already has a and b, made by another tool.
    cluster()
        .psql(&db, "CREATE TABLE a (id int); CREATE TABLE b (id int);")
        .unwrap();
    pgshift(dir.path(), &db)
        .args(["baseline", "2026-01-02_b"])
        .assert()
        .success()
        .stdout(contains(
            "baseline 2026-01-01_a: recorded as applied; nothing was run",
        ))
        .stdout(contains("baseline 2026-01-02_b"));
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("1 migration(s) to apply"))
        .stdout(contains("✓ 2026-01-04_c"));
    assert_eq!(
        sql(&db, "SELECT string_agg(version || ':' || success, ',' ORDER BY version) FROM schema_migrations"),
        "2026-01-01_a:true,2026-01-02_b:true,2026-01-04_c:true"
    );
    assert!(events(&db).starts_with(
        "baseline:2026-01-01_a:postgres,baseline:2026-01-02_b:postgres,backup::postgres,applied:2026-01-04_c"
    ));
    pgshift(dir.path(), &db)
        .args(["baseline", "2026-01-02_b"])
        .assert()
        .code(1)
        .stderr(contains("already recorded as applied: nothing to baseline"));
    pgshift(dir.path(), &db)
        .args(["baseline", "2026-12-31_nope"])
        .assert()
        .code(1)
        .stderr(contains("is not a migration in"));
}

#[test]
fn record_changes_go_through_the_gate() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    pgshift(dir.path(), &db)
        .args(["--env", "staging", "forget", "2026-01-01_a"])
        .assert()
        .code(3)
        .stderr(contains(format!("pass --confirm {db}")));
    pgshift(dir.path(), &db)
        .args([
            "--env",
            "production",
            "forget",
            "2026-01-01_a",
            "--confirm",
            &db,
        ])
        .assert()
        .code(3)
        .stderr(contains("refusing to forget a record in production"));
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "1");
    pgshift(dir.path(), &db)
        .args([
            "--env",
            "production",
            "forget",
            "2026-01-01_a",
            "--force",
            "--confirm",
            &db,
        ])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations"), "0");
    assert!(std::fs::read_to_string(log_file(dir.path()))
        .unwrap()
        .contains("\"event\":\"recorded\""));
}

/// A command's exit code and everything it printed; never a panic (exit 101).
fn run(dir: &tempfile::TempDir, db: &str, args: &[&str]) -> (i32, String) {
    let out = pgshift(dir.path(), db).args(args).output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let text = both(&out);
    assert_ne!(code, 101, "{args:?} panicked: {text}");
    assert!(!text.contains("panicked"), "{args:?}: {text}");
    (code, text)
}

#[test]
fn tampered_records_are_named_never_a_panic_and_repair_or_forget_mend_them() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE ta (id int);\n"),
        ("2026-01-02_b", "CREATE TABLE tb (id int);\n"),
    ]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    let readers: [&[&str]; 4] = [
        &["status"],
        &["history"],
        &["health"],
        &["--json", "status"],
    ];
    // 1. A NULL checksum (its owner dropped NOT NULL).
    sql(&db, "ALTER TABLE schema_migrations ALTER COLUMN checksum DROP NOT NULL, ALTER COLUMN success DROP NOT NULL, ALTER COLUMN run_id DROP NOT NULL; UPDATE schema_migrations SET checksum = NULL, run_id = NULL WHERE version = '2026-01-01_a'");
    for args in readers {
        run(&dir, &db, args);
    }
    let (_, text) = run(&dir, &db, &["status"]);
    assert!(
        text.contains("DAMAGED")
            && text.contains("its checksum, run_id is NULL")
            && text.contains("`pgshift repair 2026-01-01_a` mends it"),
        "{text}"
    );
    write(&dir, "2026-01-03_c", "CREATE TABLE tc (id int);\n");
    let (code, text) = run(&dir, &db, &["migrate", "--skip-backup"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "1 record(s) in public.schema_migrations were changed by hand or by another tool"
        ),
        "{text}"
    );
    assert_eq!(sql(&db, "SELECT to_regclass('tc') IS NULL"), "t");
    for args in [
        &["rollback"][..],
        &["rollback", "--version", "2026-01-02_b"][..],
    ] {
        let (code, text) = run(&dir, &db, args);
        assert_eq!(code, 1, "{args:?}: {text}");
    }
    let (code, text) = run(&dir, &db, &["repair", "2026-01-01_a"]);
    assert_eq!(code, 0, "{text}");
    // A NULL success reads from the error message: none, so it was applied.
    sql(
        &db,
        "UPDATE schema_migrations SET success = NULL WHERE version = '2026-01-02_b'",
    );
    let (code, text) = run(&dir, &db, &["repair", "2026-01-02_b"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(sql(&db, "SELECT count(*) FROM schema_migrations WHERE success AND checksum IS NOT NULL AND run_id IS NOT NULL"), "2");
    let (code, text) = run(&dir, &db, &["migrate", "--skip-backup"]);
    assert_eq!(code, 0, "{text}");

    // 2. The primary key dropped and a version recorded twice.
    sql(&db, "ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey; INSERT INTO schema_migrations SELECT * FROM schema_migrations WHERE version = '2026-01-02_b'");
    for args in readers {
        run(&dir, &db, args);
    }
    let (code, text) = run(&dir, &db, &["migrate", "--skip-backup"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "2026-01-02_b: it is recorded 2 times (the table's primary key on version is gone)"
        ),
        "{text}"
    );
    let (code, text) = run(&dir, &db, &["repair", "2026-01-02_b"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations WHERE version = '2026-01-02_b'"
        ),
        "1"
    );
    assert_eq!(sql(&db, "SELECT count(*) FROM pg_index WHERE indrelid = 'schema_migrations'::regclass AND indisprimary"), "1", "the primary key is back");

    // 3. A NULL version, and a version with a line break, both of the last run.
    sql(&db, "ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey, ALTER COLUMN version DROP NOT NULL");
    sql(&db, "INSERT INTO schema_migrations (version, checksum, success, run_id) VALUES (NULL, 'x', true, 'zz_last'), (E'2026-01-09_evil\\n_split', 'x', true, 'zz_last')");
    sql(&db, "UPDATE schema_migrations SET executed_at = now() + interval '1 hour' WHERE run_id = 'zz_last'");
    for args in readers {
        run(&dir, &db, args);
    }
    let (_, text) = run(&dir, &db, &["status"]);
    assert!(
        text.contains("<NULL>") && text.contains("its version is NULL"),
        "{text}"
    );
    assert!(text.contains("2026-01-09_evil\\n_split"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("_split")), "{text}");
    let (code, text) = run(&dir, &db, &["forget", "<NULL>"]);
    assert_eq!(code, 0, "{text}");
    // The last run is the one with the line break: the error keeps it on one line.
    let (code, text) = run(&dir, &db, &["rollback"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("2026-01-09_evil\\n_split has no file"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("_split")), "{text}");
    let (code, text) = run(&dir, &db, &["forget", "2026-01-09_evil\n_split"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(sql(&db, "SELECT count(*) FROM pg_index WHERE indrelid = 'schema_migrations'::regclass AND indisprimary"), "1", "the primary key is back");
    let (code, text) = run(&dir, &db, &["migrate", "--skip-backup"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn pgshifts_own_bookkeeping_failing_is_said_so_not_blamed_on_the_migration() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE ba (id int);\n")]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    // The primary key dropped alone: the next deploy puts it back and says so.
    sql(
        &db,
        "ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey",
    );
    write(&dir, "2026-01-02_b", "CREATE TABLE bb (id int);\n");
    let (code, text) = run(&dir, &db, &["migrate", "--skip-backup"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "had lost its primary key on version (dropped by hand or by another tool): it is back"
        ),
        "{text}"
    );
    // Something of the table's owner refuses pgshift's record: the error says whose it is.
    sql(&db, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'records are frozen'; END $$; CREATE TRIGGER frozen BEFORE INSERT OR UPDATE ON schema_migrations FOR EACH ROW EXECUTE FUNCTION refuse()");
    write(
        &dir,
        "2026-01-03_c",
        "CREATE TABLE bc (id int);\nCREATE TABLE bd (id int);\n",
    );
    let (code, text) = run(&dir, &db, &["migrate", "--skip-backup"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("pgshift's own bookkeeping in public.schema_migrations failed after the file's statements ran")
            && text.contains("records are frozen"),
        "{text}"
    );
    assert!(
        !text.contains("2026-01-03_c.sql:2:1"),
        "blamed on the file: {text}"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT to_regclass('bc') IS NULL AND to_regclass('bd') IS NULL"
        ),
        "t"
    );
}

/// `status` reads the records into a list sized from the table's bytes, and formats a time
/// once for the rows that share its second: each row keeps its own time, and a table whose
/// rows are smaller than any pgshift writes (so more rows than its size suggests) is read
/// whole.
#[test]
fn status_gives_each_record_its_own_time_however_many_rows_the_table_holds() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE ta (id int);\n"),
        ("2026-01-02_b", "CREATE TABLE tb (id int);\n"),
        ("2026-01-03_c", "CREATE TABLE tc (id int);\n"),
    ]);
    migrate(dir.path(), &db).success();
    sql(
        &db,
        "UPDATE schema_migrations SET executed_at = CASE version
           WHEN '2026-01-01_a' THEN timestamptz '2026-01-01 10:00:00.1+00'
           WHEN '2026-01-02_b' THEN timestamptz '2026-01-01 10:00:00.9+00'
           ELSE timestamptz '2026-01-01 10:00:01.2+00' END",
    );
    // Rows written by hand, smaller than any pgshift writes: 3,000 of them, dated after the
    // three above, every tenth a second apart.
    sql(
        &db,
        "INSERT INTO schema_migrations (version, checksum, success, run_id, executed_at)
         SELECT 'z' || i, '', true, '', timestamptz '2026-02-01 00:00:00+00' + (i / 10) * interval '1 second'
         FROM generate_series(1, 3000) i",
    );
    let (code, text) = run(&dir, &db, &["status"]);
    assert_eq!(code, 0, "{text}");
    let line = |version: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(version))
            .unwrap_or_else(|| panic!("no line for {version}: {text}"))
            .to_string()
    };
    assert!(
        line("2026-01-01_a").contains("2026-01-01 10:00:00 UTC"),
        "{text}"
    );
    assert!(
        line("2026-01-02_b").contains("2026-01-01 10:00:00 UTC"),
        "{text}"
    );
    assert!(
        line("2026-01-03_c").contains("2026-01-01 10:00:01 UTC"),
        "{text}"
    );
    assert!(line("z9").contains("2026-02-01 00:00:00 UTC"), "{text}");
    assert!(line("z10").contains("2026-02-01 00:00:01 UTC"), "{text}");
    assert!(line("z3000").contains("2026-02-01 00:05:00 UTC"), "{text}");
    assert!(
        text.contains("3 applied") && text.contains("3000 unknown"),
        "{text}"
    );
}
