//! `pgshift wait`: an application's start-up waits here until every migration of the
//! directory is applied (exit 0), the timeout passes while the database is behind (1, naming
//! what is missing), or it cannot be reached (2). A line per poll.

use std::time::Duration;

use crate::config::{Settings, VarSource};
use crate::deploy::wait::{Pace, Poll};
use crate::sanitize::escape::untrusted as u;

use super::database::{load_ordered, runtime, spec};
use super::{exit, CliError, Output, WaitArgs};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &WaitArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let (set, plan) = load_ordered(settings)?;
    let target = spec.describe();
    let pace = Pace {
        timeout: Duration::from_secs(args.timeout),
        interval: Duration::from_secs(args.interval),
    };
    let mut print = |poll: &Poll, left: Duration| {
        if out.json {
            out.line(&serde_json::to_string(poll).unwrap_or_default());
        } else {
            out.line(&line(poll, &target, left, pace.interval));
        }
    };
    let last = runtime()?.block_on(crate::deploy::wait::wait(
        (&set, &plan),
        &spec,
        &settings.tracking,
        settings.environment,
        pace,
        &mut print,
    ));
    match last {
        Poll::Current { .. } => Ok(exit::OK),
        Poll::Behind { waiting_for, .. } => Err(CliError {
            message: format!(
                "{} is still behind after {} s: {} migration(s) not applied: {}",
                u(&target),
                args.timeout,
                waiting_for.len(),
                u(&listed(&waiting_for, 10))
            ),
            help: Some("deploy them (`pgshift migrate`), or wait longer (--timeout); `pgshift status` shows each one".into()),
            code: exit::FINDINGS,
        }),
        Poll::Unreachable { message, help, .. } => Err(CliError {
            message: u(&message).into_owned(),
            help: Some(help),
            code: exit::USAGE,
        }),
    }
}

/// One poll, in a line: what was found, and when the next look is.
fn line(poll: &Poll, target: &str, left: Duration, interval: Duration) -> String {
    let next = if left.is_zero() {
        "no time left".to_string()
    } else {
        format!(
            "next look in {} s ({} s left)",
            interval.min(left).as_secs().max(1),
            left.as_secs()
        )
    };
    match poll {
        Poll::Current { migrations } => format!(
            "{} is current: all {migrations} migration(s) applied.",
            u(target)
        ),
        Poll::Behind {
            migrations,
            waiting_for,
        } => {
            format!(
                "{} is behind: {} of {migrations} migration(s) not applied ({}); {next}",
                u(target),
                waiting_for.len(),
                u(&listed(waiting_for, 5)),
            )
        }
        Poll::Unreachable {
            message,
            lasting: false,
            ..
        } => format!("{}; {next}", u(message)),
        Poll::Unreachable { message, .. } => u(message).into_owned(),
    }
}

/// The first `n` of `items`, and how many more.
fn listed(items: &[String], n: usize) -> String {
    let mut text = items
        .iter()
        .take(n)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > n {
        text.push_str(&format!(", and {} more", items.len() - n));
    }
    text
}
