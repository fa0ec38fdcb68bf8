//! The advisory lock around a whole run: two deployers never interleave. The second waits up
//! to the lock timeout, then reports who holds it.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::tracking::Tracking;

/// The session holding the deploy lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub application: String,
    pub user: String,
    pub client: String,
    pub since: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {} ({}, user {}, from {}), connected since {}",
            self.pid, self.application, self.user, self.client, self.since
        )
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another deploy holds the lock on {table}: {holder}")]
    Busy {
        table: String,
        holder: String,
        waited: Duration,
    },
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
}

/// Takes the session-level advisory lock of `tracking`, polling until `timeout`. Calls
/// `waiting` once, with the holder, when it has to wait.
pub async fn acquire(
    client: &Client,
    tracking: &Tracking,
    timeout: Duration,
    mut waiting: impl FnMut(&Holder),
) -> Result<(), LockError> {
    let key = tracking.lock_key();
    let start = Instant::now();
    let mut told = false;
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?
            .get(0);
        if got {
            return Ok(());
        }
        let holder = holder(client, key).await?;
        if !told {
            if let Some(h) = &holder {
                waiting(h);
            }
            told = true;
        }
        if start.elapsed() >= timeout {
            return Err(LockError::Busy {
                table: tracking.display(),
                holder: holder.map_or_else(
                    || "a session that has just ended".to_string(),
                    |h| h.to_string(),
                ),
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Releases the lock (also released when the session ends, however it ends).
pub async fn release(client: &Client, tracking: &Tracking) -> Result<(), tokio_postgres::Error> {
    client
        .query_one("SELECT pg_advisory_unlock($1)", &[&tracking.lock_key()])
        .await
        .map(|_| ())
}

/// Who holds the advisory lock `key`, if anyone.
pub async fn holder(client: &Client, key: i64) -> Result<Option<Holder>, tokio_postgres::Error> {
    let hi = (key >> 32) as u32 as i64;
    let lo = key as u32 as i64;
    let row = client
        .query_opt(
            "SELECT a.pid, coalesce(nullif(a.application_name, ''), 'unnamed application'), coalesce(a.usename::text, '?'),
                    coalesce(host(a.client_addr), 'local socket'),
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[&hi, &lo],
        )
        .await?;
    Ok(row.map(|r| Holder {
        pid: r.get(0),
        application: r.get(1),
        user: r.get(2),
        client: r.get(3),
        since: r.get(4),
    }))
}
