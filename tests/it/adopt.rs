//! `pgshift adopt --from TOOL` on databases other tools migrated (their history tables made as
//! those tools make them, their migrations applied with psql as they would): the matching
//! imported migrations are recorded as applied, `migrate` applies only the rest, and the other
//! tool's table is left exactly as it was. A `schema_migrations` of another tool is never
//! taken for pgshift's.

use std::path::Path;

use predicates::str::contains;

use crate::common::*;

fn fixture(tool: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(tool)
}

/// A project with `tool`'s fixture imported, its tracking table set apart when asked.
fn imported(tool: &str, tracking_table: Option<&str>) -> (tempfile::TempDir, String) {
    let (dir, db) = project(&[]);
    if let Some(t) = tracking_table {
        std::fs::write(
            dir.path().join("pgshift.toml"),
            format!("[tracking]\ntable = \"{t}\"\n"),
        )
        .unwrap();
    }
    pgshift(dir.path(), &db)
        .args(["import", "--from", tool])
        .arg(fixture(tool))
        .assert()
        .success();
    (dir, db)
}

/// The SQL of an imported migration (its up half), as the other tool would have run it.
fn run_as_the_tool(dir: &Path, db: &str, version_suffix: &str) {
    let m = dir.join("migrations");
    let file = std::fs::read_dir(&m)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(&format!("{version_suffix}.sql")) && !n.ends_with(".down.sql")
        })
        .unwrap_or_else(|| panic!("no migration ending in {version_suffix}"));
    let out = cluster()
        .psql_command(db)
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every row of a table with its physical identity (xmin, ctid): any write would change them.
fn snapshot(db: &str, table: &str) -> String {
    sql(
        db,
        &format!("SELECT coalesce(string_agg(format('%s|%s|%s', xmin, ctid, t::text), E'\\n' ORDER BY ctid), '') FROM {table} t"),
    ) + &sql(
        db,
        &format!("SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped"),
    )
}

#[test]
fn dbmate_history_is_adopted_and_its_schema_migrations_left_as_it_was() {
    let (dir, db) = imported("dbmate", None);
    run_as_the_tool(dir.path(), &db, "_create_users");
    run_as_the_tool(dir.path(), &db, "_users_email_index");
    sql(
        &db,
        "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('20220301101010'), ('20220301101020');",
    );
    let before = snapshot(&db, "schema_migrations");
    // pgshift's default tracking table has the same name: it is refused, never altered.
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .code(2)
        .stderr(contains("belongs to another tool"))
        .stderr(contains("looks like dbmate's"))
        .stderr(contains("[tracking] table"));
    assert_eq!(snapshot(&db, "schema_migrations"), before);
    // With its records elsewhere, pgshift adopts what dbmate applied and runs the rest.
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[tracking]\ntable = \"pgshift_migrations\"\n",
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .args(["adopt", "--from", "dbmate"])
        .assert()
        .success()
        .stdout(contains(
            "adopted 2022-03-01_101010_create_users: dbmate applied it (version 20220301101010)",
        ))
        .stdout(contains("Adopted 2 migration(s)"));
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--skip-health"])
        .assert()
        .success()
        .stdout(contains("Applied 1 migration(s)"))
        .stdout(contains("2022-04-15_000000_create_orders"));
    assert_eq!(snapshot(&db, "schema_migrations"), before);
    assert_eq!(
        sql(&db, "SELECT count(*) FROM pgshift_migrations_events WHERE event = 'baseline' AND detail->>'adopted_from' = 'dbmate'"),
        "2"
    );
}

#[test]
fn prisma_history_is_adopted_and_a_rolled_back_migration_is_not() {
    let (dir, db) = imported("prisma", None);
    run_as_the_tool(dir.path(), &db, "_init");
    sql(
        &db,
        "CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count integer NOT NULL DEFAULT 0);
         INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count) VALUES ('a', 'x', now(), '20230601120000_init', 1);
         INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, rolled_back_at) VALUES ('b', 'y', NULL, '20230715093000_add_published', now());",
    );
    let before = snapshot(&db, "_prisma_migrations");
    pgshift(dir.path(), &db)
        .args(["adopt", "--from", "prisma"])
        .assert()
        .success()
        .stdout(contains("Adopted 1 migration(s)"));
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--skip-health"])
        .assert()
        .success()
        .stdout(contains("Applied 2 migration(s)"));
    assert_eq!(snapshot(&db, "_prisma_migrations"), before);
}

#[test]
fn supabase_history_is_adopted_and_stays_in_step() {
    let (dir, db) = imported("supabase", None);
    supabase_stub(&db);
    run_as_the_tool(dir.path(), &db, "_init");
    run_as_the_tool(dir.path(), &db, "_todos");
    sql(
        &db,
        "INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES ('20240101093000', 'init'), ('20240101101500', 'todos'), ('20240102120000', 'remote_schema');",
    );
    pgshift(dir.path(), &db)
        .args(["adopt", "--from", "supabase"])
        .assert()
        .success()
        .stdout(contains("Adopted 2 migration(s)"));
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("Applied 1 migration(s)"));
    // pgshift recorded the one it applied under its original version; the CLI's rows stand.
    assert_eq!(
        sql(&db, "SELECT string_agg(version, ',' ORDER BY version) FROM supabase_migrations.schema_migrations"),
        "20240101093000,20240101101500,20240102120000,20240103080000"
    );
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("supabase_migrations.schema_migrations) disagrees"))
        .stdout(contains(
            "not applied by pgshift: 20240102120000 remote_schema",
        ));
}

#[test]
fn adopt_says_what_is_missing() {
    let (dir, db) = imported("goose", None);
    pgshift(dir.path(), &db)
        .args(["adopt", "--from", "goose"])
        .assert()
        .code(1)
        .stderr(contains("goose_db_version does not exist here"));
    pgshift(dir.path(), &db)
        .args(["adopt", "--from", "flyway"])
        .assert()
        .code(1)
        .stderr(contains("flyway_schema_history does not exist"));
}
