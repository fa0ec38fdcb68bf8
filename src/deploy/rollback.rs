//! Rollback (SPEC §8): the migrations of the last run, one version, or everything after a
//! version, undone through their down files in reverse plan order; each down file in a
//! transaction with the removal of its record and a `rolled_back` event. A migration that
//! applied migrations depend on is refused unless `--cascade` (the dependents go first); a
//! migration without a down file names the backup to restore instead.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::applier::{Applier, Setup};
use super::session::Session;
use super::status::{self, State};
use super::{
    db_err, ensure, new_run_id, open_locked, DeployError, Emitter, Event, Locking, PlanItem,
};
use crate::config::{DryRun, Environment};
use crate::db::connect::ConnectionSpec;
use crate::db::execute::{self, Cause, Mode, Prepared};
use crate::db::tracking::{AppliedRow, Tracking};
use crate::migration::{MigrationSet, Version};
use crate::plan::Plan;
use crate::sanitize::escape::{shell_word, untrusted as u};

/// What to undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every migration the most recent deploy applied.
    LastRun,
    /// One migration.
    Version(String),
    /// Every applied migration after this one, in plan order.
    To(String),
}

/// How to roll back.
pub struct RollbackOptions<'a> {
    /// The environment (its gate).
    pub environment: Environment,
    /// Where the records are kept.
    pub tracking: Tracking,
    /// Each down file's `statement_timeout`.
    pub timeout: Duration,
    /// How long to wait for another deployer's lock.
    pub lock_wait: Duration,
    /// `lock_timeout` for the down files' statements.
    pub statement_lock_timeout: Option<Duration>,
    /// The value of a psql variable.
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Report every statement with its time.
    pub debug: bool,
    /// Becomes true on SIGINT/SIGTERM.
    pub interrupt: watch::Receiver<bool>,
    /// How many times a down file that could not get a lock in time is tried again.
    pub lock_retries: u32,
    /// Dependents first, instead of a refusal.
    pub cascade: bool,
    /// `Plan` prints what would be undone; nothing changes.
    pub dry_run: DryRun,
    /// Where backups are, to name one when a down file is missing.
    pub backup_dir: std::path::PathBuf,
    /// The environment gate, with a line per migration undone.
    pub gate: &'a (dyn Fn(&[String]) -> Result<(), DeployError> + Sync),
}

impl<'a> RollbackOptions<'a> {
    /// A rollback as `settings` configure it (timeouts, lock retries, DEBUG), with psql
    /// variables' values from `values` and `gate` deciding; all of the selection, not a dry
    /// run.
    pub fn from_settings(
        settings: &crate::config::Settings,
        values: &'a (dyn Fn(&str) -> Option<String> + Sync),
        gate: &'a (dyn Fn(&[String]) -> Result<(), DeployError> + Sync),
    ) -> RollbackOptions<'a> {
        RollbackOptions {
            environment: settings.environment,
            tracking: settings.tracking.clone(),
            timeout: settings.deploy.timeout,
            lock_wait: settings.deploy.lock_timeout,
            statement_lock_timeout: settings.deploy.statement_lock_timeout,
            values,
            debug: settings.run.debug,
            interrupt: crate::interrupt::subscribe(),
            lock_retries: settings.deploy.lock_retries,
            cascade: false,
            dry_run: DryRun::Off,
            backup_dir: settings.backup.dir.clone(),
            gate,
        }
    }
}

/// How a rollback ended.
#[derive(Debug, Clone, Default)]
pub struct RollbackOutcome {
    /// The versions undone, in the order they were undone.
    pub rolled_back: Vec<String>,
    /// A down file failed (the migration stays applied).
    pub failed: bool,
    /// SIGINT or SIGTERM stopped it.
    pub interrupted: bool,
    /// How long it took, in milliseconds.
    pub ms: u128,
}

fn blocked(message: String, help: String) -> DeployError {
    DeployError::Blocked { message, help }
}

