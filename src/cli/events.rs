//! The deploy's events as people and machines read them: lines on the terminal (a progress bar
//! on a TTY), JSON lines with `--json`, and every event in `logs/migration_YYYYMMDD.log`.
//! Events arrive redacted from the library; every value from a file, the server or the
//! database is escaped here where it is placed (`u`), and the whole text again where it is
//! printed (`Output`).

use std::io::Write;

use crate::deploy::Event;
use crate::sanitize::escape::untrusted as u;

use super::output::{safe, Kind, Output};

/// Prints events as lines, or as JSON lines with --json; on a terminal, a progress bar stays
/// below the lines while migrations run.
pub struct Printer {
    out: Output,
    width: usize,
    tty: bool,
    bar: Option<indicatif::ProgressBar>,
    /// `logs/migration_YYYYMMDD.log`: every event as a JSON line with its UTC time. Closed
    /// (with a warning) when it cannot be written.
    log: Option<(std::fs::File, std::path::PathBuf)>,
    /// The run is a rehearsal (a `rehearsed` event came): its end says so.
    rehearsal: bool,
}

/// Opens (appending) the day's log, readable by its owner only: it names hosts, roles and
/// statements. The folder is created private too, with a `.gitignore`. A link in the log's
/// place is refused (`crate::files::append`).
fn open_log(dir: &std::path::Path) -> Result<(std::fs::File, std::path::PathBuf), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!(
        "migration_{}.log",
        chrono::Utc::now().format("%Y%m%d")
    ));
    crate::backup::private_dir(dir).map_err(|e| e.to_string())?;
    let file = crate::files::append(&path, 0o600)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // A log created by an older pgshift (0644) is closed too.
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    Ok((file, path))
}

/// `512 MB written, 48.2 MB/s`.
pub fn rate(bytes: u64, ms: u128) -> String {
    let mb = bytes as f64 / 1048576.0;
    let secs = (ms as f64 / 1000.0).max(0.001);
    format!("{mb:.0} MB written, {:.1} MB/s", mb / secs)
}

impl Printer {
    pub fn new(out: Output, log_dir: Option<&std::path::Path>) -> Printer {
        use std::io::IsTerminal;
        Printer {
            out,
            width: 0,
            tty: std::io::stdout().is_terminal(),
            bar: None,
            log: log_dir.and_then(|dir| match open_log(dir) {
                Ok(log) => Some(log),
                Err(e) => {
                    out.warning(&format!(
                        "the log is not written: {e}; the terminal shows everything"
                    ));
                    None
                }
            }),
            rehearsal: false,
        }
    }

    pub fn print(&mut self, e: &Event) {
        if let Event::Progress { .. } = e {
            // For the terminal only: the log and JSON keep what happened, not how far.
            if !self.out.json {
                let _ = self.text(e);
            }
            return;
        }
        if let Some((log, path)) = &mut self.log {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["at"] = serde_json::Value::String(
                chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string(),
            );
            if let Err(err) = log.write_all(safe(&format!("{v}\n"), Kind::Json, false).as_bytes()) {
                self.out.warning(&format!(
                    "cannot write the log {}: {err}; the rest of this run is not logged (the terminal shows it)",
                    path.display()
                ));
                self.log = None;
            }
        }
        if self.out.quiet {
            if let Event::Failed { .. } = e {
                self.out.stderr(&self.failure(e));
            }
            return;
        }
        if self.out.json {
            if let Ok(s) = serde_json::to_string(e) {
                self.out.stdout(&format!("{s}\n"), Kind::Json);
            }
            return;
        }
        if let Event::Failed { .. } = e {
            self.finish_bar();
            self.out.stderr(&self.failure(e));
        }
        let text = self.text(e);
        match (&self.bar, e) {
            (Some(bar), Event::Applying { version, .. }) => {
                bar.set_message(u(version).into_owned())
            }
            (
                Some(bar),
                Event::Applied { .. }
                | Event::Notice { .. }
                | Event::Retrying { .. }
                | Event::Resumed { .. }
                | Event::Warning { .. }
                | Event::RolledBack { .. }
                | Event::Statement { .. },
            ) => {
                if let Some(t) = text {
                    bar.println(safe(t.trim_end(), Kind::Text, false));
                }
                if matches!(e, Event::Applied { .. } | Event::RolledBack { .. }) {
                    bar.inc(1);
                }
            }
            (None, Event::Statement { .. }) => {
                // DEBUG output is diagnostics: stderr, beside the errors.
                if let Some(t) = text {
                    self.out.stderr(&t);
                }
            }
            _ => {
                self.finish_bar();
                if let Some(t) = text {
                    self.out.stdout(&t, Kind::Text);
                }
            }
        }
    }

