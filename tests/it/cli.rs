//! The command line as a user meets it: bad files, bad configuration, order, graph, new, init.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

const HEADER: &str = "-- MIGRATION: test\n-- Author: tester\n-- Dependencies: None\n";

/// A project folder with `migrations/` holding `files`.
fn project(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    for (name, content) in files {
        let path = m.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn ok_file(version_date: &str, extra: &str) -> Vec<u8> {
    format!("-- MIGRATION: t\n-- Version: {version_date}\n-- Author: tester\n-- Dependencies: None\n{extra}SELECT 1;\n").into_bytes()
}

/// pgshift run in `dir`, with none of the machine's variables.
fn pgshift(dir: &Path) -> Command {
    crate::common::pgshift_in(dir)
}

#[test]
fn invalid_file_name_is_an_error_naming_the_file() {
    let p = project(&[("add_users.sql", b"SELECT 1;")]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains("error[filename/invalid]: file name `add_users.sql` does not follow YYYY-MM-DD_description.sql"))
        .stderr(contains("migrations/add_users.sql"))
        .stderr(contains("help: start the name with the date as YYYY-MM-DD"))
        .stderr(contains("cannot order the migrations"));
}

#[test]
fn impossible_date_is_an_error() {
    let p = project(&[("2026-02-30_x.sql", &ok_file("2026-02-30", ""))]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains("error[filename/impossible-date]"))
        .stderr(contains(
            "2026-02-30, which is not a calendar date (February 2026 has 28 days)",
        ));
}

#[test]
fn duplicate_version_in_subfolders_names_both_files() {
    let p = project(&[
        ("2026-01-01_x.sql", &ok_file("2026-01-01", "")),
        ("2026/2026-01-01_x.sql", &ok_file("2026-01-01", "")),
    ]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains("error[filename/duplicate-version]: version 2026-01-01_x is defined twice: migrations/2026/2026-01-01_x.sql and migrations/2026-01-01_x.sql"));
}

#[test]
fn orphan_down_file_is_an_error() {
    let p = project(&[
        ("2026-01-01_x.sql", &ok_file("2026-01-01", "")),
        ("2026-01-02_y.down.sql", b"DROP TABLE y;"),
    ]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains(
            "error[filename/orphan-down]: down file has no up file 2026-01-02_y.sql beside it",
        ))
        .stderr(contains("migrations/2026-01-02_y.down.sql"));
}

#[test]
fn header_version_that_disagrees_with_the_name_points_at_the_line() {
    let p = project(&[("2026-01-21_x.sql", &ok_file("2026-01-12", ""))]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains("error[header/version-mismatch]: the header says Version: 2026-01-12, but the file name says 2026-01-21"))
        .stderr(contains("migrations/2026-01-21_x.sql:2:1"))
        .stderr(contains("-- Version: 2026-01-12"));
}

#[test]
fn empty_and_comment_only_files_are_warnings_that_say_deploys_skip_them() {
    let p = project(&[
        ("2026-01-01_empty.sql", b"  \n"),
        (
            "2026-01-02_comments.sql",
            b"-- MIGRATION: nothing yet\n/* todo */\n",
        ),
    ]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .stderr(contains(
            "warning[file/empty]: the file is empty: deploys skip it",
        ))
        .stderr(contains(
            "warning[file/empty]: the file holds only comments, no SQL statement: deploys skip it",
        ))
        .stderr(contains("migrations/2026-01-02_comments.sql"));
    // With its header complete, a file of comments alone does not stop anything.
    let p = project(&[(
        "2026-01-02_comments.sql",
        b"-- MIGRATION: t\n-- Version: 2026-01-02\n-- Author: tester\n-- Dependencies: None\n/* todo */\n",
    )]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .success()
        .stderr(contains("warning[file/empty]"));
}

#[test]
fn non_utf8_file_reports_the_line_and_column_of_the_bad_byte() {
    let mut content = ok_file("2026-01-01", "");
    content.extend_from_slice(b"INSERT INTO t VALUES ('caf\xe9');\n");
    let p = project(&[("2026-01-01_latin1.sql", &content)]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains(
            "error[file/not-utf8]: the file is not valid UTF-8",
        ))
        .stderr(contains("migrations/2026-01-01_latin1.sql:6:27"))
        .stderr(contains("iconv"));
}

#[test]
fn byte_order_mark_is_an_error() {
    let mut content = b"\xEF\xBB\xBF".to_vec();
    content.extend(ok_file("2026-01-01", ""));
    let p = project(&[("2026-01-01_bom.sql", &content)]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains(
            "error[file/bom]: the file starts with a UTF-8 byte order mark (BOM)",
        ));
}

#[test]
fn crlf_line_endings_are_a_warning_and_the_header_still_reads() {
    let content = String::from_utf8(ok_file("2026-01-01", ""))
        .unwrap()
        .replace('\n', "\r\n");
    let p = project(&[("2026-01-01_win.sql", content.as_bytes())]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .success()
        .stderr(contains(
            "warning[file/crlf]: the file has Windows (CRLF) line endings",
        ))
        .stderr(contains("eol=lf"))
        .stderr(contains("header").not())
        .stdout(contains("1  2026-01-01_win"));
}

#[test]
fn unreadable_file_is_an_error() {
    let p = project(&[]);
    std::os::unix::fs::symlink(
        "/nonexistent/target.sql",
        p.path().join("migrations/2026-01-01_gone.sql"),
    )
    .unwrap();
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains(
            "error[file/unreadable]: cannot read the file: No such file or directory",
        ))
        .stderr(contains("migrations/2026-01-01_gone.sql"));
}

/// Root reads every file (the dangling-link test covers the path for root); `scripts/test.sh`
/// runs this one when it is not root.
#[test]
#[ignore = "needs a user other than root"]
fn user_only_permission_denied_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let p = project(&[("2026-01-01_secret.sql", &ok_file("2026-01-01", ""))]);
    let f = p.path().join("migrations/2026-01-01_secret.sql");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains("cannot read the file: Permission denied"));
}

#[test]
fn missing_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    pgshift(dir.path())
        .args(["--dir", "nowhere", "order"])
        .assert()
        .code(2)
        .stderr(contains(
            "error: migrations directory nowhere does not exist",
        ))
        .stderr(contains("help: pass the folder with --dir"));
}

#[test]
fn missing_header_fields_warn_in_development_and_block_production() {
    let p = project(&[("2026-01-01_bare.sql", b"SELECT 1;\n")]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .success()
        .stderr(contains("warning[header/missing-field]: the header has no MIGRATION, Version, Author, Dependencies field"));
    pgshift(p.path())
        .args(["--env", "production", "order"])
        .assert()
        .code(1)
        .stderr(contains("error[header/missing-field]"));
}

#[test]
fn unknown_directive_and_bad_env_are_errors_with_positions() {
    let content = format!("{HEADER}-- @dependson: 2026-01-01_a.sql\n-- @env: prd\nSELECT 1;\n");
    let p = project(&[("2026-01-02_b.sql", content.as_bytes())]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains(
            "error[directive/unknown]: unknown directive `@dependson`",
        ))
        .stderr(contains("migrations/2026-01-02_b.sql:4:4"))
        .stderr(contains(
            "help: known directives: @depends-on, @no-transaction, @allow, @env",
        ))
        .stderr(contains(
            "`@env` names `prd`, which is not a known environment",
        ));
}

#[test]
fn dependency_cycle_prints_the_whole_path() {
    let a = format!("{HEADER}-- @depends-on: 2026-01-03_c.sql\nSELECT 1;\n");
    let b = format!("{HEADER}-- @depends-on: 2026-01-01_a.sql\nSELECT 1;\n");
    let c = format!("{HEADER}-- @depends-on: 2026-01-02_b\nSELECT 1;\n");
    let p = project(&[
        ("2026-01-01_a.sql", a.as_bytes()),
        ("2026-01-02_b.sql", b.as_bytes()),
        ("2026-01-03_c.sql", c.as_bytes()),
    ]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains(
            "error[deps/cycle]: dependency cycle of 3 migrations: 2026-01-01_a → 2026-01-03_c → 2026-01-02_b → 2026-01-01_a",
        ))
        .stderr(contains("migrations/2026-01-01_a.sql:4:17"));
}

#[test]
fn missing_and_self_dependencies_name_file_and_line() {
    let a = format!("{HEADER}-- @depends-on: 2026-01-09_nowhere.sql\nSELECT 1;\n");
    let b = format!("{HEADER}-- @depends-on: 2026-01-02_b.sql\nSELECT 1;\n");
    let p = project(&[
        ("2026-01-01_a.sql", a.as_bytes()),
        ("2026-01-02_b.sql", b.as_bytes()),
    ]);
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains("error[deps/missing]: 2026-01-01_a depends on 2026-01-09_nowhere.sql, which is not in migrations"))
        .stderr(contains("migrations/2026-01-01_a.sql:4:17"))
        .stderr(contains("error[deps/self]: 2026-01-02_b depends on itself"))
        .stderr(contains("migrations/2026-01-02_b.sql:4:17"));
}

#[test]
fn header_and_directive_dependencies_merge_silently_and_warn_only_when_they_contradict() {
    let b = "-- MIGRATION: b\n-- Version: 2026-01-02\n-- Author: t\n-- Dependencies: 2026-01-01_a.sql\n-- @depends-on: 2026-01-03_c.sql\nSELECT 1;\n";
    let p = project(&[
        ("2026-01-01_a.sql", &ok_file("2026-01-01", "")),
        ("2026-01-02_b.sql", b.as_bytes()),
        ("2026-01-03_c.sql", &ok_file("2026-01-03", "")),
    ]);
    // Both lists are used: b comes after a and c, with no warning.
    pgshift(p.path())
        .arg("order")
        .assert()
        .success()
        .stderr(contains("dependencies-mismatch").not())
        .stdout(contains("3  2026-01-02_b"));
    // `None` beside a directive says two things: a warning, and the directive is used.
    let b = "-- MIGRATION: b\n-- Version: 2026-01-02\n-- Author: t\n-- Dependencies: None\n-- @depends-on: 2026-01-03_c.sql\nSELECT 1;\n";
    std::fs::write(p.path().join("migrations/2026-01-02_b.sql"), b).unwrap();
    pgshift(p.path())
        .arg("order")
        .assert()
        .success()
        .stderr(contains("warning[header/dependencies-mismatch]"))
        .stderr(contains(
            "the header says `Dependencies: None`, but @depends-on names 2026-01-03_c",
        ))
        .stdout(contains("3  2026-01-02_b"));
}

#[test]
fn invalid_settings_say_what_is_accepted() {
    let p = project(&[("2026-01-01_a.sql", &ok_file("2026-01-01", ""))]);
    for (var, value, message) in [
        ("FORCE_RUN", "maybe", "error: FORCE_RUN (environment variable) is not a boolean; accepted: true, false, 1, 0, yes, no"),
        ("TIMEOUT", "abc", "error: TIMEOUT (environment variable) is not a number of seconds"),
        ("ENVIRONMENT", "prd", "error: ENVIRONMENT (environment variable) is not a known environment; accepted: development (or dev), staging, production (or prod)"),
    ] {
        pgshift(p.path())
            .env(var, value)
            .arg("order")
            .assert()
            .code(2)
            .stderr(contains(message))
            .stderr(contains(value).not());
    }
    pgshift(p.path())
        .args(["--env", "prd", "order"])
        .assert()
        .code(2)
        .stderr(contains("error: --env (flag) is not a known environment"));
}

#[test]
fn config_file_errors_show_the_line() {
    let p = project(&[("2026-01-01_a.sql", &ok_file("2026-01-01", ""))]);
    std::fs::write(
        p.path().join("pgshift.toml"),
        "[deploy]\ntimeout = \"soon\"\n",
    )
    .unwrap();
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(2)
        .stderr(contains("error: invalid "))
        .stderr(contains("pgshift.toml"))
        .stderr(contains("line 2"));
}

#[test]
fn dotenv_values_are_read_and_checked() {
    let p = project(&[("2026-01-01_a.sql", b"SELECT 1;\n")]);
    std::fs::write(p.path().join(".env"), "ENVIRONMENT=production\n").unwrap();
    pgshift(p.path())
        .arg("order")
        .assert()
        .code(1)
        .stderr(contains("error[header/missing-field]"));
}

#[test]
fn order_and_graph_on_the_example_set() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/eneas-os/migrations");
    let dir = tempfile::tempdir().unwrap();
    let out = pgshift(dir.path())
        .arg("--dir")
        .arg(&examples)
        .arg("order")
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("Execution order of 17 migrations"),
        "{stdout}"
    );
    assert!(
        out.get_output().stderr.is_empty(),
        "the example set has no findings"
    );

    let dot = pgshift(dir.path())
        .arg("--dir")
        .arg(&examples)
        .args(["graph", "--format", "dot"])
        .assert()
        .success();
    let dot = String::from_utf8(dot.get_output().stdout.clone()).unwrap();
    assert!(dot.starts_with("digraph migrations {"));
    assert!(
        dot.contains("\"2025-12-29_seed_granular_permissions\" -> \"2025-12-28_team_sharing\";"),
        "{dot}"
    );

    let mermaid = pgshift(dir.path())
        .arg("--dir")
        .arg(&examples)
        .args(["graph", "--format", "mermaid"])
        .assert()
        .success();
    let mermaid = String::from_utf8(mermaid.get_output().stdout.clone()).unwrap();
    assert!(mermaid.starts_with("flowchart TD\n"));
    assert!(mermaid.contains("m4 --> m5"), "{mermaid}");

    let json = pgshift(dir.path())
        .arg("--dir")
        .arg(&examples)
        .args(["--json", "order"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(v["order"].as_array().unwrap().len(), 17);
    assert_eq!(v["order"][5]["version"], "2025-12-28_team_sharing");
    assert_eq!(v["order"][5]["reason"]["kind"], "waits_for");
}

#[test]
fn new_creates_a_dated_file_with_header_and_dependencies() {
    let p = project(&[(
        "2026-01-20_create_users_table.sql",
        &ok_file("2026-01-20", ""),
    )]);
    pgshift(p.path())
        .args([
            "new",
            "Add",
            "user",
            "profiles",
            "--depends-on",
            "2026-01-20_create_users_table.sql",
        ])
        .assert()
        .success()
        .stdout(contains("Created migrations/"));
    let today = chrono_today();
    let path = p
        .path()
        .join(format!("migrations/{today}_add_user_profiles.sql"));
    let text = std::fs::read_to_string(&path).expect("file created");
    assert!(text.contains("-- MIGRATION: Add user profiles\n"), "{text}");
    assert!(text.contains(&format!("-- Version: {today}\n")), "{text}");
    assert!(
        text.contains("-- Dependencies: 2026-01-20_create_users_table.sql\n"),
        "{text}"
    );
    assert!(text.contains("-- Author: "), "{text}");
    // Its down file beside it, which says what to write; --no-down skips it.
    let down = std::fs::read_to_string(
        p.path()
            .join(format!("migrations/{today}_add_user_profiles.down.sql")),
    )
    .expect("down file created");
    assert!(
        down.contains(&format!("-- Undoes {today}_add_user_profiles.sql")),
        "{down}"
    );
    pgshift(p.path())
        .args(["new", "no undo", "--no-down"])
        .assert()
        .success();
    assert!(p
        .path()
        .join(format!("migrations/{today}_no_undo.sql"))
        .exists());
    assert!(!p
        .path()
        .join(format!("migrations/{today}_no_undo.down.sql"))
        .exists());
    // Running it again refuses to overwrite.
    pgshift(p.path())
        .args(["new", "add_user_profiles"])
        .assert()
        .code(2)
        .stderr(contains("already exists"));
    pgshift(p.path())
        .args(["new", "x", "--depends-on", "2026-01-19_nope"])
        .assert()
        .code(2)
        .stderr(contains(
            "--depends-on 2026-01-19_nope: there is no 2026-01-19_nope.sql in",
        ));
}

fn chrono_today() -> String {
    let out = std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn new_uses_git_user_name_as_author() {
    let p = project(&[]);
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(p.path())
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    git(&["config", "user.name", "Grace Hopper"]);
    pgshift(p.path()).args(["new", "first"]).assert().success();
    let path = p
        .path()
        .join(format!("migrations/{}_first.sql", chrono_today()));
    assert!(std::fs::read_to_string(path)
        .unwrap()
        .contains("-- Author: Grace Hopper\n"));
}

#[test]
fn init_creates_config_folders_and_gitignore() {
    let dir = tempfile::tempdir().unwrap();
    pgshift(dir.path())
        .arg("init")
        .assert()
        .success()
        .stdout(contains("created       pgshift.toml"))
        .stdout(contains("created       migrations"));
    for p in [
        "pgshift.toml",
        "migrations",
        "backups/migrations",
        "logs",
        ".gitignore",
    ] {
        assert!(dir.path().join(p).exists(), "{p}");
    }
    let gi = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    assert!(gi.contains("backups/\n") && gi.contains("logs/\n"));
    // The created config is valid, and a second init keeps everything.
    pgshift(dir.path())
        .arg("order")
        .assert()
        .success()
        .stdout(contains("No migrations"));
    pgshift(dir.path())
        .arg("init")
        .assert()
        .success()
        .stdout(contains("exists, kept  pgshift.toml"));
}

#[test]
fn health_without_a_database_says_how_to_name_one() {
    let dir = tempfile::tempdir().unwrap();
    pgshift(dir.path())
        .arg("health")
        .env_remove("DATABASE_URL")
        .env_remove("SUPABASE_DB_URL")
        .assert()
        .code(2)
        .stderr(contains("no database given"))
        .stderr(contains("SUPABASE_DB_URL"));
}

#[test]
fn help_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    pgshift(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("Examples:"))
        .stdout(contains("migrate"));
    pgshift(dir.path())
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(contains("_pgshift()"));
    pgshift(dir.path())
        .args(["migrate", "--dry-run=maybe"])
        .assert()
        .code(2);
}

#[test]
fn the_manual_page_comes_from_the_command_line_definition() {
    let dir = tempfile::tempdir().unwrap();
    let out = pgshift(dir.path()).arg("man").assert().success();
    let page = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        page.starts_with(".ie") || page.contains(".TH pgshift"),
        "{page}"
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section} in {page}");
    }
    for command in ["migrate", "validate", "rollback", "health", "completions"] {
        assert!(
            page.contains(&format!("pgshift\\-{command}")),
            "no {command}"
        );
    }
    // One command's page, with its own options.
    let out = pgshift(dir.path())
        .args(["man", "backup", "restore"])
        .assert()
        .success();
    let page = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(page.contains(".TH pgshift-backup-restore 1"), "{page}");
    assert!(page.contains("\\-\\-from\\-database"), "{page}");
    pgshift(dir.path())
        .args(["man", "nope"])
        .assert()
        .code(2)
        .stderr(contains("there is no command `pgshift nope`"));
    // Every page into a folder.
    pgshift(dir.path())
        .args(["man", "--dir", "."])
        .assert()
        .success();
    for page in ["pgshift.1", "pgshift-migrate.1", "pgshift-backup-restore.1"] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }
}

