//! The whole deploy, as named stages: validate (when something is pending) → the environment
//! gate → lock → backup → apply (`crate::deploy::migrate`) → health. `pgshift migrate`, a
//! fleet's targets, `pgshift test` and the library's `MigrationTracker` all deploy through
//! [`Deploy::run`]; what they differ in is data ([`Safety`], who may be asked) and how they
//! watch it ([`Observer`]). Nothing here prints.

use std::sync::Mutex;

use tokio::sync::watch;

use crate::config::{DryRun, Settings};
use crate::db::connect::ConnectionSpec;
use crate::deploy::files::Files;
use crate::deploy::gate::{self, Ask, Operation, Request};
use crate::deploy::{DeployError, Event, Options, Outcome};
use crate::diagnostic::Finding;
use crate::migration::{MigrationSet, Version};
use crate::validate;

/// What protects a deploy, each on unless a caller has a reason: the environment gate, the
/// backup before the first migration, the health check after a deploy that applied
/// something, and validation of the files first.
#[derive(Debug, Clone, Copy)]
pub struct Safety {
    /// Through the environment gate (not on a throwaway database).
    pub gate: bool,
    /// A backup before the first migration.
    pub backup: bool,
    /// The health check after a deploy that applied something.
    pub health: bool,
    /// Validate the set first (off only where it was validated just before).
    pub validate: bool,
}

impl Safety {
    /// Every protection on; the backup as `settings` say (SKIP_BACKUP).
    pub fn of(settings: &Settings) -> Safety {
        Safety {
            gate: true,
            backup: !settings.deploy.skip_backup,
            health: true,
            validate: true,
        }
    }
}

/// Watches a deploy: its events as they come, the validation of the files about to run, and
/// the health check after. Every method is called from the deploy's own task, one at a time.
pub trait Observer: Send {
    /// Something happened (connected, applied, failed…), secrets already masked.
    fn event(&mut self, event: Event);
    /// The files about to run were validated (before the gate).
    fn validated(&mut self, _report: &validate::Report) {}
    /// The health check after a deploy that applied something.
    fn health(&mut self, _report: &crate::health::Report) {}
}

/// One deploy: where, what, and how.
pub struct Deploy<'a> {
    /// Everything configured.
    pub settings: &'a Settings,
    /// The database.
    pub spec: &'a ConnectionSpec,
    /// The migrations and their order, loaded or being loaded.
    pub files: Files<'a>,
    /// psql variables' values (see [`Settings::variable`]).
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Stop after this version (`--target`).
    pub target: Option<Version>,
    /// What protects it.
    pub safety: Safety,
    /// How a person is asked at the gate; `None`: nobody can be (a program, CI).
    pub ask: Option<&'a Ask<'a>>,
    /// Turns true on SIGINT/SIGTERM (or a program's own reason to stop).
    pub interrupt: watch::Receiver<bool>,
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// Applied, failed, interrupted.
    pub outcome: Outcome,
    /// The health check after it, when it applied something.
    pub health: Option<crate::health::Report>,
}

impl Deployed {
    /// The health check after the deploy found a failing check.
    pub fn unhealthy(&self) -> bool {
        self.health
            .as_ref()
            .is_some_and(|h| h.level() == crate::health::Level::Fail)
    }
}

/// A dangerous operation validation found: its file's version, and a line for the gate's
/// prompt (`file:line:col: rule: message`).
pub type Dangerous = (String, String);