    fn finish_bar(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    /// The lines of a failure, for stderr.
    fn failure(&self, e: &Event) -> String {
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

    /// The text of an event (several lines end with a newline each).
    fn text(&mut self, e: &Event) -> Option<String> {
        let w = self.width;
        Some(match e {
            Event::Connected {
                target,
                server_version,
                environment,
            } => format!(
                "Connected to {} (PostgreSQL {}, {environment}).\n",
                u(target),
                u(server_version)
            ),
            Event::Waiting { holder } => {
                format!("Waiting for the deploy lock, held by {}…\n", u(holder))
            }
            Event::Plan {
                to_run,
                variables,
                dry_run,
                backup,
                undo,
            } => {
                self.width = to_run.iter().map(|p| p.version.len()).max().unwrap_or(0);
                let w = self.width;
                let verb = if *undo { "be rolled back" } else { "run" };
                if to_run.is_empty() {
                    "Nothing to do: every migration is applied (nothing changed, so no health check runs; `pgshift health` runs one).\n".to_string()
                } else if *dry_run {
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
                        None if *undo => {}
                        None => t.push_str("Backup: none (SKIP_BACKUP).\n"),
                    }
                    t.push_str("Nothing was changed.\n");
                    t
                } else {
                    if self.tty {
                        let bar = indicatif::ProgressBar::new(to_run.len() as u64);
                        bar.set_style(
                            indicatif::ProgressStyle::with_template(
                                "  [{bar:30}] {pos}/{len} {msg}",
                            )
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                            .progress_chars("=> "),
                        );
                        self.bar = Some(bar);
                    }
                    if *undo {
                        format!(
                            "{} migration(s) to roll back, in this order:\n",
                            to_run.len()
                        )
                    } else {
                        format!("{} migration(s) to apply:\n", to_run.len())
                    }
                }
            }
            Event::Warning { message } => format!("warning: {}\n", u(message)),
            Event::Retrying {
                version,
                attempt,
                of,
                wait_ms,
                message,
            } => format!(
                "  ↻ {:<w$}  could not get a lock in time ({}): rolled back; try {attempt} of {of} in {:.1} s\n",
                u(version),
                u(message),
                *wait_ms as f64 / 1000.0
            ),
            Event::Applying { .. } => return None,
            Event::Resumed {
                version,
                from_statement,
                dropped_invalid_index,
            } => {
                let mut t = String::new();
                if let Some(i) = dropped_invalid_index {
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
            Event::Applied { version, ms } => format!("  ✓ {:<w$}  {ms} ms\n", u(version)),
            Event::Statement { sql, ms, .. } => {
                format!(
                    "  [debug] {ms:>7.1} ms  {}\n",
                    u(sql.lines().next().unwrap_or(""))
                )
            }
            Event::Rehearsed { version, ms, locks } => {
                self.rehearsal = true;
                let mut t = format!("  ✓ {:<w$}  {ms} ms (rolled back)\n", u(version));
                if locks.is_empty() {
                    t.push_str("      locks: none on existing tables\n");
                }
                for l in locks {
                    t.push_str(&format!("      locks {}\n", u(l)));
                }
                t
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
            Event::Progress { what, bytes, ms } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{}: {}", u(what), rate(*bytes, *ms)));
                }
                return None;
            }
            Event::BackedUp {
                file,
                size,
                sha256,
                ms,
                pruned,
            } => {
                let mut t = format!(
                    "Backed up to {} ({:.1} MB, SHA-256 {}…, verified) in {ms} ms.\n",
                    u(file),
                    *size as f64 / 1048576.0,
                    u(&sha256[..sha256.len().min(12)])
                );
                if !pruned.is_empty() {
                    t.push_str(&format!(
                        "Removed {} older backup(s) ([backup] keep).\n",
                        pruned.len()
                    ));
                }
                t
            }
            Event::RolledBack { version, ms } => {
                format!("  ↩ {:<w$}  {ms} ms (rolled back)\n", u(version))
            }
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
            } => {
                if self.rehearsal {
                    if *failed {
                        format!("Rehearsal stopped at the failure after {applied} migration(s) (all rolled back), {ms} ms.\n")
                    } else {
                        format!("Rehearsed {applied} migration(s) (all rolled back) in {ms} ms.\n")
                    }
                } else if *interrupted {
                    format!("Interrupted after {applied} migration(s), {ms} ms; the lock is released.\n")
                } else if *failed {
                    format!("Stopped at the failure: {applied} migration(s) applied in {ms} ms.\n")
                } else if *applied > 0 {
                    format!("Applied {applied} migration(s) in {ms} ms.\n")
                } else {
                    return None;
                }
            }
        })
    }
}

/// A deploy watched from the command line: its events printed and logged, its validation
/// and its health check rendered, and the run's story kept for the job summary and the
/// webhook (`report`).
pub struct Watch<'a> {
    pub printer: Printer,
    pub report: &'a mut crate::report::deploy::DeployReport,
}

