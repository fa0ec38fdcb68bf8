//! `pgshift validate`, `scan` and `deps` as a user runs them.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

const HEADER: &str = "-- MIGRATION: t\n-- Author: tester\n-- Dependencies: None\n";

fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    for (name, content) in files {
        std::fs::write(m.join(name), content).unwrap();
    }
    dir
}

fn file(date: &str, sql: &str) -> String {
    format!("-- MIGRATION: t\n-- Version: {date}\n-- Author: tester\n-- Dependencies: None\n{sql}")
}

fn pgshift(dir: &Path) -> Command {
    crate::common::pgshift_in(dir)
}

#[test]
fn syntax_error_at_the_start_of_a_file() {
    let p = project(&[("2026-01-01_a.sql", &file("2026-01-01", "SELEC 1;\n"))]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains(
            "error[sql/syntax]: syntax error at or near \"SELEC\"",
        ))
        .stdout(contains("migrations/2026-01-01_a.sql:5:1"))
        .stdout(contains("5 | SELEC 1;"))
        .stdout(contains("  | ^^^^^"));
}

#[test]
fn syntax_error_in_the_middle_of_a_long_file_after_multibyte_text() {
    let mut sql = String::new();
    for i in 0..200 {
        sql.push_str(&format!(
            "INSERT INTO notes (body) VALUES ('naïve café ✓ {i}');\n"
        ));
    }
    sql.push_str("INSERT INTO notes (body) VALUES ('ü') ('missing comma');\n");
    for i in 0..200 {
        sql.push_str(&format!("SELECT {i};\n"));
    }
    let p = project(&[("2026-01-01_a.sql", &file("2026-01-01", &sql))]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains("error[sql/syntax]: syntax error at or near \"(\""))
        .stdout(contains("migrations/2026-01-01_a.sql:205:39"))
        .stdout(contains(
            "205 | INSERT INTO notes (body) VALUES ('ü') ('missing comma');",
        ));
}

#[test]
fn syntax_error_at_the_end_of_a_file() {
    let p = project(&[(
        "2026-01-01_a.sql",
        &file("2026-01-01", "SELECT 1;\nCREATE TABLE t (id int"),
    )]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains("error[sql/syntax]: syntax error at end of input"))
        .stdout(contains("migrations/2026-01-01_a.sql:6:23"));
}

#[test]
fn the_guides_hardcoded_password_is_an_error_and_the_variable_is_fine() {
    let p = project(&[
        (
            "2026-01-01_bad.sql",
            &file(
                "2026-01-01",
                "CREATE USER admin WITH PASSWORD 'secret123';\n",
            ),
        ),
        (
            "2026-01-02_good.sql",
            &file(
                "2026-01-02",
                "CREATE USER admin2 WITH PASSWORD :app_password;\n",
            ),
        ),
    ]);
    let out = pgshift(p.path())
        .env("APP_PASSWORD", "'s3cr3t-value'")
        .args(["scan"])
        .assert()
        .code(1)
        .stdout(contains("error[secrets/literal-password]: the password of role admin is written in the migration"))
        .stdout(contains("migrations/2026-01-01_bad.sql:5:33"));
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!stdout.contains("2026-01-02_good.sql:"), "{stdout}");
    assert!(
        !stdout.contains("s3cr3t-value"),
        "a variable's value is never printed"
    );
}

#[test]
fn rules_read_the_rows_and_queries_of_a_file_the_first_pass_split() {
    // The first pass decodes no tree of an INSERT or a plain SELECT (the set's facts never come
    // from them); the rules still read them whole, at their places in the file.
    let p = project(&[
        (
            "2026-01-01_keys.sql",
            &file(
                "2026-01-01",
                "CREATE TABLE api_keys (name text PRIMARY KEY, token text);
SELECT count(*) FROM api_keys;
INSERT INTO api_keys (name, token) VALUES ('ci', 'Zx81kQ9vTq2LmW7pR4sY');
SELECT 1;
",
            ),
        ),
        (
            "2026-01-02_more.sql",
            &file(
                "2026-01-02",
                "SELECT 2;
UPDATE api_keys SET token = 'Hq72nB5xWc9ZaK3mP8tL';
",
            ),
        ),
    ]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains("error[secrets/high-entropy-secret]"))
        .stdout(contains("migrations/2026-01-01_keys.sql:7:50"))
        .stdout(contains("migrations/2026-01-02_more.sql:6:29"));
}

