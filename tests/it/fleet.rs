//! `migrate --targets FILE [--shard I/N]`: many databases of one throwaway cluster, one of them
//! failing.

use predicates::str::contains;

use crate::common::*;

fn migrations(dir: &tempfile::TempDir) {
    write(
        dir,
        "2026-01-01_users",
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    );
    write(dir, "2026-01-02_posts", "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\nCREATE INDEX posts_user_id ON posts (user_id);\n");
}

#[test]
fn every_target_is_deployed_and_one_failing_does_not_stop_the_others() {
    let (dir, first) = project(&[]);
    migrations(&dir);
    let dbs: Vec<String> = std::iter::once(first)
        .chain((0..3).map(|_| cluster().create_database("tenant").unwrap()))
        .collect();
    // The third tenant already has a `posts` table: its second migration fails there.
    sql(&dbs[2], "CREATE TABLE posts (x int)");
    let file = dir.path().join("tenants.txt");
    std::fs::write(
        &file,
        format!(
            "# every tenant\n{}\n{}\nTENANT_C_URL\n{}\n",
            cluster().url(&dbs[0]),
            cluster().url(&dbs[1]),
            cluster().url(&dbs[3])
        ),
    )
    .unwrap();
    let out = pgshift(dir.path(), &dbs[0])
        .env_remove("DATABASE_URL")
        .env("TENANT_C_URL", cluster().url(&dbs[2]))
        .env("PARALLEL_JOBS", "2")
        .args(["migrate", "--skip-backup", "--targets", "tenants.txt"])
        .assert()
        .code(1)
        .stdout(contains(
            "Deploying to 4 database(s) of tenants.txt, 2 at a time",
        ))
        .stdout(contains("4 target(s) of tenants.txt, 2 at a time"))
        .stdout(contains("3 ok, 1 failed."))
        .stdout(contains("FAILED  TENANT_C_URL"))
        .stdout(contains(
            "2026-01-02_posts: relation \"posts\" already exists",
        ));
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert_eq!(text.matches("  ok    ").count(), 3, "{text}");
    for (i, db) in dbs.iter().enumerate() {
        let applied = sql(db, "SELECT count(*) FROM schema_migrations WHERE success");
        assert_eq!(applied, if i == 2 { "1" } else { "2" }, "database {i}");
    }
    // Once fixed, the same command finishes the failed one and does nothing elsewhere.
    sql(&dbs[2], "DROP TABLE posts");
    pgshift(dir.path(), &dbs[0])
        .env_remove("DATABASE_URL")
        .env("TENANT_C_URL", cluster().url(&dbs[2]))
        .args(["migrate", "--skip-backup", "--targets", "tenants.txt"])
        .assert()
        .success()
        .stdout(contains("4 ok, 0 failed."));
    assert_eq!(
        sql(
            &dbs[2],
            "SELECT count(*) FROM schema_migrations WHERE success"
        ),
        "2"
    );
}

