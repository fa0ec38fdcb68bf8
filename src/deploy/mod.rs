//! The deploy pipeline, as named stages: connect → lock → ensure the tracking tables → compare
//! with them → select what runs → prepare (variables, parsing) → apply in plan order → lock
//! pgshift's objects down again → tell PostgREST → summary. Seams for the environment gate,
//! backups and the health check (later versions) sit between these stages. Progress is
//! reported as events, each redacted on its way out (`Emitter`); nothing here prints.

pub mod gate;
pub mod records;
pub mod restore;
pub mod rollback;
pub mod session;
pub mod status;

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::{DryRun, Environment, OutOfOrder};
use crate::db::connect::{ConnectError, ConnectionSpec};
use crate::db::execute::{self, Cause, Effects, Failure, Mode, Prepared, RunContext};
use crate::db::lock::{self, LockError};
use crate::db::tracking::{Tracking, TrackingError};
use crate::diagnostic::Location;
use crate::migration::{MigrationSet, Version};
use crate::plan::Plan;
use crate::sanitize::redact::{redact_string, remember};
use crate::sql::variables::{quote_identifier, quote_literal, scan, substitute, VarKind};
use session::{Notices, Session};
use status::{State, Status};

/// Something that happened during a run, for the terminal (text or JSON lines).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Connected {
        target: String,
        server_version: String,
        environment: Environment,
    },
    Waiting {
        holder: String,
    },
    Plan {
        to_run: Vec<PlanItem>,
        variables: Vec<String>,
        dry_run: bool,
        /// Where the backup before the first migration goes; `None`: no backup.
        backup: Option<String>,
        /// A rollback: the migrations are undone, in this order.
        #[serde(default)]
        undo: bool,
    },
    /// A long job's progress (a backup): bytes so far, and since when.
    Progress {
        what: String,
        bytes: u64,
        ms: u128,
    },
    /// The backup taken before the first migration, verified.
    BackedUp {
        file: String,
        size: u64,
        sha256: String,
        ms: u128,
        pruned: Vec<String>,
    },
    Warning {
        message: String,
    },
    Applying {
        version: String,
        index: usize,
        total: usize,
        mode: String,
    },
    Resumed {
        version: String,
        from_statement: usize,
        dropped_invalid_index: Option<String>,
    },
    Applied {
        version: String,
        ms: u128,
    },
    Notice {
        version: String,
        severity: String,
        message: String,
    },
    Failed {
        version: String,
        sqlstate: Option<String>,
        message: String,
        position: Option<String>,
        detail: Option<String>,
        hint: Option<String>,
        /// What stayed in the database and what a rerun does.
        help: String,
    },
    /// DEBUG: a statement (redacted) and its time.
    Statement {
        version: String,
        sql: String,
        ms: f64,
    },
    Rehearsed {
        version: String,
        ms: u128,
        locks: Vec<String>,
    },
    Skipped {
        version: String,
        reason: String,
    },
    Notified {
        channel: String,
    },
    /// A migration undone through its down file, its record removed.
    RolledBack {
        version: String,
        ms: u128,
    },
    /// A backup restored into the database.
    Restored {
        file: String,
        bytes: u64,
        ms: u128,
    },
    /// A tracking record changed without running anything (repair, forget, baseline).
    Recorded {
        version: String,
        action: String,
        detail: String,
    },
    Done {
        applied: usize,
        failed: bool,
        interrupted: bool,
        ms: u128,
    },
}

impl Event {
    /// The event with every remembered secret masked, in every string it holds (present and
    /// future fields alike: it goes through its JSON form).
    pub fn redacted(self) -> Event {
        if crate::sanitize::redact::nothing_to_hide() {
            return self;
        }
        let Ok(mut v) = serde_json::to_value(&self) else {
            return self;
        };
        crate::sanitize::redact::redact_json(&mut v);
        serde_json::from_value(v).unwrap_or(self)
    }
}

/// Where events go: every one is redacted here, on its way out of the library, whoever sends
/// it (the stages, the DEBUG hook called from inside the executor).
struct Emitter<'a>(std::sync::Mutex<&'a mut (dyn FnMut(Event) + Send)>);

impl Emitter<'_> {
    fn emit(&self, e: Event) {
        let e = e.redacted();
        if let Ok(mut on) = self.0.lock() {
            on(e);
        }
    }

    fn warn(&self, message: String) {
        self.emit(Event::Warning { message });
    }
}

/// One migration of the plan of a run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PlanItem {
    pub version: String,
    pub mode: String,
    pub out_of_order: bool,
}

