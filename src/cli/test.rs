//! `pgshift test [--rollback] [--supabase] [--junit FILE] [--tap]`: on a throwaway PostgreSQL
//! (or an explicit `--database-url`), the Supabase stub when asked, every migration applied,
//! then the health check. With data tests (`tests/<version>.before.sql`, `.after.sql`), a
//! report, or `--rollback`, one migration at a time (`crate::roundtrip`): its data tests around
//! it, and with `--rollback` its down file checked: up → schema and rows → down → both must
//! equal the ones before up → up again. The throwaway cluster is removed afterwards, also on
//! failure or interruption (`crate::ephemeral`).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::config::{Settings, VarSource};
use crate::datatest::DataTests;
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
    let data = data_tests(&set)?;
    // TAP owns stdout: the text is left out, errors still go to stderr.
    let out = &Output {
        quiet: out.quiet || args.tap,
        ..*out
    };
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
    let stepwise = args.rollback || !data.is_empty() || args.junit.is_some() || args.tap;
    let mut cases = Vec::new();
    let code = if stepwise {
        super::deploying::validate_before(settings, vars, &set, out)?;
        // A throwaway cluster needs no gate; a database given by URL does.
        let on = Steps {
            spec: &spec,
            gate: explicit,
            check_down: args.rollback,
            data: &data,
        };
        let steps = round_trips(settings, vars, &on, (&set, &plan), out)?;
        found.push(crate::report::test::round_trips(&steps));
        found.extend(crate::report::test::data_tests(&steps));
        cases = steps.iter().flat_map(|s| s.cases.clone()).collect();
        steps_code(&steps, out)
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
    let checked = Instant::now();
    let healthy = health(
        settings,
        &spec,
        (&set, &plan),
        code,
        (begun, started, &on),
        found,
        out,
    )?;
    cases.push(health_case(healthy, checked));
    reports(args, &cases, out)?;
    Ok(if code != exit::OK {
        code
    } else if healthy {
        exit::OK
    } else {
        exit::FINDINGS
    })
}

/// The health check as a report's case.
fn health_case(healthy: bool, checked: Instant) -> crate::roundtrip::Case {
    crate::roundtrip::Case {
        version: String::new(),
        step: "health check",
        ms: checked.elapsed().as_millis(),
        failure: (!healthy).then(|| {
            "a health check failed: run `pgshift health` on the database for each check".to_string()
        }),
    }
}

/// The exit code of the step-by-step test.
fn steps_code(steps: &[RoundTrip], out: &Output) -> u8 {
    if steps.iter().any(|s| s.interrupted) {
        if !out.json {
            out.line("Interrupted: the test stopped; the throwaway PostgreSQL is removed.");
        }
        exit::INTERRUPTED
    } else if steps.iter().all(|s| s.problem.is_none()) {
        exit::OK
    } else {
        exit::FINDINGS
    }
}

/// The data tests under `<migrations>/tests/`; a misnamed file stops the test before it starts.
fn data_tests(set: &MigrationSet) -> Result<DataTests, CliError> {
    let (data, findings) = DataTests::load(set);
    match findings.first() {
        None => Ok(data),
        Some(f) => Err(CliError::usage(
            findings
                .iter()
                .map(|f| match &f.location {
                    Some(l) => format!("{}: {}", l.file.display(), f.message),
                    None => f.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            f.help.clone(),
        )),
    }
}

/// `--junit FILE` written, `--tap` printed.
fn reports(
    args: &TestArgs,
    cases: &[crate::roundtrip::Case],
    out: &Output,
) -> Result<(), CliError> {
    if let Some(path) = &args.junit {
        std::fs::write(path, crate::report::junit::junit(cases, "pgshift test")).map_err(|e| {
            CliError::usage(
                format!("cannot write the JUnit report {}: {e}", path.display()),
                Some("check that its folder exists and can be written".to_string()),
            )
        })?;
    }
    if args.tap {
        out.stdout(&crate::report::junit::tap(cases), super::output::Kind::Text);
    }
    Ok(())
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
        crate::deploy::files::Files::Ready(set, plan),
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
        || {
            crate::report::test::summary(
                passed,
                took,
                on,
                &found,
                &crate::report::health::markdown(&report),
            )
        },
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

/// Where and how the step-by-step test runs.
struct Steps<'a> {
    spec: &'a ConnectionSpec,
    /// Through the environment gate (a database given by URL).
    gate: bool,
    /// `--rollback`.
    check_down: bool,
    data: &'a DataTests,
}

/// The step-by-step test of the library (`crate::roundtrip`), a line per migration as it ends.
fn round_trips(
    settings: &Settings,
    vars: &VarSource,
    on: &Steps,
    (set, plan): (&MigrationSet, &Plan),
    out: &Output,
) -> Result<Vec<RoundTrip>, CliError> {
    let spec = on.spec;
    let width = plan
        .steps
        .iter()
        .map(|s| s.version.as_str().len())
        .max()
        .unwrap_or(0);
    if !out.json {
        out.line(if on.check_down {
            "Rollback test, in plan order: up → schema and rows → down → both compared with the ones before up → up again."
        } else {
            "In plan order, one migration at a time, each with its data tests."
        });
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
                gate: on.gate,
                ask: super::confirm::interactive(vars).then_some(&ask as &crate::deploy::gate::Ask),
                major,
                check_down: on.check_down,
                data: on.data,
            };
            trips.run(&mut printer, &mut line).await
        })
        .map_err(deploy_error)
}
