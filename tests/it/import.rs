//! `pgshift import --from TOOL`: for each tool, a look-alike of a real open-source set (with its
//! quirks: same-day timestamps, empty and comment-only files, own BEGIN/COMMIT, StatementBegin,
//! transaction:false, mixed padding, nested folders, repeatables, reworked Sqitch changes) is
//! imported, validates, orders as the source tool runs it, and applies on a throwaway
//! PostgreSQL with every down file checked.

use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;

use crate::common;

fn fixture(tool: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(tool)
}

fn cmd(dir: &Path) -> Command {
    common::pgshift_in(dir)
}

/// Imports `tool`'s fixture into a new project; returns it and the order `pgshift order` gives,
/// as the source versions named in each file's header.
fn import(tool: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    cmd(dir.path())
        .args(["import", "--from", tool])
        .arg(fixture(tool))
        .assert()
        .success()
        .stdout(contains("→"));
    cmd(dir.path())
        .arg("validate")
        .assert()
        .success()
        .stdout(contains("0 errors"));
    let out = cmd(dir.path()).args(["--json", "order"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("order as JSON");
    let order = v["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let version = s["version"].as_str().unwrap();
            let text = std::fs::read_to_string(
                dir.path().join("migrations").join(format!("{version}.sql")),
            )
            .unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("-- Imported from"))
                .unwrap()
                .to_string();
            line.rsplit("(version ")
                .next()
                .unwrap()
                .trim_end_matches(')')
                .to_string()
        })
        .collect();
    (dir, order)
}

/// `pgshift test --rollback` on the imported set, on a throwaway PostgreSQL.
fn applies(dir: &Path, extra: &[&str], down_files: usize) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    cmd(dir)
        .env("TMPDIR", tmp.path())
        .args(["test", "--rollback"])
        .args(extra)
        .assert()
        .success()
        .stdout(contains("Test passed"))
        .stdout(contains(if down_files == 0 {
            "no down file to check".to_string()
        } else {
            format!("{down_files} down file(s) checked")
        }));
}

#[test]
fn supabase_cli_set() {
    let (dir, order) = import("supabase");
    assert_eq!(
        order,
        [
            "20240101093000",
            "20240101101500",
            "20240102120000",
            "20240103080000"
        ]
    );
    // `db pull` left a file of comments only: imported, and skipped by deploys.
    applies(dir.path(), &["--supabase"], 0);
}

#[test]
fn prisma_set() {
    let (dir, order) = import("prisma");
    assert_eq!(
        order,
        [
            "20230601120000_init",
            "20230715093000_add_published",
            "20230801000000_role_enum"
        ]
    );
    applies(dir.path(), &[], 0);
}

#[test]
fn dbmate_set_with_down_sections_and_transaction_false() {
    let (dir, order) = import("dbmate");
    assert_eq!(
        order,
        ["20220301101010", "20220301101020", "20220415000000"]
    );
    let index = std::fs::read_to_string(
        dir.path()
            .join("migrations/2022-03-01_101020_users_email_index.sql"),
    )
    .unwrap();
    assert!(index.contains("-- @no-transaction"), "{index}");
    applies(dir.path(), &[], 3);
}

#[test]
fn goose_set_with_statement_blocks_no_transaction_and_mixed_padding() {
    let (dir, order) = import("goose");
    assert_eq!(order, ["1", "2", "3", "12"]);
    applies(dir.path(), &[], 4);
}