impl Deploy<'_> {
    /// The stages, in order (validation and the gate run inside the locked part, once the
    /// pending migrations are known; see `crate::deploy::Run::locked`).
    pub async fn run(&self, observer: &mut dyn Observer) -> Result<Deployed, DeployError> {
        let observer = Mutex::new(observer);
        let dangerous: Mutex<Vec<Dangerous>> = Mutex::new(Vec::new());
        let validate = || self.validate(&observer, &dangerous);
        let gate = |versions: &[String]| self.gate(versions, &dangerous);
        let opts = self.options(&validate, &gate);
        let outcome = crate::deploy::migrate(self.files, self.spec, &opts, &mut |e| {
            if let Ok(mut o) = observer.lock() {
                o.event(e);
            }
        })
        .await?;
        let health = self.health(&outcome).await?;
        if let (Some(report), Ok(mut o)) = (&health, observer.lock()) {
            o.health(report);
        }
        Ok(Deployed { outcome, health })
    }

    /// Validates the set about to run (see [`validate_files`]), keeping the dangerous
    /// operations for the gate's prompt.
    fn validate(
        &self,
        observer: &Mutex<&mut dyn Observer>,
        dangerous: &Mutex<Vec<Dangerous>>,
    ) -> Result<(), DeployError> {
        if !self.safety.validate {
            return Ok(());
        }
        let found = match observer.lock() {
            Ok(mut o) => validate_files(self.settings, self.files.get()?.0, self.values, &mut **o)?,
            Err(_) => return Err(DeployError::Db("a deploy's observer panicked".into())),
        };
        if let Ok(mut d) = dangerous.lock() {
            *d = found;
        }
        Ok(())
    }

    /// The environment gate on the migrations about to run, with the dangerous operations
    /// among them listed.
    fn gate(
        &self,
        versions: &[String],
        dangerous: &Mutex<Vec<Dangerous>>,
    ) -> Result<(), DeployError> {
        if !self.safety.gate {
            return Ok(());
        }
        let lines: Vec<String> = dangerous
            .lock()
            .map(|d| {
                d.iter()
                    .filter(|(v, _)| versions.contains(v))
                    .map(|(_, line)| line.clone())
                    .collect()
            })
            .unwrap_or_default();
        let (target, database) = (self.spec.describe(), self.spec.database());
        let request = Request {
            operation: Operation::Migrate,
            environment: self.settings.environment,
            force: self.settings.run.force,
            confirm: self.settings.run.confirm.as_deref(),
            interactive: self.ask.is_some(),
            target: &target,
            database: &database,
            changes: versions,
            dangerous: &lines,
        };
        gate::check(&request, self.ask)
    }

    /// How the locked part runs, from the settings.
    fn options<'o>(
        &'o self,
        validate: &'o (dyn Fn() -> Result<(), DeployError> + Sync),
        gate: &'o (dyn Fn(&[String]) -> Result<(), DeployError> + Sync),
    ) -> Options<'o> {
        let s = self.settings;
        Options {
            environment: s.environment,
            tracking: s.tracking.clone(),
            timeout: s.deploy.timeout,
            lock_wait: s.deploy.lock_timeout,
            statement_lock_timeout: s.deploy.statement_lock_timeout,
            lock_retries: s.deploy.lock_retries,
            target: self.target.clone(),
            dry_run: s.run.dry_run,
            out_of_order: s.migrations.out_of_order,
            retry_failed: s.run.retry_failed,
            values: self.values,
            debug: s.run.debug,
            notify_pgrst: s.deploy.notify_pgrst,
            interrupt: self.interrupt.clone(),
            before_run: validate,
            gate,
            backup: self
                .safety
                .backup
                .then(|| crate::backup::BackupOptions::from_settings(s, "before_migration")),
            supabase_history: s.supabase_history,
        }
    }

    /// The health check, after a deploy that applied something and neither failed nor was
    /// interrupted (a dry run changed nothing).
    async fn health(
        &self,
        outcome: &Outcome,
    ) -> Result<Option<crate::health::Report>, DeployError> {
        let s = self.settings;
        if !self.safety.health
            || outcome.applied == 0
            || outcome.failed
            || outcome.interrupted
            || s.run.dry_run != DryRun::Off
        {
            return Ok(None);
        }
        let opts = crate::health::HealthOptions::from_settings(s);
        let (set, plan) = self.files.get()?;
        crate::health::check(set, plan, self.spec, &opts)
            .await
            .map(Some)
    }
}

/// Validates the files about to run as a deploy does (every check, the settings' rules):
/// `observer` sees the report; error-level findings stop the deploy (with FORCE_RUN, dangerous
/// operations do not). Returns the dangerous operations, for the gate's prompt.
pub fn validate_files(
    settings: &Settings,
    set: &MigrationSet,
    values: &(dyn Fn(&str) -> Option<String> + Sync),
    observer: &mut dyn Observer,
) -> Result<Vec<Dangerous>, DeployError> {
    validate::check_rule_config(&settings.rules).map_err(|message| DeployError::Settings {
        message,
        help: "fix [rules] in pgshift.toml".into(),
    })?;
    let report = validate::validate_set(set, &validate::Options::from_settings(settings, values));
    observer.validated(&report);
    if report.blocks_deploy(settings.run.force) {
        return Err(DeployError::Invalid {
            message: format!(
                "validation found errors in {}; nothing was run",
                settings.migrations.dir.display()
            ),
            help: "fix them (`pgshift validate` lists them), or accept a deliberate one with `-- @allow: <rule> <reason>`".into(),
            report: Box::new(report),
        });
    }
    Ok(report.findings.iter().filter_map(dangerous_line).collect())
}

/// The gate's line for a dangerous operation a finding reports, with its file's version.
fn dangerous_line(f: &Finding) -> Option<Dangerous> {
    if !f.rule.starts_with("dangerous/") {
        return None;
    }
    let loc = f.location.as_ref()?;
    let stem = loc.file.file_stem()?.to_string_lossy();
    // A repeatable's version names its folder: `repeatable/refresh_views`.
    let folder = loc.file.parent().and_then(|p| p.file_name());
    let version = if folder.is_some_and(|f| f == crate::migration::filename::REPEATABLE_DIR) {
        format!("{}/{stem}", crate::migration::filename::REPEATABLE_DIR)
    } else {
        stem.into_owned()
    };
    let allowed = match f.allowed.as_deref() {
        Some("") => " (allowed by @allow)".to_string(),
        Some(reason) => format!(" (allowed by @allow: {reason})"),
        None => String::new(),
    };
    Some((
        version,
        format!("{loc}: {}: {}{allowed}", f.rule, f.message),
    ))
}
