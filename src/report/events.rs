//! A run's events as lines for people (`--json` prints the events themselves). Every value
//! from a file, the server or the database is escaped where it is placed.

use crate::deploy::{Event, PlanItem};
use crate::sanitize::escape::untrusted as u;

/// What the text of a run remembers from one event to the next: the width of the version
/// column (set by the plan), and whether the run is a rehearsal (its end says so).
#[derive(Debug, Clone, Copy, Default)]
pub struct Lines {
    /// The longest version of the plan.
    pub width: usize,
    /// A `rehearsed` event came.
    pub rehearsal: bool,
}

impl Lines {
    /// The text of `e`, each line ending with a line break; `None` for the events with no
    /// line of their own (a migration starting, a backup's progress).
    pub fn text(&mut self, e: &Event) -> Option<String> {
        let w = self.width;
        Some(match e {
            Event::Connected {
                target,
                server_version,
                environment,
            } => connected(target, server_version, *environment),
            Event::Waiting { holder } => {
                format!("Waiting for the deploy lock, held by {}…\n", u(holder))
            }
            Event::Plan {
                to_run,
                variables,
                dry_run,
                backup,
                undo,
                rehearse,
            } => {
                self.width = to_run.iter().map(|p| p.version.len()).max().unwrap_or(0);
                let how = Planned {
                    dry_run: *dry_run,
                    undo: *undo,
                    rehearse: *rehearse,
                };
                plan(to_run, variables, how, backup.as_deref(), self.width)
            }
            Event::Warning { message } => format!("warning: {}\n", u(message)),
            Event::Retrying {
                version,
                attempt,
                of,
                wait_ms,
                message,
            } => retrying(version, (*attempt, *of), *wait_ms, message, w),
            Event::Applying { .. } | Event::Progress { .. } => return None,
            Event::Resumed {
                version,
                from_statement,
                dropped_invalid_index,
            } => resumed(version, *from_statement, dropped_invalid_index.as_deref()),
            Event::Applied { version, ms } => format!("  ✓ {:<w$}  {ms} ms\n", u(version)),
            Event::Replacing { .. } => replacing(e),
            Event::Statement { sql, ms, .. } => format!(
                "  [debug] {ms:>7.1} ms  {}\n",
                u(sql.lines().next().unwrap_or(""))
            ),
            Event::Rehearsed { version, ms, locks } => {
                self.rehearsal = true;
                rehearsed(version, *ms, locks, w)
            }
            Event::Skipped { version, reason } => {
                format!("  - {}: skipped, {}\n", u(version), u(reason))
            }
            Event::Notice {
                version,
                severity,
                message,
            } => format!(
                "    {} from {}: {}\n",
                u(&severity.to_lowercase()),
                u(version),
                u(message)
            ),
            Event::Failed { version, .. } => format!("  ✗ {:<w$}  failed\n", u(version)),
            Event::BackedUp {
                file,
                size,
                sha256,
                ms,
                pruned,
            } => backed_up(file, *size, sha256, *ms, pruned.len()),
            Event::RolledBack { version, ms } => {
                format!("  ↩ {:<w$}  {ms} ms (rolled back)\n", u(version))
            }
            Event::Restoring { changes } => restoring(changes),
            Event::Restored { file, bytes, ms } => format!(
                "Restored {} ({:.1} MB of SQL) in {ms} ms, in one transaction.\n",
                u(file),
                *bytes as f64 / 1048576.0
            ),
            Event::Recorded {
                version,
                action,
                detail,
            } => format!("  {} {}: {}\n", u(action), u(version), u(detail)),
            Event::Notified { channel } => format!(
                "Sent NOTIFY {}, 'reload schema' (PostgREST reloads its schema cache).\n",
                u(channel)
            ),
            Event::Done {
                applied,
                failed,
                interrupted,
                ms,
            } => done(*applied, *failed, *interrupted, *ms, self.rehearsal)?,
        })
    }
}

/// Where a command connected.
fn connected(
    target: &str,
    server_version: &str,
    environment: crate::config::Environment,
) -> String {
    format!(
        "Connected to {} (PostgreSQL {}, {environment}).\n",
        u(target),
        u(server_version)
    )
}

/// What a restore is about to do, a line each.
fn restoring(changes: &[String]) -> String {
    let mut t = String::from("Restore:\n");
    for c in changes {
        t.push_str(&format!("  {}\n", u(c)));
    }
    t
}

