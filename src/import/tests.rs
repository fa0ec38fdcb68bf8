use chrono::NaiveDate;

use super::*;

fn foreign(version: &str, stamp: Stamp, name: &str) -> Foreign {
    Foreign {
        original: PathBuf::from(format!("{version}_{name}.sql")),
        source_version: version.into(),
        stamp,
        name: name.into(),
        title: None,
        up: "SELECT 1;\n".into(),
        down: None,
        no_transaction: false,
        requires: Vec::new(),
    }
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

#[test]
fn dated_names_keep_the_time_so_the_order_within_a_day_is_the_sources() {
    let set = vec![
        foreign(
            "20240115093000",
            timestamp("20240115093000").unwrap(),
            "zeta",
        ),
        foreign(
            "20240115100000",
            timestamp("20240115100000").unwrap(),
            "Alpha Table!",
        ),
    ];
    let named = name(Tool::Supabase, set, day());
    let versions: Vec<&str> = named.iter().map(|i| i.version.as_str()).collect();
    assert_eq!(
        versions,
        ["2024-01-15_093000_zeta", "2024-01-15_100000_alpha_table"]
    );
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(sorted, versions);
    for v in versions {
        crate::migration::Version::parse_reference(v).expect("a valid pgshift name");
    }
}

#[test]
fn undated_sets_get_one_date_and_padded_positions() {
    let set: Vec<Foreign> = (1..=12)
        .map(|i| foreign(&i.to_string(), Stamp::Sequence, "step"))
        .collect();
    let named = name(Tool::Numbered, set, day());
    assert_eq!(named[0].version, "2026-11-25_0001_step");
    assert_eq!(named[11].version, "2026-11-25_0012_step");
    assert!(named.windows(2).all(|w| w[0].version < w[1].version));
}

#[test]
fn the_header_says_where_it_came_from_and_requirements_become_dependencies() {
    let mut a = foreign(
        "appschema",
        timestamp("20131230234900").unwrap(),
        "appschema",
    );
    a.down = Some("BEGIN;\nDROP SCHEMA flipr;\nCOMMIT;\n".into());
    let mut b = foreign("users", timestamp("20131231151934").unwrap(), "users");
    b.requires = vec!["appschema".into(), "elsewhere".into()];
    b.no_transaction = true;
    let named = name(Tool::Sqitch, vec![a, b], day());
    let text = &named[1].text;
    assert!(
        text.contains("-- Dependencies: 2013-12-30_234900_appschema.sql\n"),
        "{text}"
    );
    assert!(text.contains("-- Author: imported from sqitch\n"), "{text}");
    assert!(
        text.contains("-- Imported from sqitch: users_users.sql (version users)\n"),
        "{text}"
    );
    assert!(text.contains("-- @no-transaction\n"), "{text}");
    let down = named[0].down_text.as_ref().unwrap();
    assert!(
        down.contains("DROP SCHEMA flipr;") && !down.contains("BEGIN;"),
        "{down}"
    );
}

#[test]
fn an_outer_begin_commit_is_removed_and_anything_else_kept() {
    let (sql, stripped) =
        without_outer_transaction("-- Deploy x\n\nBEGIN;\n\nCREATE TABLE t ();\n\nCOMMIT;\n");
    assert!(stripped);
    assert_eq!(sql, "-- Deploy x\n\n\nCREATE TABLE t ();\n\n");
    let inner = "CREATE TABLE t ();\nBEGIN;\nINSERT INTO t DEFAULT VALUES;\nCOMMIT;\nSELECT 1;\n";
    assert_eq!(without_outer_transaction(inner), (inner.to_string(), false));
    let (_, stripped) = without_outer_transaction("begin;\nselect 1;\nend;\n");
    assert!(stripped);
    // Prisma's warnings come in a block comment before the BEGIN.
    let (sql, stripped) = without_outer_transaction(
        "/*\n  Warnings:\n  - this will fail\n*/\n-- AlterEnum\nBEGIN;\nCREATE TYPE \"Role_new\" AS ENUM ('A');\nCOMMIT;\n",
    );
    assert!(stripped);
    assert_eq!(
        sql,
        "/*\n  Warnings:\n  - this will fail\n*/\n-- AlterEnum\nCREATE TYPE \"Role_new\" AS ENUM ('A');\n"
    );
    for kept in [
        // Two transactions: dropping the outer pair would join them wrongly.
        "BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;\n",
        // The END closes a function body, not the file's transaction.
        "BEGIN;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n",
        "BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;\n",
        "BEGIN; SELECT 1; ROLLBACK;\n",
        "",
        "  \n",
        "-- only a comment\n",
        "/* only a comment */",
    ] {
        assert_eq!(
            without_outer_transaction(kept),
            (kept.to_string(), false),
            "{kept}"
        );
    }
    // Comments after the COMMIT stay; a BEGIN sharing its line with code leaves the code.
    let (sql, stripped) = without_outer_transaction("BEGIN; CREATE TABLE t ();\nCOMMIT; -- done\n");
    assert!(stripped);
    assert_eq!(sql, " CREATE TABLE t ();\n -- done\n");
}

#[test]
fn writing_refuses_to_overwrite_anything_and_writes_nothing_then() {
    let dir = tempfile::tempdir().unwrap();
    let named = name(
        Tool::Numbered,
        vec![
            foreign("1", Stamp::Sequence, "one"),
            foreign("2", Stamp::Sequence, "two"),
        ],
        day(),
    );
    std::fs::write(dir.path().join("2026-11-25_0002_two.sql"), "mine").unwrap();
    let err = write(dir.path(), &named).unwrap_err();
    assert!(err.to_string().contains("2026-11-25_0002_two.sql"), "{err}");
    assert!(!dir.path().join("2026-11-25_0001_one.sql").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("2026-11-25_0002_two.sql")).unwrap(),
        "mine"
    );
}

#[test]
fn include_lines_are_found_outside_strings_and_comments() {
    let sql =
        "\\ir ../common/audit.sql\nSELECT '\\i no';\n-- \\i no\n\\i 'with space.sql'\n\\set x 1\n";
    assert_eq!(
        include_lines(sql),
        ["\\ir ../common/audit.sql", "\\i 'with space.sql'"]
    );
}

#[test]
fn long_descriptions_are_cut_at_the_end_of_a_word() {
    let long =
        "add_processed_at_to_registry_webhook_events_for_received_payloads_that_were_retried_later";
    let cut = super::at_word_end(long, 80);
    assert!(cut.len() <= 80, "{cut}");
    assert!(
        long.starts_with(cut) && long[cut.len()..].starts_with('_'),
        "cut mid-word: {cut}"
    );
    assert_eq!(super::at_word_end("short_name_", 80), "short_name");
    let one_word = "x".repeat(100);
    assert_eq!(super::at_word_end(&one_word, 80).len(), 80);
}
