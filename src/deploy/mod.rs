//! Deploying and undoing: `migrate` (connect, lock, then the stages of `run.rs`: compare,
//! select, validate, prepare, the environment gate, the backup, the tracking tables, apply,
//! lock down, notify), `rollback`, `restore`, the record commands (`records`), the gate
//! (`gate`), every command's session (`session`), the applier both directions share
//! (`applier`). The validation before and the health check after are the pipeline's
//! (`crate::pipeline`). Progress is reported as events, each redacted on its way out
//! (`Emitter`); nothing here prints.

mod applier;
pub mod files;
pub mod gate;
pub mod records;
mod replace;
pub mod restore;
pub mod rollback;
mod run;
pub mod session;
pub mod status;
pub mod stop;
mod unchanged;
pub mod wait;

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::{DryRun, Environment, OutOfOrder};
use crate::db::connect::{ConnectError, ConnectionSpec};
use crate::db::execute::{self, Cause, Effects, Failure, Mode, Prepared};
use crate::db::lock::{self, LockError};
use crate::db::tracking::{Tracking, TrackingError};
use crate::diagnostic::Location;
use crate::migration::Version;
use crate::parallel::Later;
use crate::sanitize::redact::{redact_string, remember};
use crate::sql::variables::{quote_identifier, quote_literal, scan, substitute, VarKind};
use session::Session;
use status::Status;

