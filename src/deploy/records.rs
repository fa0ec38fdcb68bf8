//! `repair`, `forget` and `baseline`: changes to the tracking records alone; nothing of any
//! migration runs. Each takes the deploy lock, goes through the environment gate, changes the
//! records in one transaction, and leaves an event saying who did what, when.

use std::time::Duration;

use serde::Serialize;

use super::status::{self, State, Status};
use super::{db_err, ensure, new_run_id, open_locked, DeployError, Emitter, Event, Locking};
use crate::config::Environment;
use crate::db::connect::ConnectionSpec;
use crate::db::tracking::{Record, Tracking};
use crate::migration::MigrationSet;
use crate::plan::Plan;

/// How to change records.
pub struct RecordOptions<'a> {
    /// The environment (its gate).
    pub environment: Environment,
    /// Where the records are kept.
    pub tracking: Tracking,
    /// How long to wait for another deployer's lock.
    pub lock_wait: Duration,
    /// The environment gate, with a line per change about to be made.
    pub gate: &'a (dyn Fn(&[String]) -> Result<(), DeployError> + Sync),
}

/// One record changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordChange {
    /// The migration's version.
    pub version: String,
    /// `repaired`, `forgotten`, `baseline`: also the event's name.
    pub action: String,
    /// What changed in the record.
    pub detail: String,
}

/// What a change does, before it is made: the line shown (and confirmed), its SQL, its event.
struct Planned {
    change: RecordChange,
    sql: String,
}

fn blocked(message: String, help: &str) -> DeployError {
    DeployError::Blocked {
        message,
        help: help.to_string(),
    }
}

fn short(checksum: &str) -> &str {
    &checksum[..checksum.len().min(12)]
}

