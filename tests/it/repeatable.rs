//! Repeatable migrations (`repeatable/*.sql`) against a real PostgreSQL: a view chain whose
//! base changes shape is replaced whole with its dependents in one transaction; unchanged and
//! comment-only edits write nothing; a failing repeatable stops the run and runs once fixed;
//! a rollback runs the earlier recorded text.

use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

use crate::common::*;

fn repeatable(dir: &TempDir, name: &str, deps: &str, sql: &str) {
    let folder = dir.path().join("migrations/repeatable");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join(format!("{name}.sql")),
        format!("-- MIGRATION: {name}\n-- Version: repeatable\n-- Author: tests\n-- Dependencies: {deps}\n{sql}"),
    )
    .unwrap();
}

const BASE: &str = "CREATE OR REPLACE VIEW order_base AS SELECT id, amount, note FROM orders;\nGRANT SELECT ON order_base TO PUBLIC;\n";

/// orders (versioned), base and report (repeatables, report on base), summary (versioned, on
/// report): applied.
fn chain() -> (TempDir, String) {
    let (dir, db) = project(&[(
        "2026-01-01_orders",
        "CREATE TABLE orders (id int PRIMARY KEY, amount numeric NOT NULL, note text);\nINSERT INTO orders VALUES (1, 10, 'a'), (2, 20, 'b');\n",
    )]);
    repeatable(&dir, "base", "2026-01-01_orders.sql", BASE);
    repeatable(
        &dir,
        "report",
        "base",
        "CREATE OR REPLACE VIEW order_report AS SELECT id, amount * 2 AS double FROM order_base;\n",
    );
    write(
        &dir,
        "2026-01-02_summary",
        "-- @depends-on: repeatable/report\nCREATE VIEW order_summary AS SELECT sum(double) AS total FROM order_report;\nCOMMENT ON VIEW order_summary IS 'totals';\n",
    );
    migrate(dir.path(), &db).success();
    (dir, db)
}

#[test]
fn repeatables_follow_their_dependencies_and_those_without_run_last() {
    let (dir, _db) = chain();
    repeatable(
        &dir,
        "grants",
        "None",
        "GRANT SELECT ON orders TO PUBLIC;\n",
    );
    let out = pgshift_in(dir.path())
        .args(["--json", "order"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let order: Vec<&str> = v["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "2026-01-01_orders",
            "repeatable/base",
            "repeatable/report",
            "2026-01-02_summary",
            "repeatable/grants"
        ]
    );
}

#[test]
fn a_base_view_that_changes_shape_is_replaced_with_its_dependents_in_one_transaction() {
    let (dir, db) = chain();
    repeatable(
        &dir,
        "base",
        "2026-01-01_orders.sql",
        &BASE.replace("id, amount, note", "id, amount"),
    );
    migrate(dir.path(), &db)
        .success()
        .stdout(contains("↻ repeatable/base: CREATE OR REPLACE was refused"))
        .stdout(contains("run again: repeatable/report"))
        .stdout(contains("view public.order_summary"));
    assert_eq!(sql(&db, "SELECT total FROM order_summary"), "60");
    assert_eq!(
        sql(&db, "SELECT obj_description('order_summary'::regclass)"),
        "totals"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT has_table_privilege('public', 'order_base', 'SELECT')"
        ),
        "t"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'order_base'"
        ),
        "2"
    );
    // One transaction: the base, the report run again, and the summary made again commit
    // together, with the records of both repeatables in the same run.
    assert_eq!(
        sql(
            &db,
            "SELECT count(DISTINCT run_id) FROM schema_migrations WHERE version IN ('repeatable/base', 'repeatable/report')"
        ),
        "1"
    );
    // A dependent that cannot be made again (it used the dropped column) rolls it all back.
    repeatable(
        &dir,
        "report",
        "base",
        "CREATE OR REPLACE VIEW order_report AS SELECT id, amount * 2 AS double, amount AS a FROM order_base;\n",
    );
    migrate(dir.path(), &db).success();
    repeatable(
        &dir,
        "base",
        "2026-01-01_orders.sql",
        "CREATE OR REPLACE VIEW order_base AS SELECT id FROM orders;\n",
    );
    migrate(dir.path(), &db).code(1).stderr(contains("amount"));
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'order_base'"
        ),
        "2"
    );
    assert_eq!(sql(&db, "SELECT total FROM order_summary"), "60");
}

