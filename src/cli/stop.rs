//! `pgshift stop [--terminate-after SECS]`: the emergency stop. Finds the deploy holding the lock
//! (from any machine), asks it to stop and cancels its running statement: the deployer rolls
//! back the migration it was in, records the interruption, releases the lock and exits 130.
//! With `--terminate-after`, a deployer that still holds the lock after SECS has its session
//! ended (its open transaction rolls back the same way).
//!
//! Only a role that could deploy may stop a deploy: the deploying role, a member of it, or a
//! superuser. Any other role is refused here (exit 2, nothing sent); and a request made some
//! other way (`pg_notify` by hand) does not carry the deploy's stop token, which only those
//! roles can read, so the deployer ignores it.

use std::time::{Duration, Instant};

use crate::config::{Settings, VarSource};
use crate::db::lock::{holder, Holder};
use crate::db::tracking::Tracking;
use crate::deploy::session::{STOP_CHANNEL, STOP_TOKEN_KEY};
use crate::sanitize::escape::untrusted as u;

use super::database::{runtime, spec};
use super::{exit, CliError, Output, StopArgs};

/// How long `stop` waits for the deployer to let go when not told to terminate it.
const PATIENCE: Duration = Duration::from_secs(60);

/// How a stop ended.
enum Stopped {
    /// Nobody held the lock.
    NoDeploy,
    /// This role may not stop that deploy: why, and what it takes.
    Refused { message: String, help: String },
    /// The deployer let go of the lock, `terminated` when its session had to be ended.
    Done { holder: Holder, terminated: bool },
    /// It still holds the lock.
    Stuck { holder: Holder },
}

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &StopArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let tracking = settings.tracking.clone();
    let terminate_after = args.terminate_after.map(Duration::from_secs);
    let stop = Stop {
        spec: &spec,
        tracking: &tracking,
    };
    let result = runtime()?.block_on(stop.run(terminate_after))?;
    print(result, &spec, &tracking, terminate_after, out)
}

/// One stop: where, and of which tracking table's deploy.
struct Stop<'a> {
    spec: &'a crate::db::connect::ConnectionSpec,
    tracking: &'a Tracking,
}

impl Stop<'_> {
    /// The stages: find the holder, check this role may stop it, send the request with the
    /// deploy's token and cancel its statement, wait for it to let go.
    async fn run(&self, terminate_after: Option<Duration>) -> Result<Stopped, CliError> {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let connect_error = CliError::from;
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
    ) -> Result<Option<Stopped>, CliError> {
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
    ) -> Result<Stopped, CliError> {
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

    /// A database error while stopping, as the command line reports it.
    fn fail(&self, e: tokio_postgres::Error) -> CliError {
        let text = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string());
        CliError::usage(
            format!("cannot stop the deploy on {}: {text}", self.spec.describe()),
            Some("connect as the deploying role, a member of it, or a superuser".into()),
        )
    }
}

/// Says how the stop ended; its exit code.
fn print(
    result: Stopped,
    spec: &crate::db::connect::ConnectionSpec,
    tracking: &Tracking,
    terminate_after: Option<Duration>,
    out: &Output,
) -> Result<u8, CliError> {
    match result {
        Stopped::NoDeploy => {
            out.error(
                &format!(
                    "no deploy is running on {} (nobody holds the deploy lock of {}): nothing to stop",
                    spec.describe(),
                    tracking.display()
                ),
                Some("`pgshift status` shows what is applied; a deploy on another database or tracking table is stopped with that --database-url or config"),
            );
            Ok(exit::USAGE)
        }
        Stopped::Refused { message, help } => {
            out.error(&message, Some(&help));
            Ok(exit::USAGE)
        }
        Stopped::Done { holder, terminated } => {
            let deployer = holder.deployer();
            let at = deployer.as_ref().and_then(|d| d.at.clone());
            let what = match at {
                _ if deployer.is_none() => "it was not a pgshift deploy (a session that took the deploy lock by hand): it let go of the lock".to_string(),
                Some(at) => {
                    let (progress, version) = at.split_once(' ').unwrap_or(("", &at));
                    format!(
                        "it was applying {} ({progress}): that migration was rolled back (a no-transaction file keeps the statements that finished, and `pgshift status` shows it as partial); the migrations before it stay applied",
                        u(version)
                    )
                }
                None => "it was between migrations (or backing up): nothing was left half-done"
                    .to_string(),
            };
            out.line(&format!(
                "Stopped {}.\n{what}.\n{}The deploy lock is free; `pgshift status` shows where the database stands, and `pgshift migrate` goes on from there.",
                u(&holder.to_string()),
                if terminated {
                    "Its session was ended (--terminate-after): the server rolled back its open transaction.\n"
                } else {
                    ""
                }
            ));
            Ok(exit::OK)
        }
        Stopped::Stuck { holder } => {
            out.error(
                &format!(
                    "{} still holds the deploy lock after the stop request",
                    u(&holder.to_string())
                ),
                Some(if terminate_after.is_some() {
                    "its session could not be ended; ask the database's administrator, or stop the process on its machine"
                } else {
                    "its running statement may not check for cancellation: run `pgshift stop --terminate-after 5` to end its session"
                }),
            );
            Ok(exit::FINDINGS)
        }
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
