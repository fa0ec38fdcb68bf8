//! `pgshift squash --to VERSION` against a real PostgreSQL: the baseline passes its proof and
//! carries the rows; a database deployed before the squash sees nothing to do, a partly
//! deployed one is refused with the list, a fresh one applies the baseline; a proof that fails
//! writes nothing; an imported Flyway set squashes too.

use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

use crate::common::*;

/// Four migrations with rows, a column dropped later, a view and a function.
fn set() -> (TempDir, String) {
    project(&[
        (
            "2026-01-01_plans",
            "CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL, legacy text, created_at timestamptz NOT NULL DEFAULT now());\nINSERT INTO plans (id, name) VALUES (1, 'free'), (2, 'pro');\n",
        ),
        (
            "2026-01-02_accounts",
            "-- @depends-on: 2026-01-01_plans\nCREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, plan_id int REFERENCES plans, email text UNIQUE);\nCOPY plans (id, name) FROM stdin;\n3\tteam\n\\.\nUPDATE plans SET name = upper(name) WHERE id = 1;\n",
        ),
        (
            "2026-01-03_drop_legacy",
            "ALTER TABLE plans DROP COLUMN legacy;\nCREATE VIEW plan_names AS SELECT name FROM plans;\nCREATE FUNCTION plan_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM plans';\n",
        ),
        (
            "2026-01-04_invoices",
            "CREATE TABLE invoices (id int PRIMARY KEY, account_id bigint REFERENCES accounts);\n",
        ),
    ])
}

fn versions(db: &str) -> String {
    sql(
        db,
        "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations",
    )
}

#[test]
fn a_squash_is_proven_then_old_databases_see_nothing_to_do_and_partial_ones_are_refused() {
    let (dir, _) = set();
    // Databases before the squash: one with everything up to the squash, one with part.
    let full = cluster().create_database("squash_full").unwrap();
    pgshift(dir.path(), &full)
        .args([
            "migrate",
            "--skip-backup",
            "--target",
            "2026-01-03_drop_legacy",
        ])
        .assert()
        .success();
    let part = cluster().create_database("squash_part").unwrap();
    pgshift(dir.path(), &part)
        .args(["migrate", "--skip-backup", "--target", "2026-01-01_plans"])
        .assert()
        .success();

    pgshift_in(dir.path())
        .args(["squash", "--to", "2026-01-03_drop_legacy"])
        .assert()
        .success()
        .stdout(contains(
            "2026-01-03_baseline_drop_legacy.sql: it replaces 3 migration(s)",
        ));
    let m = dir.path().join("migrations");
    assert!(m.join("squashed/2026-01-01_plans.sql").exists());
    assert!(!m.join("2026-01-01_plans.sql").exists());
    let baseline = std::fs::read_to_string(m.join("2026-01-03_baseline_drop_legacy.sql")).unwrap();
    assert!(
        baseline.contains(
            "-- @replaces: 2026-01-01_plans, 2026-01-02_accounts, 2026-01-03_drop_legacy"
        ),
        "{baseline}"
    );
    assert!(baseline.contains("3\tteam\n\\."), "{baseline}");
    assert!(!baseline.contains("legacy text"), "{baseline}");
    pgshift_in(dir.path())
        .arg("validate")
        .assert()
        .success()
        .stdout(contains("0 errors"));

    // Deployed before the squash: a rehearsal does not run the baseline either.
    pgshift(dir.path(), &full)
        .args(["migrate", "--dry-run=rehearse"])
        .assert()
        .success()
        .stdout(contains("a deploy records it, runs nothing"));
    // The baseline is recorded, nothing runs; then the rest.
    let before = sql(&full, "SELECT xmin FROM pg_class WHERE relname = 'plans'");
    migrate(dir.path(), &full)
        .success()
        .stdout(contains("recorded, not run"))
        .stdout(contains("✓ 2026-01-04_invoices"));
    assert_eq!(
        sql(&full, "SELECT xmin FROM pg_class WHERE relname = 'plans'"),
        before
    );
    assert_eq!(
        sql(
            &full,
            "SELECT count(*) FROM schema_migrations_events WHERE event = 'squashed'"
        ),
        "1"
    );
    pgshift(dir.path(), &full)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("0 pending"))
        .stdout(contains("0 unknown"));

    // Partly deployed: refused, with what it lacks.
    migrate(dir.path(), &part)
        .failure()
        .stderr(contains("2026-01-02_accounts"))
        .stderr(contains("2026-01-03_drop_legacy"));
    assert_eq!(versions(&part), "2026-01-01_plans");

    // Fresh: the baseline runs, with the rows.
    let fresh = fresh_deploy(dir.path(), "squash_fresh", false);
    assert_eq!(
        sql(
            &fresh,
            "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM plans"
        ),
        "1:FREE,2:pro,3:team"
    );
    assert_eq!(sql(&fresh, "SELECT plan_count()"), "3");
}