/// How to deploy.
pub struct Options<'a> {
    pub environment: Environment,
    pub tracking: Tracking,
    pub timeout: Duration,
    /// How long to wait for another deployer's lock.
    pub lock_wait: Duration,
    /// `lock_timeout` for the migrations' statements, when configured.
    pub statement_lock_timeout: Option<Duration>,
    pub target: Option<Version>,
    pub dry_run: DryRun,
    pub out_of_order: OutOfOrder,
    /// The value of a psql variable.
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub debug: bool,
    /// Send `NOTIFY pgrst, 'reload schema'` after changes when PostgREST's role exists.
    pub notify_pgrst: bool,
    /// Becomes true on SIGINT/SIGTERM.
    pub interrupt: watch::Receiver<bool>,
    /// Checks run only when something is pending (validation): a no-op deploy stays fast.
    pub before_run: &'a (dyn Fn() -> Result<(), DeployError> + Sync),
    /// The environment gate, with the versions about to run, once they are known and checked
    /// (the lock is held: what is confirmed is what runs). Not called for dry runs or when
    /// nothing is pending.
    pub gate: &'a (dyn Fn(&[String]) -> Result<(), DeployError> + Sync),
    /// The backup taken after the gate, before the first migration; `None`: no backup
    /// (SKIP_BACKUP, a throwaway database).
    pub backup: Option<crate::backup::BackupOptions>,
}

/// How a run ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub applied: usize,
    pub failed: bool,
    pub interrupted: bool,
}

/// Why a run did not start or could not go on. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{}", .0.message)]
    Connect(ConnectError),
    #[error("{0}")]
    Lock(LockError),
    #[error("{message}")]
    Blocked { message: String, help: String },
    /// The environment gate said no (exit code 3).
    #[error("{message}")]
    Refused { message: String, help: String },
    #[error("cannot set up the tracking tables of {target}: {error}")]
    Tracking {
        target: String,
        error: TrackingError,
        help: String,
    },
    #[error("cannot back up {target} before deploying: {error}")]
    Backup {
        target: String,
        error: crate::backup::BackupError,
    },
    #[error("database error: {0}")]
    Db(String),
}

impl DeployError {
    pub fn help(&self) -> String {
        match self {
            DeployError::Connect(e) => e.help.clone(),
            DeployError::Lock(LockError::Busy { .. }) => "wait for that deploy to finish, or raise --lock-timeout; to stop it, end that session (SELECT pg_cancel_backend(pid)) and it rolls back its current migration".into(),
            DeployError::Lock(LockError::Db(_)) | DeployError::Db(_) => "check the database's logs and the user's privileges".into(),
            DeployError::Backup { error, .. } => format!("nothing was applied. {}", error.help()),
            DeployError::Blocked { help, .. }
            | DeployError::Refused { help, .. }
            | DeployError::Tracking { help, .. } => help.clone(),
        }
    }
}

/// A database error as one line: the server's message and SQLSTATE, redacted.
fn db_err(e: tokio_postgres::Error) -> DeployError {
    DeployError::Db(redact_string(match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }))
}

/// A random identifier for this run.
pub fn new_run_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut a = RandomState::new().build_hasher();
    a.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    a.write_u32(std::process::id());
    let mut b = RandomState::new().build_hasher();
    b.write_u64(a.finish());
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

/// Substitutes the real values of psql variables (and remembers them as secrets: they are
/// masked in everything pgshift prints or records from now on). Missing ones are returned
/// with their place.
pub fn prepare(
    m: &crate::migration::Migration,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Vec<String>> {
    prepare_text(
        &File {
            version: m.version.to_string(),
            path: &m.path,
            source: &m.source,
            no_transaction: m.front.directives.no_transaction.is_some(),
            checksum: &m.checksum.0,
            normalized_checksum: status::normalized(m),
        },
        values,
    )
}

/// The down file of `m`, prepared like a migration (`None` when it has none).
pub fn prepare_down(
    m: &crate::migration::Migration,
    values: &dyn Fn(&str) -> Option<String>,
) -> Option<Result<Prepared, Vec<String>>> {
    let d = m.down.as_ref()?;
    let front = crate::migration::header::parse_front_matter(&d.path, &d.source, &mut Vec::new());
    Some(prepare_text(
        &File {
            version: m.version.to_string(),
            path: &d.path,
            source: &d.source,
            no_transaction: front.directives.no_transaction.is_some(),
            checksum: &d.checksum.0,
            normalized_checksum: crate::sql::normalized_checksum(&d.source)
                .unwrap_or_else(|| d.checksum.0.clone()),
        },
        values,
    ))
}

/// A file to run: a migration or a down file.
struct File<'a> {
    version: String,
    path: &'a std::path::Path,
    source: &'a str,
    no_transaction: bool,
    checksum: &'a str,
    normalized_checksum: String,
}