#[test]
fn unchanged_and_comment_only_edits_run_nothing_and_write_nothing() {
    let (dir, db) = chain();
    let state = || {
        sql(
            &db,
            "SELECT (SELECT string_agg(xmin::text, ',' ORDER BY version) FROM schema_migrations) || '/' || (SELECT count(*) FROM schema_migrations_events) || '/' || (SELECT xmin FROM pg_class WHERE relname = 'order_base')",
        )
    };
    let before = state();
    migrate(dir.path(), &db)
        .success()
        .stdout(contains("Nothing to do"));
    repeatable(
        &dir,
        "base",
        "2026-01-01_orders.sql",
        &format!(
            "-- a note\n{}\n\n",
            BASE.replace("SELECT id", "SELECT   id")
        ),
    );
    migrate(dir.path(), &db)
        .success()
        .stdout(contains("Nothing to do"));
    assert_eq!(state(), before);
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("0 pending"));
}

#[test]
fn a_failing_repeatable_stops_the_run_and_runs_again_once_fixed() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    repeatable(
        &dir,
        "f",
        "2026-01-01_a.sql",
        "CREATE OR REPLACE VIEW v AS SELECT id FROM missing;\n",
    );
    write(
        &dir,
        "2026-01-02_b",
        "-- @depends-on: repeatable/f\nCREATE TABLE b (id int);\n",
    );
    migrate(dir.path(), &db)
        .code(1)
        .stderr(contains("repeatable/f"));
    assert_eq!(sql(&db, "SELECT to_regclass('b') IS NULL"), "t");
    // Unchanged, it is not run again: the deploy says why and what to do.
    migrate(dir.path(), &db)
        .code(predicate::ne(0))
        .stderr(contains(
            "failed and their files did not change since: repeatable/f",
        ))
        .stderr(contains("--retry-failed"));
    // --retry-failed runs it (it fails again: the table is still missing).
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--retry-failed"])
        .assert()
        .code(1)
        .stderr(contains("missing"));
    // Fixed: it runs, then what depends on it.
    repeatable(
        &dir,
        "f",
        "2026-01-01_a.sql",
        "CREATE OR REPLACE VIEW v AS SELECT id FROM a;\n",
    );
    migrate(dir.path(), &db)
        .success()
        .stdout(contains("✓ repeatable/f"))
        .stdout(contains("✓ 2026-01-02_b"));
    assert_eq!(
        sql(
            &db,
            "SELECT success FROM schema_migrations WHERE version = 'repeatable/f'"
        ),
        "t"
    );
}

#[test]
fn a_rollback_runs_the_earlier_recorded_text_or_drops_a_first_one() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int, n numeric);\n")]);
    let f = "CREATE OR REPLACE FUNCTION total() RETURNS int LANGUAGE sql AS 'SELECT count(*)::int FROM a';\n";
    repeatable(&dir, "f", "2026-01-01_a.sql", f);
    migrate(dir.path(), &db).success();
    // The return type changes: replaced whole.
    repeatable(
        &dir,
        "f",
        "2026-01-01_a.sql",
        &f.replace("RETURNS int", "RETURNS bigint")
            .replace("::int", ""),
    );
    migrate(dir.path(), &db).success();
    assert_eq!(
        sql(&db, "SELECT pg_get_function_result('total'::regproc)"),
        "bigint"
    );
    pgshift(dir.path(), &db)
        .args(["rollback", "--version", "repeatable/f"])
        .assert()
        .success()
        .stdout(contains("repeatable/f"));
    assert_eq!(
        sql(&db, "SELECT pg_get_function_result('total'::regproc)"),
        "integer"
    );
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("changed"));
    // A repeatable with no earlier text is undone by dropping what it defines.
    repeatable(
        &dir,
        "v",
        "2026-01-01_a.sql",
        "CREATE OR REPLACE VIEW only_ids AS SELECT id FROM a;\n",
    );
    migrate(dir.path(), &db).success();
    pgshift(dir.path(), &db)
        .args(["rollback", "--version", "repeatable/v"])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT to_regclass('only_ids') IS NULL"), "t");
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM schema_migrations WHERE version = 'repeatable/v'"
        ),
        "0"
    );
}