/// Something that happened during a run, for the terminal (text or JSON lines).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Connected to the database.
    Connected {
        /// `user@host:port/db`, never a password.
        target: String,
        /// The server's `server_version`.
        server_version: String,
        /// The environment the run is for.
        environment: Environment,
    },
    /// Another deployer holds the lock; this one waits.
    Waiting {
        /// Who holds it: pgshift's process, host and migration, the server process, user, client and since when.
        holder: String,
    },
    /// What the run will do, once the files are compared with the records.
    Plan {
        /// The migrations to apply (or undo), in order.
        to_run: Vec<PlanItem>,
        /// The psql variables the migrations use (names only, never values).
        variables: Vec<String>,
        /// Nothing will change (`--dry-run`).
        dry_run: bool,
        /// Where the backup before the first migration goes; `None`: no backup.
        backup: Option<String>,
        /// A rollback: the migrations are undone, in this order.
        #[serde(default)]
        undo: bool,
        /// A rehearsal follows: each migration runs and is rolled back (`--dry-run=rehearse`).
        #[serde(default)]
        rehearse: bool,
    },
    /// A long job's progress (a backup): bytes so far, and since when.
    Progress {
        /// What is in progress (a backup).
        what: String,
        /// Bytes done so far.
        bytes: u64,
        /// Milliseconds since it began.
        ms: u128,
    },
    /// The backup taken before the first migration, verified.
    BackedUp {
        /// The backup file.
        file: String,
        /// Its size in bytes.
        size: u64,
        /// Its SHA-256, as its manifest records it.
        sha256: String,
        /// How long the backup took, in milliseconds.
        ms: u128,
        /// Older backups removed by the retention setting.
        pruned: Vec<String>,
    },
    /// Something to know that does not stop the run.
    Warning {
        /// What it is, and what to do.
        message: String,
    },
    /// A migration starts.
    Applying {
        /// The migration's version.
        version: String,
        /// Its position in the run (1-based).
        index: usize,
        /// How many the run applies.
        total: usize,
        /// How it runs: in a transaction, statement by statement in autocommit, or as written.
        mode: String,
    },
    /// A no-transaction migration that stopped halfway resumes.
    Resumed {
        /// The migration's version.
        version: String,
        /// The statement it resumes at (0-based), after those that finished.
        from_statement: usize,
        /// An invalid index an interrupted `CREATE INDEX CONCURRENTLY` left, dropped first.
        dropped_invalid_index: Option<String>,
    },
    /// A transactional migration could not get a lock in time (`lock_timeout`): it was rolled
    /// back and is tried again after a pause.
    Retrying {
        /// The migration's version.
        version: String,
        /// The try about to start (2 for the first retry).
        attempt: u32,
        /// Tries in all (1 + `lock_retries`).
        of: u32,
        /// The pause before it, in milliseconds.
        wait_ms: u64,
        /// The server's message (which lock it waited for).
        message: String,
    },
    /// A repeatable's CREATE OR REPLACE was refused (its view's columns or its function's
    /// result changed): it runs again, dropping its objects with what depends on them and
    /// making those again, in one transaction.
    Replacing {
        /// The repeatable's version.
        version: String,
        /// What the server said.
        reason: String,
        /// Dependents made again from the catalog's definitions.
        from_catalog: Vec<String>,
        /// Repeatables run again because they define dependents.
        from_files: Vec<String>,
    },
    /// A migration was applied and recorded.
    Applied {
        /// The migration's version.
        version: String,
        /// How long it took, in milliseconds.
        ms: u128,
    },
    /// A notice (or warning) the server sent while a migration ran.
    Notice {
        /// The migration that was running.
        version: String,
        /// The server's severity (NOTICE, WARNING, …).
        severity: String,
        /// The server's message.
        message: String,
    },
    /// A migration failed; its transaction was rolled back and the failure recorded.
    Failed {
        /// The migration's version.
        version: String,
        /// The server's SQLSTATE, when the server answered.
        sqlstate: Option<String>,
        /// The server's message (secrets masked).
        message: String,
        /// `file:line:col` of the failing statement (in an included file when it came from one).
        position: Option<String>,
        /// The server's DETAIL.
        detail: Option<String>,
        /// The server's HINT.
        hint: Option<String>,
        /// What stayed in the database and what a rerun does.
        help: String,
    },
    /// DEBUG: a statement (redacted) and its time.
    Statement {
        /// The migration the statement belongs to.
        version: String,
        /// The statement (secrets masked).
        sql: String,
        /// How long it took, in milliseconds.
        ms: f64,
    },
    /// A migration ran in a rehearsal and was rolled back.
    Rehearsed {
        /// The migration's version.
        version: String,
        /// How long it took, in milliseconds.
        ms: u128,
        /// The strongest lock it took on each table that existed before it, and what that blocks.
        locks: Vec<String>,
    },
    /// A migration was not run.
    Skipped {
        /// The migration's version.
        version: String,
        /// Why (a file without SQL, another environment).
        reason: String,
    },
    /// A notification was sent.
    Notified {
        /// Where: PostgREST's schema cache, a webhook's host.
        channel: String,
    },
    /// A migration undone through its down file, its record removed.
    RolledBack {
        /// The migration's version.
        version: String,
        /// How long the down file took, in milliseconds.
        ms: u128,
    },
    /// A restore is about to start: what it restores, undoes, drops and leaves alone.
    Restoring {
        /// One line each, as the gate shows them.
        changes: Vec<String>,
    },
    /// A backup restored into the database.
    Restored {
        /// The backup file.
        file: String,
        /// Bytes read from it.
        bytes: u64,
        /// How long the restore took, in milliseconds.
        ms: u128,
    },
    /// A tracking record changed without running anything (repair, forget, baseline).
    Recorded {
        /// The migration's version.
        version: String,
        /// What was done: repaired, forgotten, baselined, adopted.
        action: String,
        /// What changed in the record.
        detail: String,
    },
    /// The run ended.
    Done {
        /// How many migrations were applied (or undone).
        applied: usize,
        /// A migration failed.
        failed: bool,
        /// SIGINT or SIGTERM stopped it.
        interrupted: bool,
        /// How long the run took, in milliseconds.
        ms: u128,
    },
}

impl Event {
    /// The event for a backup made and verified, `ms` after it started.
    pub fn backed_up(created: &crate::backup::Created, ms: u128) -> Event {
        Event::BackedUp {
            file: created.path.display().to_string(),
            size: created.manifest.size,
            sha256: created.manifest.sha256.clone(),
            ms,
            pruned: created
                .pruned
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        }
    }

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
    /// The migration's version.
    pub version: String,
    /// How it runs: `transaction`, `autocommit` or `as written`.
    pub mode: String,
    /// Dated before migrations already applied.
    pub out_of_order: bool,
}