fn prepare_text(
    m: &File,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Vec<String>> {
    let psql = scan(m.source);
    let mut missing = Vec::new();
    for u in &psql.unsupported {
        missing.push(format!(
            "{}: psql-only `{}` cannot run",
            Location::at_offset(m.path, m.source, u.start, 1),
            u.what
        ));
    }
    let sub = substitute(m.source, &psql, |v| {
        let value = values(&v.name);
        if let Some(x) = &value {
            remember(x);
        }
        match (v.kind, value) {
            (VarKind::Defined, value) => {
                Some(if value.is_some() { "TRUE" } else { "FALSE" }.to_string())
            }
            (VarKind::Literal, Some(x)) => Some(quote_literal(&x)),
            (VarKind::Identifier, Some(x)) => Some(quote_identifier(&x)),
            (VarKind::Raw, Some(x)) => Some(x),
            (VarKind::Raw, None) if v.glued => None,
            (_, None) => {
                missing.push(format!(
                    "{}: psql variable :{} has no value (set {} or pass --var {}=…)",
                    Location::at_offset(m.path, m.source, v.start, 1),
                    v.name,
                    v.name.to_uppercase(),
                    v.name
                ));
                None
            }
        }
    });
    if !missing.is_empty() {
        return Err(missing);
    }
    let statements = crate::sql::parse(&sub.text).map_err(|e| {
        vec![format!(
            "{}: {}",
            Location::at_offset(m.path, m.source, sub.to_source(e.offset), 1),
            if sub.is_substituted(e.offset) {
                "syntax error in the value of a psql variable".to_string()
            } else {
                redact_string(e.message)
            }
        )]
    })?;
    let mode = Prepared::mode_of(&statements, m.no_transaction);
    Ok(Prepared {
        version: m.version.clone(),
        checksum: m.checksum.to_string(),
        normalized_checksum: m.normalized_checksum.clone(),
        effects: Effects::of(&statements, &sub.text),
        statements: statements.iter().map(execute::Step::of).collect(),
        sub,
        mode,
    })
}

/// A deploy that holds the lock right now, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Running {
    pub holder: String,
}

/// Reads the state of the database (no lock, nothing created), and who is deploying to it.
pub async fn read_status(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    tracking: &Tracking,
    env: Environment,
) -> Result<(Status, String, Option<Running>), DeployError> {
    let (tx, _rx) = mpsc::unbounded_channel();
    let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
    let rows = tracking.rows(&client).await.map_err(db_err)?;
    let running = lock::holder(&client, tracking.lock_key())
        .await
        .map_err(db_err)?
        .map(|h| Running {
            holder: h.to_string(),
        });
    Ok((
        status::compare(set, plan, &rows, env),
        spec.describe(),
        running,
    ))
}

/// The session settings every migration starts with.
fn session_sql(
    timeout: Duration,
    statement_lock_timeout: Option<Duration>,
    version_num: i32,
) -> String {
    let mut session = format!("SET statement_timeout = '{}ms';", timeout.as_millis());
    // PostgreSQL 14+: a backend whose client vanished (killed deployer) stops at once instead
    // of finishing the statement; its transaction rolls back.
    if version_num >= 140000 {
        session.push_str("\nSET client_connection_check_interval = '1s';");
    }
    if let Some(t) = statement_lock_timeout {
        session.push_str(&format!("\nSET lock_timeout = '{}ms';", t.as_millis()));
    }
    session
}

/// Connects with `settings`, says so, and takes the deploy lock of `tracking` unless `lock` is
/// false (dry runs), saying who holds it while waiting: how every command that changes a
/// database begins.
async fn open_locked(
    spec: &ConnectionSpec,
    settings: impl FnOnce(i32) -> String,
    environment: Environment,
    tracking: &Tracking,
    wait: Duration,
    lock: bool,
    out: &Emitter<'_>,
) -> Result<Session, DeployError> {
    let session = Session::open(spec, settings).await?;
    out.emit(Event::Connected {
        target: spec.describe(),
        server_version: session.server_version.clone(),
        environment,
    });
    if lock {
        session
            .lock(tracking, wait, |h| {
                out.emit(Event::Waiting {
                    holder: h.to_string(),
                })
            })
            .await?;
    }
    Ok(session)
}

/// Creates, upgrades and closes the tracking tables (`Tracking::ensure`), its failure named.
async fn ensure(
    tracking: &Tracking,
    client: &tokio_postgres::Client,
    spec: &ConnectionSpec,
) -> Result<crate::db::tracking::Ensured, DeployError> {
    tracking
        .ensure(client)
        .await
        .map_err(|error| DeployError::Tracking {
            target: spec.describe(),
            help: error.help(tracking),
            error,
        })
}