/// `repair VERSION`: accept the file's current checksum for an applied migration whose file
/// changed, or clear a failed record so that the next deploy runs it again.
pub async fn repair(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &RecordOptions<'_>,
    version: &str,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Vec<RecordChange>, DeployError> {
    change(set, plan, spec, opts, on, false, |status, t, run_id, env| {
        let entry = find(status, version)?;
        let m = set
            .migrations
            .iter()
            .find(|m| m.version.as_str() == version);
        let (action_detail, sql) = match (&entry.state, m) {
            (State::Modified | State::Applied { cosmetic_change: true }, Some(m)) => {
                let normalized = status::normalized(m);
                let previous = entry.checksum.clone().unwrap_or_default();
                (
                    format!(
                        "the recorded checksum is now the file's ({} → {}); the migration is not run again",
                        short(&previous),
                        short(m.checksum.as_str())
                    ),
                    format!(
                        "{}\n{}",
                        t.accept_checksum_sql(version, m.checksum.as_str(), &normalized),
                        t.event_sql(
                            run_id,
                            "repaired",
                            Some(version),
                            env,
                            &serde_json::json!({ "accepted_checksum": m.checksum.as_str(), "previous_checksum": previous }),
                        )
                    ),
                )
            }
            (State::Failed { message }, _) => (
                "cleared the failed record: the next `pgshift migrate` runs it again".to_string(),
                format!(
                    "{}\n{}",
                    t.delete_sql(version),
                    t.event_sql(
                        run_id,
                        "repaired",
                        Some(version),
                        env,
                        &serde_json::json!({ "cleared": "failed", "error_message": message }),
                    )
                ),
            ),
            (State::Damaged { problem }, m) if version != crate::db::tracking::NULL_VERSION => {
                let (checksum, normalized) = m.map_or((String::new(), String::new()), |m| {
                    (m.checksum.as_str().to_string(), status::normalized(m))
                });
                (
                    format!(
                        "its record is mended ({problem}): the newest row kept, what was NULL filled{}; nothing is run",
                        if m.is_some() { " (the checksum with the file's)" } else { "" }
                    ),
                    format!(
                        "{}\n{}",
                        t.mend_sql(version, &checksum, &normalized),
                        t.event_sql(
                            run_id,
                            "repaired",
                            Some(version),
                            env,
                            &serde_json::json!({ "mended": problem }),
                        )
                    ),
                )
            }
            (state, m) => return Err(not_repairable(state, m.is_some(), version)),
        };
        Ok(vec![Planned {
            change: RecordChange {
                version: version.to_string(),
                action: "repaired".into(),
                detail: action_detail,
            },
            sql,
        }])
    })
    .await
}

/// Why `version` in `state` has nothing a repair can do (`has_file`: its file is there).
fn not_repairable(state: &State, has_file: bool, version: &str) -> DeployError {
    match (state, has_file) {
        (State::Damaged { .. }, _) => blocked(
            "a record without a version cannot be mended: no migration can be matched to it".into(),
            &format!("`pgshift forget '{v}'` removes the records whose version is NULL", v = crate::db::tracking::NULL_VERSION),
        ),
        (State::Partial { statements_done, .. }, _) => {
            blocked(
                format!("{statements_done} statement(s) of {version} ran and stay applied: a repair cannot undo them"),
                &format!("`pgshift migrate` resumes it after them; to start it over, undo them by hand, then `pgshift forget {version}`"),
            )
        }
        (State::Applied { .. }, _) => {
            blocked(
                format!("{version} is applied and its file is unchanged: nothing to repair"),
                "`pgshift status` shows what needs a repair (MODIFIED or FAILED)",
            )
        }
        (State::Unknown, _) => {
            blocked(
                format!("{version} is recorded but has no file: there is no checksum to accept"),
                &format!("`pgshift forget {version}` removes its record"),
            )
        }
        (State::Pending { .. } | State::NotForEnvironment | State::NoSql, _)
        | (State::Modified, false) => {
            blocked(
                format!("{version} is not recorded: nothing to repair"),
                "`pgshift status` lists the recorded migrations",
            )
        }
        (State::Covered | State::PartlyCovered { .. }, _) => blocked(
            format!("{version} is a baseline that is not recorded: nothing to repair"),
            "`pgshift status` says what the database has of the versions it replaces",
        ),
        (State::Changed, _) => blocked(
            format!("{version} is a repeatable migration whose SQL changed: it runs again on the next deploy, nothing to repair"),
            "`pgshift migrate` runs it",
        ),
        (State::Modified | State::Failed { .. }, _) => blocked(
            format!("{version} has nothing a repair can do"),
            "`pgshift status` shows what needs a repair (MODIFIED or FAILED)",
        ),
    }
}

/// `forget VERSION`: delete the record, running nothing; the schema stays as it is. The guide's
/// "partial rollback" (`DELETE FROM schema_migrations WHERE version = …`), with an event.
pub async fn forget(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &RecordOptions<'_>,
    version: &str,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Vec<RecordChange>, DeployError> {
    change(set, plan, spec, opts, on, false, |status, t, run_id, env| {
        let entry = find(status, version)?;
        if matches!(
            entry.state,
            State::Pending { .. } | State::NotForEnvironment | State::NoSql
        ) {
            return Err(blocked(
                format!("{version} is not recorded: nothing to forget"),
                "`pgshift status` lists the recorded migrations",
            ));
        }
        let was = match &entry.state {
            State::Applied { .. } | State::Modified | State::Changed => "applied",
            State::Failed { .. } => "failed",
            State::Partial { .. } => "partial",
            _ => "recorded",
        };
        let detail = if entry.state == State::Unknown {
            "its record is removed (it had no file)".to_string()
        } else {
            format!("its record ({was}) is removed; nothing was run, the schema is as it was: the next `pgshift migrate` runs it again")
        };
        Ok(vec![Planned {
            change: RecordChange {
                version: version.to_string(),
                action: "forgotten".into(),
                detail,
            },
            sql: format!(
                "{}\n{}\n{}",
                t.delete_sql(version),
                t.primary_key_sql(),
                t.event_sql(
                    run_id,
                    "forgotten",
                    Some(version),
                    env,
                    &serde_json::json!({ "was": was, "checksum": entry.checksum, "executed_at": entry.executed_at }),
                )
            ),
        }])
    })
    .await
}

/// `baseline VERSION`: mark every migration up to VERSION (in plan order) applied without
/// running it, for a database that already has them. Migrations `@env` keeps out of this
/// environment are left alone.
pub async fn baseline(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &RecordOptions<'_>,
    version: &str,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<Vec<RecordChange>, DeployError> {
    change(set, plan, spec, opts, on, true, |status, t, run_id, env| {
        if !status.entries.iter().any(|e| e.version == version && e.state != State::Unknown) {
            return Err(blocked(
                format!("{version} is not a migration in {}", set.dir.display()),
                "`pgshift order` lists the versions, in the order a baseline follows",
            ));
        }
        let mut planned = Vec::new();
        for e in &status.entries {
            if e.state == State::Modified {
                return Err(blocked(
                    format!("{} changed since it was applied: baseline would record a history that is not the database's", e.version),
                    &format!("restore the file, or accept it first with `pgshift repair {}`", e.version),
                ));
            }
            if matches!(e.state, State::Pending { .. } | State::Failed { .. } | State::Partial { .. }) {
                let Some(m) = set.migrations.iter().find(|m| m.version.as_str() == e.version) else {
                    continue;
                };
                planned.push(Planned {
                    change: RecordChange {
                        version: e.version.clone(),
                        action: "baseline".into(),
                        detail: "recorded as applied; nothing was run".into(),
                    },
                    sql: applied_without_running(
                        t,
                        m,
                        run_id,
                        env,
                        &serde_json::json!({ "baseline": version }),
                    ),
                });
            }
            if e.version == version {
                break;
            }
        }
        if planned.is_empty() {
            return Err(blocked(
                format!("every migration up to {version} is already recorded as applied: nothing to baseline"),
                "`pgshift status` shows the records",
            ));
        }
        Ok(planned)
    })
    .await
}

/// `adopt --from TOOL`: every imported migration (its header names its source version) that
/// `tool`'s history table says was applied is recorded as applied, with an `adopted` event
/// naming the source; nothing runs. The next `migrate` applies only the rest. The other
/// tool's table is only read.
pub async fn adopt(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &RecordOptions<'_>,
    tool: crate::import::Tool,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<(Vec<RecordChange>, Vec<String>), DeployError> {
    use crate::import::history;
    let (applied, warnings) = {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let started = std::time::Instant::now();
        let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
        spec.first_answer(started, history::applied(&client, tool))
            .await
            .map_err(DeployError::Connect)?
            .map_err(db_err)?
            .map_err(|e| DeployError::Blocked {
                message: e.message,
                help: e.help,
            })?
    };
    let changes = change(set, plan, spec, opts, on, true, |status, t, run_id, env| {
        let mut planned = Vec::new();
        let mut imported = 0;
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        for e in &status.entries {
            let Some(m) = set.migrations.iter().find(|m| m.version.as_str() == e.version) else {
                continue;
            };
            let Some(source) = crate::import::source_version(tool, &m.source) else {
                continue;
            };
            imported += 1;
            let base = source.split(['@', '#']).next().unwrap_or(source).to_string();
            let nth = *seen.entry(base.clone()).and_modify(|n| *n += 1).or_insert(0);
            if !matches!(e.state, State::Pending { .. } | State::Failed { .. } | State::Partial { .. })
                || !history::is_applied(tool, &applied, source, nth)
            {
                continue;
            }
            planned.push(Planned {
                change: RecordChange {
                    version: e.version.clone(),
                    action: "adopted".into(),
                    detail: format!("{} applied it (version {source}); recorded as applied, nothing was run", tool.name()),
                },
                sql: applied_without_running(
                    t,
                    m,
                    run_id,
                    env,
                    &serde_json::json!({ "adopted_from": tool.name(), "source_version": source }),
                ),
            });
        }
        if imported == 0 {
            return Err(blocked(
                format!("no migration in {} was imported from {}", set.dir.display(), tool.name()),
                &format!("import the set first: `pgshift import --from {} SOURCE`", tool.name()),
            ));
        }
        if planned.is_empty() {
            return Err(blocked(
                format!(
                    "nothing to adopt: none of the {imported} migration(s) imported from {} is both pending here and applied by {} ({} version(s) in its history)",
                    tool.name(),
                    tool.name(),
                    applied.len()
                ),
                "`pgshift status` shows what is recorded; `pgshift migrate` applies what is pending",
            ));
        }
        Ok(planned)
    })
    .await?;
    Ok((changes, warnings))
}

/// The record of `m` as applied, with a `baseline` event carrying `detail`: what `baseline` and
/// `adopt` write for a migration that ran elsewhere.
fn applied_without_running(
    t: &Tracking,
    m: &crate::migration::Migration,
    run_id: &str,
    env: &str,
    detail: &serde_json::Value,
) -> String {
    let normalized = status::normalized(m);
    let record = Record {
        version: m.version.as_str(),
        checksum: m.checksum.as_str(),
        normalized_checksum: Some(&normalized),
        success: true,
        error_message: None,
        sqlstate: None,
        error_position: None,
        statements_done: None,
        run_id,
        environment: env,
        time_ms: "0".into(),
    };
    t.record_sql(&record, "baseline", detail)
}

/// The entry of `version` in the comparison, or an error naming it.
fn find<'s>(status: &'s Status, version: &str) -> Result<&'s status::Entry, DeployError> {
    status
        .entries
        .iter()
        .find(|e| e.version == version)
        .ok_or_else(|| {
            blocked(
                format!("{version} is neither a migration file nor a recorded version"),
                "`pgshift status` lists both",
            )
        })
}

/// Session, lock, records read, the change planned, the gate, the change made in one
/// transaction with its events.
#[allow(clippy::too_many_arguments)]
async fn change(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &RecordOptions<'_>,
    on: &mut (dyn FnMut(Event) + Send),
    create_tables: bool,
    planner: impl Fn(&Status, &Tracking, &str, &str) -> Result<Vec<Planned>, DeployError>,
) -> Result<Vec<RecordChange>, DeployError> {
    let out = Emitter(std::sync::Mutex::new(on));
    let t = &opts.tracking;
    let (mut session, _) = open_locked(
        spec,
        |_| String::new(),
        opts.environment,
        t,
        opts.lock_wait,
        Locking::On,
        &out,
    )
    .await?;
    let result = async {
        let rows = t.rows(&session.client).await.map_err(db_err)?;
        let status = status::compare(set, plan, &rows, opts.environment);
        let run_id = new_run_id();
        let planned = planner(&status, t, &run_id, opts.environment.as_str())?;
        let lines: Vec<String> = planned
            .iter()
            .map(|p| {
                format!(
                    "{} {}: {}",
                    p.change.action, p.change.version, p.change.detail
                )
            })
            .collect();
        (opts.gate)(&lines)?;
        if create_tables || !rows.is_empty() {
            ensure(t, &session.client, spec).await?;
        }
        // Only baseline records through the prepared statement.
        if create_tables {
            t.prepare_record(&session.client).await.map_err(db_err)?;
        }
        let sql: Vec<&str> = planned.iter().map(|p| p.sql.as_str()).collect();
        session
            .client
            .batch_execute(&format!("BEGIN;\n{}\nCOMMIT;", sql.join("\n")))
            .await
            .map_err(db_err)?;
        session.drain();
        Ok(planned.into_iter().map(|p| p.change).collect::<Vec<_>>())
    }
    .await;
    session.unlock(t).await;
    let changes = result?;
    for c in &changes {
        out.emit(Event::Recorded {
            version: c.version.clone(),
            action: c.action.clone(),
            detail: c.detail.clone(),
        });
    }
    Ok(changes)
}
