//! Supabase on plain PostgreSQL: the stub's roles and auth.uid() honouring the JWT claims (a
//! policy lets each of two users see only their rows), the Supabase CLI's history kept in step
//! (applied, rolled back, disagreements in `status`), and the connection rules (transaction
//! pooler refused, a project URL with its database password, a service key alone explained).

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::*;

fn example_project() -> (tempfile::TempDir, String) {
    let dir = example_copy("supabase");
    let db = cluster().create_database("supabase").unwrap();
    (dir, db)
}

/// `pgshift test --supabase` on the shared cluster's database: the stub, then the set.
fn deployed() -> (tempfile::TempDir, String) {
    let (dir, db) = example_project();
    pgshift(dir.path(), &db)
        .args(["test", "--supabase", "--database-url", &cluster().url(&db)])
        .assert()
        .success()
        .stdout(contains("Loaded the Supabase stub"))
        .stdout(contains("Test passed"));
    (dir, db)
}

/// Runs `sql` as PostgREST does for a signed-in user: logged in as `authenticator`, then
/// `SET ROLE authenticated` with the JWT's claims in `request.jwt.claims`.
fn as_user(db: &str, user: &str, sql: &str) -> Result<String, String> {
    let claims = format!(r#"{{"sub":"{user}","role":"authenticated"}}"#);
    let script = format!(
        "BEGIN;\nSET LOCAL ROLE authenticated;\nSET LOCAL request.jwt.claims = '{claims}';\n{sql}\nCOMMIT;\n"
    );
    let out = cluster()
        .psql_command(db)
        .args(["-U", "authenticator", "-A", "-t"])
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

const ALICE: &str = "00000000-0000-0000-0000-00000000a11c";
const BOB: &str = "00000000-0000-0000-0000-000000000b0b";

#[test]
fn a_policy_lets_each_signed_in_user_see_only_their_rows() {
    let (_dir, db) = deployed();
    // Signing up (the trigger on auth.users makes each profile).
    sql(
        &db,
        &format!("INSERT INTO auth.users (id, email, raw_user_meta_data) VALUES ('{ALICE}', 'alice@example.com', '{{\"full_name\":\"Alice\"}}'), ('{BOB}', 'bob@example.com', '{{}}')"),
    );
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(coalesce(full_name, '-'), ',' ORDER BY id) FROM profiles"
        ),
        "-,Alice"
    );
    for (user, title) in [(ALICE, "alice draft"), (BOB, "bob draft")] {
        as_user(
            &db,
            user,
            &format!("INSERT INTO posts (author_id, title) VALUES ('{user}', '{title}');"),
        )
        .unwrap();
    }
    assert_eq!(
        as_user(&db, ALICE, "SELECT string_agg(title, ',') FROM posts;").unwrap(),
        "alice draft"
    );
    assert_eq!(
        as_user(&db, BOB, "SELECT string_agg(title, ',') FROM posts;").unwrap(),
        "bob draft"
    );
    // Nobody writes as somebody else.
    let refused = as_user(
        &db,
        BOB,
        &format!("INSERT INTO posts (author_id, title) VALUES ('{ALICE}', 'forged');"),
    )
    .unwrap_err();
    assert!(refused.contains("row-level security"), "{refused}");
    // Avatars: only under one's own folder.
    as_user(
        &db,
        ALICE,
        &format!(
            "INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars', '{ALICE}/me.png');"
        ),
    )
    .unwrap();
    let refused = as_user(
        &db,
        BOB,
        &format!(
            "INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars', '{ALICE}/evil.png');"
        ),
    )
    .unwrap_err();
    assert!(refused.contains("row-level security"), "{refused}");
    // The anonymous role reads published posts only.
    sql(
        &db,
        "UPDATE posts SET published = true WHERE title = 'bob draft'",
    );
    let anon = cluster()
        .psql(
            &db,
            "SET ROLE anon; SELECT string_agg(title, ',') FROM posts",
        )
        .unwrap();
    assert_eq!(anon.trim(), "bob draft");
}

