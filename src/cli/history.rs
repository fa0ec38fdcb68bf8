//! `pgshift history`: the tracking table's rows, newest first.

use crate::config::{Settings, VarSource};
use crate::sanitize::escape::untrusted as u;

use super::database::{deploy_error, runtime, spec};
use super::{exit, CliError, HistoryArgs, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &HistoryArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let rows = runtime()?
        .block_on(crate::deploy::history(&spec, &settings.tracking))
        .map_err(deploy_error)?;
    let mut rows: Vec<_> = rows.into_iter().rev().collect();
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    if out.json {
        out.line(&serde_json::to_string(&rows).unwrap_or_default());
    } else if rows.is_empty() {
        out.line(&format!(
            "No migration recorded in {} of {}.",
            u(&settings.tracking.display()),
            u(&spec.describe())
        ));
    } else {
        out.stdout(
            &crate::report::history::text(&rows),
            super::output::Kind::Text,
        );
    }
    Ok(exit::OK)
}