/// How to deploy.
pub struct Options<'a> {
    /// The environment of the run (its gate and rule levels).
    pub environment: Environment,
    /// Where the records are kept.
    pub tracking: Tracking,
    /// Each migration's `statement_timeout`.
    pub timeout: Duration,
    /// How long to wait for another deployer's lock.
    pub lock_wait: Duration,
    /// `lock_timeout` for the migrations' statements, when configured.
    pub statement_lock_timeout: Option<Duration>,
    /// How many times a transactional migration that hit its `lock_timeout` is tried again.
    pub lock_retries: u32,
    /// Stop after this version.
    pub target: Option<Version>,
    /// Only print the plan, or rehearse it in a transaction that is rolled back.
    pub dry_run: DryRun,
    /// What to do with a pending migration dated before applied ones.
    pub out_of_order: OutOfOrder,
    /// Run a failed repeatable again although its file is unchanged (`--retry-failed`).
    pub retry_failed: bool,
    /// The value of a psql variable.
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Report every statement with its time (DEBUG).
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
    /// `[supabase] history`: record in the Supabase CLI's history too (`None`: where it exists).
    pub supabase_history: Option<bool>,
}

/// How a run ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Migrations applied (or undone).
    pub applied: usize,
    /// A migration failed (and was rolled back).
    pub failed: bool,
    /// SIGINT or SIGTERM stopped the run.
    pub interrupted: bool,
}

/// Why a run did not start or could not go on. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The migrations, loaded while the deploy connected, could not be used (their loader
    /// says why).
    #[error("the migrations could not be loaded")]
    FilesUnusable,
    #[error("{}", .0.message)]
    /// The database could not be reached or refused the login.
    Connect(ConnectError),
    #[error("{0}")]
    /// The deploy lock is held by another deployer, or could not be taken.
    Lock(LockError),
    #[error("{message}")]
    /// Something found before anything ran stops the run (validation errors, a modified file, a missing variable).
    Blocked {
        /// What stopped it.
        message: String,
        /// What to do.
        help: String,
    },
    /// The environment gate said no (exit code 3).
    #[error("{message}")]
    Refused {
        /// Why the gate said no.
        message: String,
        /// What it takes (FORCE_RUN, the database's name).
        help: String,
    },
    #[error("cannot set up the tracking tables of {target}: {error}")]
    /// The tracking tables could not be created or upgraded.
    Tracking {
        /// `user@host:port/db`.
        target: String,
        /// What failed.
        error: TrackingError,
        /// What to do (grants, `[tracking] schema`).
        help: String,
    },
    #[error("cannot back up {target} before deploying: {error}")]
    /// The backup before the first migration failed; nothing was applied.
    Backup {
        /// `user@host:port/db`.
        target: String,
        /// What failed (pg_dump, the disk, the verification).
        error: crate::backup::BackupError,
    },
    #[error("cannot restore into {target}: {error}")]
    /// A restore failed (psql, the file, the verification); it was rolled back.
    Restore {
        /// `user@host:port/db`.
        target: String,
        /// What failed.
        error: crate::backup::BackupError,
    },
    #[error("pgshift's own bookkeeping in {table} failed ({what}): {message}")]
    /// A statement on pgshift's tracking tables failed: not a migration's fault.
    Bookkeeping {
        /// `schema.table`.
        table: String,
        /// What pgshift was doing (`recording 2026-01-03_slow2`).
        what: String,
        /// The server's message and SQLSTATE, redacted.
        message: String,
    },
    #[error("database error: {0}")]
    /// Any other error of the database, its message with secrets masked.
    Db(String),
    #[error("{message}")]
    /// Validation found errors in the files about to run (the report says which); nothing ran.
    Invalid {
        /// What stopped it.
        message: String,
        /// What to do.
        help: String,
        /// Every finding.
        report: Box<crate::validate::Report>,
    },
    #[error("{message}")]
    /// A setting cannot be used (`[rules]` naming an unknown rule…); nothing ran.
    Settings {
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
}

