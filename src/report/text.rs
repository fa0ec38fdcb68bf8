//! Text: rustc-style findings, allowed findings listed briefly, and a summary. Errors come
//! first, then warnings, then information, each in file order (the writer in `stream` keeps
//! each level apart until the end).

use crate::diagnostic::{render_text, Finding};
use crate::sanitize::escape::untrusted as u;
use crate::validate::Report;

/// A finding shown in full, with the blank line after it.
pub(super) fn shown(f: &Finding, color: bool) -> String {
    format!("{}\n\n", render_text(f, color))
}

/// An allowed finding's line under `allowed by @allow:`.
pub(super) fn allowed_line(f: &Finding) -> String {
    let at = f.location.as_ref().map_or(String::new(), |l| l.to_string());
    let reason = f
        .allowed
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or("no reason given");
    format!("  {} {}: {}\n", u(&at), u(&f.rule), u(reason))
}

/// The last line: what was checked, where, and the counts (`summary`).
pub(super) fn footer(report: &Report, summary: &str) -> String {
    format!(
        "Checked {} migration(s) in {} ({}): {}.\n",
        report.files,
        u(&report.dir.display().to_string()),
        report.environment,
        summary
    )
}
