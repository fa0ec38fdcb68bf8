//! `pgshift review` as people and CI read it: Markdown for the pull request's comment (its
//! first line a marker a workflow finds to update the comment in place), GitHub annotations,
//! and text for a terminal. JSON is the review itself, serialized.

use std::fmt::Write;

use crate::diagnostic::Level;
use crate::review::{LockEntry, Review};
use crate::sanitize::escape::{markdown, markdown_code, untrusted, untrusted_lines};

/// The first line of the Markdown comment.
pub const MARKER: &str = "<!-- pgshift-review -->";

/// `1.2 s`, `3 min`, `2.5 h`.
fn duration(ms: u64) -> String {
    let s = ms as f64 / 1000.0;
    if s < 1.0 {
        format!("{ms} ms")
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// What a lock does, in a few words: `rewrites`, `reads whole`, `~3 min`.
fn work(l: &LockEntry) -> String {
    let mut parts = Vec::new();
    if l.rewrite {
        parts.push("rewrites the table".to_string());
    } else if l.index_build {
        parts.push("builds an index".to_string());
    } else if l.scan {
        parts.push("reads it whole".to_string());
    }
    if let Some(ms) = l.estimate_ms {
        parts.push(format!("~{}", duration(ms)));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(", ")
    }
}

fn observed(l: &LockEntry) -> String {
    match (&l.observed, l.predicted) {
        (None, _) => String::new(),
        (Some(Some(m)), Some(false)) => format!("{} (not predicted)", m.name()),
        (Some(Some(m)), _) if *m == l.mode => "✓".into(),
        (Some(Some(m)), _) => format!("{} ✗", m.name()),
        (Some(None), _) => "no lock ✗".into(),
    }
}

/// The first line of a statement, shortened.
fn short(sql: &str) -> String {
    let first = sql.lines().next().unwrap_or_default().trim();
    let mut s: String = first.chars().take(70).collect();
    if s.len() < first.len() || sql.trim().lines().count() > 1 {
        s.push('…');
    }
    s
}

fn verdict(r: &Review) -> String {
    let errors = r
        .findings
        .iter()
        .filter(|f| f.level == Level::Error && f.allowed.is_none())
        .count();
    let mut said = vec![format!(
        "{} migration(s) added or changed",
        r.migrations.len()
    )];
    said.push(format!("{} conflict(s)", r.conflicts.len()));
    let locking = r
        .migrations
        .iter()
        .flat_map(|m| &m.statements)
        .filter(|s| {
            s.locks
                .iter()
                .any(|l| l.mode >= crate::review::locks::Mode::Share)
        })
        .count();
    said.push(format!(
        "{locking} statement(s) blocking writes on an existing table"
    ));
    said.push(format!(
        "{} lint finding(s), {errors} blocking",
        r.findings.len()
    ));
    if r.rehearsal_failed.is_some() {
        said.push("a new migration failed in the rehearsal".to_string());
    }
    if !r.contradictions.is_empty() {
        said.push(format!(
            "{} lock prediction(s) contradicted by the rehearsal",
            r.contradictions.len()
        ));
    }
    said.join("; ")
}

/// The pull-request comment.
pub fn markdown_report(r: &Review) -> String {
    let mut out = format!("{MARKER}\n");
    let _ = writeln!(
        out,
        "## {} pgshift review against {}\n\n{}.\n",
        if r.passed { "✅" } else { "❌" },
        markdown_code(&r.base),
        markdown(&verdict(r))
    );
    if let Some(failed) = &r.rehearsal_failed {
        let _ = writeln!(out, "> ❌ **The rehearsal failed**: {}\n", markdown(failed));
    }
    if !r.conflicts.is_empty() {
        out.push_str("### Conflicts\n\n");
        for c in &r.conflicts {
            let _ = writeln!(
                out,
                "- **{}** {}: {}",
                c.kind,
                c.versions
                    .iter()
                    .map(|v| markdown_code(v))
                    .collect::<Vec<_>>()
                    .join(" and "),
                markdown(&c.message)
            );
        }
        out.push('\n');
    }
    locks_table(r, &mut out);
    for c in &r.contradictions {
        let _ = writeln!(
            out,
            "> ⚠️ pgshift's lock prediction was wrong: {} (please report it)\n",
            markdown(c)
        );
    }
    if !r.findings.is_empty() {
        out.push_str("### Lint findings in the changed files\n\n");
        for f in &r.findings {
            let at = f
                .location
                .as_ref()
                .map(|l| format!("{}:{}", l.file.display(), l.line))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {} `{}` {}: {}{}",
                level(f.level, f.allowed.is_some()),
                f.rule,
                markdown(&at),
                markdown(&f.message),
                f.allowed
                    .as_ref()
                    .map(|why| format!(" (allowed: {})", markdown(why)))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "> {}\n", markdown(n));
    }
    out
}

/// The table of locks on existing tables, or the sentence that there is none.
fn locks_table(r: &Review, out: &mut String) {
    let with_locks: Vec<_> = r
        .migrations
        .iter()
        .flat_map(|m| m.statements.iter().map(move |s| (m, s)))
        .filter(|(_, s)| !s.locks.is_empty())
        .collect();
    if !with_locks.is_empty() {
        let _ = writeln!(
            out,
            "### Locks on existing tables{}\n",
            if r.rehearsed {
                " (predicted, and observed in a rehearsal on the base's schema)"
            } else {
                " (predicted from the SQL)"
            }
        );
        out.push_str("| migration | statement | table | lock | work | blocks |");
        out.push_str(if r.rehearsed { " observed |\n" } else { "\n" });
        out.push_str("| --- | --- | --- | --- | --- | --- |");
        out.push_str(if r.rehearsed { " --- |\n" } else { "\n" });
        for (m, s) in with_locks {
            for l in &s.locks {
                let _ = write!(
                    out,
                    "| {}:{} | {} | {} | {} | {} | {} |",
                    markdown(&m.file),
                    s.line,
                    markdown_code(&short(&s.sql)),
                    markdown(&l.table),
                    l.mode.name(),
                    work(l),
                    l.blocks
                );
                if r.rehearsed {
                    let _ = write!(out, " {} |", observed(l));
                }
                out.push('\n');
            }
        }
        out.push('\n');
        if let Some(from) = &r.stats_from {
            let _ = writeln!(out, "Durations are estimated from the table sizes of {} (a read at 100 MB/s, an index build at 40 MB/s, a rewrite at 25 MB/s of table and indexes): the order of magnitude, not the minute.\n", markdown(from));
        }
    } else if !r.migrations.is_empty() {
        out.push_str("No statement locks a table that exists before it.\n\n");
    }
}

fn level(l: Level, allowed: bool) -> &'static str {
    match (l, allowed) {
        (_, true) => "ℹ️",
        (Level::Error, _) => "❌",
        (Level::Warning, _) => "⚠️",
        (Level::Info, _) => "ℹ️",
    }
}

/// For a terminal.
pub fn text(r: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Review against {} (merge base {}):",
        untrusted(&r.base),
        &r.merge_base[..r.merge_base.len().min(12)]
    );
    for m in &r.migrations {
        let _ = writeln!(out, "\n  {} ({})", untrusted(&m.file), m.change.name());
        for s in &m.statements {
            for l in &s.locks {
                let _ = writeln!(
                    out,
                    "    line {:<4} {:<26} {}  {}{}",
                    s.line,
                    l.mode.name(),
                    untrusted(&l.table),
                    work(l),
                    match observed(l).as_str() {
                        "" => String::new(),
                        o => format!("  observed: {o}"),
                    }
                );
            }
        }
    }
    for c in &r.conflicts {
        let _ = writeln!(
            out,
            "\nconflict [{}] {}",
            c.kind,
            untrusted_lines(&c.message)
        );
    }
    if let Some(failed) = &r.rehearsal_failed {
        let _ = writeln!(out, "\nrehearsal failed: {}", untrusted(failed));
    }
    for c in &r.contradictions {
        let _ = writeln!(out, "\nerror in pgshift: {}", untrusted(c));
    }
    for f in &r.findings {
        let at = f
            .location
            .as_ref()
            .map(|l| format!(" ({}:{})", l.file.display(), l.line))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{}[{}]: {}{}",
            f.level,
            f.rule,
            untrusted(&f.message),
            untrusted(&at)
        );
    }
    for n in &r.notes {
        let _ = writeln!(out, "\nnote: {}", untrusted(n));
    }
    let _ = writeln!(
        out,
        "\nReview {}: {}.",
        if r.passed { "passed" } else { "FAILED" },
        verdict(r)
    );
    out
}

