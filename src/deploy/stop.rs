//! The emergency stop (`pgshift stop`): finds the deploy holding the lock (from any machine),
//! asks it to stop and cancels its running statement: the deployer rolls back the migration it
//! was in, records the interruption, releases the lock and exits 130. With a termination
//! delay, a deployer that still holds the lock after it has its session ended (its open
//! transaction rolls back the same way).
//!
//! Only a role that could deploy may stop a deploy: the deploying role, a member of it, or a
//! superuser. Any other role is refused before anything is sent; and a request made some other
//! way (`pg_notify` by hand) does not carry the deploy's stop token, which only those roles
//! can read, so the deployer ignores it (`super::session::StopSignal`).

use std::time::{Duration, Instant};

use super::session::{STOP_CHANNEL, STOP_TOKEN_KEY};
use super::DeployError;
use crate::db::connect::ConnectionSpec;
use crate::db::lock::{holder, Holder};
use crate::db::tracking::Tracking;
use crate::sanitize::escape::untrusted as u;

/// How long `stop` waits for the deployer to let go when not told to terminate it.
const PATIENCE: Duration = Duration::from_secs(60);

/// How a stop ended.
#[derive(Debug, Clone)]
pub enum Stopped {
    /// Nobody held the lock.
    NoDeploy,
    /// This role may not stop that deploy (nothing was sent).
    Refused {
        /// Why.
        message: String,
        /// What it takes.
        help: String,
    },
    /// The deployer let go of the lock.
    Done {
        /// Who it was.
        holder: Holder,
        /// Its session had to be ended.
        terminated: bool,
    },
    /// It still holds the lock.
    Stuck {
        /// Who it is.
        holder: Holder,
    },
}

/// Stops the deploy holding the deploy lock of `tracking` on `spec`'s database; with
/// `terminate_after`, ends its session when it has not let go by then.
pub async fn stop(
    spec: &ConnectionSpec,
    tracking: &Tracking,
    terminate_after: Option<Duration>,
) -> Result<Stopped, DeployError> {
    Stop { spec, tracking }.run(terminate_after).await
}

/// One stop: where, and of which tracking table's deploy.
struct Stop<'a> {
    spec: &'a ConnectionSpec,
    tracking: &'a Tracking,
}

