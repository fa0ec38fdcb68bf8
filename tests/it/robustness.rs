//! No input makes the file reader, the psql variable substitution, the parser wrapper or the
//! lint engine panic. Property tests with a fixed case budget, so CI time stays bounded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgshift::config::Environment;
use pgshift::diagnostic::{render_text, Location};
use pgshift::lint::{self, Ctx, ParsedFile, SetFacts};
use pgshift::migration::from_files;
use proptest::prelude::*;

/// `base` cases in CI; `PGSHIFT_FUZZ_SCALE` times as many in a long run (`scripts/fuzz.sh`).
fn cases(base: u32) -> u32 {
    let scale: u32 = std::env::var("PGSHIFT_FUZZ_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    base.saturating_mul(scale.max(1))
}

/// Pieces that stress the lexers: quotes, dollar quotes, comments, casts, variables,
/// meta-commands, multi-byte text, and real SQL.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'".to_string()),
        Just("E'\\''".to_string()),
        Just("\"".to_string()),
        Just("$$".to_string()),
        Just("$tag$".to_string()),
        Just("--".to_string()),
        Just("/*".to_string()),
        Just("*/".to_string()),
        Just("::".to_string()),
        Just(":".to_string()),
        Just(":=".to_string()),
        Just(":'v'".to_string()),
        Just(":\"v\"".to_string()),
        Just(":v".to_string()),
        Just(":{?v}".to_string()),
        Just("\\set x".to_string()),
        Just("`".to_string()),
        Just(";".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("é✓😀".to_string()),
        Just(" ".to_string()),
        Just("-- @allow: dangerous/drop-table x\n".to_string()),
        Just("-- @depends-on: 2026-01-01_a.sql\n".to_string()),
        Just("-- Version: 2026-01-02\n".to_string()),
        Just("CREATE TABLE t (id int)".to_string()),
        Just("DROP TABLE t".to_string()),
        Just("ALTER TABLE t ADD COLUMN c int DEFAULT random()".to_string()),
        Just("CREATE INDEX CONCURRENTLY i ON t (a)".to_string()),
        Just("BEGIN".to_string()),
        Just("COMMIT".to_string()),
        Just("CREATE USER u PASSWORD 'pw'".to_string()),
        Just("GRANT ALL ON t TO PUBLIC".to_string()),
        Just("UPDATE t SET token = 'k8Zq3vT9xLm2Pw7R' WHERE id = 1".to_string()),
        Just("ALTER TABLE t ENABLE ROW LEVEL SECURITY".to_string()),
        Just("CREATE POLICY p ON t USING (true)".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn sql_text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
}

fn exercise(bytes: Vec<u8>) {
    let set = from_files(
        Path::new("m"),
        vec![
            (PathBuf::from("m/2026-01-02_fuzz.sql"), Ok(bytes)),
            (
                PathBuf::from("m/2026-01-01_a.sql"),
                Ok(b"CREATE TABLE t (id int);".to_vec()),
            ),
        ],
        Environment::Production,
    );
    for f in &set.findings {
        let _ = render_text(f, false);
    }
    let _ = pgshift::plan::plan(&set);
    let values = |name: &str| (name == "v").then(|| "x y".to_string());
    let mut parsed: Vec<ParsedFile> = set
        .migrations
        .iter()
        .map(|m| ParsedFile::parse(&m.source, &values).0)
        .collect();
    let mut facts = SetFacts::default();
    for (m, p) in set.migrations.iter().zip(&mut parsed) {
        facts.add(m.version.as_str(), p);
        for off in [0, p.sub.text.len() / 2, p.sub.text.len()] {
            let src = p.sub.to_source(off);
            let loc = Location::at_offset(&m.path, &m.source, src, 3);
            assert!(loc.line >= 1);
        }
    }
    let exposed = vec!["public".to_string()];
    for (m, p) in set.migrations.iter().zip(&parsed) {
        let ctx = Ctx::new(m, p, &facts, &exposed);
        for f in lint::check(
            &ctx,
            lint::rules::ALL,
            Environment::Production,
            &BTreeMap::new(),
        ) {
            let _ = render_text(&f, true);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sql_like_text_never_panics(text in sql_text()) {
        exercise(text.into_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        exercise(bytes);
    }
}

#[test]
fn psql_scanner_handles_every_prefix_of_tricky_text() {
    let text = "SELECT $a$ :x $a$, E'\\\\':y', \"q\"\"\":z, /* /* */ :w */ :'v' -- :u\n::int :{?v} \\echo `x`";
    for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        exercise(text.as_bytes()[..end].to_vec());
    }
}

/// Pieces of pgshift.toml: every section and key, values of every type, broken syntax.
fn toml_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[deploy]\n".to_string()),
        Just("[migrations]\n".to_string()),
        Just("[tracking]\n".to_string()),
        Just("[backup]\n".to_string()),
        Just("[notify]\n".to_string()),
        Just("[rules]\n".to_string()),
        Just("[variables]\n".to_string()),
        Just("[environments.production]\n".to_string()),
        Just("[environments.staging]\n".to_string()),
        Just("timeout = ".to_string()),
        Just("statement_lock_timeout = ".to_string()),
        Just("lock_retries = ".to_string()),
        Just("parallel_jobs = ".to_string()),
        Just("exposed_schemas = ".to_string()),
        Just("keep = ".to_string()),
        Just("dir = ".to_string()),
        Just("table = ".to_string()),
        Just("out_of_order = ".to_string()),
        Just("webhook_env = ".to_string()),
        Just("\"dangerous/drop-table\" = ".to_string()),
        Just("0\n".to_string()),
        Just("-1\n".to_string()),
        Just("18446744073709551615\n".to_string()),
        Just("\"500ms\"\n".to_string()),
        Just("\"5 parsecs\"\n".to_string()),
        Just("\"\"\n".to_string()),
        Just("[\"public\", \"\"]\n".to_string()),
        Just("true\n".to_string()),
        Just("\"off\"\n".to_string()),
        Just("{ a = 1 }\n".to_string()),
        Just("\"\u{202e}x\"\n".to_string()),
        Just("= =\n".to_string()),
        "[a-z_=\\[\\]\" .\n0-9]{0,12}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Values the environment may hold for the variables pgshift reads.
fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("true".to_string()),
        Just("FALSE".to_string()),
        Just("rehearse".to_string()),
        Just("prod".to_string()),
        Just("0".to_string()),
        Just("-5".to_string()),
        Just("99999999999999999999".to_string()),
        Just(" staging ".to_string()),
        ".{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(500), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_config_file_is_read_or_refused_without_a_panic(text in toml_text()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pgshift.toml"), &text).unwrap();
        let vars = pgshift::config::VarSource::new(Default::default(), dir.path()).unwrap();
        if let Err(e) = pgshift::config::Settings::resolve(&Default::default(), &vars, dir.path()) {
            // A refusal names the setting; it never quotes a value back.
            let shown = e.to_string();
            prop_assert!(!shown.contains('\u{202e}'), "{}", shown);
        }
    }

    #[test]
    fn any_environment_values_are_read_or_refused_without_a_panic(
        values in prop::collection::vec(env_value(), 9)
    ) {
        let names = ["ENVIRONMENT", "DRY_RUN", "FORCE_RUN", "SKIP_BACKUP", "TIMEOUT", "DEBUG", "PARALLEL_JOBS", "CONFIRM", "DATABASE_URL"];
        let dir = tempfile::tempdir().unwrap();
        let env = names.iter().map(|n| n.to_string()).zip(values).collect();
        let vars = pgshift::config::VarSource::new(env, dir.path()).unwrap();
        let _ = pgshift::config::Settings::resolve(&Default::default(), &vars, dir.path());
    }

    #[test]
    fn any_folder_given_to_import_is_read_or_refused_without_a_panic(
        files in prop::collection::vec(("[0-9]{0,16}[_.-]?[a-z]{0,6}(\\.up|\\.down)?\\.sql", sql_text()), 0..6),
        plan in ".{0,80}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in &files {
            let _ = std::fs::write(dir.path().join(name), text);
        }
        let _ = std::fs::write(dir.path().join("sqitch.plan"), &plan);
        for tool in [
            pgshift::import::Tool::Supabase,
            pgshift::import::Tool::Prisma,
            pgshift::import::Tool::Dbmate,
            pgshift::import::Tool::Goose,
            pgshift::import::Tool::GolangMigrate,
            pgshift::import::Tool::Flyway,
            pgshift::import::Tool::Sqitch,
            pgshift::import::Tool::Numbered,
        ] {
            if let Ok(read) = pgshift::import::read_source(tool, dir.path()) {
                let named = pgshift::import::name(tool, read.migrations, chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
                // Every name it makes is a valid pgshift name.
                for i in &named {
                    let file = format!("{}.sql", i.version);
                    prop_assert!(matches!(pgshift::migration::filename::parse_file_name(&file), Some(Ok(_))), "{}", file);
                }
            }
        }
    }
}

