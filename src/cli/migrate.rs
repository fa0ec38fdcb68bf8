//! `pgshift migrate` (alias `deploy`): validation when something is pending, then the deploy
//! pipeline of the library, its events printed by `events::Printer`.

use crate::config::{Settings, VarSource};
use crate::deploy::gate::Operation;
use crate::pipeline::Safety;
use crate::report::deploy::DeployReport;

use super::confirm::gate_for;
use super::database::{deploy_error, load_and_plan, spec, while_loading};
use super::deploying::{run_deploy, values};
use super::{CliError, MigrateArgs, Output};

pub fn migrate(
    settings: &Settings,
    vars: &VarSource,
    args: &MigrateArgs,
    out: &Output,
) -> Result<u8, CliError> {
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
    let fixed = values(&args.vars)?;
    // The files are read on another thread while the deploy connects, locks and reads the
    // records.
    while_loading(
        || load_and_plan(settings, out),
        |files| {
            run_deploy(
                settings,
                vars,
                &spec,
                files,
                &fixed,
                args.target.as_deref(),
                Safety {
                    health: !args.skip_health,
                    ..Safety::of(settings)
                },
                out,
                report,
            )
        },
    )
}