/// The applied versions to undo, in reverse plan order, dependents included (or refused).
fn select(
    plan: &Plan,
    rows: &[AppliedRow],
    status: &status::Status,
    selection: &Selection,
    cascade: bool,
) -> Result<Vec<String>, DeployError> {
    let applied: BTreeSet<&str> = status
        .entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                State::Applied { .. } | State::Modified | State::Changed
            )
        })
        .map(|e| e.version.as_str())
        .collect();
    let position: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.version.as_str(), i))
        .collect();
    let known = |v: &str| -> Result<(), DeployError> {
        if position.contains_key(v) {
            Ok(())
        } else {
            Err(blocked(
                format!("{v} is not a migration of this set"),
                "`pgshift status` lists the versions".into(),
            ))
        }
    };
    let mut chosen: BTreeSet<String> = match selection {
        Selection::LastRun => {
            // The rows come in the order they ran (`executed_at` to the microsecond).
            let last = rows.iter().rev().find(|r| r.success);
            let Some(last) = last else {
                return Err(blocked(
                    "no migration is applied: nothing to roll back".into(),
                    "`pgshift history` shows what ran".into(),
                ));
            };
            rows.iter()
                .filter(|r| r.success && r.run_id == last.run_id)
                .map(|r| r.version.clone())
                .collect()
        }
        Selection::Version(v) => {
            known(v)?;
            if !applied.contains(v.as_str()) {
                return Err(blocked(
                    format!("{v} is not applied: nothing to roll back"),
                    "`pgshift status` shows what is applied".into(),
                ));
            }
            [v.clone()].into()
        }
        Selection::To(v) => {
            known(v)?;
            let from = position[v.as_str()];
            plan.steps[from + 1..]
                .iter()
                .map(|s| s.version.to_string())
                .filter(|s| applied.contains(s.as_str()))
                .collect()
        }
    };
    if chosen.is_empty() {
        return Err(blocked(
            "nothing applied comes after that version: nothing to roll back".into(),
            "`pgshift status` shows what is applied".into(),
        ));
    }
    let dependents = dependents_of(plan, &applied, &chosen);
    if !dependents.is_empty() {
        if !cascade {
            return Err(blocked(
                format!(
                    "applied migrations depend on what would be rolled back: {}",
                    dependents.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                "roll them back first, or pass --cascade to roll them back with it (dependents first)".into(),
            ));
        }
        chosen.extend(dependents);
    }
    let mut ordered: Vec<String> = chosen.into_iter().collect();
    ordered.sort_by_key(|v| std::cmp::Reverse(position.get(v.as_str()).copied().unwrap_or(0)));
    Ok(ordered)
}

/// Applied migrations that depend, directly or not, on one of `chosen`. One pass in plan
/// order, which puts every migration after the ones it depends on: by the time a step is
/// seen, all of its dependencies were decided (linear in steps and dependencies).
fn dependents_of(
    plan: &Plan,
    applied: &BTreeSet<&str>,
    chosen: &BTreeSet<String>,
) -> BTreeSet<String> {
    // A repeatable is undone by its earlier text: what depends on it stays (a drop that
    // something needs, when it had none, stops at the server).
    let mut undone: std::collections::HashSet<&str> = chosen
        .iter()
        .map(String::as_str)
        .filter(|v| !v.starts_with("repeatable/"))
        .collect();
    let mut dependents = BTreeSet::new();
    for s in &plan.steps {
        let v = s.version.as_str();
        if undone.contains(v) || !applied.contains(v) {
            continue;
        }
        if s.dependencies.iter().any(|d| undone.contains(d.as_str())) {
            undone.insert(v);
            dependents.insert(v.to_string());
        }
    }
    dependents
}

/// The newest backup taken before `version` was applied.
fn backup_before(dir: &std::path::Path, version: &str) -> Option<String> {
    crate::backup::list(dir)
        .ok()?
        .into_iter()
        .find(|b| {
            b.manifest
                .as_ref()
                .is_some_and(|m| !m.applied.iter().any(|a| a == version))
        })
        .map(|b| b.path.display().to_string())
}

