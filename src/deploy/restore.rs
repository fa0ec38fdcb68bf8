//! Restoring a backup (`backup restore FILE`, `rollback --from-backup`): the deploy lock, the
//! environment gate (what the backup is, and which applied migrations it undoes), the file read
//! back whole, then psql in one transaction; afterwards the tracking tables are those of the
//! backup, brought to this pgshift's layout, and a `restored` event says who did it and when.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{db_err, ensure, new_run_id, open_locked, DeployError, Emitter, Event, Locking};
use crate::backup::{self, coverage, BackupError, DbObject, Server};
use crate::config::Environment;
use crate::db::connect::ConnectionSpec;
use crate::db::tracking::Tracking;

/// How to restore.
pub struct RestoreOptions<'a> {
    /// The environment (its gate).
    pub environment: Environment,
    /// Where the records are kept.
    pub tracking: Tracking,
    /// How long to wait for another deployer's lock.
    pub lock_wait: Duration,
    /// `[backup] psql`; found by version when `None`.
    pub psql: Option<PathBuf>,
    /// The environment gate, with what the restore changes.
    pub gate: &'a (dyn Fn(&[String]) -> Result<(), DeployError> + Sync),
    /// The database the backup was taken of, named by the user (`--from-database`): needed to
    /// restore a backup into another database, or one without a manifest.
    pub from_database: Option<String>,
    /// Show what the restore would do (the `Restoring` event), ask nothing, change nothing.
    pub dry_run: bool,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreOutcome {
    /// Migrations that were applied and are not in the backup.
    pub undone: Vec<String>,
    /// Objects the backup did not hold, dropped.
    pub dropped: Vec<String>,
    /// Nothing was done: a dry run.
    pub dry_run: bool,
}

fn backup_error(spec: &ConnectionSpec) -> impl Fn(BackupError) -> DeployError + '_ {
    move |error| DeployError::Restore {
        target: spec.describe(),
        error,
    }
}

/// Refuses a restore into a database the backup was not taken of, unless the user named that
/// source (`--from-database`); and one whose source is unknown (no manifest) unless named.
/// Returns the line the gate shows when the source was named.
pub fn check_source(
    spec: &ConnectionSpec,
    file: &Path,
    manifest: Option<&backup::Manifest>,
    from_database: Option<&str>,
) -> Result<Option<String>, DeployError> {
    let target = spec.database();
    let shown = file.display();
    match (manifest, from_database) {
        (Some(m), named) if m.database == target && named.is_none_or(|n| n == m.database) => {
            Ok(None)
        }
        (Some(m), Some(named)) if named == m.database => Ok(Some(format!(
            "restores a backup of database {} ({}) into {} (--from-database {named})",
            m.database,
            m.target,
            spec.describe()
        ))),
        (Some(m), Some(named)) => Err(DeployError::Refused {
            message: format!(
                "refusing to restore {shown}: it was taken of database {} ({}), not {named} as --from-database says; nothing was changed in {}",
                m.database,
                m.target,
                spec.describe()
            ),
            help: format!("check which backup you meant (`pgshift backup list`); --from-database takes the name of the database it was taken of ({})", m.database),
        }),
        (Some(m), None) => Err(DeployError::Refused {
            message: format!(
                "refusing to restore {shown} into {}: it was taken of database {} ({}); a restore replaces the schema and data and drops what the backup does not hold, so it only goes into another database when you name the source; nothing was changed",
                spec.describe(),
                m.database,
                m.target
            ),
            help: format!(
                "to restore it where it came from, point DATABASE_URL at {}; to restore it into {target} anyway, pass --from-database {}",
                m.target, m.database
            ),
        }),
        (None, Some(named)) => Ok(Some(format!(
            "restores a backup without a manifest, said to be of database {named} (--from-database), into {}",
            spec.describe()
        ))),
        (None, None) => Err(DeployError::Refused {
            message: format!(
                "refusing to restore {shown} into {}: it has no manifest ({shown}.json), so pgshift cannot tell which database it was taken of; nothing was changed",
                spec.describe()
            ),
            help: format!(
                "if it was taken of this database, pass --from-database {target} (or the name of the database it was taken of)"
            ),
        }),
    }
}