#[test]
fn shards_split_the_fleet_and_staging_confirms_it_by_the_files_name() {
    let (dir, first) = project(&[]);
    migrations(&dir);
    let dbs: Vec<String> = std::iter::once(first)
        .chain((0..3).map(|_| cluster().create_database("shard").unwrap()))
        .collect();
    let list: String = dbs.iter().map(|d| cluster().url(d) + "\n").collect();
    std::fs::write(dir.path().join("fleet.txt"), list).unwrap();
    // No API serves these tables: the RLS rule (an error in staging) does not apply.
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[rules]\n\"rls/table-without-rls\" = \"off\"\n",
    )
    .unwrap();
    // Staging: the fleet is confirmed once, by the targets file's name.
    pgshift(dir.path(), &dbs[0])
        .env("ENVIRONMENT", "staging")
        .args(["migrate", "--targets", "fleet.txt", "--shard", "2/2"])
        .assert()
        .code(3)
        .stderr(contains("pass --confirm fleet.txt"));
    let summary = dir.path().join("summary.md");
    pgshift(dir.path(), &dbs[0])
        .env("ENVIRONMENT", "staging")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "migrate",
            "--targets",
            "fleet.txt",
            "--shard",
            "2/2",
            "--confirm",
            "fleet.txt",
        ])
        .assert()
        .success()
        .stdout(contains(
            "Deploying to 2 database(s) of fleet.txt, shard 2/2",
        ))
        .stdout(contains("2 ok, 0 failed."));
    // Shard 2 of 2 is the second and the fourth database.
    let applied: Vec<String> = dbs
        .iter()
        .map(|d| sql(d, "SELECT to_regclass('schema_migrations') IS NOT NULL"))
        .collect();
    assert_eq!(applied, ["f", "t", "f", "t"]);
    // Each target's backup in its own folder.
    let folders = std::fs::read_dir(dir.path().join("backups/migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(folders, 2);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("## ✅ pgshift fleet deploy: fleet.txt"), "{md}");
    assert_eq!(md.matches("| ok |").count(), 2, "{md}");

    pgshift(dir.path(), &dbs[0])
        .args(["migrate", "--targets", "fleet.txt", "--shard", "3/2"])
        .assert()
        .code(2)
        .stderr(contains("expected I/N with 1 ≤ I ≤ N"));
    pgshift(dir.path(), &dbs[0])
        .args(["migrate", "--shard", "1/2"])
        .assert()
        .code(2)
        .stderr(contains("--targets"));
}

#[test]
fn a_target_that_cannot_be_reached_is_an_error_in_the_table_without_its_password() {
    let (dir, db) = project(&[]);
    migrations(&dir);
    std::fs::write(
        dir.path().join("t.txt"),
        format!(
            "{}\npostgresql://app:hunter2@127.0.0.1:1/nowhere?connect_timeout=2\nUNSET_URL\n",
            cluster().url(&db)
        ),
    )
    .unwrap();
    let out = pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--targets", "t.txt", "--json"])
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!text.contains("hunter2"), "{text}");
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let by = |target: &str| {
        events
            .iter()
            .find(|e| e["event"] == "target" && e["target"].as_str().unwrap().contains(target))
            .unwrap_or_else(|| panic!("no {target} in {text}"))
            .clone()
    };
    assert_eq!(by("nowhere")["status"], "error");
    assert_eq!(by("UNSET_URL")["status"], "error");
    assert!(by("UNSET_URL")["detail"]
        .as_str()
        .unwrap()
        .contains("not set"));
    let done = events.iter().find(|e| e["event"] == "fleet_done").unwrap();
    assert_eq!(done["ok"], 1);
    assert_eq!(done["failed"], 2);
}

#[test]
fn targets_on_one_server_that_alter_the_same_role_all_end_deployed() {
    let (dir, first) = project(&[]);
    // Roles belong to the server: every target creates the same role (two at once both pass
    // the IF NOT EXISTS guard, and one hits pg_authid's unique index) and alters the same row
    // of pg_authid (PostgreSQL refuses concurrent updates: "tuple concurrently updated").
    write(
        &dir,
        "2026-01-01_role",
        "DO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleet_race_app') THEN\n    CREATE ROLE fleet_race_app NOLOGIN;\n  END IF;\nEND $$;\nALTER ROLE fleet_race_app CONNECTION LIMIT 5;\nCOMMENT ON ROLE fleet_race_app IS 'shared by every tenant';\n",
    );
    let dbs: Vec<String> = std::iter::once(first)
        .chain((0..5).map(|_| cluster().create_database("race").unwrap()))
        .collect();
    let list: String = dbs.iter().map(|d| cluster().url(d) + "\n").collect();
    std::fs::write(dir.path().join("all.txt"), list).unwrap();
    pgshift(dir.path(), &dbs[0])
        .env("PARALLEL_JOBS", "6")
        .args(["migrate", "--skip-backup", "--targets", "all.txt"])
        .assert()
        .success()
        .stdout(contains("6 ok, 0 failed."));
    for db in &dbs {
        assert_eq!(
            sql(db, "SELECT count(*) FROM schema_migrations WHERE success"),
            "1"
        );
    }
}