#[test]
fn without_a_terminal_or_with_no_color_the_output_is_plain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/2026-01-01_a.sql"),
        "CREATE TABLE t (id int);\nSELECT 1/;\n",
    )
    .unwrap();
    // No NO_COLOR here: standard streams that are pipes, not terminals, are enough.
    let mut c = pgshift(dir.path());
    c.env_remove("NO_COLOR");
    let out = c.arg("validate").assert().code(1);
    let all = [&out.get_output().stdout[..], &out.get_output().stderr[..]].concat();
    assert!(!all.is_empty());
    assert!(!all.contains(&0x1b), "{}", String::from_utf8_lossy(&all));
}

/// `script` (util-linux) gives the command a terminal; `scripts/test.sh` runs this where it is.
#[test]
#[ignore = "needs `script` (util-linux)"]
fn with_script_on_a_terminal_colour_is_on_unless_no_color_is_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/2026-01-01_a.sql"),
        "SELECT 1/;\n",
    )
    .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("pgshift");
    let run = |no_color: bool| {
        let mut c = std::process::Command::new("script");
        c.current_dir(dir.path())
            .args(["-qec", &format!("{} validate", bin.display()), "/dev/null"])
            .env_remove("NO_COLOR")
            .env_remove("CI");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        c.output().unwrap().stdout
    };
    let coloured = run(false);
    assert!(
        coloured.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&coloured)
    );
    let plain = run(true);
    assert!(String::from_utf8_lossy(&plain).contains("error[sql/syntax]"));
    assert!(
        !plain.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&plain)
    );
}

