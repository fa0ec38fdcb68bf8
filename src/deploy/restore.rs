//! Restoring a backup (`backup restore FILE`, `rollback --from-backup`): the deploy lock, the
//! environment gate (what the backup is, and which applied migrations it undoes), the file read
//! back whole, then psql in one transaction; afterwards the tracking tables are those of the
//! backup, brought to this pgshift's layout, and a `restored` event says who did it and when.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{db_err, ensure, new_run_id, open_locked, DeployError, Emitter, Event};
use crate::backup::{self, BackupError, DbObject, Server};
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
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreOutcome {
    /// Migrations that were applied and are not in the backup.
    pub undone: Vec<String>,
    /// Objects the backup did not hold, dropped.
    pub dropped: Vec<String>,
}

fn backup_error(spec: &ConnectionSpec) -> impl Fn(BackupError) -> DeployError + '_ {
    move |error| DeployError::Restore {
        target: spec.describe(),
        error,
    }
}

/// Restores `file` into `spec`'s database.
pub async fn restore(
    spec: &ConnectionSpec,
    opts: &RestoreOptions<'_>,
    file: &Path,
    on: &mut (dyn FnMut(Event) + Send),
) -> Result<RestoreOutcome, DeployError> {
    let started = Instant::now();
    let out = Emitter(std::sync::Mutex::new(on));
    let t = &opts.tracking;
    let session = open_locked(
        spec,
        |_| String::new(),
        opts.environment,
        t,
        opts.lock_wait,
        true,
        &out,
    )
    .await?;
    let result = async {
        let manifest = backup::manifest(file);
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
        let mut changes = vec![match &manifest {
            Some(m) => format!(
                "restore {} (taken {} of {}, {} migration(s) applied then)",
                file.display(),
                m.created_at,
                m.target,
                m.applied.len()
            ),
            None => format!("restore {} (it has no manifest)", file.display()),
        }];
        if !undone.is_empty() {
            changes.push(format!(
                "undoes the migrations applied since: {}",
                undone.join(", ")
            ));
        }
        (opts.gate)(&changes)?;
        let server = Server {
            version: session.server_version.clone(),
            major: (session.version_num / 10000) as u32,
        };
        let current: Vec<DbObject> = session
            .client
            .query(backup::OBJECTS_SQL, &[])
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| DbObject {
                kind: r.get(0),
                name: r.get(1),
            })
            .collect();
        let (spec2, path, psql) = (spec.clone(), file.to_path_buf(), opts.psql.clone());
        let restored = tokio::task::spawn_blocking(move || {
            backup::verify(&path, &mut |_| {})?;
            backup::restore(
                &spec2,
                &server,
                &path,
                psql.as_deref(),
                &current,
                &mut |_| {},
            )
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
        Ok((restored, undone))
    }
    .await;
    session.unlock(t).await;
    let (restored, undone) = result?;
    out.emit(Event::Restored {
        file: file.display().to_string(),
        bytes: restored.bytes,
        ms: started.elapsed().as_millis(),
    });
    Ok(RestoreOutcome {
        undone,
        dropped: restored.dropped,
    })
}