#[test]
fn the_supabase_cli_history_follows_applies_and_rollbacks() {
    let (dir, db) = deployed();
    let history = |db: &str| {
        sql(
            db,
            "SELECT string_agg(version || ' ' || name || ' ' || cardinality(statements), ',' ORDER BY version) FROM supabase_migrations.schema_migrations",
        )
    };
    assert_eq!(
        history(&db),
        "20260201000001 2026-02-01_create_profiles 5,20260202000001 2026-02-02_profile_for_new_users 4,20260203000001 2026-02-03_create_posts 6,20260204000001 2026-02-04_avatars_bucket 6"
    );
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains(
            "The Supabase CLI's history (supabase_migrations.schema_migrations) agrees.",
        ));
    pgshift(dir.path(), &db)
        .args(["rollback", "--version", "2026-02-04_avatars_bucket"])
        .assert()
        .success();
    assert!(!history(&db).contains("avatars"), "{}", history(&db));
    // A row the Supabase CLI wrote itself, which pgshift never applied.
    sql(&db, "INSERT INTO supabase_migrations.schema_migrations VALUES ('20250101120000', '{}', 'cli_only')");
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains(
            "in Supabase's history, not applied by pgshift: 20250101120000 cli_only",
        ));
}

#[test]
fn the_transaction_pooler_is_refused_with_the_session_pooler_suggested() {
    let (dir, db) = project(&[]);
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", "postgresql://postgres.abcdef:s3cr3t-pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres")
        .arg("status")
        .assert()
        .code(2)
        .stderr(contains("transaction pooler"))
        .stderr(contains("Session pooler"))
        .stderr(contains("s3cr3t-pw").not());
}

#[test]
fn a_service_key_alone_is_explained_and_a_project_url_with_a_password_is_used() {
    let (dir, db) = project(&[]);
    pgshift(dir.path(), &db)
        .env_remove("DATABASE_URL")
        .env("SUPABASE_URL", "https://abcdefghij.supabase.co")
        .env("SUPABASE_SERVICE_KEY", "eyJhbGciOiJIUzI1NiJ9.service.key")
        .arg("status")
        .assert()
        .code(2)
        .stderr(contains("cannot run DDL"))
        .stderr(contains("SUPABASE_DB_PASSWORD"))
        .stderr(contains("eyJhbGciOiJIUzI1NiJ9").not());
    // The project's direct connection is tried (this machine has no network: it cannot be
    // reached), and the password is never shown.
    pgshift(dir.path(), &db)
        .env_remove("DATABASE_URL")
        .env("SUPABASE_URL", "https://abcdefghij.supabase.co")
        .env("SUPABASE_DB_PASSWORD", "db-pa55word-x")
        .arg("status")
        .assert()
        .code(2)
        .stderr(contains("db.abcdefghij.supabase.co"))
        .stderr(contains("db-pa55word-x").not());
}

#[test]
fn the_history_stores_the_files_statements_never_a_variables_value() {
    let (dir, db) = project(&[(
        "2026-03-01_api_role",
        "DO $$ BEGIN CREATE ROLE history_probe LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\nALTER ROLE history_probe PASSWORD :'probe_password';\n",
    )]);
    pgshift(dir.path(), &db)
        .env("PROBE_PASSWORD", "hist-secret-0451")
        .args(["test", "--supabase", "--database-url", &cluster().url(&db)])
        .assert()
        .success();
    let stored = sql(
        &db,
        "SELECT array_to_string(statements, ' | ') FROM supabase_migrations.schema_migrations WHERE name = '2026-03-01_api_role'",
    );
    assert!(stored.contains("PASSWORD :'probe_password'"), "{stored}");
    assert!(!stored.contains("hist-secret-0451"), "{stored}");
}

#[test]
fn the_stub_loaded_at_once_into_databases_of_one_server_loads_into_each() {
    // Its roles are the server's: loads at once update the same role's row, and PostgreSQL
    // refuses all but one ("tuple concurrently updated"); the refused ones load again.
    for _round in 0..3 {
        let dbs: Vec<String> = (0..4)
            .map(|_| cluster().create_database("stub_race").unwrap())
            .collect();
        let start = std::sync::Barrier::new(dbs.len());
        std::thread::scope(|s| {
            for db in &dbs {
                let start = &start;
                s.spawn(move || {
                    let spec =
                        pgshift::db::connect::ConnectionSpec::parse(&cluster().url(db)).unwrap();
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    start.wait();
                    if let Err(e) = rt.block_on(pgshift::supabase::load_stub(&spec)) {
                        panic!("{db}: {e}");
                    }
                });
            }
        });
        for db in &dbs {
            assert_eq!(
                sql(db, "SELECT to_regprocedure('auth.uid()') IS NOT NULL"),
                "t"
            );
        }
    }
}