#[test]
fn a_finding_deep_in_a_large_file_is_placed_on_its_own_line() {
    // Over 1 MiB, a file is parsed statement by statement: a position in a statement's tree
    // counts from that statement, and findings must still point into the file.
    let mut sql = String::from("CREATE TABLE t (id int, token text);\n");
    for i in 0..40_000 {
        sql.push_str(&format!("INSERT INTO t (id) VALUES ({i});\n"));
    }
    sql.push_str("UPDATE t SET token = 'Zx81kQ9vTq2LmW7pR4sY';\n");
    sql.push_str("CREATE ROLE app LOGIN PASSWORD 'plain-text-here';\n");
    let p = project(&[("2026-01-01_big.sql", &file("2026-01-01", &sql))]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains("migrations/2026-01-01_big.sql:40006:22"))
        .stdout(contains("migrations/2026-01-01_big.sql:40007:"));
}

#[test]
fn missing_variables_and_meta_commands_are_reported_with_their_place() {
    let sql = "\\connect other\nALTER ROLE app PASSWORD :'app_password';\nSELECT `date`;\n";
    let p = project(&[("2026-01-01_a.sql", &file("2026-01-01", sql))]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains(
            "error[sql/meta-command]: psql meta-command `\\connect` is not supported",
        ))
        .stdout(contains("migrations/2026-01-01_a.sql:5:1"))
        .stdout(contains(
            "warning[sql/missing-variable]: psql variable :app_password has no value",
        ))
        .stdout(contains("migrations/2026-01-01_a.sql:6:25"))
        .stdout(contains("set APP_PASSWORD in the environment"))
        .stdout(contains(
            "error[sql/meta-command]: a backtick runs a shell command",
        ))
        .stdout(contains("migrations/2026-01-01_a.sql:7:8"));
}

#[test]
fn a_syntax_error_inside_a_variables_value_never_shows_the_value() {
    let p = project(&[(
        "2026-01-01_a.sql",
        &file("2026-01-01", "SELECT :raw_value;\n"),
    )]);
    let out = pgshift(p.path())
        .env("RAW_VALUE", "hunter2 FROM FROM")
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains(
            "error[sql/syntax]: syntax error in the value of psql variable :raw_value",
        ));
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("hunter"));
}