/// GitHub workflow commands: a conflict or a blocking lock on its file and line.
pub fn github(r: &Review, dir: &std::path::Path) -> String {
    use super::github::{data, property as prop};
    let mut out = String::new();
    for m in &r.migrations {
        let file = dir.join(&m.file).display().to_string();
        for s in &m.statements {
            for l in s
                .locks
                .iter()
                .filter(|l| l.mode >= crate::review::locks::Mode::Share || l.rewrite)
            {
                let _ = writeln!(
                    out,
                    "::warning file={},line={},title={}::{}",
                    prop(&untrusted(&file)),
                    s.line,
                    prop(&format!("{} on {}", l.mode.name(), l.table)),
                    data(&untrusted_lines(&format!(
                        "{} on {}: blocks {}; {}",
                        l.mode.name(),
                        l.table,
                        l.blocks,
                        work(l)
                    )))
                );
            }
        }
    }
    for c in &r.conflicts {
        // At this side's file when the conflict names one of the pull request's migrations.
        let at = c
            .versions
            .iter()
            .find_map(|v| r.migrations.iter().find(|m| &m.version == v))
            .map(|m| {
                format!(
                    "file={},",
                    prop(&untrusted(&dir.join(&m.file).display().to_string()))
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "::error {at}title={}::{}",
            prop(c.kind),
            data(&untrusted_lines(&c.message))
        );
    }
    if let Some(failed) = &r.rehearsal_failed {
        let _ = writeln!(
            out,
            "::error title=rehearsal failed::{}",
            data(&untrusted_lines(failed))
        );
    }
    for c in &r.contradictions {
        let _ = writeln!(
            out,
            "::error title=pgshift lock prediction::{}",
            data(&untrusted_lines(c))
        );
    }
    for f in r.findings.iter().filter(|f| f.allowed.is_none()) {
        out.push_str(&super::github::annotation(f));
    }
    let _ = writeln!(out, "pgshift review: {}", verdict(r));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_their_scale() {
        assert_eq!(duration(450), "450 ms");
        assert_eq!(duration(12_300), "12.3 s");
        assert_eq!(duration(600_000), "10 min");
        assert_eq!(duration(9_000_000), "2.5 h");
    }

    #[test]
    fn a_statement_is_shortened_to_its_first_line() {
        assert_eq!(short("ALTER TABLE t\n  ADD c int"), "ALTER TABLE t…");
        assert_eq!(short("SELECT 1"), "SELECT 1");
    }
}