/// Events printed, validation rendered; a health check is `Watch`'s business.
impl crate::pipeline::Observer for Printer {
    fn event(&mut self, e: Event) {
        self.print(&e);
    }

    fn validated(&mut self, report: &crate::validate::Report) {
        Printer::validated(self, report);
    }
}

impl crate::pipeline::Observer for Watch<'_> {
    fn event(&mut self, e: Event) {
        self.report.observe(&e);
        self.printer.print(&e);
    }

    fn validated(&mut self, report: &crate::validate::Report) {
        self.printer.validated(report);
    }

    fn health(&mut self, report: &crate::health::Report) {
        use crate::health::Level;
        self.report.health = Some((
            crate::report::health::summary(report),
            report.level() == Level::Fail,
        ));
        let out = self.printer.out;
        if out.json {
            let mut v = serde_json::to_value(report).unwrap_or_default();
            v["event"] = "health".into();
            out.stdout(&format!("{v}\n"), Kind::Json);
            return;
        }
        out.line("");
        out.line(&crate::report::health::text(report));
        if report.level() == Level::Fail {
            out.error(
                "the migrations were applied, but the health check failed",
                Some("the failing checks above name each object and its fix; `pgshift health` runs the checks again"),
            );
        }
    }
}

impl Printer {
    /// The validation before a deploy: errors in full, with their source lines; warnings one
    /// line per rule with its count, so that a deploy log of a thousand plain files stays
    /// readable (`validate` has them all).
    pub fn validated(&self, report: &crate::validate::Report) {
        use crate::diagnostic::Level;
        let out = self.out;
        if out.json || out.quiet {
            return;
        }
        let (errors, warnings): (Vec<_>, Vec<_>) = report
            .findings
            .iter()
            .filter(|f| {
                f.allowed.is_none() && f.level >= Level::Warning && f.rule != "sql/missing-variable"
            })
            .cloned()
            .partition(|f| f.level == Level::Error);
        if !errors.is_empty() {
            let mut r = report.clone();
            r.findings = errors;
            out.stderr(&crate::report::render(
                &r,
                crate::report::Format::Text,
                out.color,
            ));
        }
        if !warnings.is_empty() {
            out.stderr(&warning_lines(&warnings));
        }
    }
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
        text.push_str(&format!("warning[{rule}]: {}{at}{more}\n", first.message));
    }
    text.push_str(&format!(
        "{} warning(s) of {} rule(s); `pgshift validate` shows each one with its line and what to do.\n",
        warnings.len(),
        rules.len()
    ));
    text
}
