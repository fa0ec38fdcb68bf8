//! Many databases (tenants, shards, regions): the targets and their shards (`targets`), and
//! the same migrations deployed to each through the pipeline (`crate::pipeline`),
//! PARALLEL_JOBS at a time. Each target is an ordinary deploy (its own lock, backup, gate,
//! records and health check); one failing does not stop the others; a target that lost a race
//! over the server's shared catalogs to another target is deployed again. Nothing here prints:
//! each target's story comes back, for the caller to show.

pub mod targets;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::{DatabaseUrl, Settings, VarSource};
use crate::deploy::DeployError;
use crate::interrupt::requested as interrupted;
use crate::migration::{MigrationSet, Version};
use crate::pipeline::{Deploy, Observer, Safety};
use crate::plan::Plan;
use crate::report::deploy::DeployReport;
pub use targets::{parse_shard, read_targets, shard, Target};

/// A targets file or a shard that cannot be used: what, and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FleetError {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: String,
}

impl FleetError {
    fn new(message: impl Into<String>, help: Option<String>) -> FleetError {
        FleetError {
            message: message.into(),
            help: help.unwrap_or_default(),
        }
    }
}

/// How one target went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Deployed (or nothing to do), and healthy.
    Ok,
    /// A migration failed, or the health check after it.
    Failed,
    /// The deploy could not start (no URL, no connection, refused…).
    Error,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Failed => "FAILED",
            Status::Error => "error",
        })
    }
}

/// One target's story.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `user@host:port/db`, or the variable's name.
    pub label: String,
    /// How it went.
    pub status: Status,
    /// What its deploy did (applied, failed, health…).
    pub report: DeployReport,
    /// How long it took, retries included.
    pub ms: u128,
    /// SIGINT or SIGTERM stopped its deploy.
    pub interrupted: bool,
    /// Deploys tried again after a catalog race with another target.
    pub retries: u32,
}

impl Outcome {
    /// What happened, in one line (empty when all went well).
    pub fn detail(&self) -> String {
        let detail = self.what_happened();
        match (self.retries, detail.is_empty()) {
            (0, _) => detail,
            (n, true) => {
                format!("deployed again {n} time(s) after a catalog race with another target")
            }
            (n, false) => format!(
                "{detail} (deployed again {n} time(s) after a catalog race with another target)"
            ),
        }
    }

    fn what_happened(&self) -> String {
        if let Some(f) = &self.report.failed {
            return format!("{}: {}", f.version, f.message);
        }
        if let Some(e) = &self.report.error {
            return e.clone();
        }
        if let Some((line, true)) = &self.report.health {
            return line.clone();
        }
        if self.report.dry_run {
            return format!("{} pending", self.report.pending);
        }
        String::new()
    }
}

/// How often a target is tried again after a catalog race with another target.
const RACE_RETRIES: u32 = 10;

/// The same deploy for every target: the settings, the set (validated once, by the caller),
/// psql variables' values, `--target`, and whether each ends with a health check.
pub struct Fleet<'a> {
    /// Everything configured; each target gets its own URL, backup folder and confirmation.
    pub settings: &'a Settings,
    /// libpq's and Supabase's variables, for each target's connection.
    pub vars: &'a VarSource,
    /// The migrations.
    pub set: &'a MigrationSet,
    /// Their order.
    pub plan: &'a Plan,
    /// psql variables' values.
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Stop after this version.
    pub target: Option<Version>,
    /// A health check after each deploy that applied something.
    pub health: bool,
}