/// Rolls back the selected migrations.
pub async fn rollback(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &RollbackOptions<'_>,
    selection: &Selection,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<RollbackOutcome, DeployError> {
    let started = Instant::now();
    let out = Emitter(std::sync::Mutex::new(on));
    let t = &opts.tracking;
    let dry = opts.dry_run != DryRun::Off;
    let (mut session, _) = open_locked(
        spec,
        |v| super::session_sql(opts.timeout, opts.statement_lock_timeout, v),
        opts.environment,
        t,
        opts.lock_wait,
        Locking::when(!dry),
        &out,
    )
    .await?;
    let result = undo(set, plan, spec, opts, selection, &mut session, &out).await;
    if !dry {
        session.unlock(t).await;
    }
    let mut outcome = result?;
    outcome.ms = started.elapsed().as_millis();
    Ok(outcome)
}

async fn undo(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &RollbackOptions<'_>,
    selection: &Selection,
    session: &mut Session,
    out: &Emitter<'_>,
) -> Result<RollbackOutcome, DeployError> {
    let t = &opts.tracking;
    let rows = t.rows(&session.client).await.map_err(db_err)?;
    let status = status::compare(set, plan, &rows, opts.environment);
    super::refuse_damaged(&status, t)?;
    let versions = select(plan, &rows, &status, selection, opts.cascade)?;
    refuse_modified(&versions, &status)?;
    let texts = recorded_texts(&session.client, t, set, &versions, &rows).await?;
    let prepared = prepare_downs(set, &versions, &texts, opts)?;
    out.emit(plan_event(&prepared, opts.dry_run != DryRun::Off));
    if opts.dry_run != DryRun::Off {
        return Ok(RollbackOutcome::default());
    }
    let lines: Vec<String> = prepared
        .iter()
        .map(|(p, m)| format!("roll back {} with {}", p.version, down_path(m, p)))
        .collect();
    (opts.gate)(&lines)?;
    ensure(t, &session.client, spec).await?;
    // A migration recorded in the Supabase CLI's history leaves it with its rollback.
    let supabase_history = crate::supabase::history::exists(&session.client)
        .await
        .map_err(db_err)?;
    // A repeatable undone by its earlier text is recorded as a deploy records it.
    if prepared
        .iter()
        .any(|(p, m)| m.is_repeatable() && p.record_text.is_some())
    {
        t.prepare_record(&session.client).await.map_err(db_err)?;
    }
    session.drain();
    let outcome = run_downs(&prepared, set, spec, opts, session, supabase_history, out).await;
    // The down files committed without waiting for the disk: wait for all of them now
    // (after a failure too).
    let flushed = match session.client.is_closed() {
        true => Ok(()),
        false => execute::flush(&session.client).await.map_err(db_err),
    };
    while session.notices.try_recv().is_ok() {}
    let outcome = outcome?;
    if !outcome.rolled_back.is_empty() {
        flushed?;
    }
    Ok(outcome)
}

/// A repeatable's texts as recorded: the one applied now, and the one before it (another
/// text), from the events of its applies (newest first).
#[derive(Debug, Default)]
struct Texts {
    current: Option<std::sync::Arc<String>>,
    earlier: Option<std::sync::Arc<String>>,
}

/// The recorded texts of the repeatables among `versions`.
async fn recorded_texts(
    client: &tokio_postgres::Client,
    t: &Tracking,
    set: &MigrationSet,
    versions: &[String],
    rows: &[AppliedRow],
) -> Result<HashMap<String, Texts>, DeployError> {
    let mut out = HashMap::new();
    let repeatables = versions.iter().filter(|v| {
        Version::parse_reference(v)
            .ok()
            .and_then(|v| set.get(&v))
            .is_some_and(|m| m.is_repeatable())
    });
    for v in repeatables {
        let recorded = rows
            .iter()
            .find(|r| &r.version == v)
            .map(|r| r.checksum.as_str());
        let sql = format!(
            "SELECT detail->>'sql' FROM {} WHERE version = $1 AND event IN ('applied', 'rolled_back') AND detail ? 'sql' ORDER BY id DESC",
            t.name("_events")
        );
        let found = client.query(&sql, &[v]).await.map_err(db_err)?;
        let mut texts = Texts::default();
        for row in &found {
            let Some(text) = row.get::<_, Option<String>>(0) else {
                continue;
            };
            let same = Some(crate::migration::Checksum::of(text.as_bytes()).as_str()) == recorded;
            if same && texts.current.is_none() {
                texts.current = Some(std::sync::Arc::new(text));
            } else if !same {
                texts.earlier = Some(std::sync::Arc::new(text));
                break;
            }
        }
        out.insert(v.clone(), texts);
    }
    Ok(out)
}

/// The bookkeeping of a migration undone (`time`: its time in ms, as SQL): its record and
/// its row in the Supabase CLI's history removed, an event; a repeatable whose earlier text
/// ran again is recorded with that text instead.
fn undone_sql(
    ctx: &execute::RunContext<'_>,
    (p, m): (&Prepared, &crate::migration::Migration),
    supabase_history: bool,
    time: &str,
) -> String {
    if m.is_repeatable() && p.record_text.is_some() {
        return execute::recorded_sql(ctx, p, time, "rolled_back");
    }
    let (t, env) = (ctx.tracking, ctx.environment);
    let detail = serde_json::json!({ "down": down_path(m, p), "mode": p.mode });
    let mut sql = format!(
        "{}\n{}",
        t.delete_sql(&p.version),
        t.event_sql(ctx.run_id, "rolled_back", Some(&p.version), env, &detail)
    );
    if supabase_history {
        let original = crate::supabase::history::source_version(&m.source);
        sql.push('\n');
        sql.push_str(&crate::supabase::history::delete_sql(&p.version, original));
    }
    sql
}

/// What undoes a repeatable: its earlier recorded text run again (recorded as applied), or,
/// with none, the drop of the views and functions its recorded text defines (its record
/// removed).
fn undo_repeatable(
    m: &crate::migration::Migration,
    texts: Option<&Texts>,
    opts: &RollbackOptions<'_>,
) -> Result<Prepared, Vec<String>> {
    let v = u(m.version.as_str());
    if let Some(earlier) = texts.and_then(|t| t.earlier.as_ref()) {
        let mut p = super::prepare_source(m, earlier, opts.values)?;
        p.record_text = Some(earlier.clone());
        return Ok(p);
    }
    let current = texts
        .and_then(|t| t.current.clone())
        .unwrap_or_else(|| m.source.clone());
    let now = super::prepare_source(m, &current, opts.values)?;
    let drops = super::replace::drops(&now);
    if drops.is_empty() {
        return Err(vec![format!(
            "{v} has no earlier recorded text, and defines no view or function to drop: undo it by hand, then `pgshift forget {}`",
            shell_word(m.version.as_str())
        )]);
    }
    super::prepare_source(m, &std::sync::Arc::new(drops), opts.values)
}

/// A migration whose file changed since it was applied is not undone by its down file.
fn refuse_modified(versions: &[String], status: &status::Status) -> Result<(), DeployError> {
    let modified = versions.iter().find(|v| {
        status
            .entries
            .iter()
            .any(|e| &e.version == *v && e.state == State::Modified)
    });
    match modified {
        Some(v) => Err(blocked(
            format!("{v} changed since it was applied: its down file may not undo what ran"),
            format!(
                "restore the file as it was applied, or accept it with `pgshift repair {v}` first"
            ),
        )),
        None => Ok(()),
    }
}

/// The down file's path, as shown (for a repeatable, what undoes it).
fn down_path(m: &crate::migration::Migration, p: &Prepared) -> String {
    if m.is_repeatable() {
        return if p.record_text.is_some() {
            "its earlier recorded text".into()
        } else {
            "the drop of its views and functions".into()
        };
    }
    m.down
        .as_ref()
        .map_or(String::new(), |d| d.path.display().to_string())
}

/// Every down file there and prepared before anything runs; otherwise what is missing, each
/// with what to do instead.
fn prepare_downs<'s>(
    set: &'s MigrationSet,
    versions: &[String],
    texts: &HashMap<String, Texts>,
    opts: &RollbackOptions<'_>,
) -> Result<Vec<(Prepared, &'s crate::migration::Migration)>, DeployError> {
    let t = &opts.tracking;
    let mut prepared = Vec::new();
    let mut problems = Vec::new();
    let mut suggested = Vec::new();
    for v in versions {
        let m = Version::parse_reference(v)
            .ok()
            .and_then(|ver| set.get(&ver));
        // A version from the database is shown escaped (it may hold a line break), and as a
        // shell word where it is to be typed.
        let (raw, v, w) = (v.as_str(), u(v), shell_word(v));
        let Some(m) = m else {
            problems.push(format!("{v} has no file (recorded in {})", t.display()));
            continue;
        };
        if m.is_repeatable() {
            match undo_repeatable(m, texts.get(raw), opts) {
                Ok(p) => prepared.push((p, m)),
                Err(mut why) => problems.append(&mut why),
            }
            continue;
        }
        match super::prepare_down(m, opts.values) {
            None => problems.push(match backup_before(&opts.backup_dir, raw) {
                // One command per backup: several migrations undone by the same restore name
                // it once.
                Some(b) if suggested.contains(&b) => format!("{v} has no down file ({v}.down.sql): the same backup undoes it"),
                Some(b) => {
                    let line = format!("{v} has no down file ({v}.down.sql): restore the backup taken before it instead, `pgshift rollback --from-backup {b}`");
                    suggested.push(b);
                    line
                }
                None => format!("{v} has no down file ({v}.down.sql), and no backup taken before it is in {}: undo it by hand, then `pgshift forget {w}`", opts.backup_dir.display()),
            }),
            Some(Err(mut why)) => problems.append(&mut why),
            // A down file with no statement (the template `new` writes) would undo nothing and
            // remove the record: refused.
            Some(Ok(p)) if p.statements.is_empty() => problems.push(format!(
                "{v}'s down file ({}) holds no SQL yet: write the statements that undo {v}",
                down_path(m, &p)
            )),
            Some(Ok(p)) => prepared.push((p, m)),
        }
    }
    if !problems.is_empty() {
        return Err(blocked(
            format!("nothing was rolled back:\n  {}", problems.join("\n  ")),
            "add the missing down files, or restore a backup with --from-backup".into(),
        ));
    }
    Ok(prepared)
}