#[test]
fn golang_migrate_set_with_own_transactions_and_numeric_order() {
    let (dir, order) = import("golang-migrate");
    assert_eq!(order, ["1", "2", "10"]);
    // Undated: today's date, then the position.
    let first = std::fs::read_dir(dir.path().join("migrations"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("_0001_create_items.sql"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .expect("the first migration");
    assert!(
        !first.contains("\nBEGIN;") && first.contains("its own BEGIN/COMMIT removed"),
        "{first}"
    );
    applies(dir.path(), &[], 3);
}

#[test]
fn flyway_set_with_dotted_versions_nested_folders_undo_and_a_repeatable() {
    let (dir, order) = import("flyway");
    // Flyway runs its repeatables after every versioned migration: so does the import.
    assert_eq!(order, ["1", "1.1", "1.2", "2", "R__person_view"]);
    let view =
        std::fs::read_to_string(dir.path().join("migrations/repeatable/person_view.sql")).unwrap();
    assert!(view.contains("-- Version: repeatable\n"), "{view}");
    assert!(
        view.contains("CREATE OR REPLACE VIEW person_names"),
        "{view}"
    );
    applies(dir.path(), &[], 1);
    // Applied as a repeatable: recorded as `repeatable/person_view`, and an edit runs it again.
    let db = common::cluster().create_database("flyway").unwrap();
    common::pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success();
    let path = dir.path().join("migrations/repeatable/person_view.sql");
    std::fs::write(
        &path,
        view.replace("SELECT name FROM person", "SELECT name, email FROM person"),
    )
    .unwrap();
    common::pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .assert()
        .success()
        .stdout(contains("✓ repeatable/person_view"));
    let columns = common::sql(
        &db,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'person_names'",
    );
    assert_eq!(columns, "2");
}

#[test]
fn sqitch_project_with_requirements_tags_and_a_reworked_change() {
    let (dir, order) = import("sqitch");
    // Files are named after the change; its note is the header's title.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("migrations"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"2013-12-31_151934_users.sql".to_string()),
        "{names:?}"
    );
    let users =
        std::fs::read_to_string(dir.path().join("migrations/2013-12-31_151934_users.sql")).unwrap();
    assert!(
        users.contains("-- MIGRATION: users: Creates table to track our users.\n"),
        "{users}"
    );
    assert_eq!(
        order,
        [
            "appschema",
            "users",
            "insert_user@v1.0.0-dev1",
            "insert_user"
        ]
    );
    let reworked = std::fs::read_dir(dir.path().join("migrations"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.to_string_lossy().contains("2014-01-05")
                && !p.to_string_lossy().ends_with(".down.sql")
        })
        .unwrap();
    let text = std::fs::read_to_string(reworked).unwrap();
    assert!(
        text.contains("-- Dependencies: 2014-01-02_091500_insert_user"),
        "{text}"
    );
    applies(dir.path(), &[], 4);
}

#[test]
fn numbered_set_with_dashes_padding_and_a_superseded_file() {
    let (dir, order) = import("numbered");
    assert_eq!(order, ["1", "2", "9", "10"]);
    applies(dir.path(), &[], 1);
}

#[test]
fn import_never_overwrites_and_says_what_exists() {
    let (dir, _) = import("dbmate");
    let before = std::fs::read_to_string(
        dir.path()
            .join("migrations/2022-03-01_101010_create_users.sql"),
    )
    .unwrap();
    cmd(dir.path())
        .args(["import", "--from", "dbmate"])
        .arg(fixture("dbmate"))
        .assert()
        .code(2)
        .stderr(contains("exist already"))
        .stderr(contains("nothing was written"));
    assert_eq!(
        std::fs::read_to_string(
            dir.path()
                .join("migrations/2022-03-01_101010_create_users.sql")
        )
        .unwrap(),
        before
    );
    // A folder of another layout: what was expected.
    cmd(dir.path())
        .args(["import", "--from", "prisma"])
        .arg(fixture("numbered"))
        .assert()
        .code(2)
        .stderr(contains("no prisma migration found"))
        .stderr(contains("<timestamp>_<name>/migration.sql"));
}

#[test]
fn files_that_lead_outside_the_source_are_refused_not_copied() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.sql"), "SELECT 'not yours';\n").unwrap();
    let link = |target: &Path, at: &Path| std::os::unix::fs::symlink(target, at).unwrap();
    // Supabase: one migration is a link to a file elsewhere.
    let src = tempfile::tempdir().unwrap();
    let m = src.path().join("supabase/migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("20260101000000_first.sql"),
        "CREATE TABLE first (id int);\n",
    )
    .unwrap();
    link(
        &outside.path().join("secret.sql"),
        &m.join("20260102000000_linked.sql"),
    );
    let target = tempfile::tempdir().unwrap();
    let out = cmd(target.path())
        .args(["import", "--from", "supabase"])
        .arg(src.path())
        .output()
        .unwrap();
    let text = common::both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("20260102000000_linked.sql leads outside the folder being imported"),
        "{text}"
    );
    assert!(
        !target.path().join("migrations").exists()
            || std::fs::read_dir(target.path().join("migrations"))
                .unwrap()
                .next()
                .is_none()
    );
    // A link that stays inside is read as the file it points to.
    std::fs::remove_file(m.join("20260102000000_linked.sql")).unwrap();
    std::fs::write(
        src.path().join("shared.sql"),
        "CREATE TABLE shared (id int);\n",
    )
    .unwrap();
    link(
        &src.path().join("shared.sql"),
        &m.join("20260102000000_linked.sql"),
    );
    cmd(target.path())
        .args(["import", "--from", "supabase"])
        .arg(src.path())
        .assert()
        .success();
    // Sqitch: a change whose name climbs out of the project.
    let sq = tempfile::tempdir().unwrap();
    for d in ["deploy", "revert"] {
        std::fs::create_dir(sq.path().join(d)).unwrap();
    }
    std::fs::write(
        sq.path().join("sqitch.plan"),
        format!(
            "%project=p\n\n../../{}/secret 2026-01-01T00:00:00Z A <a@b> # climbs out\n",
            outside.path().file_name().unwrap().to_string_lossy()
        ),
    )
    .unwrap();
    let out = cmd(tempfile::tempdir().unwrap().path())
        .args(["import", "--from", "sqitch"])
        .arg(sq.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::both(&out));
    assert!(
        common::both(&out).contains("leads outside the folder being imported"),
        "{}",
        common::both(&out)
    );
    // Flyway: a folder link back into the source is not followed (no endless walk).
    let fw = tempfile::tempdir().unwrap();
    std::fs::write(
        fw.path().join("V1__first.sql"),
        "CREATE TABLE fw (id int);\n",
    )
    .unwrap();
    link(fw.path(), &fw.path().join("again"));
    cmd(tempfile::tempdir().unwrap().path())
        .args(["import", "--from", "flyway"])
        .arg(fw.path())
        .assert()
        .success();
}

