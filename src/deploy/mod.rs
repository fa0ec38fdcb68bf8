//! The deploy pipeline: connect → lock → compare with the tracking table → apply pending
//! migrations in plan order → tell PostgREST → summary. Seams for the environment gate,
//! backups and the health check (later versions) sit between these steps. Progress is reported
//! as events; nothing here prints.

pub mod status;

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::{DryRun, Environment, OutOfOrder};
use crate::db::connect::{ConnectError, ConnectionSpec};
use crate::db::execute::{self, Cause, Mode, Prepared, RunContext};
use crate::db::lock::{self, LockError};
use crate::db::tracking::Tracking;
use crate::diagnostic::Location;
use crate::migration::{MigrationSet, Version};
use crate::plan::Plan;
use crate::sql::variables::{quote_identifier, quote_literal, scan, substitute, VarKind};
use status::{State, Status};

/// Something that happened during a run, for the terminal (text or JSON lines).
#[derive(Debug, Clone, Serialize)]
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
    Done {
        applied: usize,
        failed: bool,
        interrupted: bool,
        ms: u128,
    },
}

/// One migration of the plan of a run.
#[derive(Debug, Clone, Serialize)]
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
    #[error("database error: {0}")]
    Db(String),
}

impl DeployError {
    pub fn help(&self) -> String {
        match self {
            DeployError::Connect(e) => e.help.clone(),
            DeployError::Lock(LockError::Busy { .. }) => "wait for that deploy to finish, or raise --lock-timeout; if it is stuck, end that session (SELECT pg_terminate_backend(pid))".into(),
            DeployError::Lock(LockError::Db(_)) | DeployError::Db(_) => "check the database's logs and the user's privileges".into(),
            DeployError::Blocked { help, .. } => help.clone(),
        }
    }
}

