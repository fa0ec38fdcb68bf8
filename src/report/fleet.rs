//! A fleet deploy as people read it: a line per target as it finishes, the closing table,
//! the job summary's Markdown and the chat message. Untrusted text (labels, server messages)
//! is escaped where it is placed.

use crate::config::Environment;
use crate::fleet::{Outcome, Status};
use crate::sanitize::escape::{markdown as cell, markdown_code as code, untrusted as u};

/// The `[n/total]` line of a target that finished; its JSON form with `json`.
pub fn progress(n: usize, total: usize, o: &Outcome, json: bool) -> String {
    if json {
        return serde_json::json!({
            "event": "target",
            "target": o.label,
            "status": o.status.to_string(),
            "applied": o.report.applied.len(),
            "ms": o.ms,
            "detail": o.detail(),
        })
        .to_string();
    }
    let width = total.to_string().len();
    format!(
        "  [{n:>width$}/{total}] {:<6} {}  {} applied, {:.1} s{}",
        o.status.to_string(),
        u(&o.label),
        o.report.applied.len(),
        o.ms as f64 / 1000.0,
        match o.detail() {
            d if d.is_empty() => String::new(),
            d => format!("  {}", u(&d)),
        }
    )
}

/// Where and how the fleet ran, for the closing texts.
pub struct Run<'a> {
    /// The targets file's name.
    pub file: &'a str,
    /// `, shard 2/4`, or nothing.
    pub shard: &'a str,
    /// Targets at a time.
    pub jobs: usize,
    /// How long it took.
    pub ms: u128,
    /// The environment.
    pub environment: Environment,
}

/// The closing table: a line per target that ran, and the counts (`skipped`: not started).
pub fn table(results: &[Outcome], total: usize, skipped: usize, run: &Run) -> String {
    let ok = results.iter().filter(|o| o.status == Status::Ok).count();
    let width = results
        .iter()
        .map(|o| o.label.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut t = format!(
        "\n{total} target(s) of {}{}, {} at a time, in {:.1} s:\n  {:<6}  {:<width$}  {:>7}  {:>7}  detail\n",
        u(run.file),
        run.shard,
        run.jobs,
        run.ms as f64 / 1000.0,
        "status",
        "target",
        "applied",
        "time"
    );
    for o in results {
        t.push_str(&format!(
            "  {:<6}  {:<width$}  {:>7}  {:>5.1} s  {}\n",
            o.status.to_string(),
            u(&o.label),
            o.report.applied.len(),
            o.ms as f64 / 1000.0,
            u(&o.detail())
        ));
    }
    t.push_str(&format!(
        "{ok} ok, {} failed{}.",
        results.len() - ok,
        if skipped > 0 {
            format!(", {skipped} not started (interrupted)")
        } else {
            String::new()
        }
    ));
    if results.len() > ok {
        t.push_str(" Each target is independent: fix what failed and run the same command again; targets already up to date do nothing.");
    }
    t
}

/// The job summary's Markdown.
pub fn markdown(results: &[Outcome], skipped: usize, run: &Run) -> String {
    let ok = results.iter().filter(|o| o.status == Status::Ok).count();
    let icon = if ok == results.len() && skipped == 0 {
        "✅"
    } else {
        "❌"
    };
    let mut md = format!(
        "## {icon} pgshift fleet deploy: {} ({}{})\n\n{ok} ok, {} failed, {skipped} not started.\n\n| status | target | applied | time | detail |\n| --- | --- | ---: | ---: | --- |\n",
        cell(run.file),
        run.environment,
        cell(run.shard),
        results.len() - ok
    );
    for o in results {
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} s | {} |\n",
            o.status,
            code(&o.label),
            o.report.applied.len(),
            o.ms as f64 / 1000.0,
            cell(&o.detail())
        ));
    }
    crate::sanitize::redact::redact(&md).into_owned()
}

/// One chat message for the whole fleet (not one per target): the counts, and the first ten
/// targets that did not go well.
pub fn message(results: &[Outcome], skipped: usize, run: &Run) -> String {
    let bad: Vec<&Outcome> = results.iter().filter(|o| o.status != Status::Ok).collect();
    let mut text = format!(
        "pgshift: fleet deploy of {}{} ({}): {} ok, {} failed, {skipped} not started",
        u(run.file),
        run.shard,
        run.environment,
        results.len() - bad.len(),
        bad.len()
    );
    for o in bad.iter().take(10) {
        text.push_str(&format!(
            "\n{} {}: {}",
            o.status,
            u(&o.label),
            u(&o.detail())
        ));
    }
    if bad.len() > 10 {
        text.push_str(&format!("\n… and {} more", bad.len() - 10));
    }
    crate::sanitize::redact::redact(&text).into_owned()
}
