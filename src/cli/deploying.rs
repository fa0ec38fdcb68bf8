//! What the commands that deploy or undo share (`migrate`, a fleet, `rollback`, `test`): the
//! `--var` flags, validation before many deploys, one deploy through the library's pipeline and
//! one rollback, each watched from the terminal. A leaf: it imports no command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{DryRun, Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::deploy::gate::Operation;
use crate::deploy::restore::{self, RestoreOptions};
use crate::deploy::rollback::{self, RollbackOptions, RollbackOutcome, Selection};
use crate::migration::{MigrationSet, Version};
use crate::pipeline::{Deploy, Safety};
use crate::plan::Plan;
use crate::report::deploy::DeployReport;
use crate::sanitize::escape::untrusted as u;

use super::confirm::gate_for;
use super::database::{deploy_error, runtime, spec};
use super::events::{Printer, Watch};
use super::{exit, CliError, Output};

/// The `--var NAME=VALUE` flags.
pub fn values(flags: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for f in flags {
        let Some((name, value)) = f.split_once('=') else {
            return Err(CliError::usage(
                "--var expects NAME=VALUE (the value is not shown)",
                Some("e.g. --var app_password=…".to_string()),
            ));
        };
        out.insert(name.trim().to_string(), value.to_string());
    }
    Ok(out)
}

/// Validation of the set before deploying it, as a deploy does it (`crate::pipeline`), its
/// findings printed: for a fleet and the rollback test, which validate once for many deploys.
pub fn validate_before(
    settings: &Settings,
    vars: &VarSource,
    set: &crate::migration::MigrationSet,
    out: &Output,
) -> Result<(), CliError> {
    let none = BTreeMap::new();
    let lookup = |name: &str| settings.variable(vars, &none, name);
    let mut printer = Printer::new(*out, None);
    crate::pipeline::validate_files(settings, set, &lookup, &mut printer)
        .map(|_| ())
        .map_err(deploy_error)
}

/// How backups are taken, from the settings.
pub fn backup_options(settings: &Settings, kind: &'static str) -> crate::backup::BackupOptions {
    crate::backup::BackupOptions::from_settings(settings, kind)
}

/// One deploy through the library's pipeline (`crate::pipeline`), watched from here: events
/// printed and logged, validation and health rendered, the run's story in `report`.
#[allow(clippy::too_many_arguments)]
pub fn run_deploy(
    settings: &Settings,
    vars: &VarSource,
    spec: &ConnectionSpec,
    files: crate::deploy::files::Files<'_>,
    fixed: &BTreeMap<String, String>,
    target: Option<&str>,
    safety: Safety,
    out: &Output,
    report: &mut DeployReport,
) -> Result<u8, CliError> {
    let target = match target {
        Some(t) => Some(
            Version::parse_reference(t)
                .map_err(|e| CliError::usage(format!("--target {t}: {e}"), Some(e.help())))?,
        ),
        None => None,
    };
    let lookup = |name: &str| settings.variable(vars, fixed, name);
    let ask = |prompt: &str| super::confirm::ask(out, prompt);
    let deploy = Deploy {
        settings,
        spec,
        files,
        values: &lookup,
        target,
        safety,
        ask: super::confirm::interactive(vars).then_some(&ask as &crate::deploy::gate::Ask),
        interrupt: crate::interrupt::subscribe(),
    };
    let mut watch = Watch {
        printer: Printer::new(*out, Some(&settings.log_dir)),
        report,
    };
    let deployed = runtime()?
        .block_on(deploy.run(&mut watch))
        .map_err(deploy_error)?;
    Ok(if deployed.outcome.interrupted {
        exit::INTERRUPTED
    } else if deployed.outcome.failed || deployed.unhealthy() {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// How to undo.
#[derive(Debug, Clone, Copy)]
pub struct Undo {
    pub cascade: bool,
    pub dry_run: bool,
    /// Through the environment gate (not on a throwaway database).
    pub gate: bool,
}

/// Undoes `selection` with the library's rollback, its events printed and logged.
pub fn undo(
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
            cascade: how.cascade,
            dry_run: if how.dry_run {
                DryRun::Plan
            } else {
                DryRun::Off
            },
            ..RollbackOptions::from_settings(settings, &lookup, &check)
        };
        rollback::rollback(set, plan, spec, &opts, selection, &mut |e| {
            printer.print(&e)
        })
        .await
    })
    .map_err(deploy_error)
}

/// `backup restore FILE` (and `rollback --from-backup`): through the gate, under the lock.
pub fn restore_file(
    settings: &Settings,
    vars: &VarSource,
    file: &Path,
    from_database: Option<String>,
    dry_run: bool,
    out: &Output,
) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let file = &backup_file(settings, file)?;
    let gate = gate_for(settings, vars, out, &spec);
    // The restore has shown what it changes (a `Restoring` event) before it asks.
    let check = |_: &[String]| gate.check(Operation::Restore, &[], &[]);
    let opts = RestoreOptions {
        environment: settings.environment,
        tracking: settings.tracking.clone(),
        lock_wait: settings.deploy.lock_timeout,
        psql: settings.backup.psql.clone(),
        gate: &check,
        from_database,
        dry_run,
    };
    let mut printer = Printer::new(*out, Some(&settings.log_dir));
    let outcome = runtime()?
        .block_on(restore::restore(&spec, &opts, file, &mut |e| {
            printer.print(&e)
        }))
        .map_err(deploy_error)?;
    if outcome.dry_run {
        out.line("Dry run: nothing was restored, dropped or recorded. Run it again without --dry-run to restore.");
        return Ok(exit::OK);
    }
    if !outcome.dropped.is_empty() {
        out.line(&format!(
            "Dropped first what the backup does not hold: {}.",
            u(&outcome.dropped.join(", "))
        ));
    }
    if !outcome.undone.is_empty() {
        out.line(&format!(
            "Undone with it (their records are the backup's): {}.",
            u(&outcome.undone.join(", "))
        ));
    }
    Ok(exit::OK)
}

/// The backup a user named: a path, or a name `backup list` printed (found in the backup
/// folder).
fn backup_file(settings: &Settings, file: &Path) -> Result<PathBuf, CliError> {
    if file.is_file() {
        return Ok(file.to_path_buf());
    }
    let listed = settings.backup.dir.join(file);
    if file.is_relative() && listed.is_file() {
        return Ok(listed);
    }
    Err(CliError::usage(
        format!(
            "{} is not a file, nor a backup in {}",
            u(&file.display().to_string()),
            u(&settings.backup.dir.display().to_string())
        ),
        Some(
            "`pgshift backup list` shows the backups; pass a name it prints or a path".to_string(),
        ),
    ))
}
