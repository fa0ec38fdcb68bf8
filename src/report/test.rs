//! `pgshift test` as people read it: a line per migration of the rollback test, the closing
//! verdict, and its job summary.

use crate::roundtrip::RoundTrip;
use crate::sanitize::escape::{markdown, untrusted as u, untrusted_lines};

/// The line of one migration of the rollback test (`width`: the longest version).
pub fn round_trip(r: &RoundTrip, width: usize) -> String {
    let v = &r.version;
    match (r.skipped, &r.problem, r.down) {
        (Some(why), _, _) => format!("  -     {v:<width$}  {why}"),
        (None, None, true) => format!(
            "  ok    {v:<width$}  up, down, up: the down file restores the schema ({} ms)",
            r.ms
        ),
        (None, None, false) => {
            format!(
                "  -     {v:<width$}  applied; no down file to check ({} ms)",
                r.ms
            )
        }
        (None, Some(p), _) => format!("  FAIL  {v:<width$}  {}", untrusted_lines(p)),
    }
}

/// What the rollback test found, for the verdict: applied, checked, failed.
pub fn round_trips(steps: &[RoundTrip]) -> String {
    let checked = steps.iter().filter(|s| s.down).count();
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| s.problem.is_some())
        .map(|s| s.version.as_str())
        .collect();
    format!(
        "{} migration(s) applied; {checked} down file(s) checked: {}",
        steps.iter().filter(|s| s.applied).count(),
        if failed.is_empty() {
            "each one restored the schema".to_string()
        } else {
            format!("{} failed ({})", failed.len(), failed.join(", "))
        }
    )
}

/// The closing line: passed or FAILED, in how long, on what, and what was found.
pub fn verdict(passed: bool, seconds: f64, on: &str, found: &[String]) -> String {
    format!(
        "\nTest {} in {seconds:.1} s on {}: {}.",
        if passed { "passed" } else { "FAILED" },
        u(on),
        found.join("; ")
    )
}

/// The job summary: the verdict, then the health report.
pub fn summary(passed: bool, seconds: f64, on: &str, found: &[String], health: &str) -> String {
    format!(
        "## {} pgshift test {}\n\n{seconds:.1} s on {}: {}.\n\n{health}",
        if passed { "✅" } else { "❌" },
        if passed { "passed" } else { "FAILED" },
        markdown(on),
        markdown(&found.join("; ")),
    )
}