/// `pgshift ARGS` through `sh -c` with stdout redirected as `redirect` says; its exit code
/// and stderr.
fn with_stdout(dir: &Path, args: &str, redirect: &str) -> (Option<i32>, String) {
    let bin = assert_cmd::cargo::cargo_bin("pgshift");
    let out = std::process::Command::new("bash")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args([
            "-c",
            &format!(
                "'{}' {args} {redirect}; exit ${{PIPESTATUS[0]}}",
                bin.display()
            ),
        ])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_that_cannot_be_written_is_an_error_and_a_closed_pipe_is_not() {
    let dir = project(&[("2026-01-01_a.sql", &ok_file("2026-01-01", ""))]);
    for args in ["order", "validate --format json", "completions bash", "man"] {
        for redirect in ["> /dev/full", ">&-"] {
            let (code, err) = with_stdout(dir.path(), args, redirect);
            assert_eq!(code, Some(2), "{args} {redirect}: {err}");
            assert!(
                err.contains("error: cannot write the output to stdout:"),
                "{args} {redirect}: {err}"
            );
        }
        // `| head` closes the pipe early: quiet, and the command's own result.
        let (code, err) = with_stdout(dir.path(), args, "| head -c 1 > /dev/null");
        assert_eq!(code, Some(0), "{args} | head: {err}");
        assert!(!err.contains("cannot write"), "{args} | head: {err}");
        // /dev/null, write-only (a shell's) or read-write (Python's `subprocess.DEVNULL`):
        // not a closed stdout.
        for null in ["> /dev/null", "1<> /dev/null"] {
            let (code, err) = with_stdout(dir.path(), args, null);
            assert_eq!(code, Some(0), "{args} {null}: {err}");
        }
    }
}

#[test]
fn command_line_definition_is_consistent() {
    use clap::CommandFactory;
    pgshift::cli::Cli::command().debug_assert();
}

#[test]
fn every_command_help_has_an_example() {
    use clap::CommandFactory;
    fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for sub in c.get_subcommands() {
            let name = format!("{path} {}", sub.get_name());
            if sub.get_subcommands().next().is_some() {
                walk(sub, &name, missing);
                continue;
            }
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !help.contains("Example") {
                missing.push(name);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&pgshift::cli::Cli::command(), "pgshift", &mut missing);
    assert!(missing.is_empty(), "no example in --help of: {missing:?}");
}