impl Stop<'_> {
    /// The stages: find the holder, check this role may stop it, send the request with the
    /// deploy's token and cancel its statement, wait for it to let go.
    async fn run(&self, terminate_after: Option<Duration>) -> Result<Stopped, DeployError> {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let connect_error = DeployError::Connect;
        let started = Instant::now();
        let client = self.spec.connect(tx).await.map_err(connect_error)?;
        let first = self
            .spec
            .first_answer(started, holder(&client, self.tracking.lock_key()))
            .await
            .map_err(connect_error)?
            .map_err(|e| self.fail(e))?;
        let Some(first) = first else {
            return Ok(Stopped::NoDeploy);
        };
        let (Some(pid), Some(deployer)) = (first.pid, first.user.clone()) else {
            return Ok(Stopped::Refused {
                message: format!(
                    "the deploy lock of {} on {} is held by {first}: there is no session to stop",
                    self.tracking.display(),
                    self.spec.describe()
                ),
                help: "a database administrator ends it: SELECT gid FROM pg_prepared_xacts, then ROLLBACK PREPARED 'gid'".into(),
            });
        };
        if let Some(refused) = self.refusal(&client, &deployer).await? {
            return Ok(refused);
        }
        let token = match stop_token(&client, self.tracking).await {
            Ok(t) => t,
            Err(e) => {
                return Ok(Stopped::Refused {
                    message: format!(
                        "refusing to stop the deploy on {}: this role cannot read the deploy's stop token in {} ({}); nothing was sent",
                        self.spec.describe(),
                        self.tracking.display_with("_meta"),
                        crate::deploy::error_text(&e)
                    ),
                    help: format!(
                        "run `pgshift stop` as the role that owns {} (the deploying role), a member of it, or a superuser",
                        self.tracking.display()
                    ),
                })
            }
        };
        // Heard between statements; the statement running now is cancelled. A deployer of an
        // older pgshift wrote no token: the cancel alone stops its running migration.
        if let Some(token) = token {
            client
                .execute("SELECT pg_notify($1, $2)", &[&STOP_CHANNEL, &token])
                .await
                .map_err(|e| self.fail(e))?;
        }
        client
            .execute("SELECT pg_cancel_backend($1)", &[&pid])
            .await
            .map_err(|e| self.fail(e))?;
        self.wait_for_release(&client, first, pid, terminate_after)
            .await
    }

    /// Why this role may not stop a deploy run by `deployer`, as the result to print.
    async fn refusal(
        &self,
        client: &tokio_postgres::Client,
        deployer: &str,
    ) -> Result<Option<Stopped>, DeployError> {
        let Some(refused) = may_stop(client, deployer).await.map_err(|e| self.fail(e))? else {
            return Ok(None);
        };
        Ok(Some(Stopped::Refused {
            message: format!(
                "refusing to stop the deploy on {}: {refused}; nothing was sent",
                self.spec.describe()
            ),
            help: format!(
                "run `pgshift stop` as {r}, as a member of it (GRANT {r} TO <you>), or as a superuser",
                r = crate::sql::variables::display_identifier(deployer)
            ),
        }))
    }

    /// Waits until `first` (server process `pid`) lets go of the lock, ending its session
    /// after `terminate_after` when asked to.
    async fn wait_for_release(
        &self,
        client: &tokio_postgres::Client,
        first: Holder,
        pid: i32,
        terminate_after: Option<Duration>,
    ) -> Result<Stopped, DeployError> {
        let key = self.tracking.lock_key();
        let started = Instant::now();
        let mut terminated = false;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match holder(client, key).await.map_err(|e| self.fail(e))? {
                Some(h) if h.pid == Some(pid) => {}
                // Gone (or another deployer took the lock since: this one stopped).
                _ => {
                    return Ok(Stopped::Done {
                        holder: first,
                        terminated,
                    })
                }
            }
            let waited = started.elapsed();
            match terminate_after {
                Some(t) if waited >= t && !terminated => {
                    client
                        .execute("SELECT pg_terminate_backend($1)", &[&pid])
                        .await
                        .map_err(|e| self.fail(e))?;
                    terminated = true;
                }
                Some(t) if waited >= t + Duration::from_secs(10) => {
                    return Ok(Stopped::Stuck { holder: first })
                }
                None if waited >= PATIENCE => return Ok(Stopped::Stuck { holder: first }),
                _ => {}
            }
        }
    }

    /// A database error while stopping.
    fn fail(&self, e: tokio_postgres::Error) -> DeployError {
        DeployError::Db(format!(
            "cannot stop the deploy on {}: {}",
            self.spec.describe(),
            super::error_text(&e)
        ))
    }
}

/// Why the connected role may not stop a deploy run by `deployer`, or `None` when it may: it
/// is that role, a member of it, or a superuser.
async fn may_stop(
    client: &tokio_postgres::Client,
    deployer: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT current_user::text, coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
                    OR coalesce((SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = $1), false)",
            &[&deployer],
        )
        .await?;
    let (me, allowed): (Option<String>, Option<bool>) = (row.try_get(0)?, row.try_get(1)?);
    Ok((allowed != Some(true)).then(|| {
        format!(
            "role {} is not the deploying role ({}), a member of it, or a superuser",
            u(me.as_deref().unwrap_or("?")),
            u(deployer)
        )
    }))
}

/// The running deploy's stop token, from the meta table; `None` when there is none (no
/// table, or a deployer of an older pgshift). An error when this role may not read it.
async fn stop_token(
    client: &tokio_postgres::Client,
    tracking: &Tracking,
) -> Result<Option<String>, tokio_postgres::Error> {
    let meta = tracking.name("_meta");
    let exists = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&meta])
        .await?
        .try_get::<_, Option<bool>>(0)?
        == Some(true);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!("SELECT value FROM {meta} WHERE key = $1"),
            &[&STOP_TOKEN_KEY],
        )
        .await?;
    Ok(match row {
        Some(r) => r.try_get(0)?,
        None => None,
    })
}
