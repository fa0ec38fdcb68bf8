//! `pgshift history` as people read it: a line per run of a migration, newest first.

use crate::db::tracking::AppliedRow;
use crate::sanitize::escape::untrusted as u;

/// A line per row.
pub fn text(rows: &[AppliedRow]) -> String {
    let width = rows.iter().map(|r| r.version.len()).max().unwrap_or(0);
    let mut text = String::new();
    for r in rows {
        let result = if r.success {
            "ok".to_string()
        } else {
            format!("FAILED: {}", u(r.error_message.as_deref().unwrap_or("")))
        };
        text.push_str(&format!(
            "{}  {:<width$}  {:>6} ms  {}  {}\n",
            u(&r.executed_at),
            u(&r.version),
            r.execution_time_ms,
            u(&r.applied_by),
            result
        ));
    }
    text
}