/// Deploys the pending migrations of `set` in `plan` order.
pub async fn migrate(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &Options<'_>,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, DeployError> {
    let started = Instant::now();
    let out = Emitter(std::sync::Mutex::new(on));
    let dry = opts.dry_run != DryRun::Off;
    let mut session = open_locked(
        spec,
        |v| session_sql(opts.timeout, opts.statement_lock_timeout, v),
        opts.environment,
        &opts.tracking,
        opts.lock_wait,
        !dry,
        &out,
    )
    .await?;
    let run = Run {
        set,
        plan,
        spec,
        opts,
        client: &session.client,
        session: &session.settings,
        server: crate::backup::Server {
            version: session.server_version.clone(),
            major: (session.version_num / 10000) as u32,
        },
        run_id: new_run_id(),
        out: &out,
    };
    let result = run.locked(&mut session.notices).await;
    if !dry {
        session.unlock(&opts.tracking).await;
    }
    let outcome = result?;
    out.emit(Event::Done {
        applied: outcome.applied,
        failed: outcome.failed,
        interrupted: outcome.interrupted,
        ms: started.elapsed().as_millis(),
    });
    Ok(outcome)
}

/// One deploy, with the lock held (or a dry run).
struct Run<'a> {
    set: &'a MigrationSet,
    plan: &'a Plan,
    spec: &'a ConnectionSpec,
    opts: &'a Options<'a>,
    client: &'a tokio_postgres::Client,
    session: &'a str,
    server: crate::backup::Server,
    run_id: String,
    out: &'a Emitter<'a>,
}

/// A migration about to run: prepared, with its state and its file.
type Ready<'a> = (Prepared, &'a status::Entry, &'a crate::migration::Migration);

impl<'a> Run<'a> {
    /// The stages, in order. Nothing changes in the database before the gate has said yes
    /// (reading only: the tracking rows, the pending files checked and prepared).
    async fn locked(&self, notices: &mut Notices) -> Result<Outcome, DeployError> {
        let dry = self.opts.dry_run != DryRun::Off;
        let rows = self.opts.tracking.rows(self.client).await.map_err(db_err)?;
        let status = status::compare(self.set, self.plan, &rows, self.opts.environment);
        self.check_history(&status)?;
        let to_run = self.select(&status)?;
        if to_run.is_empty() {
            // Nothing to apply: still keep existing tracking tables closed and up to date.
            if !dry
                && self
                    .opts
                    .tracking
                    .exists(self.client)
                    .await
                    .map_err(db_err)?
            {
                self.ensure_tracking(false).await?;
                while notices.try_recv().is_ok() {}
            }
            self.prepare_all(&[])?;
            return Ok(Outcome::default());
        }
        (self.opts.before_run)()?;
        let prepared = self.prepare_all(&to_run)?;
        match self.opts.dry_run {
            DryRun::Plan => return Ok(Outcome::default()),
            DryRun::Rehearse => return self.rehearse(&prepared, notices).await,
            DryRun::Off => {}
        }
        let versions: Vec<String> = prepared.iter().map(|(p, _, _)| p.version.clone()).collect();
        (self.opts.gate)(&versions)?;
        let backup = self.back_up(&rows).await?;
        self.ensure_tracking(true).await?;
        if let Some(b) = &backup {
            let detail = serde_json::json!({ "file": b.manifest.file, "sha256": b.manifest.sha256, "size": b.manifest.size });
            self.client
                .batch_execute(&self.opts.tracking.event_sql(
                    &self.run_id,
                    "backup",
                    None,
                    self.opts.environment.as_str(),
                    &detail,
                ))
                .await
                .map_err(db_err)?;
        }
        // Notices from creating the tracking tables are not the migrations' business.
        while notices.try_recv().is_ok() {}
        let outcome = self.apply_all(&prepared, &rows, notices).await?;
        if outcome.applied > 0 {
            self.lock_down_again().await?;
            self.notify_postgrest().await?;
        }
        Ok(outcome)
    }

    /// The backup before the first migration: pg_dump through parallel gzip, read back whole,
    /// its manifest written, old ones pruned. A failure stops the deploy before anything ran.
    async fn back_up(
        &self,
        rows: &[crate::db::tracking::AppliedRow],
    ) -> Result<Option<crate::backup::Created>, DeployError> {
        let Some(options) = self.opts.backup.clone() else {
            return Ok(None);
        };
        let started = Instant::now();
        let applied: Vec<String> = rows
            .iter()
            .filter(|r| r.success)
            .map(|r| r.version.clone())
            .collect();
        let (spec, server, run_id) = (self.spec.clone(), self.server.clone(), self.run_id.clone());
        let (tx, mut progress) = mpsc::unbounded_channel();
        let job = tokio::task::spawn_blocking(move || {
            let mut last = 0u64;
            crate::backup::create(&spec, &server, applied, &run_id, &options, &mut |p| {
                // Every 64 MB is enough for a progress line.
                if p.written >= last + (64 << 20) {
                    last = p.written;
                    let _ = tx.send(p.written);
                }
            })
        });
        tokio::pin!(job);
        let created = loop {
            tokio::select! {
                Some(bytes) = progress.recv() => self.out.emit(Event::Progress {
                    what: "backup".into(),
                    bytes,
                    ms: started.elapsed().as_millis(),
                }),
                r = &mut job => break r,
            }
        };
        let created = created
            .map_err(|e| DeployError::Db(format!("the backup stopped: {e}")))?
            .map_err(|error| DeployError::Backup {
                target: self.spec.describe(),
                error,
            })?;
        self.out.emit(Event::BackedUp {
            file: created.path.display().to_string(),
            size: created.manifest.size,
            sha256: created.manifest.sha256.clone(),
            ms: started.elapsed().as_millis(),
            pruned: created
                .pruned
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        });
        Ok(Some(created))
    }

