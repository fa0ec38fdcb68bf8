//! `pgshift health [--format text|json|markdown]`: the checks of `crate::health`, printed; exit
//! 1 when one fails. Also run after every deploy that applied something.

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::health::{self, HealthOptions, Level, Report};
use crate::migration::MigrationSet;
use crate::plan::Plan;

use super::database::{deploy_error, load_ordered, runtime, spec};
use super::output::Kind;
use super::{exit, CliError, HealthArgs, HealthFormat, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &HealthArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let format = args.format;
    let spec = spec(settings, vars, out)?;
    let (set, plan) = load_ordered(settings)?;
    let mut report = read(settings, &set, &plan, &spec)?;
    if args.drift {
        let none = std::collections::BTreeMap::new();
        let values = |name: &str| settings.variable(vars, &none, name);
        let mut builder = crate::diff::Builder::new(settings, &values, settings.supabase_project);
        let ignore = super::drift::ignore(settings, false);
        let d = runtime()?
            .block_on(crate::diff::drift::drift(
                &mut builder,
                &spec,
                (&set, &plan),
                &ignore,
            ))
            .map_err(|e| CliError::usage(e.to_string(), Some(e.help().to_string())))?;
        report.checks.push(crate::diff::drift::as_check(&d));
    }
    print(&report, format, out);
    super::summary::step_summary(|| crate::report::health::markdown(&report), out);
    Ok(code(&report))
}

/// Exit 1 when a check failed.
pub fn code(report: &Report) -> u8 {
    if report.level() == Level::Fail {
        exit::FINDINGS
    } else {
        exit::OK
    }
}

/// Runs the checks on `spec`'s database.
pub fn read(
    settings: &Settings,
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
) -> Result<Report, CliError> {
    let opts = HealthOptions {
        environment: settings.environment,
        tracking: settings.tracking.clone(),
        exposed_schemas: &settings.deploy.exposed_schemas,
        exposed_configured: settings.deploy.exposed_configured,
    };
    runtime()?
        .block_on(health::check(set, plan, spec, &opts))
        .map_err(deploy_error)
}

pub fn print(report: &Report, format: HealthFormat, out: &Output) {
    match format {
        HealthFormat::Text if !out.json => out.line(&crate::report::health::text(report)),
        HealthFormat::Markdown => out.stdout(&crate::report::health::markdown(report), Kind::Text),
        _ => out.stdout(
            &format!("{}\n", serde_json::to_string(report).unwrap_or_default()),
            Kind::Json,
        ),
    }
}
