//! `pgshift test [--rollback] [--supabase]`: on a throwaway PostgreSQL (or an explicit
//! `--database-url`), the Supabase stub when asked, every migration applied, then the health
//! check; with `--rollback`, every down file checked in plan order: up → schema dump → down →
//! the schema must equal the one before up → up again. The throwaway cluster is removed
//! afterwards, also on failure or interruption (`crate::ephemeral`).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::ephemeral::{Cluster, ClusterOptions};
use crate::health::Level;
use crate::migration::MigrationSet;
use crate::plan::Plan;
use crate::report::deploy::DeployReport;

use super::database::{deploy_error, load_and_plan, runtime};
use super::deploying::run_deploy;
use super::events::Printer;
use super::{exit, CliError, Output, TestArgs};
use crate::pipeline::Safety;
use crate::roundtrip::RoundTrip;

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &TestArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let begun = Instant::now();
    let (set, plan) = load_and_plan(settings, out)?;
    // Each step finishes an interruption (a migration rolled back); then no more steps.
    let _handling = crate::interrupt::Handling::start();
    // Only an explicit --database-url: a DATABASE_URL in the environment may well be a real
    // database, and `test` must never deploy there by accident.
    let explicit = settings
        .database_url
        .as_ref()
        .filter(|u| u.source == "--database-url")
        .is_some();
    let (_cluster, spec) = if explicit {
        (None, super::database::spec(settings, vars, out)?)
    } else {
        let (c, spec) = throwaway(out)?;
        (Some(c), spec)
    };
    if args.supabase || settings.supabase_project {
        runtime()?
            .block_on(crate::supabase::load_stub(&spec))
            .map_err(deploy_error)?;
        if !out.json {
            out.line("Loaded the Supabase stub: roles anon, authenticated, service_role, authenticator; schemas auth, storage, extensions.");
        }
    }
    let started = Instant::now();
    let mut found = Vec::new();
    let code = if args.rollback {
        super::deploying::validate_before(settings, vars, &set, out)?;
        // A throwaway cluster needs no gate; a database given by URL does.
        let steps = round_trips(settings, vars, &spec, (&set, &plan), explicit, out)?;
        found.push(crate::report::test::round_trips(&steps));
        if steps.iter().any(|s| s.interrupted) {
            if !out.json {
                out.line(
                    "Interrupted: the rollback test stopped; the throwaway PostgreSQL is removed.",
                );
            }
            exit::INTERRUPTED
        } else if steps.iter().all(|s| s.problem.is_none()) {
            exit::OK
        } else {
            exit::FINDINGS
        }
    } else {
        let code = apply(settings, vars, &spec, (&set, &plan), explicit, out)?;
        found.push(if code == exit::OK {
            "every migration applied".to_string()
        } else {
            "the deploy stopped (see above)".to_string()
        });
        code
    };
    if code == exit::INTERRUPTED {
        return Ok(code);
    }
    let on = if explicit {
        spec.describe()
    } else {
        "a throwaway PostgreSQL (removed now)".to_string()
    };
    let healthy = health(
        settings,
        &spec,
        (&set, &plan),
        code,
        (begun, started, &on),
        found,
        out,
    )?;
    Ok(if code != exit::OK {
        code
    } else if healthy {
        exit::OK
    } else {
        exit::FINDINGS
    })
}

/// Every migration applied, in one deploy (through the gate on a database given by URL).
fn apply(
    settings: &Settings,
    vars: &VarSource,
    spec: &ConnectionSpec,
    (set, plan): (&MigrationSet, &Plan),
    gate: bool,
    out: &Output,
) -> Result<u8, CliError> {
    let safety = Safety {
        gate,
        // An empty test database needs no backup.
        backup: false,
        // The health check comes after, once, whatever the mode.
        health: false,
        validate: true,
    };
    run_deploy(
        settings,
        vars,
        spec,
        set,
        plan,
        &BTreeMap::new(),
        None,
        safety,
        out,
        &mut DeployReport::default(),
    )
}

