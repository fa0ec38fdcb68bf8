//! What a deploy did, gathered from its events, as the job summary (Markdown, for
//! GITHUB_STEP_SUMMARY) and as the one-paragraph message of a chat notification. Versions,
//! messages and targets may hold text from files or the server: escaped here.

use std::fmt::Write;

use crate::deploy::Event;
use crate::sanitize::escape::{markdown as cell, markdown_code as code, untrusted as u};
use crate::sanitize::redact::redact;

/// A deploy's story so far. Feed it every event with [`DeployReport::observe`]; a deploy that
/// stopped before it ran anything gets its error with [`DeployReport::error`].
#[derive(Debug, Clone, Default)]
pub struct DeployReport {
    /// `user@host:port/db`, never a password.
    pub target: String,
    /// The environment of the deploy.
    pub environment: String,
    /// Only the plan was shown.
    pub dry_run: bool,
    /// How many migrations were to run.
    pub pending: usize,
    /// The migrations applied, with their times in milliseconds.
    pub applied: Vec<(String, u128)>,
    /// The backup taken before the first migration.
    pub backup: Option<String>,
    /// The migration that failed, if one did.
    pub failed: Option<Failure>,
    /// SIGINT or SIGTERM stopped it.
    pub interrupted: bool,
    /// Why the deploy did not run (validation, the gate, the connection).
    pub error: Option<String>,
    /// How long the deploy took, in milliseconds.
    pub ms: u128,
    /// The health check after the deploy: its closing line and whether a check failed.
    pub health: Option<(String, bool)>,
}

/// The migration that failed and why.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// The migration's version.
    pub version: String,
    /// The server's message.
    pub message: String,
    /// `file:line:col` of the failing statement.
    pub position: Option<String>,
}

impl DeployReport {
    /// An empty story for `target` in `environment`.
    pub fn new(target: &str, environment: &str) -> DeployReport {
        DeployReport {
            target: target.to_string(),
            environment: environment.to_string(),
            ..DeployReport::default()
        }
    }

    /// Takes in one event of the deploy.
    pub fn observe(&mut self, e: &Event) {
        match e {
            Event::Connected { target, .. } => self.target = target.clone(),
            Event::Plan {
                to_run, dry_run, ..
            } => {
                self.pending = to_run.len();
                self.dry_run = *dry_run;
            }
            Event::BackedUp { file, .. } => self.backup = Some(file.clone()),
            Event::Applied { version, ms } => self.applied.push((version.clone(), *ms)),
            Event::Failed {
                version,
                message,
                position,
                ..
            } => {
                self.failed = Some(Failure {
                    version: version.clone(),
                    message: message.clone(),
                    position: position.clone(),
                })
            }
            Event::Done {
                interrupted, ms, ..
            } => {
                self.interrupted = *interrupted;
                self.ms = *ms;
            }
            _ => {}
        }
    }

    /// Records why the deploy did not run.
    pub fn error(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    /// Whether the deploy (and the health check after it) went through.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self.failed.is_none()
            && !self.interrupted
            && !self.health.as_ref().is_some_and(|(_, failed)| *failed)
    }

    /// One line: what happened, where.
    pub fn headline(&self) -> String {
        let target = u(&self.target);
        let env = &self.environment;
        if let Some(f) = &self.failed {
            return format!(
                "pgshift: deploy to {target} ({env}) FAILED at {} after {} migration(s) applied",
                u(&f.version),
                self.applied.len()
            );
        }
        if self.interrupted {
            return format!(
                "pgshift: deploy to {target} ({env}) was interrupted after {} migration(s) applied",
                self.applied.len()
            );
        }
        if self.error.is_some() {
            return format!("pgshift: deploy to {target} ({env}) did not run");
        }
        if self.dry_run {
            return format!(
                "pgshift: dry run on {target} ({env}): {} migration(s) would be applied",
                self.pending
            );
        }
        match &self.health {
            Some((_, true)) => format!(
                "pgshift: {} migration(s) applied to {target} ({env}), but the health check failed",
                self.applied.len()
            ),
            _ if self.applied.is_empty() => {
                format!("pgshift: {target} ({env}) is up to date, nothing to apply")
            }
            _ => format!(
                "pgshift: {} migration(s) applied to {target} ({env}) in {:.1} s",
                self.applied.len(),
                self.ms as f64 / 1000.0
            ),
        }
    }