    /// Creates or upgrades the tracking tables; revokes what others were granted on them;
    /// prepares the record statement when migrations are about to run.
    async fn ensure_tracking(&self, prepare: bool) -> Result<(), DeployError> {
        let t = &self.opts.tracking;
        let done = ensure(t, self.client, self.spec).await?;
        if prepare {
            self.opts
                .tracking
                .prepare_record(self.client)
                .await
                .map_err(db_err)?;
        }
        if !done.revoked.is_empty() {
            self.out.warn(format!(
                "pgshift's tables in {} had privileges for other roles, now revoked: {}. Something granted them (GRANT … ON ALL TABLES/SEQUENCES IN SCHEMA, or by hand); only the deploying role may touch them",
                self.spec.describe(),
                done.revoked.join("; ")
            ));
        }
        Ok(())
    }

    /// A migration may have granted privileges on pgshift's tables indirectly (a function
    /// called from it): check once more after the run.
    async fn lock_down_again(&self) -> Result<(), DeployError> {
        let state = self
            .opts
            .tracking
            .state(self.client)
            .await
            .map_err(db_err)?;
        if state.foreign_privileges.is_empty() {
            return Ok(());
        }
        self.client
            .batch_execute(&self.opts.tracking.lockdown_sql())
            .await
            .map_err(db_err)?;
        self.out.warn(format!(
            "a migration of this run granted privileges on pgshift's tables, now revoked: {}",
            state.foreign_privileges.join("; ")
        ));
        Ok(())
    }

    /// Modified files block the run; unknown versions and cosmetic edits are reported.
    fn check_history(&self, status: &Status) -> Result<(), DeployError> {
        let modified: Vec<&str> = status
            .entries
            .iter()
            .filter(|e| e.state == State::Modified)
            .map(|e| e.version.as_str())
            .collect();
        if !modified.is_empty() {
            return Err(DeployError::Blocked {
                message: format!("applied migrations changed since they ran: {}", modified.join(", ")),
                help: "restore the files as they were applied (git), or accept the change with `pgshift repair VERSION`; new changes belong in a new migration".into(),
            });
        }
        for e in status.entries.iter().filter(|e| e.state == State::Unknown) {
            self.out.warn(format!(
                "{} is recorded in {} but has no file in {}",
                e.version,
                self.opts.tracking.display(),
                self.set.dir.display()
            ));
        }
        for e in status.entries.iter().filter(|e| {
            e.state
                == (State::Applied {
                    cosmetic_change: true,
                })
        }) {
            self.out.warn(format!(
                "{} changed in comments or whitespace only since it was applied",
                e.version
            ));
        }
        Ok(())
    }

