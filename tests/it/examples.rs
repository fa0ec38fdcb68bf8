//! The example migration set is real SQL: it orders like the guide and applies, and its down
//! files undo exactly what their up files did, on a real PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Command;

use pgshift::config::Environment;
use pgshift::ephemeral::Cluster;
use pgshift::migration::{load_dir, Migration, MigrationSet};
use pgshift::plan::plan;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/eneas-os/migrations")
}

fn ordered(set: &MigrationSet) -> Vec<&Migration> {
    let p = plan(set).expect("the example set plans");
    p.steps
        .iter()
        .map(|s| set.get(&s.version).unwrap())
        .collect()
}

use crate::common::ROLE_TURN;

fn shared() -> &'static Cluster {
    Cluster::shared().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"))
}

/// Runs one file with psql in a single transaction, as pgshift will (a file of CONCURRENTLY
/// statements statement by statement, as pgshift does too).
fn psql_file(c: &Cluster, db: &str, file: &Path) {
    let concurrent = std::fs::read_to_string(file)
        .unwrap()
        .contains(" CONCURRENTLY ");
    let mut cmd = c.psql_command(db);
    if !concurrent {
        cmd.arg("--single-transaction");
    }
    let out = cmd
        .args(["-v", "app_password=example-only-password"])
        .arg("-f")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn schema(c: &Cluster, db: &str) -> String {
    let out = Command::new(c.client_program("pg_dump"))
        .args(["--schema-only", "--no-owner", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port().to_string(), "-U", "postgres", db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // pg_dump 15.14+ brackets the dump with \restrict / \unrestrict and a random key.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn example_order_reproduces_the_guide_groups() {
    let set = load_dir(&examples(), Environment::Production).unwrap();
    assert!(set.findings.is_empty(), "{:?}", set.findings);
    assert!(set.migrations.len() >= 15);
    let order: Vec<&str> = ordered(&set).iter().map(|m| m.version.as_str()).collect();
    // The guide's "Current Migration Order", group by group.
    let guide = [
        "2025-12-28_enable_rls",
        "2025-12-28_create_core_tables_final",
        "2025-12-28_create_crm_tables_final",
        "2025-12-29_rbac_system",
        "2025-12-29_seed_granular_permissions",
        "2025-12-28_team_sharing",
        "2026-01-16_notifications_system",
        "2026-01-16_whitelabel_tenant",
        "2026-01-18_fix_crm_schema",
        "2026-01-18_fix_missing_tables",
        "2026-01-19_create_activity_logs",
        "2026-01-20_credential_encryption",
        "2026-01-20_migrate_plaintext_credentials",
        "2026-01-20_comprehensive_rls_policies",
        "2026-01-20_create_finances_table",
        "2026-01-21_add_user_profiles",
        // After the guide's set: the foreign keys' indexes, which health and lint asked for.
        "2026-01-22_index_foreign_keys",
    ];
    assert_eq!(order, guide);
    let with_down = set.migrations.iter().filter(|m| m.down.is_some()).count();
    assert!(
        with_down * 4 >= set.migrations.len() * 3,
        "down files for most: {with_down}"
    );
}

#[test]
fn example_set_applies_and_secures_every_table() {
    let _turn = ROLE_TURN.lock().unwrap_or_else(|e| e.into_inner());
    let c = shared();
    let db = c.create_database("examples_apply").unwrap();
    let set = load_dir(&examples(), Environment::Development).unwrap();
    for m in ordered(&set) {
        psql_file(c, &db, &m.path);
    }
    let tables = c
        .psql(&db, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
        .unwrap();
    for t in [
        "tenants",
        "users",
        "contacts",
        "deals",
        "roles",
        "teams",
        "notifications",
        "tasks",
        "activity_logs",
        "integration_credentials",
        "finances",
        "user_profiles",
    ] {
        assert!(
            tables.split(',').any(|x| x.trim() == t),
            "{t} missing from {tables}"
        );
    }
    let unprotected = c
        .psql(
            &db,
            "SELECT string_agg(c.relname, ',') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' \
             AND (NOT c.relrowsecurity OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))",
        )
        .unwrap();
    assert_eq!(unprotected.trim(), "", "tables without RLS or policy");
    // The :app_password variable reached the role: it logs in over TCP with that password.
    let url = format!(
        "postgresql://eneas_app:example-only-password@127.0.0.1:{}/{db}",
        c.port()
    );
    let out = Command::new(c.client_program("psql"))
        .args(["-X", "-A", "-t", "-c", "SELECT current_user", &url])
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "eneas_app",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Credentials were moved to the encrypted column and can be read back.
    c.psql(
        &db,
        "INSERT INTO tenants (name, slug) VALUES ('Acme', 'acme')",
    )
    .unwrap();
    let roundtrip = c
        .psql(
            &db,
            "INSERT INTO integration_credentials (tenant_id, provider, secret_encrypted) \
             SELECT id, 'smtp', app.encrypt_secret('s3cret') FROM tenants; \
             SELECT app.decrypt_secret(secret_encrypted) FROM integration_credentials",
        )
        .unwrap();
    assert_eq!(roundtrip.trim(), "s3cret");
}

#[test]
fn every_down_file_restores_the_schema_before_its_up_file() {
    let _turn = ROLE_TURN.lock().unwrap_or_else(|e| e.into_inner());
    let c = shared();
    let db = c.create_database("examples_rollback").unwrap();
    let set = load_dir(&examples(), Environment::Development).unwrap();
    for m in ordered(&set) {
        let before = schema(c, &db);
        psql_file(c, &db, &m.path);
        if let Some(down) = &m.down {
            psql_file(c, &db, &down.path);
            let after = schema(c, &db);
            if before != after {
                let only = |a: &str, b: &str| -> Vec<String> {
                    a.lines()
                        .filter(|l| !b.lines().any(|x| x == *l))
                        .map(str::to_string)
                        .collect()
                };
                panic!(
                    "{}: the schema after down differs from before up\nonly before: {:#?}\nonly after: {:#?}",
                    m.version,
                    only(&before, &after),
                    only(&after, &before)
                );
            }
            psql_file(c, &db, &m.path);
        }
    }
}