/// A file rolled back for a lock it could not get in time, tried again.
fn retrying(
    version: &str,
    (attempt, of): (u32, u32),
    wait_ms: u64,
    message: &str,
    w: usize,
) -> String {
    format!(
        "  ↻ {:<w$}  could not get a lock in time ({}): rolled back; try {attempt} of {of} in {:.1} s\n",
        u(version),
        u(message),
        wait_ms as f64 / 1000.0
    )
}

/// What a run will do: in a dry run every migration with how it runs, the variables and the
/// backup; otherwise one line (the progress follows).
fn plan(
    to_run: &[PlanItem],
    variables: &[String],
    how: Planned,
    backup: Option<&str>,
    w: usize,
) -> String {
    let Planned {
        dry_run,
        undo,
        rehearse,
    } = how;
    let verb = if undo { "be rolled back" } else { "run" };
    if to_run.is_empty() {
        return "Nothing to do: every migration is applied (nothing changed, so no health check runs; `pgshift health` runs one).\n".to_string();
    }
    if !dry_run {
        return if undo {
            format!(
                "{} migration(s) to roll back, in this order:\n",
                to_run.len()
            )
        } else {
            format!("{} migration(s) to apply:\n", to_run.len())
        };
    }
    let mut t = format!(
        "Dry run: {} migration(s) would {verb}, in this order:\n",
        to_run.len()
    );
    for (i, p) in to_run.iter().enumerate() {
        let late = if p.out_of_order {
            "  (out of order)"
        } else {
            ""
        };
        t.push_str(&format!(
            "  {:>3}. {:<w$}  {}{late}\n",
            i + 1,
            u(&p.version),
            u(&p.mode)
        ));
    }
    if !variables.is_empty() {
        let names: Vec<_> = variables.iter().map(|v| u(v)).collect();
        t.push_str(&format!(
            "psql variables used (values not shown): {}\n",
            names.join(", ")
        ));
    }
    match backup {
        Some(dir) => t.push_str(&format!(
            "Backup: pg_dump into {} before the first migration.\n",
            u(dir)
        )),
        None if undo => {}
        None => t.push_str("Backup: none (SKIP_BACKUP).\n"),
    }
    t.push_str(if rehearse {
        "Rehearsal: each migration runs in a transaction that is rolled back; nothing stays changed.\n"
    } else {
        "Nothing was changed.\n"
    });
    t
}

/// How a plan runs.
#[derive(Debug, Clone, Copy)]
struct Planned {
    dry_run: bool,
    undo: bool,
    rehearse: bool,
}

fn resumed(version: &str, from_statement: usize, dropped: Option<&str>) -> String {
    let mut t = String::new();
    if let Some(i) = dropped {
        t.push_str(&format!(
            "  {}: dropped the invalid index {} left by the failed run\n",
            u(version),
            u(i)
        ));
    }
    t.push_str(&format!(
        "  {}: resuming at statement {from_statement}\n",
        u(version)
    ));
    t
}

fn rehearsed(version: &str, ms: u128, locks: &[String], w: usize) -> String {
    let mut t = format!("  ✓ {:<w$}  {ms} ms (rolled back)\n", u(version));
    if locks.is_empty() {
        t.push_str("      locks: none on existing tables\n");
    }
    for l in locks {
        t.push_str(&format!("      locks {}\n", u(l)));
    }
    t
}

fn backed_up(file: &str, size: u64, sha256: &str, ms: u128, pruned: usize) -> String {
    let mut t = format!(
        "Backed up to {} ({:.1} MB, SHA-256 {}…, verified) in {ms} ms.\n",
        u(file),
        size as f64 / 1048576.0,
        u(&sha256[..sha256.len().min(12)])
    );
    if pruned > 0 {
        t.push_str(&format!(
            "Removed {pruned} older backup(s) ([backup] keep).\n"
        ));
    }
    t
}

/// The run's last line; none for a run that had nothing to do.
fn done(
    applied: usize,
    failed: bool,
    interrupted: bool,
    ms: u128,
    rehearsal: bool,
) -> Option<String> {
    Some(if rehearsal {
        if failed {
            format!("Rehearsal stopped at the failure after {applied} migration(s) (all rolled back), {ms} ms.\n")
        } else {
            format!("Rehearsed {applied} migration(s) (all rolled back) in {ms} ms.\n")
        }
    } else if interrupted {
        format!("Interrupted after {applied} migration(s), {ms} ms; the lock is released.\n")
    } else if failed {
        format!("Stopped at the failure: {applied} migration(s) applied in {ms} ms.\n")
    } else if applied > 0 {
        format!("Applied {applied} migration(s) in {ms} ms.\n")
    } else {
        return None;
    })
}