    /// What runs: pending, failed and partial migrations up to --target, in plan order.
    fn select<'s>(&self, status: &'s Status) -> Result<Vec<&'s status::Entry>, DeployError> {
        let (set, plan, opts) = (self.set, self.plan, self.opts);
        let mut to_run: Vec<&status::Entry> = Vec::new();
        let target = opts.target.as_ref().map(|t| t.as_str());
        if let Some(t) = target {
            if !status.entries.iter().any(|e| e.version == t) {
                return Err(DeployError::Blocked {
                    message: format!("--target {t} is not a migration in {}", set.dir.display()),
                    help: "`pgshift status` lists the versions".into(),
                });
            }
        }
        for e in &status.entries {
            if matches!(
                e.state,
                State::Pending { .. } | State::Failed { .. } | State::Partial { .. }
            ) {
                to_run.push(e);
            }
            if target == Some(e.version.as_str()) {
                break;
            }
        }
        // A migration must not run when @env keeps one of its dependencies out of this
        // environment.
        let excluded: std::collections::HashSet<&str> = status
            .entries
            .iter()
            .filter(|e| e.state == State::NotForEnvironment)
            .map(|e| e.version.as_str())
            .collect();
        let orphaned: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| to_run.iter().any(|e| e.version == s.version.as_str()))
            .flat_map(|s| {
                s.dependencies
                    .iter()
                    .filter(|d| excluded.contains(d.as_str()))
                    .map(move |d| format!("{} needs {d}", s.version))
            })
            .collect();
        if !orphaned.is_empty() {
            return Err(DeployError::Blocked {
                message: format!(
                    "dependencies are excluded from {} by @env: {}",
                    opts.environment,
                    orphaned.join(", ")
                ),
                help: "widen the dependency's `-- @env:` line, or remove the dependency".into(),
            });
        }
        let late: Vec<&str> = to_run
            .iter()
            .filter(|e| matches!(e.state, State::Pending { out_of_order: true }))
            .map(|e| e.version.as_str())
            .collect();
        if !late.is_empty() {
            match opts.out_of_order {
                OutOfOrder::Deny => return Err(DeployError::Blocked {
                    message: format!(
                        "pending migrations are dated before applied ones: {}",
                        late.join(", ")
                    ),
                    help:
                        "rename them with a current date, or set [migrations] out_of_order = \"warn\""
                            .into(),
                }),
                OutOfOrder::Warn => self.out.warn(format!(
                    "running out of order (dated before applied migrations): {}",
                    late.join(", ")
                )),
                OutOfOrder::Allow => {}
            }
        }
        Ok(to_run)
    }

    /// Everything is prepared before anything runs: a missing variable stops the run here.
    fn prepare_all<'s>(&self, to_run: &[&'s status::Entry]) -> Result<Vec<Ready<'s>>, DeployError>
    where
        'a: 's,
    {
        let mut prepared = Vec::new();
        let mut problems = Vec::new();
        let mut variables = std::collections::BTreeSet::new();
        let migrations: Vec<(&crate::migration::Migration, &status::Entry)> = to_run
            .iter()
            .filter_map(|e| {
                Some((
                    self.set.get(&Version::parse_reference(&e.version).ok()?)?,
                    *e,
                ))
            })
            .collect();
        for (m, _) in &migrations {
            variables.extend(scan(&m.source).variables.into_iter().map(|v| v.name));
        }
        // Parsing and checksums are CPU work: spread over the cores while nothing runs yet.
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let results =
            crate::validate::par_map(&migrations, jobs, |(m, _)| prepare(m, self.opts.values));
        for ((m, e), r) in migrations.iter().zip(results) {
            match r {
                Ok(p) => prepared.push((p, *e, *m)),
                Err(mut why) => problems.append(&mut why),
            }
        }
        if !problems.is_empty() {
            return Err(DeployError::Blocked {
                message: format!("nothing was run:\n  {}", problems.join("\n  ")),
                help: "psql variables come from --var NAME=VALUE, the environment (NAME upper-cased), .env, or [variables] in pgshift.toml".into(),
            });
        }
        self.out.emit(Event::Plan {
            to_run: prepared
                .iter()
                .map(|(p, e, _)| PlanItem {
                    version: p.version.clone(),
                    mode: p.mode.to_string(),
                    out_of_order: matches!(e.state, State::Pending { out_of_order: true }),
                })
                .collect(),
            variables: variables.into_iter().collect(),
            dry_run: self.opts.dry_run != DryRun::Off,
            backup: self
                .opts
                .backup
                .as_ref()
                .filter(|_| !prepared.is_empty())
                .map(|b| b.dir.display().to_string()),
            undo: false,
        });
        Ok(prepared)
    }

    /// Applies the prepared migrations in order; stops at the first failure.
    async fn apply_all(
        &self,
        prepared: &[Ready<'_>],
        rows: &[crate::db::tracking::AppliedRow],
        notices: &mut Notices,
    ) -> Result<Outcome, DeployError> {
        let (spec, opts, client, out) = (self.spec, self.opts, self.client, self.out);
        let run_id = self.run_id.clone();
        let cancel_spec = spec.clone();
        let cancel = move |token: tokio_postgres::CancelToken| -> futures_util::future::BoxFuture<'static, ()> {
            let spec = cancel_spec.clone();
            Box::pin(async move {
                let _ = token.cancel_query(spec.tls_for_cancel()).await;
            })
        };
        let current = std::sync::Mutex::new(String::new());
        let debug_hook = |sql: &str, t: Duration| {
            out.emit(Event::Statement {
                version: current.lock().map(|v| v.clone()).unwrap_or_default(),
                sql: sql.to_string(),
                ms: t.as_secs_f64() * 1e3,
            })
        };
        let ctx = RunContext {
            client,
            tracking: &opts.tracking,
            run_id: &run_id,
            environment: opts.environment.as_str(),
            timeout: opts.timeout,
            interrupt: opts.interrupt.clone(),
            cancel: &cancel,
            debug: if opts.debug { Some(&debug_hook) } else { None },
            session_sql: self.session,
        };
        let total = prepared.len();
        let mut outcome = Outcome::default();
        for (index, (p, entry, m)) in prepared.iter().enumerate() {
            if *opts.interrupt.borrow() {
                outcome.interrupted = true;
                break;
            }
            if let Ok(mut c) = current.lock() {
                c.clone_from(&p.version);
            }
            out.emit(Event::Applying {
                version: p.version.clone(),
                index: index + 1,
                total,
                mode: p.mode.to_string(),
            });
            let resume = self.resume_point(p, entry, rows).await?;
            let label = spec
                .progress_label()
                .map(|base| progress_name(&base, index + 1, total, &p.version));
            let start = Instant::now();
            let result = execute::apply(&ctx, p, resume, label.as_deref()).await;
            drain(notices, &p.version, out);
            match result {
                Ok(t) => {
                    outcome.applied += 1;
                    out.emit(Event::Applied {
                        version: p.version.clone(),
                        ms: t.as_millis(),
                    });
                }
                Err(f) => {
                    let position = f.offset.map(|o| {
                        Location::at_offset(&m.path, &m.source, p.sub.to_source(o), 1).to_string()
                    });
                    let recorded =
                        execute::record_failure(&ctx, p, &f, position.as_deref(), start.elapsed())
                            .await;
                    if let Err(e) = recorded {
                        out.warn(format!(
                            "could not record the failure of {} in {}: {}",
                            p.version,
                            opts.tracking.display(),
                            db_err(e)
                        ));
                    }
                    outcome.failed = true;
                    outcome.interrupted = f.cause == Cause::Interrupted;
                    let invalid = match f.statement.and_then(|i| p.statements.get(i)) {
                        Some(s) if f.cause != Cause::ConnectionLost => {
                            execute::invalid_index(client, s).await.ok().flatten()
                        }
                        _ => None,
                    };
                    out.emit(Event::Failed {
                        version: p.version.clone(),
                        sqlstate: f.sqlstate.clone(),
                        help: after_failure(p, &f, invalid.as_deref()),
                        message: f.message,
                        position,
                        detail: f.detail,
                        hint: f.hint,
                    });
                    break;
                }
            }
        }
        Ok(outcome)
    }

    /// Where a partial no-transaction run resumes: after the statements that ran (they stay
    /// run), dropping the INVALID index a failed CONCURRENTLY statement left.
    async fn resume_point(
        &self,
        p: &Prepared,
        entry: &status::Entry,
        rows: &[crate::db::tracking::AppliedRow],
    ) -> Result<usize, DeployError> {
        let State::Partial {
            statements_done, ..
        } = &entry.state
        else {
            return Ok(0);
        };
        if !matches!(p.mode, Mode::Autocommit { .. }) {
            return Ok(0);
        }
        let resume = (*statements_done).max(0) as usize;
        // Resume after them even when the file was edited since (usually to fix the failing
        // statement), and say so.
        if rows_checksum(rows, &p.version) != Some(p.checksum.as_str()) {
            self.out.warn(format!(
                "{} changed since its partial run; its first {resume} statement(s) ran as they were then and are not run again",
                p.version
            ));
        }
        let dropped = match p.statements.get(resume) {
            Some(s) => execute::drop_invalid_index(self.client, s)
                .await
                .map_err(db_err)?,
            None => None,
        };
        self.out.emit(Event::Resumed {
            version: p.version.clone(),
            from_statement: resume + 1,
            dropped_invalid_index: dropped,
        });
        Ok(resume)
    }

    /// `NOTIFY pgrst, 'reload schema'` when PostgREST's role exists (Supabase).
    async fn notify_postgrest(&self) -> Result<(), DeployError> {
        if !self.opts.notify_pgrst {
            return Ok(());
        }
        let present: bool = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator')",
                &[],
            )
            .await
            .map_err(db_err)?
            .get(0);
        if present {
            self.client
                .batch_execute("NOTIFY pgrst, 'reload schema'")
                .await
                .map_err(db_err)?;
            self.out.emit(Event::Notified {
                channel: "pgrst".into(),
            });
        }
        Ok(())
    }

    /// `--dry-run=rehearse`: runs the pending migrations in one transaction, one statement
    /// per message as a deploy does, reports timings, the locks each took, and the first
    /// error, then rolls everything back.
    async fn rehearse(
        &self,
        prepared: &[Ready<'_>],
        notices: &mut Notices,
    ) -> Result<Outcome, DeployError> {
        let (client, out) = (self.client, self.out);
        client.batch_execute("BEGIN").await.map_err(db_err)?;
        let mut outcome = Outcome::default();
        let mut seen = std::collections::BTreeSet::new();
        for (p, _, m) in prepared {
            if p.mode != Mode::Transaction {
                out.emit(Event::Skipped {
                    version: p.version.clone(),
                    reason: format!("runs with {}; a rehearsal cannot roll it back", p.mode),
                });
                continue;
            }
            let start = Instant::now();
            let mut failed = None;
            for (i, s) in p.statements.iter().enumerate() {
                let prefix = if i == 0 {
                    "SAVEPOINT pgshift_rehearsal;\n"
                } else {
                    ""
                };
                if let Err(e) = client
                    .batch_execute(&format!("{prefix}{}", s.text(&p.sub.text)))
                    .await
                {
                    failed = Some((e, i, prefix));
                    break;
                }
            }
            drain(notices, &p.version, out);
            if let Some((e, i, prefix)) = failed {
                let f = execute::describe(&e, prefix, i, &p.statements[i], &p.sub.text);
                let position = f.offset.map(|o| {
                    Location::at_offset(&m.path, &m.source, p.sub.to_source(o), 1).to_string()
                });
                outcome.failed = true;
                out.emit(Event::Failed {
                    version: p.version.clone(),
                    sqlstate: f.sqlstate.clone(),
                    help: format!(
                        "a rehearsal changes nothing: fix {} and rehearse again",
                        m.path.display()
                    ),
                    message: f.message,
                    position,
                    detail: f.detail,
                    hint: f.hint,
                });
                break;
            }
            let ms = start.elapsed().as_millis();
            let rows = client
                .query(
                    "SELECT DISTINCT n.nspname || '.' || c.relname || ' (' || l.mode || ')'
                     FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation'
                       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                     ORDER BY 1",
                    &[],
                )
                .await
                .map_err(db_err)?;
            let locks: Vec<String> = rows
                .iter()
                .map(|r| r.get::<_, String>(0))
                .filter(|l| seen.insert(l.clone()))
                .collect();
            outcome.applied += 1;
            out.emit(Event::Rehearsed {
                version: p.version.clone(),
                ms,
                locks,
            });
        }
        let _ = client.batch_execute("ROLLBACK").await;
        Ok(outcome)
    }
}