/// A Supabase team's first steps: `import --from supabase` with the project folder by default,
/// `supabase/` or `supabase/migrations` named; the Next line asks for the stub; a test without
/// it names the missing schema and the fix; `[supabase] project = true` says it once; a Supabase
/// CLI file name left in pgshift's folder points at the import.
#[test]
fn a_supabase_project_imports_from_any_of_its_folders_and_tests_with_the_stub() {
    let project = tempfile::tempdir().unwrap();
    let m = project.path().join("supabase/migrations");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("20260101000000_profiles.sql"),
        "CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users ON DELETE CASCADE);\nALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;\nCREATE POLICY own ON public.profiles USING (id = (SELECT auth.uid()));\n",
    )
    .unwrap();
    for source in [None, Some("supabase"), Some("supabase/migrations")] {
        let _ = std::fs::remove_dir_all(project.path().join("migrations"));
        let mut c = cmd(project.path());
        c.args(["import", "--from", "supabase"]);
        c.args(source);
        c.assert()
            .success()
            .stdout(contains("1 file(s) written"))
            .stdout(contains("`pgshift test --supabase --rollback`"));
    }
    let out = cmd(project.path()).arg("test").output().unwrap();
    let text = common::both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("schema \"auth\" does not exist"), "{text}");
    assert!(
        text.contains("Schema auth is one a Supabase project gives its migrations: on plain PostgreSQL run `pgshift test --supabase`"),
        "{text}"
    );
    std::fs::write(
        project.path().join("pgshift.toml"),
        "[supabase]\nproject = true\n",
    )
    .unwrap();
    cmd(project.path())
        .arg("test")
        .assert()
        .success()
        .stdout(contains("Loaded the Supabase stub"));
    std::fs::copy(
        m.join("20260101000000_profiles.sql"),
        project
            .path()
            .join("migrations/20260101000000_profiles.sql"),
    )
    .unwrap();
    let out = cmd(project.path()).arg("validate").output().unwrap();
    let text = common::both(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("this is a Supabase CLI file name")
            && text.contains("`pgshift import --from supabase`"),
        "{text}"
    );
}