    /// The chat message: the headline, then the detail that matters (plain text; Slack renders
    /// it as is).
    pub fn message(&self) -> String {
        let mut out = self.headline();
        if let Some(f) = &self.failed {
            let _ = write!(out, "\n{}", u(&f.message));
            if let Some(p) = &f.position {
                let _ = write!(out, " ({})", u(p));
            }
            out.push_str("\nNothing of that migration was kept; fix it and deploy again.");
        }
        if let Some(e) = &self.error {
            let _ = write!(out, "\n{}", u(e));
        }
        if let Some((line, _)) = &self.health {
            let _ = write!(out, "\n{}", u(line));
        }
        redact(&out).into_owned()
    }

    /// The job summary (GitHub-flavoured Markdown).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let icon = if self.succeeded() { "✅" } else { "❌" };
        let _ = writeln!(out, "## {icon} {}\n", cell(&self.headline()));
        if let Some(e) = &self.error {
            let _ = writeln!(out, "{}\n", cell(e));
        }
        if let Some(f) = &self.failed {
            let _ = writeln!(
                out,
                "**Failed:** {} {}{}\n",
                code(&f.version),
                cell(&f.message),
                f.position
                    .as_ref()
                    .map(|p| format!(" at {}", code(p)))
                    .unwrap_or_default()
            );
        }
        if !self.applied.is_empty() {
            out.push_str("| migration | time |\n| --- | ---: |\n");
            for (v, ms) in &self.applied {
                let _ = writeln!(out, "| {} | {ms} ms |", code(v));
            }
            out.push('\n');
        }
        if let Some(b) = &self.backup {
            let _ = writeln!(out, "Backup before the first migration: {}\n", code(b));
        }
        if let Some((line, _)) = &self.health {
            let _ = writeln!(out, "{}\n", cell(line));
        }
        redact(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(v: &str) -> Event {
        Event::Applied {
            version: v.into(),
            ms: 12,
        }
    }

    #[test]
    fn a_successful_deploy_lists_its_migrations() {
        let mut r = DeployReport::new("app@db:5432/shop", "production");
        r.observe(&applied("2026-01-01_users"));
        r.observe(&applied("2026-01-02_posts"));
        r.observe(&Event::Done {
            applied: 2,
            failed: false,
            interrupted: false,
            ms: 1500,
        });
        assert!(r.succeeded());
        assert_eq!(
            r.headline(),
            "pgshift: 2 migration(s) applied to app@db:5432/shop (production) in 1.5 s"
        );
        let md = r.markdown();
        assert!(md.starts_with("## ✅"), "{md}");
        assert!(md.contains("| `2026-01-02_posts` | 12 ms |"), "{md}");
    }

    #[test]
    fn a_failure_names_the_migration_and_markdown_in_messages_is_inert() {
        let mut r = DeployReport::new("app@db:5432/shop", "staging");
        r.observe(&applied("2026-01-01_users"));
        r.observe(&Event::Failed {
            version: "2026-01-02_x".into(),
            sqlstate: Some("42P01".into()),
            message: "relation \"<img src=x>\" | does not exist".into(),
            position: Some("migrations/2026-01-02_x.sql:3:5".into()),
            detail: None,
            hint: None,
            help: String::new(),
        });
        assert!(!r.succeeded());
        assert!(r
            .headline()
            .contains("FAILED at 2026-01-02_x after 1 migration(s)"));
        let md = r.markdown();
        assert!(md.starts_with("## ❌"), "{md}");
        assert!(
            md.contains("&lt;img src=x&gt;\" \\| does not exist"),
            "{md}"
        );
        assert!(r.message().contains("migrations/2026-01-02_x.sql:3:5"));
    }

    #[test]
    fn a_failed_health_check_is_not_a_success() {
        let mut r = DeployReport::new("t", "development");
        r.observe(&applied("2026-01-01_users"));
        r.health = Some(("Health of t: 1 failed".into(), true));
        assert!(!r.succeeded());
        assert!(r.headline().contains("but the health check failed"));
    }
}