/// The lines of a failure, for stderr.
pub fn failure(e: &Event) -> String {
    let Event::Failed {
        version,
        sqlstate,
        message,
        position,
        detail,
        hint,
        help,
    } = e
    else {
        return String::new();
    };
    let code = sqlstate
        .as_deref()
        .map_or(String::new(), |s| format!(" [SQLSTATE {}]", u(s)));
    let mut t = format!("error: {} failed: {}{code}\n", u(version), u(message));
    if let Some(p) = position {
        t.push_str(&format!("  --> {}\n", u(p)));
    }
    if let Some(d) = detail {
        t.push_str(&format!("  detail: {}\n", u(d)));
    }
    if let Some(h) = hint {
        t.push_str(&format!("  hint: {}\n", u(h)));
    }
    t.push_str(&format!("  help: {}\n", u(help)));
    t
}

/// `512 MB written, 48.2 MB/s`.
pub fn rate(bytes: u64, ms: u128) -> String {
    let mb = bytes as f64 / 1048576.0;
    let secs = (ms as f64 / 1000.0).max(0.001);
    format!("{mb:.0} MB written, {:.1} MB/s", mb / secs)
}

/// The validation before a deploy: errors in full, with their source lines; warnings one line
/// per rule with its count, so that a deploy log of a thousand plain files stays readable
/// (`validate` has them all). Empty when there is nothing to say.
pub fn validation(report: &crate::validate::Report, color: bool) -> String {
    use crate::diagnostic::Level;
    let (errors, warnings): (Vec<_>, Vec<_>) = report
        .findings
        .iter()
        .filter(|f| {
            f.allowed.is_none() && f.level >= Level::Warning && f.rule != "sql/missing-variable"
        })
        .cloned()
        .partition(|f| f.level == Level::Error);
    let mut text = String::new();
    if !errors.is_empty() {
        let mut r = report.clone();
        r.findings = errors;
        text.push_str(&super::render(&r, super::Format::Text, color));
    }
    if !warnings.is_empty() {
        text.push_str(&warning_lines(&warnings));
    }
    text
}

/// One line per rule: its first finding, where, and how many more.
fn warning_lines(warnings: &[crate::diagnostic::Finding]) -> String {
    let mut rules: Vec<(&str, Vec<&crate::diagnostic::Finding>)> = Vec::new();
    for f in warnings {
        match rules.iter_mut().find(|(r, _)| *r == f.rule) {
            Some((_, list)) => list.push(f),
            None => rules.push((&f.rule, vec![f])),
        }
    }
    let mut text = String::new();
    for (rule, list) in &rules {
        let first = list[0];
        let at = first
            .location
            .as_ref()
            .map_or_else(String::new, |l| format!(" ({l})"));
        let more = match list.len() {
            1 => String::new(),
            n => format!(", and {} more like it", n - 1),
        };
        let stricter = first
            .stricter
            .as_ref()
            .map_or_else(String::new, |s| format!(" ({s})"));
        text.push_str(&format!(
            "warning{stricter}[{rule}]: {}{at}{more}\n",
            first.message
        ));
    }
    text.push_str(&format!(
        "{} warning(s) of {} rule(s); `pgshift validate` shows each one with its line and what to do.\n",
        warnings.len(),
        rules.len()
    ));
    text
}

/// A repeatable replaced whole: why, and what is made again with it.
fn replacing(event: &Event) -> String {
    let Event::Replacing {
        version,
        reason,
        from_catalog,
        from_files,
    } = event
    else {
        return String::new();
    };
    let mut text = format!(
        "  ↻ {}: CREATE OR REPLACE was refused ({}); dropping its objects with what depends on them and making them again, in one transaction\n",
        u(version),
        u(reason)
    );
    if !from_files.is_empty() {
        text.push_str(&format!("      run again: {}\n", u(&from_files.join(", "))));
    }
    if !from_catalog.is_empty() {
        text.push_str(&format!(
            "      made again from the catalog: {}\n",
            u(&from_catalog.join(", "))
        ));
    }
    text
}