impl DeployError {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            DeployError::Connect(e) => e.help.clone(),
            DeployError::FilesUnusable => "run `pgshift validate` to see what is wrong with the files".into(),
            DeployError::Lock(LockError::Busy { .. }) => "wait for that deploy to finish, or raise --lock-timeout; to stop it, run `pgshift stop`: it rolls back its current migration".into(),
            DeployError::Lock(LockError::Db(_)) | DeployError::Db(_) => "check the database's logs and the user's privileges".into(),
            DeployError::Backup { error, .. } => format!("nothing was applied; {}", error.help()),
            DeployError::Restore { error, .. } => error.help(),
            DeployError::Bookkeeping { table, .. } => format!(
                "this is pgshift's tracking table, not a migration: it was changed by hand or by another tool (pgshift needs its primary key on version and its columns as it made them). Compare `\\d {table}` with docs/recovery.md, or point [tracking] at a fresh table"
            ),
            DeployError::Blocked { help, .. }
            | DeployError::Refused { help, .. }
            | DeployError::Invalid { help, .. }
            | DeployError::Settings { help, .. }
            | DeployError::Tracking { help, .. } => help.clone(),
        }
    }
}

/// A database error as one line: the server's message and SQLSTATE, redacted.
pub(crate) fn db_err(e: tokio_postgres::Error) -> DeployError {
    DeployError::Db(error_text(&e))
}

/// The server's message and SQLSTATE (or the client's error), redacted.
pub(crate) fn error_text(e: &tokio_postgres::Error) -> String {
    redact_string(match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    })
}

/// Stops a run when records were changed by hand or by another tool (a NULL where pgshift
/// always writes a value, a version recorded twice): what each is, and how to fix it. Nothing
/// is guessed from a record that cannot be trusted.
pub(crate) fn refuse_damaged(status: &Status, tracking: &Tracking) -> Result<(), DeployError> {
    use crate::sanitize::escape::untrusted as u;
    let damaged: Vec<String> = status
        .entries
        .iter()
        .filter_map(|e| match &e.state {
            status::State::Damaged { problem } => Some(format!(
                "{}: {} ({})",
                u(&e.version),
                u(problem),
                status::damaged_fix(&e.version)
            )),
            _ => None,
        })
        .collect();
    if damaged.is_empty() {
        return Ok(());
    }
    Err(DeployError::Blocked {
        message: format!(
            "{} record(s) in {} were changed by hand or by another tool, and pgshift does not guess from them; nothing was run:\n  {}",
            damaged.len(),
            tracking.display(),
            damaged.join("\n  ")
        ),
        help: "fix each record as said (`pgshift status` lists them); repair and forget change records only, never the schema".into(),
    })
}

/// An error of a statement on pgshift's own tables, said as such: `what` pgshift was doing.
pub(crate) fn bookkeeping_err<'a>(
    tracking: &'a Tracking,
    what: &'a str,
) -> impl Fn(tokio_postgres::Error) -> DeployError + 'a {
    move |e| DeployError::Bookkeeping {
        table: tracking.display(),
        what: what.to_string(),
        message: error_text(&e),
    }
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

/// From what size a migration's normalized checksum is made beside its run.
const PREPARE_BESIDE: usize = 1 << 20;

