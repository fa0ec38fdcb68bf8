//! `pgshift squash --to VERSION`: the migrations up to VERSION become one baseline file
//! ([`crate::squash`]), written only once a fresh deploy of the new set and of the old one
//! give the same schema and rows; `--targets FILE` refuses while a database is behind.

use std::collections::BTreeMap;

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::diff::drift::PLATFORM_SCHEMAS;
use crate::diff::Builder;
use crate::migration::Version;

use super::database::{load_ordered, runtime};
use super::{exit, CliError, Output, SquashArgs};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &SquashArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let (set, plan) = load_ordered(settings)?;
    let fail = |e: crate::diff::DiffError| CliError::usage(e.to_string(), Some(e.help().into()));
    let squashed = crate::squash::select(&set, &plan, &args.to).map_err(fail)?;
    let rt = runtime()?;
    if let Some(file) = &args.targets {
        let versions: Vec<&Version> = squashed.iter().map(|m| &m.version).collect();
        rt.block_on(targets_caught_up(settings, vars, file, &versions))?;
    }
    let none = BTreeMap::new();
    let values = |name: &str| settings.variable(vars, &none, name);
    let mut ignore = settings.diff.ignore_schemas.clone();
    if args.supabase {
        ignore.extend(PLATFORM_SCHEMAS.iter().map(|s| s.to_string()));
    }
    let scope = crate::diff::scope(settings, &ignore);
    let mut builder = Builder::new(settings, &values, args.supabase);
    let dir = &settings.migrations.dir;
    say(
        out,
        &format!(
            "Building the {} migrations up to {} on a throwaway PostgreSQL…",
            squashed.len(),
            args.to
        ),
    );
    let (squash, old_db) = rt
        .block_on(crate::squash::squash(
            &mut builder,
            &set,
            &plan,
            &args.to,
            &scope,
        ))
        .map_err(fail)?;
    let new = tempfile::tempdir()
        .map_err(|e| CliError::usage(format!("cannot make a temporary folder: {e}"), None))?;
    crate::squash::new_set(dir, &squash, new.path()).map_err(|e| {
        CliError::usage(
            format!("cannot copy {} to try the new set: {e}", dir.display()),
            Some("check the folder's permissions".into()),
        )
    })?;
    say(out, "Proving it: the old set and the new one, each deployed fresh, must give the same schema and rows…");
    let differences = rt
        .block_on(crate::squash::prove(
            &mut builder,
            (dir, &old_db),
            new.path(),
            &scope,
        ))
        .map_err(fail)?;
    if !differences.is_empty() {
        out.error(
            &format!(
                "the baseline does not build what the {} migrations build; nothing was written:\n  {}",
                squash.replaced.len(),
                differences.join("\n  ")
            ),
            Some("a statement the baseline cannot carry (a DO block that writes rows, an INSERT into a column a later migration dropped): squash up to an earlier version, or move that statement after it"),
        );
        return Ok(exit::FINDINGS);
    }
    let moved = crate::squash::write(dir, &squash).map_err(|e| {
        CliError::usage(
            format!("writing the baseline into {} failed: {e}", dir.display()),
            Some("check the folder's permissions; `git status` shows what was moved".into()),
        )
    })?;
    let baseline = dir.join(format!("{}.sql", squash.version));
    if out.json {
        out.line(
            &serde_json::json!({
                "baseline": baseline,
                "replaced": squash.replaced,
                "carried_statements": squash.carried,
                "moved": moved,
            })
            .to_string(),
        );
    } else {
        out.line(&format!(
            "Wrote {}: it replaces {} migration(s) ({} statement(s) carried verbatim), proven equal on a throwaway PostgreSQL.\nMoved {} file(s) to {}.\nA database that has them all recorded records the baseline without running it; a new one runs it. Commit both.",
            baseline.display(),
            squash.replaced.len(),
            squash.carried,
            moved.len(),
            dir.join(crate::migration::SQUASHED_DIR).display()
        ));
    }
    Ok(exit::OK)
}

fn say(out: &Output, line: &str) {
    if !out.json {
        out.stderr(&format!("{line}\n"));
    }
}

/// Refuses while a database of `file` has not recorded every version the squash replaces:
/// after the squash, it could only get them from `squashed/`.
async fn targets_caught_up(
    settings: &Settings,
    vars: &VarSource,
    file: &std::path::Path,
    versions: &[&Version],
) -> Result<(), CliError> {
    let targets = crate::fleet::targets::read_targets(file, vars)
        .map_err(|e| CliError::usage(e.message, Some(e.help)))?;
    let mut behind = Vec::new();
    for t in targets {
        let spec = t
            .url
            .and_then(|u| ConnectionSpec::parse(u.expose()).map_err(|e| e.message))
            .map_err(|e| {
                CliError::usage(
                    format!("{}: {e}", t.label),
                    Some("fix the line in the targets file".into()),
                )
            })?;
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let client = spec
            .connect(tx)
            .await
            .map_err(|e| CliError::usage(format!("{}: {}", t.label, e.message), Some(e.help)))?;
        let rows = settings.tracking.rows(&client).await.map_err(|e| {
            CliError::usage(
                format!(
                    "{}: reading {} failed: {e}",
                    t.label,
                    settings.tracking.display()
                ),
                None,
            )
        })?;
        let missing = versions
            .iter()
            .filter(|v| !rows.iter().any(|r| r.success && r.version == v.as_str()))
            .count();
        if missing > 0 {
            behind.push(format!(
                "{} ({missing} of them not applied)",
                spec.describe()
            ));
        }
    }
    if behind.is_empty() {
        return Ok(());
    }
    Err(CliError::usage(
        format!(
            "targets have not applied every migration up to the squash: {}",
            behind.join(", ")
        ),
        Some("deploy them first (`pgshift migrate --targets FILE`), then squash".into()),
    ))
}
