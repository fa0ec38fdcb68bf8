//! No input makes the file reader, the psql variable substitution, the parser wrapper or the
//! lint engine panic. Property tests with a fixed case budget, so CI time stays bounded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgshift::config::Environment;
use pgshift::diagnostic::{render_text, Location};
use pgshift::lint::{self, Ctx, ParsedFile, SetFacts};
use pgshift::migration::from_files;
use proptest::prelude::*;

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
    let parsed: Vec<ParsedFile> = set
        .migrations
        .iter()
        .map(|m| ParsedFile::parse(&m.source, &values).0)
        .collect();
    let mut facts = SetFacts::default();
    for (m, p) in set.migrations.iter().zip(&parsed) {
        facts.add(m.version.as_str(), &p.statements);
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
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

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
