//! The advisory lock around a whole run: two deployers never interleave. The second waits up
//! to the lock timeout, then reports who holds it.

use std::time::{Duration, Instant};

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::tracking::Tracking;

/// The session holding the deploy lock. PostgreSQL shows the address and start time of
/// another role's session only to members of `pg_read_all_stats` (and a lock held by a
/// prepared transaction has no session at all): what is hidden is `None`, never a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The server process; `None` for a prepared transaction.
    pub pid: Option<i32>,
    pub application: Option<String>,
    pub user: Option<String>,
    /// `10.0.0.3` or `local socket`; `None` when hidden from this role.
    pub client: Option<String>,
    /// `2026-11-24 10:00:00 UTC`; `None` when hidden from this role.
    pub since: Option<String>,
}

/// What a pgshift deployer's `application_name` says: `pgshift[pid@host]`, then
/// ` index/total version` while a migration runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployer {
    pub pid: String,
    pub host: String,
    /// `3/10 2026-01-21_add_user_profiles`.
    pub at: Option<String>,
}

impl Deployer {
    pub fn of(application: &str) -> Option<Deployer> {
        let rest = application.strip_prefix("pgshift[")?;
        let (inside, at) = rest.split_once(']')?;
        let (pid, host) = inside.split_once('@')?;
        Some(Deployer {
            pid: pid.to_string(),
            host: host.to_string(),
            at: Some(at.trim().to_string()).filter(|a| !a.is_empty()),
        })
    }
}

impl Holder {
    /// What its `application_name` says of a pgshift deployer.
    pub fn deployer(&self) -> Option<Deployer> {
        Deployer::of(self.application.as_deref()?)
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(pid) = self.pid else {
            return write!(
                f,
                "a prepared transaction (see pg_prepared_xacts: COMMIT PREPARED or ROLLBACK PREPARED ends it)"
            );
        };
        let user = self.user.as_deref().unwrap_or("unknown");
        let session = match (&self.client, &self.since) {
            (Some(client), Some(since)) => {
                format!("server process {pid}, user {user}, from {client}, connected since {since}")
            }
            _ => format!(
                "server process {pid}, user {user}; its address and start are hidden from this role (they need pg_read_all_stats)"
            ),
        };
        match self.deployer() {
            Some(d) => {
                write!(f, "pgshift pid {} on {}", d.pid, d.host)?;
                if let Some(at) = d.at {
                    let (progress, version) = at.split_once(' ').unwrap_or(("", &at));
                    write!(f, " at {version} ({progress})")?;
                }
                write!(f, "; {session}")
            }
            None => write!(
                f,
                "{} ({session})",
                self.application.as_deref().unwrap_or("unnamed application")
            ),
        }
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
/// `waiting` once, with the holder, when it has to wait. Says whether it had to (what was
/// read beside the first try was read without the lock).
pub async fn acquire(
    client: &Client,
    tracking: &Tracking,
    timeout: Duration,
    mut waiting: impl FnMut(&Holder),
) -> Result<bool, LockError> {
    let key = tracking.lock_key();
    let start = Instant::now();
    let mut told = false;
    loop {
        // `query_typed`: no prepare, one round trip.
        let got = client
            .query_typed("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)])
            .await?
            .first()
            .is_some_and(|r| r.get::<_, bool>(0));
        if got {
            return Ok(told);
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
        .query_typed(
            "SELECT pg_advisory_unlock($1)",
            &[(&tracking.lock_key(), Type::INT8)],
        )
        .await
        .map(|_| ())
}

/// Who holds the advisory lock `key`, if anyone. Every field is read as optional: another
/// role's session shows only its process, user and application name to a caller without
/// `pg_read_all_stats`, and a prepared transaction has no session.
///
/// Asked in two steps: whether anyone in any database holds the key (`pg_locks` alone: a
/// fresh session plans it in a third of the time of its join with `pg_stat_activity` and
/// `pg_database`, and nobody holds it on most calls), then, only when someone does, who
/// holds it in this database.
pub async fn holder(client: &Client, key: i64) -> Result<Option<Holder>, tokio_postgres::Error> {
    let hi = (key >> 32) as u32 as i64;
    let lo = key as u32 as i64;
    // `query_typed`: no prepare, one round trip.
    let anyone = client
        .query_typed(
            "SELECT EXISTS (SELECT FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                                                 AND l.classid::bigint = $1 AND l.objid::bigint = $2)",
            &[(&hi, Type::INT8), (&lo, Type::INT8)],
        )
        .await?;
    if !anyone.first().is_some_and(|r| r.get::<_, bool>(0)) {
        return Ok(None);
    }
    let rows = client
        .query_typed(
            "SELECT l.pid, nullif(a.application_name, ''), a.usename::text,
                    CASE WHEN a.backend_start IS NOT NULL THEN coalesce(host(a.client_addr), 'local socket') END,
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1",
            &[(&hi, Type::INT8), (&lo, Type::INT8)],
        )
        .await?;
    rows.first()
        .map(|r| {
            Ok(Holder {
                pid: r.try_get(0)?,
                application: r.try_get(1)?,
                user: r.try_get(2)?,
                client: r.try_get(3)?,
                since: r.try_get(4)?,
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pgshift_holder_names_its_process_host_and_migration() {
        let mut h = Holder {
            pid: Some(4242),
            application: Some("pgshift[77@ci-7] 3/10 2026-01-21_add_profiles".into()),
            user: Some("app".into()),
            client: Some("10.0.0.3".into()),
            since: Some("2026-11-24 10:00:00 UTC".into()),
        };
        assert_eq!(
            h.to_string(),
            "pgshift pid 77 on ci-7 at 2026-01-21_add_profiles (3/10); server process 4242, user app, from 10.0.0.3, connected since 2026-11-24 10:00:00 UTC"
        );
        h.application = Some("pgshift[77@ci-7]".into());
        assert!(h
            .to_string()
            .starts_with("pgshift pid 77 on ci-7; server process 4242"));
        h.application = Some("psql".into());
        assert!(h
            .to_string()
            .starts_with("psql (server process 4242, user app"));
    }

    #[test]
    fn hidden_details_and_prepared_transactions_are_said_not_guessed() {
        let mut h = Holder {
            pid: Some(4242),
            application: Some("pgshift[77@ci-7]".into()),
            user: Some("deployer".into()),
            client: None,
            since: None,
        };
        assert_eq!(
            h.to_string(),
            "pgshift pid 77 on ci-7; server process 4242, user deployer; its address and start are hidden from this role (they need pg_read_all_stats)"
        );
        h.application = None;
        assert!(h
            .to_string()
            .starts_with("unnamed application (server process 4242"));
        h.pid = None;
        assert!(h.to_string().starts_with("a prepared transaction"));
    }
}