/// The plan of a rollback: each migration with how its down file runs.
fn plan_event(prepared: &[(Prepared, &crate::migration::Migration)], dry_run: bool) -> Event {
    Event::Plan {
        to_run: prepared
            .iter()
            .map(|(p, m)| PlanItem {
                version: p.version.clone(),
                mode: format!("{} (down: {})", p.mode, down_path(m, p)),
                out_of_order: false,
            })
            .collect(),
        variables: Vec::new(),
        dry_run,
        backup: None,
        undo: true,
        rehearse: false,
    }
}

/// Runs the down files in order, each with its record's removal (and its row in the Supabase
/// CLI's history); stops at the first failure or interruption.
async fn run_downs(
    prepared: &[(Prepared, &crate::migration::Migration)],
    set: &MigrationSet,
    spec: &ConnectionSpec,
    opts: &RollbackOptions<'_>,
    session: &mut Session,
    supabase_history: bool,
    out: &Emitter<'_>,
) -> Result<RollbackOutcome, DeployError> {
    let (t, env) = (&opts.tracking, opts.environment.as_str());
    let applier = Applier::new(
        Setup {
            client: &session.client,
            tracking: t,
            environment: env,
            timeout: opts.timeout,
            interrupt: opts.interrupt.clone(),
            session_sql: &session.settings,
            lock_retries: opts.lock_retries,
            debug: opts.debug,
            async_commit: true,
        },
        new_run_id(),
        spec,
        out,
    );
    let ctx = applier.context();
    let mut outcome = RollbackOutcome::default();
    let total = prepared.len();
    // SIGINT and SIGTERM are finished here: the down file cancelled, rolled back, recorded.
    let _handling = crate::interrupt::Handling::start();
    for (index, (p, m)) in prepared.iter().enumerate() {
        if applier.interrupted() {
            outcome.interrupted = true;
            break;
        }
        applier.starting(
            &p.version,
            index + 1,
            total,
            format!("rollback, {}", p.mode),
        );
        let bookkeeping = |time: &str| undone_sql(&ctx, (p, m), supabase_history, time);
        let mut result = applier
            .run(p, &mut session.notices, &|| false, || {
                execute::run_file(&ctx, p, 0, None, &bookkeeping, false)
            })
            .await;
        if let Err(f) = &result {
            if m.is_repeatable()
                && p.record_text.is_some()
                && !f.bookkeeping
                && super::replace::cannot_replace(f.sqlstate.as_deref())
            {
                let again = Again {
                    applier: &applier,
                    ctx: &ctx,
                    set,
                    opts,
                    out,
                };
                result = again
                    .replace_whole(p, f.clone(), &session.client, &mut session.notices)
                    .await;
            }
        }
        let f = match result {
            Ok(d) => {
                outcome.rolled_back.push(p.version.clone());
                out.emit(Event::RolledBack {
                    version: p.version.clone(),
                    ms: d.as_millis(),
                });
                continue;
            }
            Err(f) => f,
        };
        let position = f.offset.and_then(|o| {
            let d = m.down.as_ref()?;
            Some(d.locate(p.sub.to_source(o), 1).to_string())
        });
        // The record stays (the migration is still applied); the failure is an event.
        let event = t.event_sql(ctx.run_id, "rollback_failed", Some(&p.version), env, &serde_json::json!({ "sqlstate": f.sqlstate, "message": f.message, "position": position }));
        if let Err(e) =
            execute::record_after_failure(&ctx, &format!("BEGIN;\n{event}\nCOMMIT;")).await
        {
            out.warn(format!(
                "could not record the failed rollback of {}: {}",
                p.version,
                db_err(e)
            ));
        }
        outcome.failed = true;
        outcome.interrupted = f.cause == Cause::Interrupted;
        let help = after_failed_down(p, &f);
        applier.failed(&p.version, f, position, help);
        break;
    }
    Ok(outcome)
}