/// What a restore of `file` does besides the dump, read from the database and the file (read
/// back whole first: a damaged one is refused before anyone is asked), with what the gate
/// shows of it. Refuses, changing nothing, when something in a schema the backup leaves out
/// depends on what it re-creates and cannot be made again (a view, a column).
async fn plan(
    client: &tokio_postgres::Client,
    spec: &ConnectionSpec,
    file: &Path,
    manifest: Option<&backup::Manifest>,
) -> Result<(backup::RestorePlan, Vec<String>), DeployError> {
    let outside = match manifest.and_then(|m| m.outside.clone()) {
        Some(o) => o,
        None => coverage::outside(client).await.map_err(db_err)?,
    };
    let current: Vec<DbObject> = client
        .query(backup::OBJECTS_SQL, &[&outside])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| DbObject {
            kind: r.get(0),
            name: r.get(1),
        })
        .collect();
    let dependents = coverage::dependents(client, &outside)
        .await
        .map_err(db_err)?;
    let others = coverage::others(client).await.map_err(db_err)?;
    let path = file.to_path_buf();
    let held = tokio::task::spawn_blocking(move || {
        backup::verify(&path, &mut |_| {})?;
        backup::held(&path)
    })
    .await
    .map_err(|e| DeployError::Db(format!("reading the backup stopped: {e}")))?
    .map_err(backup_error(spec))?;
    let stuck: Vec<String> = dependents
        .iter()
        .filter(|d| d.definition.is_none())
        .map(|d| format!("{} (it needs {})", d.describe(), needs(d)))
        .collect();
    if !stuck.is_empty() {
        return Err(DeployError::Refused {
            message: format!(
                "refusing to restore {} into {}: objects in schemas the backup leaves out ({}) depend on objects it re-creates, and a restore would drop them with their data: {}; nothing was changed",
                file.display(),
                spec.describe(),
                outside.join(", "),
                stuck.join("; ")
            ),
            help: "drop or change them first (they are not the backup's to restore), then restore again".into(),
        });
    }
    let (remake, lost): (Vec<_>, Vec<_>) = dependents.into_iter().partition(|d| d.kept_by(&held));
    let mut lines = Vec::new();
    if !outside.is_empty() {
        lines.push(format!(
            "leaves the schemas it does not hold as they are now (the platform's): {}",
            outside.join(", ")
        ));
    }
    if !remake.is_empty() {
        lines.push(format!(
            "makes again, after the restore, what those schemas hold that depends on the backup's objects: {}",
            remake.iter().map(|d| d.describe()).collect::<Vec<_>>().join(", ")
        ));
    }
    if !lost.is_empty() {
        lines.push(format!(
            "DROPS, with what they need and the backup does not hold: {}",
            lost.iter()
                .map(|d| format!("{} (needs {})", d.describe(), needs(d)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let plan = backup::RestorePlan {
        drops: backup::not_held(&held, &current),
        remake,
        others,
    };
    Ok((plan, lines))
}

/// `FUNCTION public.f(), TABLE public.t`.
fn needs(d: &coverage::Dependent) -> String {
    d.needs
        .iter()
        .map(|n| format!("{} {}", n.kind, n.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the restore shows before it starts, and the gate asks about: the backup, its source
/// when named, the migrations it undoes, and what it drops.
fn gate_lines(
    file: &Path,
    manifest: Option<&backup::Manifest>,
    source: Option<String>,
    undone: &[String],
    drops: &[DbObject],
) -> Vec<String> {
    let mut changes = vec![match manifest {
        Some(m) => format!(
            "restore {} (taken {} of {}, {} migration(s) applied then{})",
            file.display(),
            m.created_at,
            m.target,
            m.applied.len(),
            m.applied
                .last()
                .map(|v| format!(", the last {v}"))
                .unwrap_or_default()
        ),
        None => format!("restore {} (it has no manifest)", file.display()),
    }];
    changes.extend(source);
    changes.push(if undone.is_empty() {
        "undoes no migration: every one applied now was applied when it was taken".to_string()
    } else {
        format!("undoes the migrations applied since: {}", undone.join(", "))
    });
    if !drops.is_empty() {
        let names: Vec<String> = drops
            .iter()
            .take(SHOWN_DROPS)
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect();
        let more = drops.len().saturating_sub(SHOWN_DROPS);
        changes.push(format!(
            "DROPS what the backup does not hold, with CASCADE (and its data): {}{}",
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    changes
}

/// How many of the objects to drop the gate lists by name.
const SHOWN_DROPS: usize = 20;

/// Restores `file` into `spec`'s database.
pub async fn restore(
    spec: &ConnectionSpec,
    opts: &RestoreOptions<'_>,
    file: &Path,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<RestoreOutcome, DeployError> {
    let started = Instant::now();
    let manifest = backup::manifest(file);
    let source = check_source(spec, file, manifest.as_ref(), opts.from_database.as_deref())?;
    let out = Emitter(std::sync::Mutex::new(on));
    let t = &opts.tracking;
    let (session, _) = open_locked(
        spec,
        |_| String::new(),
        opts.environment,
        t,
        opts.lock_wait,
        Locking::when(!opts.dry_run),
        &out,
    )
    .await?;
    let result = async {
        let rows = t.rows(&session.client).await.map_err(db_err)?;
        let undone: Vec<String> = rows
            .iter()
            .filter(|r| r.success)
            .filter(|r| {
                manifest
                    .as_ref()
                    .is_none_or(|m| !m.applied.contains(&r.version))
            })
            .map(|r| r.version.clone())
            .collect();
        let (plan, coverage) = plan(&session.client, spec, file, manifest.as_ref()).await?;
        let mut changes = gate_lines(file, manifest.as_ref(), source, &undone, &plan.drops);
        changes.extend(coverage);
        out.emit(Event::Restoring {
            changes: changes.clone(),
        });
        if opts.dry_run {
            let dropped = plan.drops.iter().map(|o| format!("{} {}", o.kind, o.name));
            return Ok((None, dropped.collect(), undone));
        }
        (opts.gate)(&changes)?;
        let server = Server {
            version: session.server_version.clone(),
            major: (session.version_num / 10000) as u32,
            outside: Vec::new(),
        };
        let (spec2, path, psql) = (spec.clone(), file.to_path_buf(), opts.psql.clone());
        let restored = tokio::task::spawn_blocking(move || {
            backup::restore(&spec2, &server, &path, psql.as_deref(), &plan, &mut |_| {})
        })
        .await
        .map_err(|e| DeployError::Db(format!("the restore stopped: {e}")))?
        .map_err(backup_error(spec))?;
        // The tracking tables are now the backup's (or none, for a backup taken before the
        // first deploy): bring them to this layout, closed, and say what happened.
        ensure(t, &session.client, spec).await?;
        let detail = serde_json::json!({
            "file": file.display().to_string(),
            "sha256": manifest.as_ref().map(|m| m.sha256.clone()),
            "from_database": manifest.as_ref().map(|m| m.database.clone()).or(opts.from_database.clone()),
            "undone": undone,
            "dropped": restored.dropped,
        });
        session
            .client
            .batch_execute(&t.event_sql(
                &new_run_id(),
                "restored",
                None,
                opts.environment.as_str(),
                &detail,
            ))
            .await
            .map_err(db_err)?;
        Ok((Some(restored.bytes), restored.dropped, undone))
    }
    .await;
    if !opts.dry_run {
        session.unlock(t).await;
    }
    let (bytes, dropped, undone) = result?;
    if let Some(bytes) = bytes {
        out.emit(Event::Restored {
            file: file.display().to_string(),
            bytes,
            ms: started.elapsed().as_millis(),
        });
    }
    Ok(RestoreOutcome {
        undone,
        dropped,
        dry_run: opts.dry_run,
    })
}