/// Substitutes the real values of psql variables (and remembers them as secrets: they are
/// masked in everything pgshift prints or records from now on). Missing ones are returned
/// with their place.
pub fn prepare(
    m: &crate::migration::Migration,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Vec<String>> {
    let file = |normalized_checksum| File {
        version: m.version.to_string(),
        path: &m.path,
        source: &m.source,
        includes: &m.includes,
        no_transaction: m.front.directives.no_transaction.is_some(),
        checksum: m.checksum.value(),
        normalized_checksum,
    };
    let psql = scan(&m.source);
    // The normalized checksum of a file that is mostly `COPY` data (hashed as it is, without
    // tokens: no memory of its own) is made on another core while the file runs: only its
    // record, sent after the data, reads it (60 ms of a 100 MB COPY's time before its first
    // byte). Of SQL, its tokens would add to the parse trees' peak: made here.
    let data: usize = psql.copies.iter().map(|c| c.end - c.start).sum();
    let normalized = if m.source.len() > PREPARE_BESIDE && data > m.source.len() / 2 {
        let (source, copies, checksum) =
            (m.source.clone(), psql.copies.clone(), m.checksum.clone());
        Later::spawn(move || {
            crate::sql::normalized_checksum_of(&source, &copies)
                .unwrap_or_else(|| checksum.as_str().to_string())
        })
    } else {
        Later::ready(status::normalized_of(m, &psql.copies))
    };
    let mut p = prepare_scanned(&file(normalized), &psql, values)?;
    if m.is_repeatable() {
        p.record_text = Some(m.source.clone());
    }
    Ok(p)
}

/// The text `source`, run as `m` would be (a repeatable's earlier text, a rollback's drops),
/// with the checksum of that text.
pub fn prepare_source(
    m: &crate::migration::Migration,
    source: &std::sync::Arc<String>,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Vec<String>> {
    let checksum = crate::migration::Checksum::of(source.as_bytes());
    prepare_text(
        &File {
            version: m.version.to_string(),
            path: &m.path,
            source,
            includes: &crate::migration::SourceMap::default(),
            no_transaction: false,
            checksum: checksum.value(),
            normalized_checksum: Later::ready(
                crate::sql::normalized_checksum(source)
                    .unwrap_or_else(|| checksum.as_str().to_string()),
            ),
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
            includes: &d.includes,
            no_transaction: front.directives.no_transaction.is_some(),
            checksum: d.checksum.value(),
            normalized_checksum: Later::ready(
                crate::sql::normalized_checksum(&d.source)
                    .unwrap_or_else(|| d.checksum.as_str().to_string()),
            ),
        },
        values,
    ))
}

/// The steps of a file, each `COPY … FROM stdin` with the data the file gives it (the first
/// data block after the statement).
fn with_copy_data(
    statements: &[crate::sql::Statement],
    psql: &crate::sql::variables::PsqlScan,
    sub: &crate::sql::variables::Substituted,
    source: &std::sync::Arc<String>,
) -> Vec<execute::Step> {
    statements
        .iter()
        .map(|s| {
            let mut step = execute::Step::of(s);
            if let pg_query::NodeEnum::CopyStmt(c) = &*s.node {
                if c.is_from && c.filename.is_empty() && !c.is_program {
                    let after = sub.to_source(s.end);
                    step.copy = psql
                        .copies
                        .iter()
                        .find(|d| d.start >= after)
                        .map(|d| execute::CopyData::new(source.clone(), d.start..d.end));
                }
            }
            step
        })
        .collect()
}

/// A file to run: a migration or a down file.
struct File<'a> {
    version: String,
    path: &'a std::path::Path,
    source: &'a std::sync::Arc<String>,
    includes: &'a crate::migration::SourceMap,
    no_transaction: bool,
    checksum: Later<String>,
    normalized_checksum: Later<String>,
}

impl File<'_> {
    /// The location of byte `offset` of the text, in the file it came from.
    fn locate(&self, offset: usize) -> Location {
        self.includes.locate(self.path, self.source, offset, 1)
    }
}

