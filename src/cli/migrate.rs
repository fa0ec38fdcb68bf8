//! `pgshift migrate` (alias `deploy`): validation when something is pending, then the deploy
//! pipeline of the library, its events printed by `events::Printer`.

use std::collections::BTreeMap;

use crate::config::{DryRun, Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::deploy::{self, DeployError, Options};
use crate::diagnostic::Level;
use crate::migration::Version;
use crate::report::deploy::DeployReport;
use crate::report::{render, Format};
use crate::validate;

use super::confirm::Gate;
use super::database::{deploy_error, load_and_plan, runtime, spec};
use super::events::Printer;
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

/// A dangerous operation found by validation: the version of its file, and a line for the
/// gate's prompt (`file:line:col: rule: message`).
type Dangerous = (String, String);

/// Validation before applying: findings are shown; error-level findings stop the deploy (with
/// --force, dangerous operations do not). Returns the dangerous operations, for the gate.
pub(super) fn validate_before(
    settings: &Settings,
    vars: &VarSource,
    set: &crate::migration::MigrationSet,
    out: &Output,
) -> Result<Vec<Dangerous>, CliError> {
    validate::check_rule_config(&settings.rules)
        .map_err(|e| CliError::usage(e, Some("fix [rules] in pgshift.toml".to_string())))?;
    let none = BTreeMap::new();
    let lookup = |name: &str| settings.variable(vars, &none, name);
    let report = crate::api::MigrationValidator::from_settings(settings)
        .validate_loaded(set, &lookup)
        .map_err(super::database::api_error)?;
    let shown: Vec<_> = report
        .findings
        .iter()
        .filter(|f| {
            f.allowed.is_none() && f.level >= Level::Warning && f.rule != "sql/missing-variable"
        })
        .cloned()
        .collect();
    if !out.json && !out.quiet && !shown.is_empty() {
        // Errors in full, with their source lines; warnings one line per rule with its count,
        // so that a deploy log of a thousand plain files stays readable (`validate` has them all).
        let (errors, warnings): (Vec<_>, Vec<_>) =
            shown.into_iter().partition(|f| f.level == Level::Error);
        if !errors.is_empty() {
            let mut r = report.clone();
            r.findings = errors;
            out.stderr(&render(&r, Format::Text, out.color));
        }
        if !warnings.is_empty() {
            out.stderr(&warning_lines(&warnings));
        }
    }
    if report.blocks_deploy(settings.run.force) {
        return Err(CliError {
            message: format!("validation found errors in {}; nothing was run", settings.migrations.dir.display()),
            help: Some("fix them (`pgshift validate` lists them), or accept a deliberate one with `-- @allow: <rule> <reason>`".into()),
            code: exit::FINDINGS,
        });
    }
    Ok(report
        .findings
        .iter()
        .filter(|f| f.rule.starts_with("dangerous/"))
        .filter_map(|f| {
            let loc = f.location.as_ref()?;
            let version = loc.file.file_stem()?.to_string_lossy().into_owned();
            let allowed = match f.allowed.as_deref() {
                Some("") => " (allowed by @allow)".to_string(),
                Some(reason) => format!(" (allowed by @allow: {reason})"),
                None => String::new(),
            };
            Some((
                version,
                format!("{loc}: {}: {}{allowed}", f.rule, f.message),
            ))
        })
        .collect())
}

/// One line per rule: its first finding, where, and how many more.
fn warning_lines(warnings: &[crate::diagnostic::Finding]) -> String {
    let mut rules: Vec<(&str, Vec<&crate::diagnostic::Finding>)> = Vec::new();
    for f in warnings {
        match rules.iter_mut().find(|(r, _)| *r == f.rule) {
            Some((_, list)) => list.push(f),
            None => rules.push((&f.rule, vec![f])),
        }
    }
    let mut text = String::new();
    for (rule, list) in &rules {
        let first = list[0];
        let at = first
            .location
            .as_ref()
            .map_or_else(String::new, |l| format!(" ({l})"));
        let more = match list.len() {
            1 => String::new(),
            n => format!(", and {} more like it", n - 1),
        };
        text.push_str(&format!("warning[{rule}]: {}{at}{more}\n", first.message));
    }
    text.push_str(&format!(
        "{} warning(s) of {} rule(s); `pgshift validate` shows each one with its line and what to do.\n",
        warnings.len(),
        rules.len()
    ));
    text
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
            gate: true,
            backup: !settings.deploy.skip_backup,
            health: !args.skip_health,
            validate: true,
        },
        out,
        report,
    )
}

/// What protects a deploy: the environment gate, the backup before the first migration, and
/// the health check after a deploy that applied something.
#[derive(Debug, Clone, Copy)]
pub(super) struct Safety {
    pub gate: bool,
    pub backup: bool,
    pub health: bool,
    /// Validate the set first (off only where it was validated just before).
    pub validate: bool,
}

/// How backups are taken, from the settings.
pub(super) fn backup_options(
    settings: &Settings,
    kind: &'static str,
) -> crate::backup::BackupOptions {
    crate::backup::BackupOptions {
        dir: settings.backup.dir.clone(),
        keep: settings.backup.keep,
        pg_dump: settings.backup.pg_dump.clone(),
        level: settings.backup.compression,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kind,
    }
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
    let rt = runtime()?;
    let mut printer = Printer::new(*out, Some(&settings.log_dir));
    let dangerous = std::sync::Mutex::new(Vec::new());
    let before_run = || {
        if !safety.validate {
            return Ok(());
        }
        let found =
            validate_before(settings, vars, set, out).map_err(|e| DeployError::Blocked {
                message: e.message,
                help: e.help.unwrap_or_default(),
            })?;
        if let Ok(mut d) = dangerous.lock() {
            *d = found;
        }
        Ok(())
    };
    let gate = gate_for(settings, vars, out, spec);
    let check_gate = |versions: &[String]| {
        if !safety.gate {
            return Ok(());
        }
        let lines: Vec<String> = dangerous
            .lock()
            .map(|d| {
                d.iter()
                    .filter(|(v, _)| versions.contains(v))
                    .map(|(_, line)| line.clone())
                    .collect()
            })
            .unwrap_or_default();
        gate.check(Operation::Migrate, versions, &lines)
    };
    let result = rt.block_on(async {
        let opts = Options {
            environment: settings.environment,
            tracking: settings.tracking.clone(),
            timeout: settings.deploy.timeout,
            lock_wait: settings.deploy.lock_timeout,
            statement_lock_timeout: settings.deploy.statement_lock_timeout,
            lock_retries: settings.deploy.lock_retries,
            target,
            dry_run: settings.run.dry_run,
            out_of_order: settings.migrations.out_of_order,
            values: &lookup,
            debug: settings.run.debug,
            notify_pgrst: settings.deploy.notify_pgrst,
            interrupt: crate::interrupt::subscribe(),
            before_run: &before_run,
            gate: &check_gate,
            backup: safety
                .backup
                .then(|| backup_options(settings, "before_migration")),
            supabase_history: settings.supabase_history,
        };
        deploy::migrate(set, plan, spec, &opts, &mut |e| {
            report.observe(&e);
            printer.print(&e)
        })
        .await
    });
    let outcome = result.map_err(deploy_error)?;
    Ok(if outcome.interrupted {
        exit::INTERRUPTED
    } else if outcome.failed {
        exit::FINDINGS
    } else if safety.health && outcome.applied > 0 && settings.run.dry_run == DryRun::Off {
        super::health::after_deploy(settings, set, plan, spec, out, report)?
    } else {
        exit::OK
    })
}