impl Fleet<'_> {
    /// Deploys to `targets`, `jobs` at a time; `done` hears each target as it finishes (with
    /// how many are done). Once interrupted, no more start: those are `None`.
    pub fn run(
        &self,
        targets: &[Target],
        jobs: usize,
        done: &(dyn Fn(usize, &Outcome) + Sync),
    ) -> Vec<Option<Outcome>> {
        let next = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; targets.len()]);
        std::thread::scope(|s| {
            for _ in 0..jobs.clamp(1, targets.len().max(1)) {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= targets.len() || interrupted() {
                        return;
                    }
                    let o = self.deploy_one(&targets[k]);
                    done(finished.fetch_add(1, Ordering::SeqCst) + 1, &o);
                    if let Ok(mut r) = results.lock() {
                        r[k] = Some(o);
                    }
                });
            }
        });
        results.into_inner().unwrap_or_default()
    }

    /// One target: an ordinary deploy, tried again after a catalog race.
    ///
    /// Targets on one server share its roles (and tablespaces): a migration that alters a role
    /// runs on several targets at once, and PostgreSQL refuses all but one of the concurrent
    /// updates of the role's row ("tuple concurrently updated"). The refused migration was
    /// rolled back whole, so the target is simply deployed again, after a short random pause,
    /// as a person would.
    fn deploy_one(&self, target: &Target) -> Outcome {
        let started = Instant::now();
        let mut retries = 0;
        let mut applied = Vec::new();
        let (result, mut report) = loop {
            let mut report =
                DeployReport::new(&target.label, &self.settings.environment.to_string());
            let result = self.attempt(target, &mut report);
            if let Err(e) = &result {
                report.error(&e.to_string());
            }
            applied.append(&mut report.applied);
            let race = report
                .failed
                .as_ref()
                .is_some_and(|f| crate::retry::catalog_race(&f.message));
            if race && retries < RACE_RETRIES && !interrupted() {
                retries += 1;
                std::thread::sleep(crate::retry::backoff(
                    retries,
                    std::time::Duration::from_millis(150),
                    std::time::Duration::from_secs(5),
                ));
                continue;
            }
            break (result, report);
        };
        report.applied = applied;
        let (status, interrupted) = match &result {
            Err(_) if report.failed.is_none() => (Status::Error, false),
            Err(_) => (Status::Failed, false),
            Ok(d) if d.outcome.interrupted => (Status::Failed, true),
            Ok(d) if d.outcome.failed || d.unhealthy() => (Status::Failed, false),
            Ok(_) => (Status::Ok, false),
        };
        Outcome {
            label: target.label.clone(),
            status,
            report,
            ms: started.elapsed().as_millis(),
            interrupted,
            retries,
        }
    }

    /// One deploy of one target, its story in `report`.
    fn attempt(
        &self,
        target: &Target,
        report: &mut DeployReport,
    ) -> Result<crate::pipeline::Deployed, DeployError> {
        let settings = self.settings;
        let url = target.url.clone().map_err(|m| DeployError::Settings {
            message: m,
            help: "set the variable, or fix the line of the targets file".into(),
        })?;
        let mut s = settings.clone();
        s.database_url = Some(DatabaseUrl {
            url,
            source: "--targets".into(),
        });
        // Each target's backups in a folder of its own: two targets backed up in the same
        // second never share a file name.
        s.backup.dir = settings.backup.dir.join(folder_name(&target.label));
        let spec = crate::api::connection(&s, self.vars).map_err(|e| DeployError::Settings {
            message: e.to_string(),
            help: String::new(),
        })?;
        // The fleet was confirmed as a whole; each target's gate still checks FORCE_RUN.
        s.run.confirm = Some(spec.database());
        report.target = spec.describe();
        let deploy = Deploy {
            settings: &s,
            spec: &spec,
            files: crate::deploy::files::Files::Ready(self.set, self.plan),
            values: self.values,
            target: self.target.clone(),
            safety: Safety {
                health: self.health,
                validate: false,
                ..Safety::of(&s)
            },
            ask: None,
            interrupt: crate::interrupt::subscribe(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DeployError::Db(format!("cannot start the async runtime: {e}")))?;
        rt.block_on(deploy.run(&mut Story(report)))
    }
}

/// A target's deploy, told into its report (nothing printed).
struct Story<'a>(&'a mut DeployReport);

impl Observer for Story<'_> {
    fn event(&mut self, e: crate::deploy::Event) {
        self.0.observe(&e);
    }

    fn health(&mut self, report: &crate::health::Report) {
        self.0.health = Some((
            crate::report::health::summary(report),
            report.level() == crate::health::Level::Fail,
        ));
    }
}

/// A folder name for a target's backups: its label with every unusual character as `_`.
fn folder_name(label: &str) -> PathBuf {
    let name: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(name.trim_matches('_').to_string())
}