fn db_err(spec: &ConnectionSpec) -> impl Fn(tokio_postgres::Error) -> DeployError + '_ {
    move |e| {
        DeployError::Db(spec.redact(&match e.as_db_error() {
            Some(d) => format!("{} ({})", d.message(), d.code().code()),
            None => e.to_string(),
        }))
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

/// Substitutes the real values of psql variables. Missing ones are returned with their place.
pub fn prepare(
    m: &crate::migration::Migration,
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Vec<String>> {
    let psql = scan(&m.source);
    let mut missing = Vec::new();
    for u in &psql.unsupported {
        missing.push(format!(
            "{}: psql-only `{}` cannot run",
            Location::at_offset(&m.path, &m.source, u.start, 1),
            u.what
        ));
    }
    let mut secret_values: Vec<String> = Vec::new();
    let sub = substitute(&m.source, &psql, |v| {
        let value = values(&v.name);
        if let Some(x) = value.as_ref().filter(|x| x.len() >= 3) {
            // Short values (`1`, `on`) would blank out ordinary words of messages.
            secret_values.push(x.clone());
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
                    Location::at_offset(&m.path, &m.source, v.start, 1),
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
            Location::at_offset(&m.path, &m.source, sub.to_source(e.offset), 1),
            if sub.is_substituted(e.offset) {
                "syntax error in the value of a psql variable".to_string()
            } else {
                e.message
            }
        )]
    })?;
    let mode = Prepared::mode_of(&statements, m.front.directives.no_transaction.is_some());
    Ok(Prepared {
        version: m.version.to_string(),
        checksum: m.checksum.0.clone(),
        normalized_checksum: status::normalized(m),
        sub,
        statements: statements.iter().map(execute::Step::of).collect(),
        mode,
        secret_values: {
            secret_values.sort_by_key(|v| std::cmp::Reverse(v.len()));
            secret_values.dedup();
            secret_values
        },
    })
}

/// Reads the state of the database (no lock, nothing created).
pub async fn read_status(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    tracking: &Tracking,
    env: Environment,
) -> Result<(Status, String), DeployError> {
    let (tx, _rx) = mpsc::unbounded_channel();
    let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
    let rows = tracking.rows(&client).await.map_err(db_err(spec))?;
    Ok((status::compare(set, plan, &rows, env), spec.describe()))
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
    let (notice_tx, mut notices) = mpsc::unbounded_channel();
    let client = spec
        .connect(notice_tx)
        .await
        .map_err(DeployError::Connect)?;
    let server_version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(db_err(spec))?
        .get(0);
    on(Event::Connected {
        target: spec.describe(),
        server_version,
        environment: opts.environment,
    });
    let version_num: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(db_err(spec))?
        .get(0);
    let mut session = format!("SET statement_timeout = '{}ms';", opts.timeout.as_millis());
    // PostgreSQL 14+: a backend whose client vanished (killed deployer) stops at once instead
    // of finishing the statement; its transaction rolls back.
    if version_num >= 140000 {
        session.push_str(" SET client_connection_check_interval = '1s';");
    }
    if let Some(t) = opts.statement_lock_timeout {
        session.push_str(&format!(" SET lock_timeout = '{}ms';", t.as_millis()));
    }
    client.batch_execute(&session).await.map_err(db_err(spec))?;

    let dry = opts.dry_run != DryRun::Off;
    if !dry {
        lock::acquire(&client, &opts.tracking, opts.lock_wait, |h| {
            on(Event::Waiting {
                holder: h.to_string(),
            })
        })
        .await
        .map_err(DeployError::Lock)?;
        opts.tracking.ensure(&client).await.map_err(db_err(spec))?;
        opts.tracking
            .prepare_record(&client)
            .await
            .map_err(db_err(spec))?;
    }
    let result = run_locked(set, plan, spec, opts, &client, &mut notices, on).await;
    if !dry {
        let _ = lock::release(&client, &opts.tracking).await;
    }
    let outcome = result?;
    on(Event::Done {
        applied: outcome.applied,
        failed: outcome.failed,
        interrupted: outcome.interrupted,
        ms: started.elapsed().as_millis(),
    });
    Ok(outcome)
}

async fn run_locked(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &Options<'_>,
    client: &tokio_postgres::Client,
    notices: &mut mpsc::UnboundedReceiver<tokio_postgres::error::DbError>,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, DeployError> {
    let rows = opts.tracking.rows(client).await.map_err(db_err(spec))?;
    // Notices from creating the tracking tables are not the migrations' business.
    while notices.try_recv().is_ok() {}
    let status = status::compare(set, plan, &rows, opts.environment);

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
        on(Event::Warning {
            message: format!(
                "{} is recorded in {} but has no file in {}",
                e.version,
                opts.tracking.display(),
                set.dir.display()
            ),
        });
    }
    for e in status.entries.iter().filter(|e| {
        e.state
            == (State::Applied {
                cosmetic_change: true,
            })
    }) {
        on(Event::Warning {
            message: format!(
                "{} changed in comments or whitespace only since it was applied",
                e.version
            ),
        });
    }

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
    // A migration must not run when @env keeps one of its dependencies out of this environment.
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
            OutOfOrder::Warn => on(Event::Warning {
                message: format!(
                    "running out of order (dated before applied migrations): {}",
                    late.join(", ")
                ),
            }),
            OutOfOrder::Allow => {}
        }
    }

    if !to_run.is_empty() {
        (opts.before_run)()?;
    }
    // Everything is prepared before anything runs: a missing variable stops the run here.
    let mut prepared = Vec::new();
    let mut problems = Vec::new();
    let mut variables = std::collections::BTreeSet::new();
    let migrations: Vec<(&crate::migration::Migration, &status::Entry)> = to_run
        .iter()
        .filter_map(|e| Some((set.get(&Version::parse_reference(&e.version).ok()?)?, *e)))
        .collect();
    for (m, _) in &migrations {
        variables.extend(scan(&m.source).variables.into_iter().map(|v| v.name));
    }
    // Parsing and checksums are CPU work: spread over the cores while nothing runs yet.
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results = crate::validate::par_map(&migrations, jobs, |(m, _)| prepare(m, opts.values));
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
    on(Event::Plan {
        to_run: prepared
            .iter()
            .map(|(p, e, _)| PlanItem {
                version: p.version.clone(),
                mode: p.mode.to_string(),
                out_of_order: matches!(e.state, State::Pending { out_of_order: true }),
            })
            .collect(),
        variables: variables.into_iter().collect(),
        dry_run: opts.dry_run != DryRun::Off,
    });
    match opts.dry_run {
        DryRun::Plan => return Ok(Outcome::default()),
        DryRun::Rehearse => return rehearse(spec, client, &prepared, notices, on).await,
        DryRun::Off => {}
    }

    let run_id = new_run_id();
    let env = opts.environment.as_str();
    let cancel_spec = spec.clone();
    let cancel =
        move |token: tokio_postgres::CancelToken| -> futures_util::future::BoxFuture<'static, ()> {
            let spec = cancel_spec.clone();
            Box::pin(async move {
                let _ = token.cancel_query(spec.tls_for_cancel()).await;
            })
        };
    let debug_print = |sql: &str, t: Duration| {
        eprintln!(
            "  [debug] {:>7.1} ms  {}",
            t.as_secs_f64() * 1e3,
            sql.lines().next().unwrap_or("")
        )
    };
    let ctx = RunContext {
        client,
        tracking: &opts.tracking,
        run_id: &run_id,
        environment: env,
        timeout: opts.timeout,
        interrupt: opts.interrupt.clone(),
        cancel: &cancel,
        debug: if opts.debug { Some(&debug_print) } else { None },
    };
    let total = prepared.len();
    let mut outcome = Outcome::default();
    for (index, (p, entry, m)) in prepared.iter().enumerate() {
        if *opts.interrupt.borrow() {
            outcome.interrupted = true;
            break;
        }
        on(Event::Applying {
            version: p.version.clone(),
            index: index + 1,
            total,
            mode: p.mode.to_string(),
        });
        let mut resume = 0;
        if let State::Partial {
            statements_done, ..
        } = &entry.state
        {
            // The statements before the failure ran and stay run; resume after them even when
            // the file was edited since (usually to fix the failing statement), and say so.
            if matches!(p.mode, Mode::Autocommit { .. }) {
                resume = (*statements_done).max(0) as usize;
                if rows_checksum(&rows, &p.version) != Some(p.checksum.as_str()) {
                    on(Event::Warning {
                        message: format!(
                            "{} changed since its partial run; its first {resume} statement(s) ran as they were then and are not run again",
                            p.version
                        ),
                    });
                }
                let dropped = match p.statements.get(resume) {
                    Some(s) => execute::drop_invalid_index(client, s)
                        .await
                        .map_err(db_err(spec))?,
                    None => None,
                };
                on(Event::Resumed {
                    version: p.version.clone(),
                    from_statement: resume + 1,
                    dropped_invalid_index: dropped,
                });
            }
        }
        let start = Instant::now();
        let result = execute::apply(&ctx, p, resume).await;
        drain(notices, &p.version, on);
        match result {
            Ok(t) => {
                outcome.applied += 1;
                on(Event::Applied {
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
                    on(Event::Warning {
                        message: format!(
                            "could not record the failure of {}: {}",
                            p.version,
                            db_err(spec)(e)
                        ),
                    });
                }
                outcome.failed = true;
                outcome.interrupted = f.cause == Cause::Interrupted;
                on(Event::Failed {
                    version: p.version.clone(),
                    sqlstate: f.sqlstate.clone(),
                    message: spec.redact(&f.message),
                    position,
                    detail: f.detail.clone(),
                    hint: f.hint.clone(),
                });
                break;
            }
        }
    }
    if outcome.applied > 0 && opts.notify_pgrst {
        let present: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator')",
                &[],
            )
            .await
            .map_err(db_err(spec))?
            .get(0);
        if present {
            client
                .batch_execute("NOTIFY pgrst, 'reload schema'")
                .await
                .map_err(db_err(spec))?;
            on(Event::Notified {
                channel: "pgrst".into(),
            });
        }
    }
    Ok(outcome)
}