/// What stayed of a down file that failed, and what to do.
fn after_failed_down(p: &Prepared, f: &crate::db::execute::Failure) -> String {
    let v = &p.version;
    match (&p.mode, f.cause) {
        (_, Cause::ConnectionLost) => format!("the connection broke while rolling back {v}: the server rolls back the open transaction; check the server and `pgshift status`"),
        (Mode::Transaction, _) => format!("the rollback of {v} was itself rolled back: {v} is still applied and recorded. Fix its down file and run `pgshift rollback` again"),
        _ => format!("{v}'s down file runs without a transaction: what it did before the failing statement stays; {v} is still recorded as applied. Check the database, fix the down file, and run the rollback again"),
    }
}

/// What running a repeatable's earlier text again, replaced whole, needs.
struct Again<'r, 'a, 'e> {
    applier: &'r Applier<'a, 'e>,
    ctx: &'r execute::RunContext<'r>,
    set: &'r MigrationSet,
    opts: &'r RollbackOptions<'r>,
    out: &'r Emitter<'e>,
}

impl Again<'_, '_, '_> {
    /// The earlier text's CREATE OR REPLACE was refused: its objects are dropped with what
    /// depends on them, it runs, and those are made again, in one transaction.
    async fn replace_whole(
        &self,
        p: &Prepared,
        refused: execute::Failure,
        client: &tokio_postgres::Client,
        notices: &mut super::session::Notices,
    ) -> Result<Duration, execute::Failure> {
        let c = super::replace::Context {
            client,
            set: self.set,
            values: self.opts.values,
            run: self.ctx,
            out: self.out,
        };
        let (q, after) = super::replace::whole(&c, p, refused).await?;
        let again = |time: &str| {
            let mut sql = execute::recorded_sql(self.ctx, &q, time, "rolled_back");
            sql.push_str(&after);
            sql
        };
        self.applier
            .run(&q, notices, &|| false, || {
                execute::run_file(self.ctx, &q, 0, None, &again, false)
            })
            .await
            .map_err(|f| super::replace::dependents_failed(&p.version, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `n` migrations, each depending on the one before.
    fn chain(n: usize) -> Plan {
        let files: Vec<(std::path::PathBuf, std::io::Result<Vec<u8>>)> = (0..n)
            .map(|i| {
                let dep = if i == 0 {
                    String::new()
                } else {
                    format!("-- @depends-on: 2026-01-01_m{:05}.sql\n", i - 1)
                };
                (
                    std::path::PathBuf::from(format!("m/2026-01-01_m{i:05}.sql")),
                    std::io::Result::Ok(format!("{dep}SELECT {i};").into_bytes()),
                )
            })
            .collect();
        let set = crate::migration::from_files(
            std::path::Path::new("m"),
            files,
            Environment::Development,
        );
        crate::plan::plan(&set).expect("a chain has an order")
    }

    /// The root of a 20,000-long chain took minutes when each pass found one more level; one
    /// pass in plan order finds them all (a regression shows as this test outliving CI).
    #[test]
    fn dependents_of_a_long_chain_are_found_in_one_pass() {
        let n = 20_000;
        let plan = chain(n);
        let versions: Vec<String> = plan.steps.iter().map(|s| s.version.to_string()).collect();
        let applied: BTreeSet<&str> = versions.iter().map(String::as_str).collect();
        let root: BTreeSet<String> = [versions[0].clone()].into();
        let found = dependents_of(&plan, &applied, &root);
        assert_eq!(found.len(), n - 1);
        assert!(!found.contains(&versions[0]));
        // From the middle: only what comes after depends on it; a gap of one not applied
        // breaks the chain there.
        let middle: BTreeSet<String> = [versions[n / 2].clone()].into();
        let mut some: BTreeSet<&str> = applied.clone();
        some.remove(versions[n / 2 + 10].as_str());
        let found = dependents_of(&plan, &some, &middle);
        assert_eq!(found.len(), 9);
    }
}
