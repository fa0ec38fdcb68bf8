//! `pgshift migrate --targets FILE [--shard I/N]`: the library's fleet (`crate::fleet`) on the
//! command line. The set is validated once and the fleet confirmed once (by the targets file's
//! name); then a line per target as it finishes, one table, one job summary and one
//! notification.

use std::path::Path;
use std::time::Instant;

use crate::config::{DryRun, Environment, Settings, VarSource};
use crate::deploy::gate::Operation;
use crate::fleet::{Fleet, FleetError, Status};
use crate::migration::Version;
use crate::report::fleet::{self as render, Run};
use crate::sanitize::escape::untrusted as u;

use super::confirm::Gate;
use super::database::{deploy_error, load_and_plan};
use super::deploying::{validate_before, values};
use super::{exit, CliError, MigrateArgs, Output};

impl From<FleetError> for CliError {
    fn from(e: FleetError) -> Self {
        CliError::usage(e.message, Some(e.help))
    }
}

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &MigrateArgs,
    targets_file: &Path,
    out: &Output,
) -> Result<u8, CliError> {
    let started = Instant::now();
    let Selected {
        targets,
        listed,
        file_name,
        shard_text,
    } = select(targets_file, args, vars)?;
    if targets.is_empty() {
        out.line(&format!(
            "No target to deploy: {} lists {listed} database(s){shard_text}.",
            u(&file_name)
        ));
        return Ok(exit::OK);
    }
    // Once for the whole fleet: the files, the rules, and the confirmation.
    let (set, plan) = load_and_plan(settings, out)?;
    validate_before(settings, vars, &set, out)?;
    let fixed = values(&args.vars)?;
    if settings.environment != Environment::Development && settings.run.dry_run == DryRun::Off {
        let labels: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
        Gate {
            settings,
            vars,
            out,
            target: format!(
                "the {} database(s) of {}{shard_text}",
                targets.len(),
                file_name
            ),
            database: file_name.clone(),
        }
        .check(Operation::Migrate, &labels, &[])
        .map_err(deploy_error)?;
    }
    let target = match args.target.as_deref() {
        Some(t) => Some(
            Version::parse_reference(t)
                .map_err(|e| CliError::usage(format!("--target {t}: {e}"), Some(e.help())))?,
        ),
        None => None,
    };
    let jobs = settings.deploy.parallel_jobs.clamp(1, targets.len());
    if !out.json {
        out.line(&format!(
            "Deploying to {} database(s) of {}{shard_text}, {jobs} at a time ({}).",
            targets.len(),
            u(&file_name),
            settings.environment
        ));
    }
    // The targets finish an interruption each (the running migration rolled back); no more
    // start, and the table says which.
    let _handling = crate::interrupt::Handling::start();
    let lookup = |name: &str| settings.variable(vars, &fixed, name);
    let fleet = Fleet {
        settings,
        vars,
        set: &set,
        plan: &plan,
        values: &lookup,
        target,
        health: !args.skip_health,
    };
    let total = targets.len();
    let results = fleet.run(&targets, jobs, &|n, o| {
        out.line(&render::progress(n, total, o, out.json))
    });
    let run = Run {
        file: &file_name,
        shard: &shard_text,
        jobs,
        ms: started.elapsed().as_millis(),
        environment: settings.environment,
    };
    Ok(report(
        results.into_iter().flatten().collect(),
        total,
        &run,
        settings,
        out,
    ))
}

/// The targets of this run, and how to name them.
struct Selected {
    targets: Vec<crate::fleet::Target>,
    /// How many the file lists (before `--shard`).
    listed: usize,
    file_name: String,
    /// `, shard 2/4`, or nothing.
    shard_text: String,
}

/// The targets file read, and this shard of it.
fn select(targets_file: &Path, args: &MigrateArgs, vars: &VarSource) -> Result<Selected, CliError> {
    let all = crate::fleet::read_targets(targets_file, vars)?;
    let listed = all.len();
    let shard_of = args
        .shard
        .as_deref()
        .map(crate::fleet::parse_shard)
        .transpose()?;
    let targets = match shard_of {
        Some(s) => crate::fleet::shard(all, s),
        None => all,
    };
    Ok(Selected {
        targets,
        listed,
        file_name: targets_file.file_name().map_or_else(
            || targets_file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        shard_text: shard_of.map_or(String::new(), |(i, n)| format!(", shard {i}/{n}")),
    })
}

/// The fleet's result: the table (or one JSON line), the job summary, the notification; the
/// exit code.
fn report(
    results: Vec<crate::fleet::Outcome>,
    total: usize,
    run: &Run<'_>,
    settings: &Settings,
    out: &Output,
) -> u8 {
    let skipped = total - results.len();
    let failed = results.iter().filter(|o| o.status != Status::Ok).count();
    if out.json {
        out.line(
            &serde_json::json!({
                "event": "fleet_done",
                "targets": total,
                "ok": results.len() - failed,
                "failed": failed,
                "not_started": skipped,
                "ms": run.ms,
            })
            .to_string(),
        );
    } else {
        out.line(&render::table(&results, total, skipped, run));
    }
    super::summary::step_summary(|| render::markdown(&results, skipped, run), out);
    if let (Some(url), DryRun::Off) = (&settings.notify_webhook, settings.run.dry_run) {
        super::summary::post(url, &render::message(&results, skipped, run), out);
    }
    if crate::interrupt::requested() || results.iter().any(|o| o.interrupted) {
        exit::INTERRUPTED
    } else if failed > 0 || skipped > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    }
}
