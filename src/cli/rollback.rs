//! `pgshift rollback [--version V | --to V | --from-backup [FILE]] [--cascade] [--dry-run]`.

use std::path::PathBuf;

use crate::config::{DryRun, Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::deploy::gate::Operation;
use crate::deploy::rollback::{self, RollbackOptions, RollbackOutcome, Selection};
use crate::migration::MigrationSet;
use crate::plan::Plan;
use crate::sanitize::escape::untrusted as u;

use super::database::{deploy_error, runtime, spec};
use super::events::Printer;
use super::migrate::gate_for;
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
        return super::backup::restore_file(settings, vars, &file, args.from_database.clone(), out);
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

/// How to undo.
#[derive(Debug, Clone, Copy)]
pub(super) struct Undo {
    pub cascade: bool,
    pub dry_run: bool,
    /// Through the environment gate (not on a throwaway database).
    pub gate: bool,
}

/// Undoes `selection` with the library's rollback, its events printed and logged.
pub(super) fn undo(
    settings: &Settings,
    vars: &VarSource,
    spec: &ConnectionSpec,
    (set, plan): (&MigrationSet, &Plan),
    selection: &Selection,
    how: Undo,
    out: &Output,
) -> Result<RollbackOutcome, CliError> {
    let no_flags = std::collections::BTreeMap::new();
    let lookup = |name: &str| settings.variable(vars, &no_flags, name);
    let gate = gate_for(settings, vars, out, spec);
    let check = |lines: &[String]| {
        if how.gate {
            gate.check(Operation::Rollback, lines, &[])
        } else {
            Ok(())
        }
    };
    let rt = runtime()?;
    let mut printer = Printer::new(*out, Some(&settings.log_dir));
    rt.block_on(async {
        let opts = RollbackOptions {
            environment: settings.environment,
            tracking: settings.tracking.clone(),
            timeout: settings.deploy.timeout,
            lock_wait: settings.deploy.lock_timeout,
            statement_lock_timeout: settings.deploy.statement_lock_timeout,
            values: &lookup,
            debug: settings.run.debug,
            interrupt: crate::interrupt::subscribe(),
            cascade: how.cascade,
            dry_run: if how.dry_run {
                DryRun::Plan
            } else {
                DryRun::Off
            },
            backup_dir: settings.backup.dir.clone(),
            gate: &check,
        };
        rollback::rollback(set, plan, spec, &opts, selection, &mut |e| {
            printer.print(&e)
        })
        .await
    })
    .map_err(deploy_error)
}

/// `2026-01-02_b.sql` or `2026-01-02_b` → `2026-01-02_b`.
fn reference(v: &str) -> String {
    crate::migration::Version::parse_reference(v)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| v.trim_end_matches(".sql").to_string())
}
