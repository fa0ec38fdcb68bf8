//! What pgshift renders for people and machines: validation as text, JSON, Markdown (the
//! guide's validation report), GitHub workflow annotations and SARIF 2.1.0 (one file per
//! format); a deploy's events, status, history, backups, health, the rollback test and the
//! fleet as text and Markdown (one file each); and `terminal`, where the command line's output
//! is written, made safe. This room sits above `validate` and `deploy`; nothing below imports
//! it. Escaping of untrusted text comes from `crate::sanitize`.

pub mod backup;
pub mod deploy;
pub mod diff;
pub mod events;
pub mod fleet;
mod github;
pub mod health;
pub mod history;
mod json;
pub mod junit;
pub mod log;
mod markdown;
pub mod review;
mod sarif;
pub mod status;
pub mod stream;
pub mod terminal;
pub mod test;
mod text;

use crate::validate::Report;

/// The output formats of `validate` and `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For a terminal, rustc-style, with source snippets.
    Text,
    /// One JSON document.
    Json,
    /// The guide's Markdown report.
    Markdown,
    /// GitHub Actions workflow commands: annotations on the diff.
    Github,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

/// Renders `report` in `format`; `color` applies to text only.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Text | Format::Json | Format::Github => stream::render(report, format, color),
        Format::Markdown => markdown::render(report),
        Format::Sarif => sarif::render(report),
    }
}

/// `2 errors, 1 warning, 3 info, 4 allowed`.
pub fn summary_line(report: &Report) -> String {
    summary_of(report.counts(), report.allowed())
}

/// [`summary_line`] of findings counted as they went by.
pub fn summary_of(counts: crate::diagnostic::Counts, allowed: usize) -> String {
    format!("{}, {allowed} allowed", counts.summary())
}

#[cfg(test)]
mod tests;