/// `application_name` while a migration runs: `pgshift[pid@host] 3/10 2026-01-21_x`, cut to
/// the server's 63 bytes.
fn progress_name(base: &str, index: usize, total: usize, version: &str) -> String {
    let mut name = format!("{base} {index}/{total} {version}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// What stayed of a failed migration and what the next `pgshift migrate` does with it.
fn after_failure(p: &Prepared, f: &Failure, invalid_index: Option<&str>) -> String {
    let v = &p.version;
    let n = p.statements.len();
    match (&p.mode, f.cause) {
        (_, Cause::ConnectionLost) => format!(
            "the connection broke while {v} ran: the server rolls back the open transaction, and the failure could not be recorded. Check that the server is up and reachable, then run `pgshift migrate` again"
        ),
        (Mode::Transaction, _) => format!(
            "nothing of {v} was kept (its transaction was rolled back); earlier migrations stay applied and recorded. {} and run `pgshift migrate` again",
            fix(f)
        ),
        (Mode::Autocommit { .. }, _) => {
            let done = f.statements_done.unwrap_or(0);
            let mut t = if done == 0 {
                format!("no statement of {v} completed (it runs without a transaction, statement by statement). ")
            } else {
                format!(
                    "{v} runs without a transaction: statement(s) 1–{done} of {n} ran and stay applied; statement {} failed. ",
                    done + 1
                )
            };
            if let Some(i) = invalid_index {
                t.push_str(&format!(
                    "The failed statement left the INVALID index {i}; the rerun drops it first. "
                ));
            }
            t.push_str(&format!(
                "{} and run `pgshift migrate` again: it resumes at statement {}",
                fix(f),
                done + 1
            ));
            t
        }
        (Mode::AsWritten, _) => format!(
            "{v} controls its own transactions: what it committed before statement {} stays applied, the open transaction was rolled back. Check the database, fix the file, and run `pgshift migrate` again: it runs {v} from its first statement",
            f.statement.map_or(1, |i| i + 1)
        ),
    }
}

fn fix(f: &Failure) -> &'static str {
    match f.cause {
        Cause::Timeout => "Make it faster (or batch it), or raise TIMEOUT,",
        Cause::Interrupted => "When ready,",
        Cause::Error | Cause::ConnectionLost => "Fix the file",
    }
}

fn rows_checksum<'a>(
    rows: &'a [crate::db::tracking::AppliedRow],
    version: &str,
) -> Option<&'a str> {
    rows.iter()
        .find(|r| r.version == version)
        .map(|r| r.checksum.as_str())
}

fn drain(notices: &mut Notices, version: &str, out: &Emitter) {
    while let Ok(n) = notices.try_recv() {
        // Our own ROLLBACK after a failure warns when there is no transaction: not news.
        if n.code().code() == "25P01" {
            continue;
        }
        out.emit(Event::Notice {
            version: version.to_string(),
            severity: n.severity().to_string(),
            message: n.message().to_string(),
        });
    }
}