#[test]
fn dangerous_operations_warn_in_development_and_fail_in_production() {
    let p = project(&[(
        "2026-01-01_a.sql",
        &file("2026-01-01", "DROP TABLE users;\n"),
    )]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .success()
        .stdout(contains(
            "warning (an error in staging and production)[dangerous/drop-table]: DROP TABLE deletes the table and all of its data",
        ));
    pgshift(p.path())
        .args(["--env", "production", "validate"])
        .assert()
        .code(1)
        .stdout(contains("error[dangerous/drop-table]"));
}

#[test]
fn allow_per_statement_covers_only_that_statement() {
    let sql = "SET lock_timeout = '1s';\n-- @allow: dangerous/drop-table replaced by users_v2\nDROP TABLE users;\nDROP TABLE orders;\n";
    let p = project(&[(
        "2026-01-01_a.sql",
        &format!("{HEADER}-- Version: 2026-01-01\n\n{sql}"),
    )]);
    pgshift(p.path())
        .args(["--env", "production", "validate"])
        .assert()
        .code(1)
        .stdout(contains("migrations/2026-01-01_a.sql:9:1"))
        .stdout(contains("DROP TABLE orders"))
        .stdout(contains("allowed by @allow:\n  migrations/2026-01-01_a.sql:8:1 dangerous/drop-table: replaced by users_v2"));
}

#[test]
fn allow_per_file_covers_the_whole_file_and_unknown_rules_are_flagged() {
    let sql = "-- @allow: dangerous/drop-table cleanup of the legacy schema\n-- @allow: dangerous/drop-tabel typo\nSET lock_timeout = '1s';\nDROP TABLE a;\nDROP TABLE b;\n";
    let p = project(&[("2026-01-01_a.sql", &file("2026-01-01", sql))]);
    pgshift(p.path())
        .args(["--env", "production", "validate"])
        .assert()
        .success()
        .stdout(contains("warning[directive/unknown-rule]: `@allow` names `dangerous/drop-tabel`, which is not a lint rule"))
        .stdout(contains("0 errors, 1 warning, 0 info, 2 allowed"));
}

#[test]
fn config_changes_rule_levels_and_rejects_unknown_rules() {
    let p = project(&[(
        "2026-01-01_a.sql",
        // The grant to `anon` shows an API: `public` counts as exposed.
        &file(
            "2026-01-01",
            "CREATE TABLE IF NOT EXISTS t (id int);\nGRANT SELECT ON t TO anon;\n",
        ),
    )]);
    pgshift(p.path())
        .arg("validate")
        .assert()
        .success()
        .stdout(contains(
            "warning (an error in staging and production)[rls/table-without-rls]",
        ));
    std::fs::write(
        p.path().join("pgshift.toml"),
        "[rules]\n\"rls/table-without-rls\" = \"error\"\n",
    )
    .unwrap();
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains("error[rls/table-without-rls]"));
    std::fs::write(
        p.path().join("pgshift.toml"),
        "[rules]\n\"rls/table-without-rls\" = \"off\"\n",
    )
    .unwrap();
    pgshift(p.path())
        .arg("validate")
        .assert()
        .success()
        .stdout(contains("0 errors, 0 warnings"));
    std::fs::write(
        p.path().join("pgshift.toml"),
        "[rules]\n\"rls/no-such-rule\" = \"off\"\n",
    )
    .unwrap();
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(2)
        .stderr(contains("unknown rule `rls/no-such-rule` in [rules]"));
    std::fs::write(
        p.path().join("pgshift.toml"),
        "[rules]\n\"deps/cycle\" = \"off\"\n",
    )
    .unwrap();
    pgshift(p.path())
        .arg("validate")
        .assert()
        .code(2)
        .stderr(contains("cannot be configured"));
}

#[test]
fn only_selects_checks_and_rejects_unknown_ones() {
    let p = project(&[("2026-01-01_a.sql", "DROP TABLE users;\n")]);
    pgshift(p.path())
        .args(["validate", "--only", "headers"])
        .assert()
        .success()
        .stdout(contains("header/missing-field"))
        .stdout(contains("dangerous/drop-table").not());
    pgshift(p.path())
        .args(["validate", "--only", "lint,syntax"])
        .assert()
        .success()
        .stdout(contains("dangerous/drop-table"))
        .stdout(contains("header/missing-field").not());
    pgshift(p.path())
        .args(["validate", "--only", "style"])
        .assert()
        .code(2)
        .stderr(contains("--only style: not a check"));
}

#[test]
fn scan_reports_only_security_rules() {
    let p = project(&[(
        "2026-01-01_a.sql",
        &file("2026-01-01", "CREATE TABLE t (id int);\nTRUNCATE t;\n"),
    )]);
    pgshift(p.path())
        .arg("scan")
        .assert()
        .success()
        .stdout(contains("dangerous/truncate"))
        .stdout(contains("rls/").not())
        .stdout(contains("hygiene/").not());
}

