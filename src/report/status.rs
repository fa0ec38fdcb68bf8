//! `pgshift status` as people read it: every migration's state, the deploy running now, and
//! how the Supabase CLI's history disagrees. Values from the database are escaped here.

use crate::deploy::status::State;
use crate::deploy::StatusRead;
use crate::sanitize::escape::untrusted as u;

/// The text of `status` (no line break at the end).
pub fn text(report: &StatusRead) -> String {
    let status = &report.status;
    let width = status
        .entries
        .iter()
        .map(|e| u(&e.version).chars().count())
        .max()
        .unwrap_or(0);
    let mut text = format!("Migrations in {}:\n", u(&report.target));
    if let Some(r) = &report.running {
        text.push_str(&format!(
            "A deploy is running now: {}. `pending` below may be applying.\n",
            u(&r.holder)
        ));
    }
    text.reserve(status.entries.len() * (width + 40));
    for e in &status.entries {
        let (state, extra) = state_words(&e.state, &e.version);
        let when = e.executed_at.as_deref().unwrap_or("");
        // Written in place (a line made apart and copied in cost 10,000 allocations), padded
        // by hand rather than through `format_args!` (0.7 ms of 31 at 10,000 lines).
        text.push_str("  ");
        padded(&mut text, &u(&e.version), width);
        text.push_str("  ");
        padded(&mut text, state, 8);
        text.push_str("  ");
        padded(&mut text, &u(when), 23);
        text.push_str(&extra);
        text.push('\n');
    }
    if let Some(d) = &report.supabase {
        text.push_str(&supabase_history(d));
    }
    let c = status.counts;
    text.push_str(&format!(
        "{} applied, {} pending, {} failed, {} modified, {} unknown, {} out of order, {} skipped{}.",
        c.applied,
        c.pending,
        c.failed,
        c.modified,
        c.unknown,
        c.out_of_order,
        c.skipped,
        if c.damaged > 0 {
            format!(", {} DAMAGED record(s)", c.damaged)
        } else {
            String::new()
        }
    ));
    text
}

/// `s`, then spaces up to `width` characters (as `{:<width$}`).
fn padded(text: &mut String, s: &str, width: usize) {
    text.push_str(s);
    let n = s.chars().count();
    text.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
}

/// A state's word in the table, and what follows the time.
fn state_words(state: &State, version: &str) -> (&'static str, String) {
    match state {
        State::Applied {
            cosmetic_change: false,
        } => ("applied", String::new()),
        State::Applied {
            cosmetic_change: true,
        } => (
            "applied",
            "  (comments/whitespace changed since)".to_string(),
        ),
        State::Pending {
            out_of_order: false,
        } => ("pending", String::new()),
        State::Pending { out_of_order: true } => (
            "pending",
            "  (out of order: dated before applied migrations)".to_string(),
        ),
        State::Failed { message } => ("FAILED", format!("  {}", u(message))),
        State::Partial {
            statements_done,
            message,
        } => (
            "PARTIAL",
            format!(
                "  {statements_done} statement(s) ran and stay; the next migrate resumes after them; {}",
                u(message)
            ),
        ),
        State::Modified => (
            "MODIFIED",
            "  the file changed after it was applied".to_string(),
        ),
        State::Changed => (
            "changed",
            "  repeatable: its SQL changed since it ran; the next migrate runs it again".to_string(),
        ),
        State::Covered => (
            "applied",
            "  baseline: every version it replaces is recorded; the next migrate records it without running it".to_string(),
        ),
        State::PartlyCovered { missing } => (
            "REFUSED",
            format!(
                "  baseline: this database has some of the versions it replaces, not these: {}; deploy them from `squashed/` (git history) first",
                u(&missing.join(", "))
            ),
        ),
        State::Unknown => ("unknown", "  recorded, but no file".to_string()),
        State::Damaged { problem } => (
            "DAMAGED",
            format!(
                "  its record was changed by hand or by another tool: {}; {}",
                u(problem),
                crate::deploy::status::damaged_fix(version)
            ),
        ),
        State::NotForEnvironment => ("skipped", "  @env excludes this environment".to_string()),
        State::NoSql => (
            "skipped",
            "  the file holds no SQL yet: not run, not recorded".to_string(),
        ),
    }
}

/// Whether the Supabase CLI's history agrees with pgshift's records, and where not.
fn supabase_history(d: &crate::supabase::history::Disagreement) -> String {
    let mut text = String::new();
    if d.only_supabase.is_empty() && d.only_pgshift.is_empty() {
        text.push_str(
            "The Supabase CLI's history (supabase_migrations.schema_migrations) agrees.\n",
        );
    } else {
        text.push_str(
            "The Supabase CLI's history (supabase_migrations.schema_migrations) disagrees:\n",
        );
        for v in &d.only_supabase {
            text.push_str(&format!(
                "  in Supabase's history, not applied by pgshift: {}\n",
                u(v)
            ));
        }
        for v in &d.only_pgshift {
            text.push_str(&format!(
                "  applied by pgshift, missing from Supabase's history: {}\n",
                u(v)
            ));
        }
        text.push_str("  (`supabase migration list` shows the CLI's side; migrations pgshift applies from now on are recorded in both)\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::status::{Counts, Entry, Status};

    #[test]
    fn each_line_pads_its_columns_as_format_would_and_escapes_what_the_database_says() {
        let entry = |version: &str, state: State, at: Option<&str>| Entry {
            version: version.into(),
            state,
            executed_at: at.map(str::to_string),
            execution_time_ms: None,
            checksum: None,
        };
        let entries = vec![
            entry(
                "2026-01-01_a",
                State::Applied {
                    cosmetic_change: true,
                },
                Some("2026-01-02 03:04:05 UTC"),
            ),
            entry(
                "2026-01-02_é_longer_name",
                State::Pending {
                    out_of_order: false,
                },
                None,
            ),
            entry("2025-12-31_x\u{1b}[2J", State::Unknown, Some("infinity")),
        ];
        let report = StatusRead {
            status: Status {
                entries,
                counts: Counts::default(),
            },
            target: "u@h:5432/db".into(),
            running: None,
            supabase: None,
        };
        let text = text(&report);
        let lines: Vec<&str> = text.lines().collect();
        let width = "2026-01-02_é_longer_name".chars().count();
        let expected = [
            format!(
                "  {:<width$}  {:<8}  {:<23}  (comments/whitespace changed since)",
                "2026-01-01_a", "applied", "2026-01-02 03:04:05 UTC"
            ),
            format!(
                "  {:<width$}  {:<8}  {:<23}",
                "2026-01-02_é_longer_name", "pending", ""
            ),
        ];
        assert_eq!(lines[1..3], expected);
        // An escape from the database is shown, not sent to the terminal.
        assert!(
            lines[3].starts_with("  2025-12-31_x\\u{1b}[2J"),
            "{}",
            lines[3]
        );
        assert!(!text.contains('\u{1b}'));
    }
}
