//! `pgshift health` against a real PostgreSQL: every check ok on a good database, and each one
//! broken on purpose (a table dropped by hand, RLS disabled by hand, a policy-less table, an
//! invalid index, an edited applied file, a failed migration row, a function without a fixed
//! search_path); the deploy's exit code after a failed check; JSON and Markdown.

use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

use crate::common::*;

const GOOD: &str = "CREATE TABLE accounts (id int PRIMARY KEY, email text);
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON accounts USING (true);
CREATE TABLE notes (id int PRIMARY KEY, account_id int REFERENCES accounts);
CREATE INDEX notes_account_id_idx ON notes (account_id);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes USING (true);
";

/// A deployed project whose exposed schema is checked (the config names it).
fn healthy() -> (TempDir, String) {
    let (dir, db) = project(&[("2026-01-01_good", GOOD)]);
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[deploy]\nexposed_schemas = [\"public\"]\n",
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("0 failed, 0 warning(s)"));
    (dir, db)
}

/// `health`'s exit code and text.
fn health(dir: &TempDir, db: &str) -> (i32, String) {
    let out = pgshift(dir.path(), db).arg("health").output().unwrap();
    (out.status.code().unwrap_or(-1), both(&out))
}

#[test]
fn a_good_database_is_healthy_and_each_check_catches_its_break() {
    let (dir, db) = healthy();
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 failed, 0 warning(s), 19 ok"), "{text}");

    // RLS disabled by hand.
    sql(&db, "ALTER TABLE notes DISABLE ROW LEVEL SECURITY");
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  rls-disabled"), "{text}");
    assert!(
        text.contains("public.notes: row level security is off"),
        "{text}"
    );
    // …and its policy now does nothing.
    assert!(text.contains("FAIL  policy-without-rls"), "{text}");
    sql(&db, "ALTER TABLE notes ENABLE ROW LEVEL SECURITY");

    // A table without a policy: deny-all, a warning.
    sql(
        &db,
        "CREATE TABLE locked (id int PRIMARY KEY); ALTER TABLE locked ENABLE ROW LEVEL SECURITY",
    );
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("warn  rls-without-policy"), "{text}");
    assert!(
        text.contains("public.locked: row level security is on with no policy"),
        "{text}"
    );
    sql(&db, "DROP TABLE locked");

    // An invalid index, left by a failed CREATE INDEX CONCURRENTLY.
    sql(&db, "INSERT INTO accounts VALUES (1, 'a@x'), (2, 'a@x')");
    assert!(cluster()
        .psql(
            &db,
            "CREATE UNIQUE INDEX CONCURRENTLY accounts_email ON accounts (email)"
        )
        .is_err());
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  invalid-indexes"), "{text}");
    assert!(
        text.contains("public.accounts_email: on public.accounts: INVALID"),
        "{text}"
    );
    sql(&db, "DROP INDEX accounts_email");

    // A SECURITY DEFINER function without a fixed search_path.
    sql(
        &db,
        "CREATE FUNCTION wide_open() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
    );
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  function-search-path"), "{text}");
    assert!(
        text.contains("public.wide_open(): SECURITY DEFINER with no fixed search_path"),
        "{text}"
    );
    sql(&db, "ALTER FUNCTION wide_open() SET search_path = ''");

    // A table the migrations created, dropped by hand.
    sql(&db, "DROP TABLE notes");
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  missing-tables"), "{text}");
    assert!(text.contains("notes: created by 2026-01-01_good"), "{text}");
}

#[test]
fn records_edited_failed_and_unknown_show_in_health() {
    let (dir, db) = healthy();
    // An edited applied file.
    write(
        &dir,
        "2026-01-01_good",
        &format!("{GOOD}CREATE TABLE extra (id int PRIMARY KEY);\n"),
    );
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  checksum-drift"), "{text}");
    assert!(
        text.contains("2026-01-01_good: the SQL of the file differs"),
        "{text}"
    );
    write(&dir, "2026-01-01_good", GOOD);

    // A failed migration row, and what is pending.
    write(
        &dir,
        "2026-01-02_broken",
        "CREATE TABLE broken (id int PRIMARY KEY);\nSELECT 1/0;\n",
    );
    write(
        &dir,
        "2026-01-03_later",
        "-- @depends-on: 2026-01-02_broken.sql\nCREATE TABLE later (id int PRIMARY KEY);\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(1);
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  failed-migrations"), "{text}");
    assert!(
        text.contains("2026-01-02_broken: failed: division by zero"),
        "{text}"
    );
    assert!(text.contains("warn  pending-migrations"), "{text}");

    // A recorded version whose file is gone.
    std::fs::remove_file(dir.path().join("migrations/2026-01-02_broken.sql")).unwrap();
    std::fs::remove_file(dir.path().join("migrations/2026-01-03_later.sql")).unwrap();
    let (_, text) = health(&dir, &db);
    assert!(text.contains("warn  unknown-versions"), "{text}");
}

#[test]
fn a_deploy_that_leaves_a_failing_check_exits_1_and_says_the_migrations_were_applied() {
    let (dir, db) = healthy();
    write(
        &dir,
        "2026-01-02_open",
        "CREATE TABLE open_table (id int PRIMARY KEY);\n",
    );
    let out = pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  rls-disabled"), "{text}");
    assert!(
        text.contains("the migrations were applied, but the health check failed"),
        "{text}"
    );
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "2"
    );
    // Nothing pending: a no-op deploy changed nothing and does not run the checks again.
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("no health check runs; `pgshift health` runs one"))
        .stdout(contains("FAIL").not());
}

#[test]
fn without_an_api_role_or_config_the_exposed_checks_say_why_they_did_not_run() {
    let (dir, db) = project(&[(
        "2026-01-01_plain",
        "CREATE TABLE plain (id int PRIMARY KEY);\n",
    )]);
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "rls-disabled            not checked: nothing in this database grants the API roles"
        ),
        "{text}"
    );
    // PostgREST's roles exist (roles are the whole server's: a Supabase-like database beside
    // this one made them): still no evidence here, and the deploy is not failed for RLS.
    sql(&db, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF; END $$");
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("not checked: nothing in this database grants"),
        "{text}"
    );
    write(
        &dir,
        "2026-01-02_more",
        "CREATE TABLE more_plain (id int PRIMARY KEY);\n",
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    // Granted to here: the schema is exposed, the table is unprotected, and the evidence named.
    sql(&db, "GRANT USAGE ON SCHEMA public TO anon");
    let (code, text) = health(&dir, &db);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("public.plain: row level security is off"),
        "{text}"
    );
    assert!(
        text.contains("an API serves this database: anon has USAGE on schema public"),
        "{text}"
    );
}

#[test]
fn json_and_markdown_reports() {
    let (dir, db) = healthy();
    let out = pgshift(dir.path(), &db)
        .args(["health", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 19);
    assert!(checks.iter().all(|c| c["level"] == "ok"), "{v}");
    assert_eq!(checks[0]["id"], "connectivity");
    pgshift(dir.path(), &db)
        .args(["health", "--format", "markdown"])
        .assert()
        .success()
        .stdout(contains("# Database Health"))
        .stdout(contains("| `rls-disabled` | ✅ ok |"));
}