fn prepare_text(
    m: &File,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Vec<String>> {
    prepare_scanned(m, &scan(m.source), values)
}

/// [`prepare_text`] of a text scanned already (`psql`).
fn prepare_scanned(
    m: &File,
    psql: &crate::sql::variables::PsqlScan,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Vec<String>> {
    let mut missing = Vec::new();
    for u in &psql.unsupported {
        missing.push(format!(
            "{}: psql-only `{}` cannot run",
            m.locate(u.start),
            u.what
        ));
    }
    let sub = substitute(m.source, psql, |v| {
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
                    m.locate(v.start),
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
            m.locate(sub.to_source(e.offset)),
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
        checksum: m.checksum.clone(),
        normalized_checksum: m.normalized_checksum.clone(),
        effects: Effects::of(&statements, &sub.text),
        statements: with_copy_data(&statements, psql, &sub, m.source),
        sub,
        mode,
        also: String::new(),
        first: String::new(),
        record_text: None,
        variables: psql.variables.iter().map(|v| v.name.clone()).collect(),
    })
}

/// A deploy that holds the lock right now, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Running {
    /// Who holds the lock: pgshift's process, host and migration, the server process, user, client and since when.
    pub holder: String,
}

/// What `status` reads (its `--json` form, the comparison's fields at the top).
#[derive(Debug, Clone, Serialize)]
pub struct StatusRead {
    /// Every migration compared with the records.
    #[serde(flatten)]
    pub status: Status,
    /// `user@host:port/db`.
    pub target: String,
    /// The deploy holding the lock right now, if any.
    pub running: Option<Running>,
    /// Where the Supabase CLI's history exists: how it disagrees with pgshift's records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supabase: Option<crate::supabase::history::Disagreement>,
}

/// What a backup taken now needs to know of the database: its server (pg_dump must match its
/// major version), and the migrations applied (its manifest lists them).
pub async fn backup_source(
    spec: &ConnectionSpec,
    tracking: &Tracking,
) -> Result<(crate::backup::Server, Vec<String>), DeployError> {
    let session = Session::open(spec, |_| String::new()).await?;
    let rows = tracking.rows(&session.client).await.map_err(db_err)?;
    let outside = crate::backup::coverage::outside(&session.client)
        .await
        .map_err(db_err)?;
    Ok((
        crate::backup::Server {
            version: session.server_version.clone(),
            major: (session.version_num / 10000) as u32,
            outside,
        },
        rows.into_iter()
            .filter(|r| r.success)
            .map(|r| r.version)
            .collect(),
    ))
}

/// The tracking table's rows, oldest first (none when there is no table yet).
pub async fn history(
    spec: &ConnectionSpec,
    tracking: &Tracking,
) -> Result<Vec<crate::db::tracking::AppliedRow>, DeployError> {
    let (tx, _rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
    spec.first_answer(started, tracking.rows(&client))
        .await
        .map_err(DeployError::Connect)?
        .map_err(db_err)
}

/// Reads the state of the database (no lock, nothing created), and who is deploying to it.
/// Files still being loaded are waited for once the records are read.
pub async fn read_status(
    files: files::Files<'_>,
    spec: &ConnectionSpec,
    tracking: &Tracking,
    env: Environment,
) -> Result<StatusRead, DeployError> {
    let (tx, _rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
    // Who holds the lock and whether the Supabase CLI's history is there are asked along
    // with the records, in the same round trips, all within the time the first answer has.
    let all = async {
        tokio::join!(
            tracking.rows_for_status(&client),
            lock::holder(&client, tracking.lock_key()),
            crate::supabase::history::exists(&client)
        )
    };
    let (rows, holder, history) = spec
        .first_answer(started, all)
        .await
        .map_err(DeployError::Connect)?;
    let mut rows = rows.map_err(db_err)?;
    let history = history.map_err(db_err)?;
    let running = holder.map_err(db_err)?.map(|h| Running {
        holder: h.to_string(),
    });
    let (set, plan) = files.get()?;
    with_normalized(&client, tracking, set, &mut rows)
        .await
        .map_err(db_err)?;
    let original = |v: &str| {
        let version = Version::parse_reference(v).ok()?;
        let m = set.get(&version)?;
        crate::supabase::history::source_version(&m.source).map(str::to_string)
    };
    let supabase = crate::supabase::history::disagreement(&client, history, &rows, &original)
        .await
        .map_err(db_err)?;
    Ok(StatusRead {
        status: status::compare(set, plan, &rows, env),
        target: spec.describe(),
        running,
        supabase,
    })
}

/// Reads the normalised checksum, which `status` leaves out of its rows, of each row whose
/// checksum is not its file's: whether only comments or whitespace changed. Most calls have
/// none to read.
async fn with_normalized(
    client: &tokio_postgres::Client,
    tracking: &Tracking,
    set: &crate::migration::MigrationSet,
    rows: &mut [crate::db::tracking::AppliedRow],
) -> Result<(), tokio_postgres::Error> {
    // Rows written by deploys come in the files' order.
    let files = status::InOrder::new(&set.migrations, |m| m.version.as_str());
    let differ: Vec<&str> = rows
        .iter()
        .filter(|r| {
            files
                .get(&r.version)
                .is_some_and(|m| m.checksum.as_str() != r.checksum)
        })
        .map(|r| r.version.as_str())
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    let found = tracking.normalized_checksums(client, &differ).await?;
    for r in rows.iter_mut() {
        if let Some(n) = found.get(&r.version) {
            r.normalized_checksum = Some(n.clone());
        }
    }
    Ok(())
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
    lock: Locking,
    out: &Emitter<'_>,
) -> Result<(Session, Option<crate::db::tracking::LayoutState>), DeployError> {
    let (session, started) = Session::connect(spec, settings, true).await?;
    let connected = || {
        out.emit(Event::Connected {
            target: spec.describe(),
            server_version: session.server_version.clone(),
            environment,
        })
    };
    // The settings are the first answer the server owes: within the connect deadline.
    let applied = async {
        spec.first_answer(started, session.apply_settings())
            .await
            .map_err(DeployError::Connect)?
    };
    if lock == Locking::Off {
        connected();
        applied.await?;
        return Ok((session, None));
    }
    // The settings and the first try for the lock go out together: one round trip, and the
    // server runs them in that order. A failure of either ends the other. The layout, when
    // asked, goes out right behind them: read under the lock when the first try took it.
    let layout = async {
        match lock {
            Locking::OnReadingLayout => {
                Ok::<_, DeployError>(tracking.state(&session.client).await.ok())
            }
            _ => Ok(None),
        }
    };
    // Said while the server answers: the statements are queued when the branches above are
    // first polled, and this one lets the connection's task send them before it writes the
    // line (0.6 ms of a 13 ms deploy with nothing to do).
    let said = async {
        tokio::task::yield_now().await;
        connected();
        Ok(())
    };
    let ((), waited, layout, ()) = tokio::try_join!(
        applied,
        session.lock(tracking, wait, |h| {
            out.emit(Event::Waiting {
                holder: h.to_string(),
            })
        }),
        layout,
        said
    )?;
    Ok((session, layout.filter(|_| !waited)))
}

/// Whether [`open_locked`] takes the deploy lock, and reads the tracking layout beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locking {
    Off,
    On,
    OnReadingLayout,
}

impl Locking {
    fn when(lock: bool) -> Locking {
        match lock {
            true => Locking::On,
            false => Locking::Off,
        }
    }
}

/// Creates, upgrades and closes the tracking tables (`Tracking::ensure`), its failure named.
async fn ensure(
    tracking: &Tracking,
    client: &tokio_postgres::Client,
    spec: &ConnectionSpec,
) -> Result<crate::db::tracking::Ensured, DeployError> {
    ensure_known(tracking, client, spec, None).await
}

/// [`ensure`] from the layout's state when it was read already (beside the records).
async fn ensure_known(
    tracking: &Tracking,
    client: &tokio_postgres::Client,
    spec: &ConnectionSpec,
    known: Option<crate::db::tracking::LayoutState>,
) -> Result<crate::db::tracking::Ensured, DeployError> {
    let ensured = match known {
        Some(state) => tracking.ensure_from(client, state).await,
        None => tracking.ensure(client).await,
    };
    ensured.map_err(|error| DeployError::Tracking {
        target: spec.describe(),
        help: error.help(tracking),
        error,
    })
}

/// The tracking rows, and with `layout` the tracking tables' layout and privileges (which a
/// deploy that may change something checks even when it has nothing to apply): `known` when
/// it was read beside the lock (and says whether the table is there: one round trip fewer),
/// else asked right behind the records on the one connection, the server answering it while
/// the records are being compared. A failed layout read is `None`: [`ensure`] reads it again
/// and names the failure. With `layout`, on a server with `sha256` (11 and later) and a
/// layout not known to be older, the records are first asked as a digest, and read whole only
/// when the files say something is to be done ([`unchanged`]).
async fn records_and_layout(
    tracking: &Tracking,
    client: &tokio_postgres::Client,
    (layout, known): (bool, Option<crate::db::tracking::LayoutState>),
    (files, env, version_num): (files::Files<'_>, Environment, i32),
) -> (
    Result<unchanged::Records, tokio_postgres::Error>,
    Option<crate::db::tracking::LayoutState>,
) {
    use unchanged::Records;
    let exists = match &known {
        Some(state) => Ok(state.tracked),
        None => tracking.exists(client).await,
    };
    // A layout known to be older may lack a column the digest reads: the rows, as before.
    let digest = version_num >= 110000
        && known
            .as_ref()
            .is_none_or(|s| s.layout == Some(crate::db::tracking::LAYOUT_VERSION));
    let state = || async {
        match &known {
            Some(state) => Ok(state.clone()),
            None => tracking.state(client).await,
        }
    };
    match exists {
        Ok(true) if layout && digest => {
            let (digest, state) = tokio::join!(tracking.records_digest(client), state());
            let rows = unchanged::records(tracking, client, files, env, digest).await;
            (rows, state.ok())
        }
        Ok(true) if layout => {
            let (rows, state) = tokio::join!(tracking.rows_of_existing(client), state());
            (rows.map(Records::Read), state.ok())
        }
        Ok(true) => (
            tracking.rows_of_existing(client).await.map(Records::Read),
            None,
        ),
        // No table yet: the layout read under the lock says so (and where to make it).
        Ok(false) => (Ok(Records::Read(Vec::new())), known),
        Err(e) => (Err(e), None),
    }
}

/// Deploys the pending migrations of `files` in their plan's order. Files still being
/// loaded are waited for once the session is open, locked, and the records are read.
pub async fn migrate(
    files: files::Files<'_>,
    spec: &ConnectionSpec,
    opts: &Options<'_>,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, DeployError> {
    let started = Instant::now();
    let out = Emitter(std::sync::Mutex::new(on));
    let dry = opts.dry_run != DryRun::Off;
    let (mut session, known) = open_locked(
        spec,
        |v| session_sql(opts.timeout, opts.statement_lock_timeout, v),
        opts.environment,
        &opts.tracking,
        opts.lock_wait,
        match dry {
            true => Locking::Off,
            false => Locking::OnReadingLayout,
        },
        &out,
    )
    .await?;
    let (rows, layout) = records_and_layout(
        &opts.tracking,
        &session.client,
        (!dry, known),
        (files, opts.environment, session.version_num),
    )
    .await;
    let rows = rows.map_err(db_err);
    let result = match rows.and_then(|rows| Ok((rows, files.get()?))) {
        Ok((rows, (set, plan))) => {
            let run = run::Run {
                set,
                plan,
                spec,
                opts,
                client: &session.client,
                session: &session.settings,
                server: crate::backup::Server {
                    version: session.server_version.clone(),
                    major: (session.version_num / 10000) as u32,
                    outside: Vec::new(),
                },
                run_id: new_run_id(),
                out: &out,
                stop: &session.stop,
            };
            // The layout's age counts from the start, before it was asked: never less than
            // it is.
            run.locked(rows, (layout, started), &mut session.notices)
                .await
        }
        Err(e) => Err(e),
    };
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn one(text: String) -> crate::migration::MigrationSet {
        let files = [(
            PathBuf::from("m/2026-01-01_data.sql"),
            Ok(text.into_bytes()),
        )];
        crate::migration::from_files(Path::new("m"), files, Environment::Development)
    }

    #[test]
    fn a_file_of_copy_data_is_prepared_as_a_small_one_is_whichever_core_checksums_it() {
        let mut data = String::new();
        for i in 0..100_000 {
            data.push_str(&format!("{i}\tname {i}\n"));
        }
        let value = |name: &str| (name == "who").then(|| "ada".to_string());
        for rows in [&data[..], "1\tone\n"] {
            let text = format!(
                "CREATE TABLE d (id int, name text);\nCOPY d FROM stdin;\n{rows}\\.\nSELECT :'who', :'who';\n"
            );
            let large = text.len() > PREPARE_BESIDE;
            assert_eq!(
                large,
                rows.len() > 10,
                "the first file is large, the second small"
            );
            let set = one(text);
            let m = &set.migrations[0];
            let p = prepare(m, &value).expect("prepares");
            assert_eq!(
                p.normalized_checksum.get(),
                &status::normalized(m),
                "large: {large}"
            );
            assert_ne!(p.normalized_checksum.get(), m.checksum.as_str());
            assert_eq!(p.variables, ["who", "who"]);
        }
    }
}
