use std::path::{Path, PathBuf};

use super::*;
use crate::config::Environment;
use crate::diagnostic::{Finding, Location};

fn report() -> Report {
    let src = "CREATE TABLE t (a int);\nDROP TABLE users;\n";
    let file = Path::new("migrations/2026-01-01_x.sql");
    let mut allowed = Finding::new(
        "hygiene/create-if-not-exists",
        crate::diagnostic::Level::Info,
        "CREATE TABLE without IF NOT EXISTS",
    )
    .at(Location::at_offset(file, src, 7, 5));
    allowed.allowed = Some("created once, by design".into());
    Report {
        dir: PathBuf::from("migrations"),
        environment: Environment::Staging,
        files: 1,
        findings: vec![
            allowed,
            Finding::error(
                "dangerous/drop-table",
                "DROP TABLE deletes the table, with 100% of its data",
            )
            .at(Location::at_offset(file, src, 24, 16))
            .help("rename it first,\nthen drop"),
            Finding::warning("header/missing-field", "the header has no Author field")
                .at(Location::file(file)),
        ],
        plan: None,
    }
}

#[test]
fn text_shows_findings_allowed_and_summary() {
    let out = render(&report(), Format::Text, false);
    assert!(
        out.contains("error[dangerous/drop-table]: DROP TABLE deletes the table"),
        "{out}"
    );
    assert!(out.contains("migrations/2026-01-01_x.sql:2:1"), "{out}");
    assert!(out.contains("allowed by @allow:\n  migrations/2026-01-01_x.sql:1:8 hygiene/create-if-not-exists: created once, by design"), "{out}");
    assert!(out.ends_with("Checked 1 migration(s) in migrations (staging): 1 error, 1 warning, 0 info, 1 allowed.\n"), "{out}");
}

#[test]
fn errors_come_first_then_warnings_then_information_and_a_warning_says_where_it_blocks() {
    let file = Path::new("migrations/2026-01-01_x.sql");
    let mut late = Finding::warning("rls/table-without-rls", "table t has no row level security")
        .at(Location::file(file));
    late.stricter = Some("an error in staging and production".into());
    let r = Report {
        dir: PathBuf::from("migrations"),
        environment: Environment::Development,
        files: 1,
        findings: vec![
            Finding::new("hygiene/x", crate::diagnostic::Level::Info, "worth knowing")
                .at(Location::file(file)),
            late,
            Finding::error("dangerous/drop-table", "DROP TABLE deletes the table")
                .at(Location::file(file)),
        ],
        plan: None,
    };
    let out = render(&r, Format::Text, false);
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} in {out}"));
    assert!(
        at("error[dangerous/drop-table]") < at("rls/table-without-rls"),
        "{out}"
    );
    assert!(at("rls/table-without-rls") < at("hygiene/x"), "{out}");
    assert!(
        out.contains("warning (an error in staging and production)[rls/table-without-rls]"),
        "{out}"
    );
}

#[test]
fn json_is_one_object_with_counts() {
    let v: serde_json::Value =
        serde_json::from_str(&render(&report(), Format::Json, false)).unwrap();
    assert_eq!(v["counts"]["errors"], 1);
    assert_eq!(v["passed"], false);
    assert_eq!(v["findings"][1]["location"]["line"], 2);
    assert_eq!(v["findings"][0]["allowed"], "created once, by design");
}

#[test]
fn markdown_has_the_summary_table_and_findings_per_file() {
    let out = render(&report(), Format::Markdown, false);
    assert!(out.starts_with("# Migration Validation Report\n"));
    assert!(
        out.contains("| Migrations | Errors | Warnings | Info | Allowed | Result |"),
        "{out}"
    );
    assert!(out.contains("| 1 | 1 | 1 | 0 | 1 | ❌ failed |"), "{out}");
    assert!(out.contains("### `migrations/2026-01-01_x.sql`"), "{out}");
    assert!(
        out.contains("| error | `dangerous/drop-table` | 2:1 |"),
        "{out}"
    );
    assert!(out.contains("rename it first,<br>then drop"), "{out}");
}

#[test]
fn github_annotations_are_escaped() {
    let out = render(&report(), Format::Github, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "::error file=migrations/2026-01-01_x.sql,line=2,col=1,title=dangerous/drop-table::DROP TABLE deletes the table, with 100%25 of its data%0Ahelp: rename it first,%0Athen drop"
    );
    assert_eq!(lines[1], "::warning file=migrations/2026-01-01_x.sql,title=header/missing-field::the header has no Author field");
    assert!(
        !out.contains("::notice"),
        "allowed findings are not annotated"
    );
}

#[test]
fn sarif_is_version_2_1_0_with_rules_results_and_suppressions() {
    let v: serde_json::Value =
        serde_json::from_str(&render(&report(), Format::Sarif, false)).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "pgshift");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(region["startColumn"].as_u64().unwrap() >= 1);
    }
    assert_eq!(results[0]["suppressions"][0]["kind"], "inSource");
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "migrations/2026-01-01_x.sql"
    );
}

#[test]
fn findings_written_as_they_come_make_the_rendered_report_whatever_waits_on_disk() {
    let r = report();
    let same = |s: &str| s.to_string();
    for format in [Format::Text, Format::Json, Format::Github] {
        let whole = render(&r, format, false);
        // 0: every piece goes to the temporary file; then a few pieces at a time; memory only.
        for limit in [0, 1, 200, usize::MAX] {
            let mut w = stream::Writer::new(format, false, &same, limit).unwrap();
            for f in &r.findings {
                w.add(f);
            }
            assert_eq!(w.counts(), r.counts());
            let mut out = Vec::new();
            w.finish(&r, &mut |b| out.extend_from_slice(b)).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                whole,
                "{format:?}, {limit}"
            );
        }
    }
    assert!(stream::Writer::new(Format::Markdown, false, &same, 0).is_none());
    assert!(stream::Writer::new(Format::Sarif, false, &same, 0).is_none());
}

#[test]
fn what_waits_is_cleaned_once_as_it_is_kept() {
    let r = report();
    // Not idempotent: cleaned twice, a word would show four times.
    let doubled = |s: &str| s.replace("TABLE", "TABLE TABLE");
    for format in [Format::Text, Format::Json, Format::Github] {
        for limit in [0, usize::MAX] {
            let mut w = stream::Writer::new(format, false, &doubled, limit).unwrap();
            for f in &r.findings {
                w.add(f);
            }
            let mut out = Vec::new();
            w.finish(&r, &mut |b| out.extend_from_slice(b)).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert_eq!(
                out,
                render(&r, format, false).replace("TABLE", "TABLE TABLE"),
                "{format:?}, {limit}"
            );
        }
    }
}
