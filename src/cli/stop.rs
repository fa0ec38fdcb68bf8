//! `pgshift stop [--terminate-after SECS]`: the emergency stop of the library
//! (`crate::deploy::stop`), and what it says. A refused stop exits 2; a deployer that will not
//! let go exits 1.

use std::time::Duration;

use crate::config::{Settings, VarSource};
use crate::db::tracking::Tracking;
use crate::deploy::stop::{self, Stopped};
use crate::sanitize::escape::untrusted as u;

use super::database::{deploy_error, runtime, spec};
use super::{exit, CliError, Output, StopArgs};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &StopArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let tracking = settings.tracking.clone();
    let terminate_after = args.terminate_after.map(Duration::from_secs);
    let result = runtime()?
        .block_on(stop::stop(&spec, &tracking, terminate_after))
        .map_err(deploy_error)?;
    print(result, &spec, &tracking, terminate_after, out)
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
