//! The deploy's events as people and machines read them: lines on the terminal (a progress bar
//! on a TTY), JSON lines with `--json`, and every event in `logs/migration_YYYYMMDD.log`.
//! Events arrive redacted from the library; every value from a file, the server or the
//! database is escaped here where it is placed (`u`), and the whole text again where it is
//! printed (`Output`).

use crate::deploy::Event;
use crate::report::events::{failure, rate, Lines};
use crate::report::log::EventLog;
use crate::sanitize::escape::untrusted as u;

use super::output::{safe, Kind, Output};

/// Prints events as lines, or as JSON lines with --json; on a terminal, a progress bar stays
/// below the lines while migrations run.
pub struct Printer {
    out: Output,
    /// What the text of the run remembers between events.
    lines: Lines,
    tty: bool,
    bar: Option<indicatif::ProgressBar>,
    /// `logs/migration_YYYYMMDD.log`. Closed (with a warning) when it cannot be written.
    log: Option<EventLog>,
}

impl Printer {
    pub fn new(out: Output, log_dir: Option<&std::path::Path>) -> Printer {
        use std::io::IsTerminal;
        Printer {
            out,
            lines: Lines::default(),
            tty: std::io::stdout().is_terminal(),
            bar: None,
            log: log_dir.and_then(|dir| match EventLog::open(dir) {
                Ok(log) => Some(log),
                Err(e) => {
                    out.warning(&format!(
                        "the log is not written: {e}; the terminal shows everything"
                    ));
                    None
                }
            }),
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
        if let Some(log) = &mut self.log {
            if let Err(err) = log.write(e) {
                self.out.warning(&format!(
                    "{err}; the rest of this run is not logged (the terminal shows it)"
                ));
                self.log = None;
            }
        }
        if self.out.quiet {
            if let Event::Failed { .. } = e {
                self.out.stderr(&failure(e));
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
            self.out.stderr(&failure(e));
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
                | Event::Replacing { .. }
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

    /// The text of `e` (see `crate::report::events`); on a terminal, the progress bar starts
    /// with a run's plan and shows a backup's progress.
    fn text(&mut self, e: &Event) -> Option<String> {
        match e {
            Event::Plan {
                to_run, dry_run, ..
            } if self.tty && !dry_run && !to_run.is_empty() => {
                let bar = indicatif::ProgressBar::new(to_run.len() as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("  [{bar:30}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                self.bar = Some(bar);
            }
            Event::Progress { what, bytes, ms } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{}: {}", u(what), rate(*bytes, *ms)));
                }
            }
            _ => {}
        }
        self.lines.text(e)
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
        out.line(&crate::report::health::brief(report));
        if report.level() == Level::Fail {
            out.error(
                "the migrations were applied, but the health check failed",
                Some("the failing checks above name each object and its fix; `pgshift health` runs the checks again"),
            );
        }
    }
}

impl Printer {
    /// The validation before a deploy (`crate::report::events::validation`), on stderr.
    pub fn validated(&self, report: &crate::validate::Report) {
        let out = self.out;
        if out.json || out.quiet {
            return;
        }
        out.stderr(&crate::report::events::validation(report, out.color));
    }
}
