//! The health report (`pgshift health`, and after every deploy) as text and Markdown; JSON is
//! the report's serde form. Object names come from the database: untrusted, escaped here.

use std::fmt::Write;

use crate::health::{Level, Report};
use crate::sanitize::escape::{markdown as cell, markdown_code as code, untrusted as u};

/// Items shown per check in text; JSON lists them all.
const SHOWN: usize = 20;

fn label(level: Level) -> &'static str {
    match level {
        Level::Skip => "skip",
        Level::Ok => "ok",
        Level::Warn => "warn",
        Level::Fail => "FAIL",
    }
}

/// The closing line: `Health of …: 1 failed, 2 warning(s), 15 ok, 1 not checked (38 ms).`
pub fn summary(report: &Report) -> String {
    let skipped = match report.count(Level::Skip) {
        0 => String::new(),
        n => format!(", {n} not checked"),
    };
    format!(
        "Health of {}: {} failed, {} warning(s), {} ok{skipped} ({} ms).",
        u(&report.target),
        report.count(Level::Fail),
        report.count(Level::Warn),
        report.count(Level::Ok),
        report.ms
    )
}

/// The report after a deploy: the checks that did not pass, then the closing line; one line
/// when all pass (`pgshift health` lists every check).
pub fn brief(report: &Report) -> String {
    let worth = |l: Level| l >= Level::Warn;
    if !report.checks.iter().any(|c| worth(c.level)) {
        return format!(
            "{} Nothing failed or warned; `pgshift health` lists every check.",
            summary(report)
        );
    }
    // The closing line counts every check, not only those listed.
    let mut out = listed(report, worth);
    out.push_str(&summary(report));
    out
}

/// The report as text for a terminal (object names escaped).
pub fn text(report: &Report) -> String {
    let mut out = listed(report, |_| true);
    out.push_str(&summary(report));
    out
}

/// The header and the checks `shown` keeps, each with its objects and fix.
fn listed(report: &Report, shown: impl Fn(Level) -> bool) -> String {
    let width = report
        .checks
        .iter()
        .filter(|c| shown(c.level))
        .map(|c| c.id.len())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "Health of {} (PostgreSQL {}):\n",
        u(&report.target),
        u(&report.server_version)
    );
    for c in report.checks.iter().filter(|c| shown(c.level)) {
        let _ = writeln!(
            out,
            "  {:<4}  {:<width$}  {}",
            label(c.level),
            c.id,
            u(&c.summary)
        );
        for i in c.items.iter().take(SHOWN) {
            let _ = writeln!(out, "          {}: {}", u(&i.object), u(&i.detail));
        }
        if c.items.len() > SHOWN {
            let _ = writeln!(
                out,
                "          … and {} more (`pgshift health --json` lists them all)",
                c.items.len() - SHOWN
            );
        }
        if let Some(fix) = c.fix {
            let _ = writeln!(out, "          fix: {fix}");
        }
    }
    out
}

/// The report in Markdown (a job summary, a pull request comment).
pub fn markdown(report: &Report) -> String {
    let icon = |l: Level| match l {
        Level::Skip => "⏭️ skip",
        Level::Ok => "✅ ok",
        Level::Warn => "⚠️ warn",
        Level::Fail => "❌ fail",
    };
    let mut out = String::from("# Database Health\n\n");
    let _ = writeln!(out, "- Database: {}", code(&report.target));
    let _ = writeln!(out, "- PostgreSQL {}", cell(&report.server_version));
    let _ = writeln!(
        out,
        "- {} failed, {} warning(s), {} ok, {} ms\n",
        report.count(Level::Fail),
        report.count(Level::Warn),
        report.count(Level::Ok),
        report.ms
    );
    out.push_str("| Check | Result | Summary |\n|---|---|---|\n");
    for c in &report.checks {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            c.id,
            icon(c.level),
            cell(&c.summary)
        );
    }
    for c in report.checks.iter().filter(|c| !c.items.is_empty()) {
        let _ = writeln!(out, "\n## `{}`: {}\n", c.id, icon(c.level));
        for i in &c.items {
            let _ = writeln!(out, "- {}: {}", code(&i.object), cell(&i.detail));
        }
        if let Some(fix) = c.fix {
            let _ = writeln!(out, "\n**Fix:** {}", cell(fix));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::health::{CheckResult, Item, Level, Report};

    fn report() -> Report {
        Report {
            target: "app@db/shop".into(),
            server_version: "15.14".into(),
            ms: 12,
            checks: vec![
                CheckResult {
                    id: "connectivity",
                    level: Level::Ok,
                    summary: "connected in 3 ms".into(),
                    items: vec![],
                    fix: None,
                },
                CheckResult {
                    id: "rls-disabled",
                    level: Level::Fail,
                    summary: "1 exposed table(s) without row level security".into(),
                    items: vec![Item {
                        level: Level::Fail,
                        object: "public.\"evil\x1b[2J|name\"".into(),
                        detail: "row level security is off".into(),
                    }],
                    fix: Some("ALTER TABLE … ENABLE ROW LEVEL SECURITY"),
                },
            ],
        }
    }

    #[test]
    fn text_names_the_object_and_the_fix_and_escapes_it() {
        let t = super::text(&report());
        assert!(t.contains("FAIL  rls-disabled"), "{t}");
        assert!(t.contains("fix: ALTER TABLE"), "{t}");
        assert!(!t.contains('\x1b'), "{t}");
        assert!(t.ends_with("1 failed, 0 warning(s), 1 ok (12 ms)."), "{t}");
    }

    #[test]
    fn after_a_deploy_only_what_did_not_pass_is_listed_and_a_clean_run_is_one_line() {
        let mut r = report();
        let b = super::brief(&r);
        assert!(b.contains("FAIL  rls-disabled"), "{b}");
        assert!(!b.contains("connectivity"), "{b}");
        assert!(b.ends_with("1 failed, 0 warning(s), 1 ok (12 ms)."), "{b}");
        r.checks[1].level = Level::Skip;
        r.checks[1].summary = "not checked: no API role".into();
        let b = super::brief(&r);
        assert_eq!(
            b,
            "Health of app@db/shop: 0 failed, 0 warning(s), 1 ok, 1 not checked (12 ms). Nothing failed or warned; `pgshift health` lists every check."
        );
        assert!(super::text(&r).contains("skip  rls-disabled"));
    }

    #[test]
    fn markdown_keeps_a_pipe_in_a_name_inside_its_cell() {
        let m = super::markdown(&report());
        assert!(m.contains("| `rls-disabled` | ❌ fail |"), "{m}");
        assert!(!m.contains("evil\x1b"), "{m}");
    }
}