/// Files shaped to make a reader quadratic: a hundred thousand-fold repeats of one construct,
/// on many lines or on one line. Each is validated and its report rendered in every format.
/// These took from 20 s to over a minute at 100,000 before the line index; now each takes about
/// a second in a release build. A regression shows as this test outliving CI's time limit
/// (`scripts/fuzz.sh` prints the time of each at 100,000; no time is asserted here).
#[test]
fn pathological_files_are_validated_in_linear_time() {
    let n: usize = std::env::var("PGSHIFT_PATHOLOGICAL_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let header = "-- MIGRATION: p\n-- Version: 2026-01-01\n-- Author: a\n-- Dependencies: None\n";
    let each = |f: &dyn Fn(usize) -> String, sep: &str| (0..n).map(f).collect::<Vec<_>>().join(sep);
    let shapes: Vec<(&str, String)> = vec![
        (
            "nested block comments",
            format!("{}x{}\nSELECT 1;\n", "/*".repeat(n), "*/".repeat(n)),
        ),
        ("comment lines", format!("{}SELECT 1;\n", "--x\n".repeat(n))),
        (
            "@allow lines",
            format!(
                "{}\nSELECT 1;\n",
                each(&|i| format!("-- @allow: dangerous/drop-table r{i}"), "\n")
            ),
        ),
        (
            "@allow of unknown rules",
            format!(
                "{}\nSELECT 1;\n",
                each(&|i| format!("-- @allow: no/such-rule r{i}"), "\n")
            ),
        ),
        (
            "unknown directives",
            format!(
                "{}\nSELECT 1;\n",
                each(&|i| format!("-- @frobnicate {i}"), "\n")
            ),
        ),
        (
            "dependencies on one line",
            format!(
                "-- @depends-on: {}\nSELECT 1;\n",
                each(&|i| format!("2025-01-01_x{i}"), ", ")
            ),
        ),
        (
            "dependency lines",
            format!(
                "{}\nSELECT 1;\n",
                each(&|i| format!("-- @depends-on: 2025-01-01_x{i}"), "\n")
            ),
        ),
        (
            "variables on one line",
            format!("SELECT {};\n", each(&|i| format!(":v{i}"), " ")),
        ),
        (
            "findings on one line",
            format!(
                "DO $$ BEGIN END $$; {}\n",
                each(&|i| format!("DROP TABLE t{i};"), " ")
            ),
        ),
        (
            "findings on many lines",
            format!("{}\n", each(&|i| format!("DROP TABLE t{i};"), "\n")),
        ),
        (
            "nested parentheses",
            format!("SELECT {}1{};\n", "(".repeat(n), ")".repeat(n)),
        ),
        (
            "objects dropped and made again",
            format!(
                "{}\n{}\n",
                each(
                    &|i| format!(
                        "DROP FUNCTION f{i}(); DROP VIEW v{i}; ALTER TABLE t DROP CONSTRAINT c{i};"
                    ),
                    "\n"
                ),
                each(
                    &|i| {
                        format!("CREATE FUNCTION f{i}() RETURNS int LANGUAGE sql AS 'SELECT 1'; CREATE VIEW v{i} AS SELECT 1 AS one; ALTER TABLE t ADD CONSTRAINT c{i} CHECK (a > {i});")
                    },
                    "\n"
                )
            ),
        ),
        (
            "checks, column types and grants",
            format!(
                "{}\n",
                each(
                    &|i| {
                        format!("ALTER TABLE t{i} ADD CONSTRAINT c{i} CHECK (a IS NOT NULL); ALTER TABLE t{i} ALTER COLUMN a SET NOT NULL; ALTER TABLE t{i} ALTER COLUMN b TYPE text; GRANT ALL ON t{i} TO anon;")
                    },
                    "\n"
                )
            ),
        ),
        (
            "tables under a search_path",
            format!(
                "SET search_path TO app, public;\n{}\n",
                each(
                    &|i| format!(
                        "CREATE TABLE t{i} (id int); SELECT * FROM t{i} JOIN u{i} USING (id);"
                    ),
                    "\n"
                )
            ),
        ),
        (
            "unterminated quote",
            format!("SELECT {};\n", "'".repeat(2 * n + 1)),
        ),
    ];
    for (what, body) in shapes {
        let started = std::time::Instant::now();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("2026-01-01_p.sql"),
            format!("{header}{body}"),
        )
        .unwrap();
        let report = pgshift::api::MigrationValidator::new(dir.path(), Environment::Production)
            .validate_all()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        for format in [
            pgshift::report::Format::Text,
            pgshift::report::Format::Json,
            pgshift::report::Format::Markdown,
            pgshift::report::Format::Github,
            pgshift::report::Format::Sarif,
        ] {
            let shown = pgshift::report::render(&report, format, false);
            assert!(!shown.is_empty(), "{what}: {format:?} rendered nothing");
        }
        // A snippet shows a window of its line, never a whole line of megabytes.
        for f in &report.findings {
            if let Some(text) = f.location.as_ref().and_then(|l| l.line_text.as_ref()) {
                assert!(
                    text.len() <= 400,
                    "{what}: a snippet of {} bytes",
                    text.len()
                );
            }
        }
        // Shown with --nocapture (the long run prints them); never asserted.
        println!("{what}, n = {n}: {:.2} s", started.elapsed().as_secs_f64());
    }
}
