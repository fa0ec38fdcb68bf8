//! `pgshift migrate` (alias `deploy`): validation when something is pending, then the deploy
//! pipeline of the library, its events printed by `events::Printer`.

use std::collections::BTreeMap;

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::migration::Version;
use crate::pipeline::{Deploy, Safety};
use crate::report::deploy::DeployReport;

use super::confirm::Gate;
use super::database::{deploy_error, load_and_plan, runtime, spec};
use super::events::{Printer, Watch};
use super::{exit, CliError, MigrateArgs, Output};
use crate::deploy::gate::Operation;

/// The `--var NAME=VALUE` flags.
pub(super) fn values(flags: &[String]) -> Result<BTreeMap<String, String>, CliError> {
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

pub fn migrate(
    settings: &Settings,
    vars: &VarSource,
    args: &MigrateArgs,
    out: &Output,
) -> Result<u8, CliError> {
    if let Some(file) = &args.targets {
        return super::fleet::run(settings, vars, args, file, out);
    }
    let mut report = DeployReport::new("the database", &settings.environment.to_string());
    let result = deploy_reporting(settings, vars, args, out, &mut report);
    if let Err(e) = &result {
        report.error(&e.message);
    }
    super::summary::after_deploy(settings, &report, out);
    result
}

fn deploy_reporting(
    settings: &Settings,
    vars: &VarSource,
    args: &MigrateArgs,
    out: &Output,
    report: &mut DeployReport,
) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    report.target = spec.describe();
    // Production without FORCE_RUN is refused before connecting; the rest of the gate runs
    // once the pending migrations are known.
    if settings.environment == crate::config::Environment::Production
        && !settings.run.force
        && settings.run.dry_run == crate::config::DryRun::Off
    {
        gate_for(settings, vars, out, &spec)
            .check(Operation::Migrate, &[], &[])
            .map_err(deploy_error)?;
    }
    let (set, plan) = load_and_plan(settings, out)?;
    let fixed = values(&args.vars)?;
    run_deploy(
        settings,
        vars,
        &spec,
        &set,
        &plan,
        &fixed,
        args.target.as_deref(),
        Safety {
            health: !args.skip_health,
            ..Safety::of(settings)
        },
        out,
        report,
    )
}

/// Validation of the set before deploying it, as a deploy does it (`crate::pipeline`), its
/// findings printed: for a fleet and the rollback test, which validate once for many deploys.
pub(super) fn validate_before(
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
pub(super) fn backup_options(
    settings: &Settings,
    kind: &'static str,
) -> crate::backup::BackupOptions {
    crate::backup::BackupOptions::from_settings(settings, kind)
}

/// The environment gate for commands on `spec`'s database.
pub(super) fn gate_for<'a>(
    settings: &'a Settings,
    vars: &'a VarSource,
    out: &'a Output,
    spec: &ConnectionSpec,
) -> Gate<'a> {
    Gate {
        settings,
        vars,
        out,
        target: spec.describe(),
        database: spec.database(),
    }
}

/// One deploy through the library's pipeline (`crate::pipeline`), watched from here: events
/// printed and logged, validation and health rendered, the run's story in `report`.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_deploy(
    settings: &Settings,
    vars: &VarSource,
    spec: &ConnectionSpec,
    set: &crate::migration::MigrationSet,
    plan: &crate::plan::Plan,
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
        set,
        plan,
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
