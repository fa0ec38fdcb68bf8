//! `pgshift rollback [--version V | --to V | --from-backup [FILE]] [--cascade] [--dry-run]`.

use std::path::PathBuf;

use crate::config::{Settings, VarSource};
use crate::deploy::rollback::Selection;
use crate::sanitize::escape::untrusted as u;

use super::database::spec;
use super::deploying::{undo, Undo};
use super::{exit, CliError, Output, RollbackArgs};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &RollbackArgs,
    out: &Output,
) -> Result<u8, CliError> {
    if let Some(file) = &args.from_backup {
        let file = if file.is_empty() {
            newest_backup_of(settings, vars, args.from_database.as_deref(), out)?
        } else {
            PathBuf::from(file)
        };
        return super::deploying::restore_file(
            settings,
            vars,
            &file,
            args.from_database.clone(),
            args.dry_run,
            out,
        );
    }
    let spec = spec(settings, vars, out)?;
    let (set, plan) = super::database::load_and_plan(settings, out)?;
    let selection = match (&args.version, &args.to) {
        (Some(v), _) => Selection::Version(reference(v)),
        (None, Some(v)) => Selection::To(reference(v)),
        (None, None) => Selection::LastRun,
    };
    let outcome = undo(
        settings,
        vars,
        &spec,
        (&set, &plan),
        &selection,
        Undo {
            cascade: args.cascade,
            dry_run: args.dry_run,
            gate: true,
        },
        out,
    )?;
    if args.dry_run {
        return Ok(exit::OK);
    }
    let n = outcome.rolled_back.len();
    let ms = outcome.ms;
    if !out.json {
        out.line(&if outcome.interrupted {
            format!(
                "Interrupted after rolling back {n} migration(s), {ms} ms; the lock is released."
            )
        } else if outcome.failed {
            format!("Stopped at the failure: {n} migration(s) rolled back in {ms} ms.")
        } else {
            format!(
                "Rolled back {n} migration(s) in {ms} ms: {}.",
                u(&outcome.rolled_back.join(", "))
            )
        });
    }
    Ok(if outcome.interrupted {
        exit::INTERRUPTED
    } else if outcome.failed {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// The newest backup taken of this database (or of `from`), by the time in its manifest:
/// never another database's, nor a file without a manifest.
fn newest_backup_of(
    settings: &Settings,
    vars: &VarSource,
    from: Option<&str>,
    out: &Output,
) -> Result<PathBuf, CliError> {
    let database = match from {
        Some(d) => d.to_string(),
        None => spec(settings, vars, out)?.database(),
    };
    let all = crate::backup::list(&settings.backup.dir)
        .map_err(|e| CliError::usage(e.to_string(), Some(e.help())))?;
    let others = all.len();
    all.into_iter()
        .find(|b| b.manifest.as_ref().is_some_and(|m| m.database == database))
        .map(|b| b.path)
        .ok_or_else(|| {
            CliError::usage(
                format!(
                    "there is no backup of database {} in {} to restore ({others} other file(s) there: of other databases, or without a manifest)",
                    u(&database),
                    u(&settings.backup.dir.display().to_string())
                ),
                Some("`pgshift backup list` shows them; name one with --from-backup FILE (and --from-database NAME for another database's)".to_string()),
            )
        })
}

/// `2026-01-02_b.sql` or `2026-01-02_b` → `2026-01-02_b`.
fn reference(v: &str) -> String {
    crate::migration::Version::parse_reference(v)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| v.trim_end_matches(".sql").to_string())
}
