//! Text: rustc-style findings, allowed findings listed briefly, and a summary.

use std::fmt::Write;

use crate::diagnostic::render_text;
use crate::sanitize::escape::untrusted as u;
use crate::validate::Report;

pub fn render(report: &Report, color: bool) -> String {
    let mut out = String::new();
    // Errors first, then warnings, then information; each in file order.
    let mut shown: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.allowed.is_none())
        .collect();
    shown.sort_by_key(|f| std::cmp::Reverse(f.level));
    for f in shown {
        let _ = writeln!(out, "{}\n", render_text(f, color));
    }
    let allowed: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.allowed.is_some())
        .collect();
    if !allowed.is_empty() {
        let _ = writeln!(out, "allowed by @allow:");
        for f in allowed {
            let at = f.location.as_ref().map_or(String::new(), |l| l.to_string());
            let reason = f
                .allowed
                .as_deref()
                .filter(|r| !r.is_empty())
                .unwrap_or("no reason given");
            let _ = writeln!(out, "  {} {}: {}", u(&at), u(&f.rule), u(reason));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Checked {} migration(s) in {} ({}): {}.",
        report.files,
        u(&report.dir.display().to_string()),
        report.environment,
        super::summary_line(report)
    );
    out
}