fn rows_checksum<'a>(
    rows: &'a [crate::db::tracking::AppliedRow],
    version: &str,
) -> Option<&'a str> {
    rows.iter()
        .find(|r| r.version == version)
        .map(|r| r.checksum.as_str())
}

fn drain(
    notices: &mut mpsc::UnboundedReceiver<tokio_postgres::error::DbError>,
    version: &str,
    on: &mut (dyn FnMut(Event) + Send),
) {
    while let Ok(n) = notices.try_recv() {
        // Our own ROLLBACK after a failure warns when there is no transaction: not news.
        if n.code().code() == "25P01" {
            continue;
        }
        on(Event::Notice {
            version: version.to_string(),
            severity: n.severity().to_string(),
            message: n.message().to_string(),
        });
    }
}

/// `--dry-run=rehearse`: runs the pending migrations in one transaction, reports timings, the
/// locks each took, and the first error, then rolls everything back.
async fn rehearse(
    spec: &ConnectionSpec,
    client: &tokio_postgres::Client,
    prepared: &[(Prepared, &status::Entry, &crate::migration::Migration)],
    notices: &mut mpsc::UnboundedReceiver<tokio_postgres::error::DbError>,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Outcome, DeployError> {
    client.batch_execute("BEGIN").await.map_err(db_err(spec))?;
    let mut outcome = Outcome::default();
    let mut seen = std::collections::BTreeSet::new();
    for (p, _, m) in prepared {
        if p.mode != Mode::Transaction {
            on(Event::Skipped {
                version: p.version.clone(),
                reason: format!("runs with {}; a rehearsal cannot roll it back", p.mode),
            });
            continue;
        }
        let start = Instant::now();
        let r = client
            .batch_execute(&format!("SAVEPOINT pgshift_rehearsal;\n{}\n;", p.sub.text))
            .await;
        drain(notices, &p.version, on);
        match r {
            Ok(()) => {
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
                    .map_err(db_err(spec))?;
                let locks: Vec<String> = rows
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .filter(|l| seen.insert(l.clone()))
                    .collect();
                outcome.applied += 1;
                on(Event::Rehearsed {
                    version: p.version.clone(),
                    ms,
                    locks,
                });
            }
            Err(e) => {
                let prefix = "SAVEPOINT pgshift_rehearsal;\n".chars().count();
                let db = e.as_db_error();
                let position = db
                    .and_then(|d| match d.position() {
                        Some(tokio_postgres::error::ErrorPosition::Original(pos)) => {
                            (*pos as usize).checked_sub(1 + prefix)
                        }
                        _ => None,
                    })
                    .map(|chars| {
                        let off = p
                            .sub
                            .text
                            .char_indices()
                            .nth(chars)
                            .map_or(p.sub.text.len(), |(i, _)| i);
                        Location::at_offset(&m.path, &m.source, p.sub.to_source(off), 1).to_string()
                    });
                outcome.failed = true;
                on(Event::Failed {
                    version: p.version.clone(),
                    sqlstate: db.map(|d| d.code().code().to_string()),
                    message: p
                        .redact(&spec.redact(
                            &db.map_or_else(|| e.to_string(), |d| d.message().to_string()),
                        )),
                    position,
                    detail: db.and_then(|d| d.detail().map(|x| p.redact(x))),
                    hint: db.and_then(|d| d.hint().map(|x| p.redact(x))),
                });
                break;
            }
        }
    }
    let _ = client.batch_execute("ROLLBACK").await;
    Ok(outcome)
}
