//! `pgshift review --base REF [--rehearse] [--stats-from URL] [--format …]`: the pull
//! request's migrations put in front of the reviewer ([`crate::review`]): conflicts with the
//! base, each statement's locks (predicted, and observed with `--rehearse`), estimated
//! durations, and the lint findings of the changed files. Exit 1 when something blocks.

use std::collections::BTreeMap;

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::report::terminal::Kind;

use super::database::runtime;
use super::{exit, CliError, Output, ReviewArgs, ReviewFormat};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &ReviewArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let none = BTreeMap::new();
    let values = |name: &str| settings.variable(vars, &none, name);
    let stats_from = args.stats_from.as_deref().map(stats_url).transpose()?;
    let opts = crate::review::Options {
        settings,
        values: &values,
        base: args.base.clone(),
        rehearse: args.rehearse,
        supabase: args.supabase || settings.supabase_project,
        stats_from,
    };
    let review = runtime()?
        .block_on(crate::review::review(&opts))
        .map_err(|e| CliError::usage(e.message, Some(e.help)))?;
    let format = if out.json {
        ReviewFormat::Json
    } else {
        args.format
    };
    match format {
        ReviewFormat::Markdown => {
            out.stdout(&crate::report::review::markdown_report(&review), Kind::Text)
        }
        ReviewFormat::Text => out.stdout(&crate::report::review::text(&review), Kind::Text),
        ReviewFormat::Github => out.stdout(
            &crate::report::review::github(&review, &settings.migrations.dir),
            Kind::Commands,
        ),
        ReviewFormat::Json => out.stdout(
            &format!(
                "{}\n",
                serde_json::to_string_pretty(&review).unwrap_or_default()
            ),
            Kind::Json,
        ),
    }
    Ok(if review.passed {
        exit::OK
    } else {
        exit::FINDINGS
    })
}

/// `--stats-from`: a URL, or the name of an environment variable holding one (so that the
/// password is not on the command line).
fn stats_url(given: &str) -> Result<ConnectionSpec, CliError> {
    let url = if given.contains("://") || given.contains('=') {
        given.to_string()
    } else {
        std::env::var(given).map_err(|_| {
            CliError::usage(
                format!("--stats-from {given}: not a URL, and no environment variable of that name is set"),
                Some("pass a postgresql:// URL or the name of a variable holding one, e.g. --stats-from REPLICA_URL".into()),
            )
        })?
    };
    ConnectionSpec::parse(&url).map_err(CliError::from)
}