#[test]
fn a_proof_that_fails_writes_nothing() {
    let (dir, _) = project(&[
        ("2026-01-01_t", "CREATE TABLE t (id int);\n"),
        (
            "2026-01-02_fill",
            "DO $$ BEGIN INSERT INTO t SELECT generate_series(1, 3); END $$;\n",
        ),
    ]);
    pgshift_in(dir.path())
        .args(["squash", "--to", "2026-01-02_fill"])
        .assert()
        .code(1)
        .stderr(contains("nothing was written"))
        .stderr(contains("the rows of public.t differ"));
    assert!(dir.path().join("migrations/2026-01-02_fill.sql").exists());
    assert!(!dir.path().join("migrations/squashed").exists());
}

#[test]
fn rows_written_into_a_column_dropped_later_refuse_the_squash() {
    let (dir, _) = project(&[
        (
            "2026-01-01_t",
            "CREATE TABLE t (id int, legacy text);\nINSERT INTO t VALUES (1, 'x');\n",
        ),
        ("2026-01-02_drop", "ALTER TABLE t DROP COLUMN legacy;\n"),
    ]);
    pgshift_in(dir.path())
        .args(["squash", "--to", "2026-01-02_drop"])
        .assert()
        .code(2)
        .stderr(contains("nothing was written"))
        .stderr(contains("INSERT has more expressions than target columns"));
    assert!(dir.path().join("migrations/2026-01-01_t.sql").exists());
}

#[test]
fn targets_below_the_squash_refuse_it() {
    let (dir, db) = set();
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--target", "2026-01-01_plans"])
        .assert()
        .success();
    let targets = dir.path().join("targets.txt");
    std::fs::write(&targets, format!("{}\n", cluster().url(&db))).unwrap();
    pgshift_in(dir.path())
        .args(["squash", "--to", "2026-01-03_drop_legacy", "--targets"])
        .arg(&targets)
        .assert()
        .code(2)
        .stderr(contains("2 of them not applied"));
    assert!(dir.path().join("migrations/2026-01-01_plans.sql").exists());
}

#[test]
fn an_imported_flyway_set_squashes() {
    let dir = tempfile::tempdir().unwrap();
    pgshift_in(dir.path())
        .args(["import", "--from", "flyway"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/flyway"))
        .assert()
        .success();
    let out = pgshift_in(dir.path())
        .args(["--json", "order"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = v["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_str().unwrap().to_string())
        .rfind(|v| !v.starts_with("repeatable/"))
        .unwrap();
    pgshift_in(dir.path())
        .args(["squash", "--to", &last])
        .assert()
        .success()
        .stdout(contains("it replaces 4 migration(s)"));
    // The new set (baseline, then the repeatable) applies from scratch.
    let db = cluster().create_database("squash_flyway").unwrap();
    migrate(dir.path(), &db)
        .success()
        .stdout(contains("✓ repeatable/person_view"));
}

#[test]
fn the_supabase_example_squashes_with_its_platform_statements() {
    let dir = example_copy("supabase");
    let m = dir.path().join("migrations");
    let db = cluster().create_database("squash_supabase").unwrap();
    supabase_stub(&db);
    migrate(dir.path(), &db).success();
    pgshift_in(dir.path())
        .args(["squash", "--to", "2026-02-04_avatars_bucket", "--supabase"])
        .assert()
        .success()
        .stdout(contains("it replaces 4 migration(s)"));
    let baseline =
        std::fs::read_to_string(m.join("2026-02-04_baseline_avatars_bucket.sql")).unwrap();
    // The trigger on auth.users and the bucket are not the schema's: carried verbatim.
    assert!(
        baseline.contains("AFTER INSERT ON auth.users"),
        "{baseline}"
    );
    assert!(
        baseline.contains("INSERT INTO storage.buckets"),
        "{baseline}"
    );
    // Only a record is written: no backup is taken for it.
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("recorded, not run"))
        .stdout(contains("Backed up").not());
    // A new project gets the same from the baseline alone.
    let fresh = fresh_deploy(dir.path(), "squash_supabase_fresh", true);
    assert_eq!(
        sql(
            &fresh,
            "SELECT count(*) FROM storage.buckets WHERE id = 'avatars'"
        ),
        "1"
    );
    assert_eq!(
        sql(
            &fresh,
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'on_auth_user_created'"
        ),
        "1"
    );
}

#[test]
fn seed_data_for_some_environments_is_not_squashed() {
    let (dir, _) = project(&[
        ("2026-01-01_t", "CREATE TABLE t (id int);\n"),
        (
            "2026-01-02_seed",
            "-- @env: development\nINSERT INTO t VALUES (1);\n",
        ),
    ]);
    pgshift_in(dir.path())
        .args(["squash", "--to", "2026-01-02_seed"])
        .assert()
        .code(2)
        .stderr(contains("2026-01-02_seed runs only in development"));
    assert!(dir.path().join("migrations/2026-01-02_seed.sql").exists());
}