/// The health check at the end, the verdict and the job summary; whether no check failed.
fn health(
    settings: &Settings,
    spec: &ConnectionSpec,
    (set, plan): (&MigrationSet, &Plan),
    code: u8,
    (begun, started, on): (Instant, Instant, &str),
    mut found: Vec<String>,
    out: &Output,
) -> Result<bool, CliError> {
    let report = runtime()?
        .block_on(crate::health::check(
            set,
            plan,
            spec,
            &crate::health::HealthOptions::from_settings(settings),
        ))
        .map_err(deploy_error)?;
    let healthy = report.level() != Level::Fail;
    if out.json {
        out.stdout(
            &format!("{}\n", serde_json::to_string(&report).unwrap_or_default()),
            super::output::Kind::Json,
        );
        return Ok(healthy);
    }
    out.line("");
    out.line(&crate::report::health::brief(&report));
    found.push(format!(
        "health: {} failed, {} warning(s)",
        report.count(Level::Fail),
        report.count(Level::Warn)
    ));
    let passed = code == exit::OK && healthy;
    let took = crate::report::test::Took {
        test: started.elapsed().as_secs_f64(),
        total: begun.elapsed().as_secs_f64(),
    };
    out.line(&crate::report::test::verdict(passed, took, on, &found));
    super::summary::step_summary(
        &crate::report::test::summary(
            passed,
            took,
            on,
            &found,
            &crate::report::health::markdown(&report),
        ),
        out,
    );
    Ok(healthy)
}

/// A throwaway cluster and a database in it.
fn throwaway(out: &Output) -> Result<(Cluster, ConnectionSpec), CliError> {
    if !out.json {
        out.line("Starting a throwaway PostgreSQL in a temporary directory…");
    }
    let fail = |e: crate::ephemeral::EphemeralError| {
        CliError::usage(e.to_string(), Some(e.help().to_string()))
    };
    let c = Cluster::start(&ClusterOptions::default()).map_err(fail)?;
    let db = c.create_database("pgshift_test").map_err(fail)?;
    // The cluster's own URL alone: libpq's environment (PGSSLMODE…) is for real servers.
    let spec = ConnectionSpec::parse(&c.url(&db)).map_err(CliError::from)?;
    Ok((c, spec))
}

/// The rollback test of the library (`crate::roundtrip`), a line per migration as it ends.
fn round_trips(
    settings: &Settings,
    vars: &VarSource,
    spec: &ConnectionSpec,
    (set, plan): (&MigrationSet, &Plan),
    gate: bool,
    out: &Output,
) -> Result<Vec<RoundTrip>, CliError> {
    let width = plan
        .steps
        .iter()
        .map(|s| s.version.as_str().len())
        .max()
        .unwrap_or(0);
    if !out.json {
        out.line("Rollback test, in plan order: up → schema → down → schema compared with the one before up → up again.");
    }
    let none = BTreeMap::new();
    let lookup = |name: &str| settings.variable(vars, &none, name);
    let ask = |prompt: &str| super::confirm::ask(out, prompt);
    let quiet = Output {
        quiet: true,
        ..*out
    };
    let mut printer = Printer::new(quiet, Some(&settings.log_dir));
    let mut line = |r: &RoundTrip| {
        if !out.json {
            out.line(&crate::report::test::round_trip(r, width));
        }
    };
    runtime()?
        .block_on(async {
            // pg_dump must match the server's major version.
            let major = crate::roundtrip::server_major(spec).await?;
            let trips = crate::roundtrip::RoundTrips {
                settings,
                spec,
                set,
                plan,
                values: &lookup,
                gate,
                ask: super::confirm::interactive(vars).then_some(&ask as &crate::deploy::gate::Ask),
                major,
            };
            trips.run(&mut printer, &mut line).await
        })
        .map_err(deploy_error)
}
