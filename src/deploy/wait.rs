//! `wait`: polls a database until every migration of the set is applied, for an
//! application's start-up (a Kubernetes init container). Read-only: no lock, no write, so it
//! works against a read replica and never delays a deploy. A database without pgshift's
//! tracking table is behind, not an error; one that cannot be reached is tried again until
//! the deadline.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::status::{self, State};
use crate::config::Environment;
use crate::db::connect::{ConnectError, ConnectionSpec};
use crate::db::tracking::Tracking;
use crate::migration::MigrationSet;
use crate::plan::Plan;

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Poll {
    /// Every migration of the set is applied.
    Current {
        /// How many migrations the set holds.
        migrations: usize,
    },
    /// Some are not applied (yet): `version (state)`, in plan order.
    Behind {
        /// How many migrations the set holds.
        migrations: usize,
        /// The ones not applied, each with its state (pending, failed, partial, modified, …).
        waiting_for: Vec<String>,
    },
    /// The database could not be reached or read.
    Unreachable {
        /// What failed.
        message: String,
        /// What to do.
        help: String,
        /// Waiting longer cannot help (a wrong password, no right to read the records).
        #[serde(skip)]
        lasting: bool,
    },
}

/// How long to wait, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The deadline, from the start.
    pub timeout: Duration,
    /// Between the end of one poll and the next (the last sleep stops at the deadline).
    pub interval: Duration,
}

/// Polls until the database is current, the deadline passes, or an error that waiting cannot
/// mend. `on` sees every poll with the time left. Returns the last poll.
pub async fn wait(
    (set, plan): (&MigrationSet, &Plan),
    spec: &ConnectionSpec,
    tracking: &Tracking,
    env: Environment,
    pace: Pace,
    on: &mut dyn FnMut(&Poll, Duration),
) -> Poll {
    // A timeout beyond what the clock can add (`--timeout 99999999999999`) waits ten years.
    let now = Instant::now();
    let deadline = now
        .checked_add(pace.timeout)
        .unwrap_or_else(|| now + Duration::from_secs(10 * 365 * 86_400));
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // A connection that hangs must not outlive the deadline (connect_timeout=0 waits
        // forever); one second at least, so that a last poll at the deadline is a real one.
        let poll = match tokio::time::timeout(
            left.max(Duration::from_secs(1)),
            poll_once((set, plan), spec, tracking, env),
        )
        .await
        {
            Ok(poll) => poll,
            Err(_) => Poll::Unreachable {
                message: format!("{} did not answer before the deadline", spec.describe()),
                help: "check the host, the port and the firewall, or raise --timeout".into(),
                lasting: false,
            },
        };
        let left = deadline.saturating_duration_since(Instant::now());
        on(&poll, left);
        let stop = match &poll {
            Poll::Current { .. } => true,
            Poll::Unreachable { lasting, .. } => *lasting,
            Poll::Behind { .. } => false,
        };
        if stop || left.is_zero() {
            return poll;
        }
        tokio::time::sleep(pace.interval.min(left)).await;
    }
}

/// One look: connect, read the records, compare, disconnect.
async fn poll_once(
    (set, plan): (&MigrationSet, &Plan),
    spec: &ConnectionSpec,
    tracking: &Tracking,
    env: Environment,
) -> Poll {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let client = match spec.connect(tx).await {
        Ok(client) => client,
        Err(e) => return unreachable(e, false),
    };
    let rows = match spec.first_answer(started, tracking.rows(&client)).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            let denied = e.as_db_error().is_some_and(|d| d.code().code() == "42501");
            let mut why = spec.explain(&e);
            if denied {
                why.help = format!(
                    "only the role that deploys may read {} (pgshift revokes every other role's privileges on it): give wait the deploying role's connection",
                    tracking.display()
                );
            }
            return unreachable(why, denied);
        }
        Err(e) => return unreachable(e, false),
    };
    let status = status::compare(set, plan, &rows, env);
    let waiting_for: Vec<String> = status
        .entries
        .iter()
        .filter_map(|e| behind(&e.state).map(|word| format!("{} ({word})", e.version)))
        .collect();
    // The files this environment runs (recorded versions without a file are not counted).
    let migrations = status
        .entries
        .iter()
        .filter(|e| !matches!(e.state, State::Unknown | State::NotForEnvironment))
        .count();
    if waiting_for.is_empty() {
        Poll::Current { migrations }
    } else {
        Poll::Behind {
            migrations,
            waiting_for,
        }
    }
}

/// A connection error as a poll; a refused password or user cannot mend by waiting.
fn unreachable(e: ConnectError, lasting: bool) -> Poll {
    let lasting =
        lasting || e.help.starts_with("check the password") || e.help.contains("pg_hba.conf");
    Poll::Unreachable {
        message: e.message,
        help: e.help,
        lasting,
    }
}

/// Why a migration keeps the database behind; `None` when the database has what it builds.
fn behind(state: &State) -> Option<&'static str> {
    match state {
        State::Applied { .. }
        | State::Covered
        | State::Unknown
        | State::NotForEnvironment
        | State::NoSql => None,
        State::Pending { .. } => Some("pending"),
        State::Failed { .. } => Some("failed"),
        State::Partial { .. } => Some("partly applied"),
        State::Modified => Some("applied from another version of the file"),
        State::Changed => Some("repeatable, changed"),
        State::PartlyCovered { .. } => Some("baseline, partly covered"),
        State::Damaged { .. } => Some("damaged record"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_database_that_has_what_each_file_builds_is_current() {
        assert_eq!(
            behind(&State::Applied {
                cosmetic_change: true
            }),
            None
        );
        assert_eq!(behind(&State::Covered), None);
        assert_eq!(behind(&State::Unknown), None);
        assert_eq!(
            behind(&State::Pending {
                out_of_order: false
            }),
            Some("pending")
        );
        assert_eq!(
            behind(&State::Failed {
                message: "x".into()
            }),
            Some("failed")
        );
        assert_eq!(
            behind(&State::Modified),
            Some("applied from another version of the file")
        );
    }

    #[test]
    fn a_refused_password_or_a_denied_read_ends_the_wait_and_a_refused_connection_does_not() {
        let e = |help: &str| ConnectError {
            message: "m".into(),
            help: help.into(),
            interrupted: false,
        };
        let lasting = |p: Poll| matches!(p, Poll::Unreachable { lasting: true, .. });
        assert!(lasting(unreachable(
            e("check the password in the connection URL (it is not shown here)"),
            false
        )));
        assert!(lasting(unreachable(e("anything"), true)));
        assert!(!lasting(unreachable(
            e("nothing listens there: is the server running, and are host and port right?"),
            false
        )));
    }
}