#[test]
fn formats_and_the_github_job_summary() {
    let p = project(&[(
        "2026-01-01_a.sql",
        &file(
            "2026-01-01",
            "SET lock_timeout = '1s';\nDROP TABLE users;\n",
        ),
    )]);
    let summary = p.path().join("summary.md");
    pgshift(p.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["validate", "--format", "github"])
        .assert()
        .success()
        .stdout(contains(
            "::warning file=migrations/2026-01-01_a.sql,line=6,col=1,title=dangerous/drop-table::",
        ));
    assert!(std::fs::read_to_string(&summary)
        .unwrap()
        .starts_with("# Migration Validation Report"));
    let sarif = pgshift(p.path())
        .args(["validate", "--format", "sarif"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&sarif.get_output().stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let json = pgshift(p.path())
        .args(["--json", "validate"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(v["counts"]["warnings"], 1);
    pgshift(p.path())
        .args(["validate", "--format", "markdown"])
        .assert()
        .success()
        .stdout(contains("| 1 | 0 | 1 | 0 | 0 | ✅ passed |"));
}

#[test]
fn output_order_does_not_depend_on_parallelism() {
    let files: Vec<(String, String)> = (1..=28)
        .map(|d| {
            (
                format!("2026-02-{d:02}_m.sql"),
                file(
                    &format!("2026-02-{d:02}"),
                    "DROP TABLE t;\nCREATE TABLE x (id int);\n",
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let p = project(&refs);
    let one = pgshift(p.path())
        .env("PARALLEL_JOBS", "1")
        .args(["--json", "validate"])
        .assert()
        .success();
    let four = pgshift(p.path())
        .env("PARALLEL_JOBS", "4")
        .args(["--json", "validate"])
        .assert()
        .success();
    assert_eq!(one.get_output().stdout, four.get_output().stdout);
}

#[test]
fn deps_prints_a_summary_and_the_order() {
    let p = project(&[
        ("2026-01-01_a.sql", &file("2026-01-01", "SELECT 1;\n")),
        (
            "2026-01-02_b.sql",
            &format!(
                "{HEADER}-- Version: 2026-01-02\n-- @depends-on: 2026-01-01_a.sql\nSELECT 1;\n"
            ),
        ),
    ]);
    pgshift(p.path())
        .arg("deps")
        .assert()
        .success()
        .stdout(contains(
            "Dependencies: 2 migrations, 1 declared dependencies, 1 without any.",
        ))
        .stdout(contains(
            "2  2026-01-02_b  by date; after 2026-01-01_a (#1)",
        ));
}

#[test]
fn the_example_set_validates_clean_in_every_environment() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/eneas-os/migrations");
    let dir = tempfile::tempdir().unwrap();
    for env in ["development", "staging", "production"] {
        pgshift(dir.path())
            .env("APP_PASSWORD", "example")
            .arg("--dir")
            .arg(&examples)
            .args(["--env", env, "validate"])
            .assert()
            .success()
            .stdout(contains("0 errors, 0 warnings, 0 info, 5 allowed."));
    }
}

#[test]
fn the_docs_list_every_rule() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/validation.md"))
            .unwrap();
    for rule in pgshift::lint::rules::ALL {
        assert!(
            doc.contains(&format!("| `{}` |", rule.id)),
            "docs/validation.md does not list {}",
            rule.id
        );
    }
}

#[test]
fn a_raw_password_variable_gets_the_quoted_form_in_its_help_and_its_value_stays_hidden() {
    let dir = project(&[(
        "2026-01-01_role.sql",
        &file(
            "2026-01-01",
            "CREATE ROLE app;\nALTER ROLE app PASSWORD :app_password;\n",
        ),
    )]);
    pgshift(dir.path())
        .env("APP_PASSWORD", "wh1te-rabbit-77")
        .arg("validate")
        .assert()
        .code(1)
        .stdout(contains(
            "syntax error in the value of psql variable :app_password",
        ))
        .stdout(contains("migrations/2026-01-01_role.sql:6:25"))
        .stdout(contains("write `:'app_password'`"))
        .stdout(contains("wh1te-rabbit-77").not());
}

/// Findings are written out as files are checked, not held until the end; they still come in
/// file and line order when a migration's findings land in a file that sorts before it (an
/// included file, a down file), when files sort by path otherwise than by version (a folder),
/// and among the set's own findings (a file's name).
#[test]
fn findings_come_in_file_and_line_order_wherever_each_file_sorts() {
    let p = project(&[
        (
            "2026-01-03_c.sql",
            &file(
                "2026-01-03",
                "CREATE TABLE c (id int PRIMARY KEY);\n\\ir 0lib/shared.sql\n",
            ),
        ),
        (
            "2026-01-01_a.sql",
            &file("2026-01-01", "CREATE TABLE a (id int PRIMARY KEY);\n"),
        ),
        ("2026-01-01_a.down.sql", "DROP TABLE a;\nSELEC 1;\n"),
        ("notes.sql", "SELECT 1;\n"),
    ]);
    let m = p.path().join("migrations");
    std::fs::create_dir_all(m.join("0lib")).unwrap();
    std::fs::create_dir_all(m.join("2025")).unwrap();
    std::fs::write(
        m.join("0lib/shared.sql"),
        "CREATE TABLE shared (id int PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        m.join("2025/2026-01-02_b.sql"),
        file(
            "2026-01-02",
            "CREATE TABLE b (id int PRIMARY KEY);\nCREATE INDEX b_id ON b (id);\n",
        ),
    )
    .unwrap();
    let out = pgshift(p.path())
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let places: Vec<(String, u64, u64, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let l = &f["location"];
            (
                l["file"].as_str().unwrap_or("").to_string(),
                l["line"].as_u64().unwrap_or(0),
                l["column"].as_u64().unwrap_or(0),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let files: Vec<&str> = places.iter().map(|p| p.0.as_str()).collect();
    for expected in [
        "migrations/0lib/shared.sql",
        "migrations/2025/2026-01-02_b.sql",
        "migrations/2026-01-01_a.down.sql",
        "migrations/2026-01-01_a.sql",
        "migrations/2026-01-03_c.sql",
        "migrations/notes.sql",
    ] {
        assert!(
            files.contains(&expected),
            "no finding in {expected}: {places:#?}"
        );
    }
    let mut sorted = places.clone();
    sorted.sort();
    assert_eq!(places, sorted, "{}", String::from_utf8_lossy(&out.stdout));
    // The text lists errors, then warnings, then information, each in file order.
    let text = pgshift(p.path()).arg("validate").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let levels: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            ["error[", "warning[", "info["]
                .into_iter()
                .find(|k| l.starts_with(k))
        })
        .collect();
    let mut by_level = levels.clone();
    by_level.sort_by_key(|l| ["error[", "warning[", "info["].iter().position(|k| k == l));
    assert_eq!(levels, by_level, "{text}");
    assert!(
        levels.contains(&"error[") && levels.contains(&"info["),
        "{text}"
    );
    assert!(
        text.find("migrations/0lib/shared.sql").unwrap()
            < text.find("migrations/2026-01-03_c.sql:5").unwrap(),
        "{text}"
    );
}

/// A report of more than a megabyte: the information waits in a temporary file while an
/// error may still come; without a usable temporary folder it waits in memory. Either way the
/// report is whole and in order, in text and in JSON.
#[test]
fn a_large_report_is_whole_with_or_without_a_temporary_folder() {
    let mut files: Vec<(String, String)> = (0..2000)
        .map(|i| {
            (
                format!("2026-01-01_t{i:04}.sql"),
                file(
                    "2026-01-01",
                    &format!("CREATE TABLE t{i} (id int PRIMARY KEY);\n"),
                ),
            )
        })
        .collect();
    files.push((
        "2026-01-02_last.sql".into(),
        file("2026-01-02", "SELEC 1;\n"),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let p = project(&refs);
    let tmp = tempfile::tempdir().unwrap();
    for format in ["text", "json"] {
        let run = |tmpdir: &Path| {
            let out = pgshift(p.path())
                .args(["validate", "--format", format])
                .env("TMPDIR", tmpdir)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let on_disk = run(tmp.path());
        let in_memory = run(&tmp.path().join("nowhere"));
        assert!(on_disk.len() > 1 << 20, "{}", on_disk.len());
        assert_eq!(on_disk, in_memory, "{format}");
        if format == "text" {
            assert_eq!(on_disk.matches("\ninfo[").count(), 4000);
            assert!(
                on_disk.starts_with("error[sql/syntax]"),
                "{}",
                &on_disk[..200]
            );
            assert!(on_disk.ends_with("1 error, 0 warnings, 4000 info, 0 allowed.\n"));
        } else {
            let v: serde_json::Value = serde_json::from_str(&on_disk).unwrap();
            assert_eq!(v["findings"].as_array().unwrap().len(), 4001);
            assert_eq!(v["counts"]["infos"], 4000);
            assert_eq!(v["passed"], false);
        }
    }
    // Nothing is left in the temporary folder: the file had no name.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
