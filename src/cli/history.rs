//! `pgshift history`: the tracking table's rows, newest first.

use crate::config::{Settings, VarSource};
use crate::deploy::DeployError;
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
    let tracking = settings.tracking.clone();
    let rows = runtime()?
        .block_on(async {
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let started = std::time::Instant::now();
            let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
            spec.first_answer(started, tracking.rows(&client))
                .await
                .map_err(DeployError::Connect)?
                .map_err(|e| DeployError::Db(e.to_string()))
        })
        .map_err(deploy_error)?;
    let mut rows: Vec<_> = rows.into_iter().rev().collect();
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    if out.json {
        out.line(&serde_json::to_string(&rows).unwrap_or_default());
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        out.line(&format!(
            "No migration recorded in {} of {}.",
            u(&tracking.display()),
            u(&spec.describe())
        ));
        return Ok(exit::OK);
    }
    let width = rows.iter().map(|r| r.version.len()).max().unwrap_or(0);
    let mut text = String::new();
    for r in &rows {
        let result = if r.success {
            "ok".to_string()
        } else {
            format!("FAILED: {}", u(r.error_message.as_deref().unwrap_or("")))
        };
        text.push_str(&format!(
            "{}  {:<width$}  {:>6} ms  {}  {}\n",
            u(&r.executed_at),
            u(&r.version),
            r.execution_time_ms,
            u(&r.applied_by),
            result
        ));
    }
    out.stdout(&text, super::output::Kind::Text);
    Ok(exit::OK)
}
