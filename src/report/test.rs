//! `pgshift test` as people read it: a line per migration of the rollback test, the closing
//! verdict, and its job summary.

use crate::roundtrip::RoundTrip;
use crate::sanitize::escape::{markdown, untrusted as u, untrusted_lines};

/// The line of one migration of the step-by-step test (`width`: the longest version).
pub fn round_trip(r: &RoundTrip, width: usize) -> String {
    let v = &r.version;
    let data: Vec<&str> = r
        .cases
        .iter()
        .filter(|c| matches!(c.step, "before" | "after"))
        .map(|c| c.step)
        .collect();
    let data = if data.is_empty() {
        String::new()
    } else {
        format!("; data tests passed: {}", data.join(", "))
    };
    let restored = if r.drops_data {
        "the schema (rows not compared: the down file says @drops-data)"
    } else {
        "the schema and every table's rows"
    };
    match (r.skipped, &r.problem, r.down) {
        (Some(why), _, _) => format!("  -     {v:<width$}  {why}"),
        (None, None, true) => format!(
            "  ok    {v:<width$}  up, down, up: the down file restores {restored}{data} ({} ms)",
            r.ms
        ),
        (None, None, false) if r.version.starts_with("repeatable/") => format!(
            "  -     {v:<width$}  applied; a repeatable: `rollback` runs its earlier recorded text{data} ({} ms)",
            r.ms
        ),
        (None, None, false) if !r.checking_down => {
            format!("  ok    {v:<width$}  applied{data} ({} ms)", r.ms)
        }
        (None, None, false) => {
            format!(
                "  -     {v:<width$}  applied; no down file to check{data} ({} ms)",
                r.ms
            )
        }
        (None, Some(p), _) => format!("  FAIL  {v:<width$}  {}", untrusted_lines(p)),
    }
}

/// The data tests' count, for the verdict: how many files ran, which failed.
pub fn data_tests(steps: &[RoundTrip]) -> Option<String> {
    let cases: Vec<_> = steps
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| matches!(c.step, "before" | "after"))
        .collect();
    if cases.is_empty() {
        return None;
    }
    let failed: Vec<String> = cases
        .iter()
        .filter(|c| c.failure.is_some())
        .map(|c| format!("{} {}", c.version, c.step))
        .collect();
    Some(if failed.is_empty() {
        format!("{} data test file(s) passed", cases.len())
    } else {
        format!(
            "{} data test file(s) ran: {} failed ({})",
            cases.len(),
            failed.len(),
            failed.join(", ")
        )
    })
}

/// What the rollback test found, for the verdict: applied, checked, failed.
pub fn round_trips(steps: &[RoundTrip]) -> String {
    let applied = steps.iter().filter(|s| s.applied).count();
    if !steps.is_empty() && steps.iter().all(|s| !s.checking_down) {
        return format!("{applied} migration(s) applied, one at a time");
    }
    let checked = steps.iter().filter(|s| s.down).count();
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| {
            s.cases
                .iter()
                .any(|c| c.step == "down" && c.failure.is_some())
        })
        .map(|s| s.version.as_str())
        .collect();
    let downs = match (checked, failed.is_empty()) {
        (0, true) => {
            "no down file to check (`pgshift new` writes one beside each migration)".to_string()
        }
        (n, true) => format!("{n} down file(s) checked: each one restored the schema"),
        (n, false) => format!(
            "{n} down file(s) checked: {} failed ({})",
            failed.len(),
            failed.join(", ")
        ),
    };
    format!("{applied} migration(s) applied; {downs}")
}

/// How long a test took: its migrations and checks, and in all (with the throwaway
/// PostgreSQL's start).
#[derive(Debug, Clone, Copy)]
pub struct Took {
    /// Seconds from the first migration to the verdict.
    pub test: f64,
    /// Seconds since the command started.
    pub total: f64,
}

impl std::fmt::Display for Took {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} s", self.test)?;
        if self.total - self.test >= 0.05 {
            write!(f, " ({:.1} s in all, with starting PostgreSQL)", self.total)?;
        }
        Ok(())
    }
}

/// The closing line: passed or FAILED, in how long, on what, and what was found.
pub fn verdict(passed: bool, took: Took, on: &str, found: &[String]) -> String {
    format!(
        "\nTest {} in {took} on {}: {}.",
        if passed { "passed" } else { "FAILED" },
        u(on),
        found.join("; ")
    )
}

/// The job summary: the verdict, then the health report.
pub fn summary(passed: bool, took: Took, on: &str, found: &[String], health: &str) -> String {
    format!(
        "## {} pgshift test {}\n\n{took} on {}: {}.\n\n{health}",
        if passed { "✅" } else { "❌" },
        if passed { "passed" } else { "FAILED" },
        markdown(on),
        markdown(&found.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::Took;

    #[test]
    fn both_times_are_said_when_starting_postgresql_took_some() {
        let t = Took {
            test: 0.4,
            total: 5.0,
        };
        assert_eq!(
            t.to_string(),
            "0.4 s (5.0 s in all, with starting PostgreSQL)"
        );
        let t = Took {
            test: 0.4,
            total: 0.42,
        };
        assert_eq!(t.to_string(), "0.4 s");
        assert_eq!(
            super::round_trips(&[]),
            "0 migration(s) applied; no down file to check (`pgshift new` writes one beside each migration)"
        );
    }
}
