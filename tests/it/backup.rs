//! Backups and restores against a real PostgreSQL: the round trip, the guide's own
//! `gunzip -c FILE | psql`, retention, a pg_dump that fails, and the deploy that must not start
//! without its backup.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as Std;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::*;

/// Schema and data of `db` as pg_dump writes them, without pgshift's own tables and without
/// the random `\restrict` key lines of pg_dump 15.14+.
fn dump(db: &str) -> String {
    let pg_dump = cluster().client_program("pg_dump");
    let o = Std::new(pg_dump)
        .args([
            "-h",
            &cluster().socket_dir().display().to_string(),
            "-p",
            &cluster().port().to_string(),
            "-U",
            "postgres",
        ])
        .args([
            "--no-owner",
            "--exclude-table=public.schema_migrations*",
            db,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("backups/migrations"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(".sql.gz"));
    v.sort();
    v
}

#[test]
fn a_backup_restores_the_database_exactly_as_it_was() {
    let (dir, db) = project(&[
        (
            "2026-01-01_shop",
            "CREATE SCHEMA shop;\nCREATE TABLE shop.orders (id int PRIMARY KEY, total numeric, note text);\nINSERT INTO shop.orders SELECT g, g * 1.5, 'order ' || g FROM generate_series(1, 500) g;\nCREATE TYPE mood AS ENUM ('sad', 'happy');\nCREATE FUNCTION shop.total() RETURNS numeric LANGUAGE sql AS $$ SELECT sum(total) FROM shop.orders $$;\nCREATE VIEW shop.big AS SELECT * FROM shop.orders WHERE total > 100;\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Backed up to"));
    pgshift(dir.path(), &db)
        .args(["backup", "create"])
        .assert()
        .success()
        .stdout(contains("verified"));
    let files = backups(dir.path());
    assert_eq!(files.len(), 2, "one before the deploy, one made by hand");
    let file = files
        .iter()
        .find(|f| !f.to_string_lossy().contains("before_migration"))
        .unwrap()
        .clone();
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", file.display())).unwrap())
            .unwrap();
    assert_eq!(manifest["applied"], serde_json::json!(["2026-01-01_shop"]));
    assert_eq!(manifest["database"], db.as_str());
    assert_eq!(manifest["size"], std::fs::metadata(&file).unwrap().len());
    let before = dump(&db);

    // Everything changes: data, a column, a new table, a new schema, a migration applied.
    cluster()
        .psql(&db, "UPDATE shop.orders SET note = 'changed'; DELETE FROM shop.orders WHERE id < 100; ALTER TABLE shop.orders ADD COLUMN extra int; CREATE TABLE shop.added_later (id int); CREATE SCHEMA later; CREATE TABLE later.t (id int); CREATE FUNCTION public.later_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';")
        .unwrap();
    write(
        &dir,
        "2026-01-02_more",
        "CREATE TABLE more_things (id int);\n",
    );
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    assert_ne!(dump(&db), before);

    pgshift(dir.path(), &db)
        .args(["backup", "verify", &file.display().to_string()])
        .assert()
        .success()
        .stdout(contains("is sound").and(contains("matches its manifest")));
    pgshift(dir.path(), &db)
        .args(["backup", "restore", &file.display().to_string()])
        .assert()
        .success()
        .stdout(contains("Restored"))
        .stdout(contains(
            "Undone with it (their records are the backup's): 2026-01-02_more.",
        ))
        .stdout(contains("TABLE shop.added_later"));
    assert_eq!(
        dump(&db),
        before,
        "the database is as it was when backed up"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(version, ',') FROM schema_migrations"
        ),
        "2026-01-01_shop"
    );
    assert!(sql(
        &db,
        "SELECT string_agg(event, ',' ORDER BY id) FROM schema_migrations_events"
    )
    .ends_with(",restored"));
    // The next deploy applies what the restore undid.
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("✓ 2026-01-02_more"));

    // The guide's way, into an empty database: gunzip -c FILE | psql DATABASE_URL.
    let empty = cluster().create_database("restore_target").unwrap();
    let psql = cluster().client_program("psql");
    let status = Std::new("sh")
        .arg("-c")
        .arg(format!(
            "gunzip -c '{}' | '{}' -X -q -v ON_ERROR_STOP=1 '{}'",
            file.display(),
            psql.display(),
            cluster().url(&empty)
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(dump(&empty), before);
}

#[test]
fn retention_keeps_the_newest_and_a_failing_pg_dump_stops_the_deploy() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    std::fs::write(dir.path().join("pgshift.toml"), "[backup]\nkeep = 3\n").unwrap();
    for _ in 0..5 {
        pgshift(dir.path(), &db)
            .args(["backup", "create"])
            .assert()
            .success();
    }
    let kept = backups(dir.path());
    assert_eq!(kept.len(), 3, "{kept:?}");
    pgshift(dir.path(), &db)
        .args(["backup", "list"])
        .assert()
        .success()
        .stdout(contains("3 backup(s)"));
    // The newest by the time its manifest records (a name freed by pruning is used again).
    let created = |p: &PathBuf| {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{}.json", p.display())).unwrap())
                .unwrap();
        m["created_at"].as_str().unwrap().to_string()
    };
    let newest = kept.iter().max_by_key(|p| created(p)).unwrap().clone();
    pgshift(dir.path(), &db)
        .args(["backup", "prune", "--keep", "1"])
        .assert()
        .success();
    assert_eq!(backups(dir.path()), vec![newest]);

    // A pg_dump that dies halfway: no backup under its final name, nothing applied.
    let fake = dir.path().join("fake_pg_dump");
    std::fs::write(
        &fake,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 15.99'; exit 0; fi\nprintf -- '--\\n-- PostgreSQL database dump\\n--\\nSET x = 1;\\n'\nkill -9 $$\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("pgshift.toml"),
        format!("[backup]\npg_dump = \"{}\"\n", fake.display()),
    )
    .unwrap();
    let before = backups(dir.path());
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(2)
        .stderr(contains("cannot back up"))
        .stderr(contains("pg_dump failed (killed by a signal)"))
        .stderr(contains("nothing was applied"));
    assert_eq!(backups(dir.path()), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("backups/migrations"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(sql(&db, "SELECT to_regclass('a') IS NULL"), "t");
    // Not a pg_dump at all.
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[backup]\npg_dump = \"/bin/false\"\n",
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .code(2)
        .stderr(contains("/bin/false is not a working pg_dump"));
    // SKIP_BACKUP: the deploy goes ahead without one.
    pgshift(dir.path(), &db)
        .env("SKIP_BACKUP", "true")
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Backed up").not());
    assert_eq!(sql(&db, "SELECT to_regclass('a') IS NOT NULL"), "t");
}

#[test]
fn a_restore_goes_through_the_gate_and_a_damaged_file_changes_nothing() {
    let (dir, db) = project(&[(
        "2026-01-01_a",
        "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n",
    )]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    let file = backups(dir.path()).pop().unwrap();
    pgshift(dir.path(), &db)
        .args([
            "--env",
            "staging",
            "backup",
            "restore",
            &file.display().to_string(),
        ])
        .assert()
        .code(3)
        .stderr(contains(format!("pass --confirm {db}")));
    // A damaged copy: refused before psql runs, and the database is as it was.
    let damaged = dir.path().join("damaged.sql.gz");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    cluster().psql(&db, "INSERT INTO a VALUES (2)").unwrap();
    pgshift(dir.path(), &db)
        .args([
            "backup",
            "restore",
            &damaged.display().to_string(),
            "--from-database",
            &db,
        ])
        .assert()
        .code(2)
        .stderr(contains("error: cannot restore into postgres@"))
        .stderr(contains("is not a sound backup"))
        .stderr(contains("before deploying").not());
    assert_eq!(sql(&db, "SELECT count(*) FROM a"), "2");
    pgshift(dir.path(), &db)
        .args(["backup", "verify", &damaged.display().to_string()])
        .assert()
        .code(1)
        .stderr(contains("is not a sound backup"));
}

#[test]
fn a_stray_future_dated_file_never_costs_the_deploy_its_backup() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE stray_a (id int);\n")]);
    std::fs::write(dir.path().join("pgshift.toml"), "[backup]\nkeep = 1\n").unwrap();
    let folder = dir.path().join("backups/migrations");
    std::fs::create_dir_all(&folder).unwrap();
    // A stray file, and a link, named as if taken in 2999.
    std::fs::write(
        folder.join("backup_before_migration_29991231_235959.sql.gz"),
        b"stray",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "/etc/hostname",
        folder.join("backup_29990101_000000.sql.gz"),
    )
    .unwrap();
    let out = pgshift(dir.path(), &db).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let taken: Vec<PathBuf> = backups(dir.path())
        .into_iter()
        .filter(|p| {
            std::fs::symlink_metadata(p).unwrap().is_file() && !p.to_string_lossy().contains("2999")
        })
        .collect();
    assert_eq!(
        taken.len(),
        1,
        "the deploy's backup is kept: {}",
        both(&out)
    );
    // `rollback --from-backup` restores that one, not the stray.
    pgshift(dir.path(), &db)
        .args(["rollback", "--from-backup"])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT to_regclass('stray_a') IS NULL"), "t");
    assert!(folder
        .join("backup_before_migration_29991231_235959.sql.gz")
        .exists());
}
