//! `pgshift test [--rollback] [--supabase]`: on a throwaway PostgreSQL (or an explicit
//! `--database-url`), the Supabase stub when asked, every migration applied, then the health
//! check; with `--rollback`, every down file checked in plan order: up → schema dump → down →
//! the schema must equal the one before up → up again. The throwaway cluster is removed
//! afterwards, also on failure or interruption (`crate::ephemeral`).

use std::collections::BTreeMap;
use std::time::Instant;

use crate::backup::schema;
use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::deploy::rollback::Selection;
use crate::ephemeral::{Cluster, ClusterOptions};
use crate::health::Level;
use crate::migration::MigrationSet;
use crate::plan::Plan;
use crate::report::deploy::DeployReport;
use crate::sanitize::escape::{untrusted as u, untrusted_lines};

use super::database::{load_and_plan, runtime};
use super::deploying::{run_deploy, undo, Undo};
use super::{exit, CliError, Output, TestArgs};
use crate::pipeline::Safety;

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &TestArgs,
    out: &Output,
) -> Result<u8, CliError> {
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
    if args.supabase {
        load_stub(&spec)?;
        if !out.json {
            out.line("Loaded the Supabase stub: roles anon, authenticated, service_role, authenticator; schemas auth, storage, extensions.");
        }
    }
    let safety = Safety {
        // A throwaway cluster needs no gate; a database given by URL does.
        gate: explicit,
        // An empty test database needs no backup.
        backup: false,
        // The health check comes below, once, whatever the mode.
        health: false,
        validate: true,
    };
    let started = Instant::now();
    let mut summary = Vec::new();
    let code = if args.rollback {
        super::deploying::validate_before(settings, vars, &set, out)?;
        // pg_dump must match the server's major version.
        let major = server_major(&spec)?;
        let steps = round_trips(settings, vars, &spec, (&set, &plan), major, safety, out)?;
        let checked = steps.iter().filter(|s| s.down).count();
        let failed: Vec<&RoundTrip> = steps.iter().filter(|s| s.problem.is_some()).collect();
        summary.push(format!(
            "{} migration(s) applied; {checked} down file(s) checked: {}",
            steps.iter().filter(|s| s.applied).count(),
            if failed.is_empty() {
                "each one restored the schema".to_string()
            } else {
                format!(
                    "{} failed ({})",
                    failed.len(),
                    failed
                        .iter()
                        .map(|s| s.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
        if steps.iter().any(|s| s.interrupted) {
            if !out.json {
                out.line(
                    "Interrupted: the rollback test stopped; the throwaway PostgreSQL is removed.",
                );
            }
            exit::INTERRUPTED
        } else if failed.is_empty() {
            exit::OK
        } else {
            exit::FINDINGS
        }
    } else {
        let code = run_deploy(
            settings,
            vars,
            &spec,
            &set,
            &plan,
            &BTreeMap::new(),
            None,
            safety,
            out,
            &mut DeployReport::default(),
        )?;
        summary.push(if code == exit::OK {
            "every migration applied".to_string()
        } else {
            "the deploy stopped (see above)".to_string()
        });
        code
    };
    if code == exit::INTERRUPTED {
        return Ok(code);
    }
    let report = runtime()?
        .block_on(crate::health::check(
            &set,
            &plan,
            &spec,
            &crate::health::HealthOptions::from_settings(settings),
        ))
        .map_err(super::database::deploy_error)?;
    let health = report.level();
    if out.json {
        out.stdout(
            &format!("{}\n", serde_json::to_string(&report).unwrap_or_default()),
            super::output::Kind::Json,
        );
    } else {
        out.line("");
        out.line(&crate::report::health::text(&report));
        summary.push(format!(
            "health: {} failed, {} warning(s)",
            report.count(Level::Fail),
            report.count(Level::Warn)
        ));
        let passed = code == exit::OK && health != Level::Fail;
        let on = if explicit {
            spec.describe()
        } else {
            "a throwaway PostgreSQL (removed now)".to_string()
        };
        let seconds = started.elapsed().as_secs_f64();
        let verdict = if passed { "passed" } else { "FAILED" };
        out.line(&format!(
            "\nTest {verdict} in {seconds:.1} s on {}: {}.",
            u(&on),
            summary.join("; ")
        ));
        super::summary::step_summary(
            &format!(
                "## {} pgshift test {verdict}\n\n{:.1} s on {}: {}.\n\n{}",
                if passed { "✅" } else { "❌" },
                seconds,
                crate::sanitize::escape::markdown(&on),
                crate::sanitize::escape::markdown(&summary.join("; ")),
                crate::report::health::markdown(&report)
            ),
            out,
        );
    }
    Ok(if code != exit::OK {
        code
    } else if health == Level::Fail {
        exit::FINDINGS
    } else {
        exit::OK
    })
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

fn db_failure(what: &str) -> impl Fn(tokio_postgres::Error) -> CliError + '_ {
    move |e| {
        CliError::usage(
            format!(
                "{what}: {}",
                crate::sanitize::redact::redact_string(e.to_string())
            ),
            Some("check the database given with --database-url".to_string()),
        )
    }
}

/// `server_version_num / 10000`.
fn server_major(spec: &ConnectionSpec) -> Result<u32, CliError> {
    runtime()?.block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let client = spec.connect(tx).await.map_err(CliError::from)?;
        let row = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(db_failure("cannot read the server's version"))?;
        Ok((row.get::<_, i32>(0) / 10000) as u32)
    })
}

/// Loads the Supabase stub (idempotent).
fn load_stub(spec: &ConnectionSpec) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let client = spec.connect(tx).await.map_err(CliError::from)?;
        client
            .batch_execute(crate::supabase::STUB_SQL)
            .await
            .map_err(db_failure("cannot load the Supabase stub"))
    })
}

/// What happened to one migration in the rollback test.
struct RoundTrip {
    version: String,
    /// It has a down file, which was checked.
    down: bool,
    applied: bool,
    /// Why it failed: the step, and the schema difference when there is one.
    problem: Option<String>,
    interrupted: bool,
}

/// Every migration in plan order, its down file checked when it has one. Stops at the first
/// migration that cannot be applied or undone (what follows needs it).
fn round_trips(
    settings: &Settings,
    vars: &VarSource,
    spec: &ConnectionSpec,
    (set, plan): (&MigrationSet, &Plan),
    major: u32,
    safety: Safety,
    out: &Output,
) -> Result<Vec<RoundTrip>, CliError> {
    let quiet = Output {
        quiet: true,
        ..*out
    };
    let step_safety = Safety {
        validate: false,
        ..safety
    };
    let tracking = settings.tracking.clone();
    let dump = || {
        schema::schema(spec, major, settings.backup.pg_dump.as_deref(), &tracking)
            .map_err(|e| CliError::usage(e.to_string(), Some(e.help())))
    };
    let up = |v: &str| {
        run_deploy(
            settings,
            vars,
            spec,
            set,
            plan,
            &BTreeMap::new(),
            Some(v),
            step_safety,
            &quiet,
            &mut DeployReport::default(),
        )
    };
    let width = plan
        .steps
        .iter()
        .map(|s| s.version.as_str().len())
        .max()
        .unwrap_or(0);
    if !out.json {
        out.line("Rollback test, in plan order: up → schema → down → schema compared with the one before up → up again.");
    }
    // A database given by URL may have migrations applied already: they are not run again, so
    // their down files cannot be checked.
    let applied: std::collections::HashSet<String> = runtime()?
        .block_on(crate::deploy::read_status(
            set,
            plan,
            spec,
            &settings.tracking,
            settings.environment,
        ))
        .map_err(super::database::deploy_error)?
        .status
        .entries
        .into_iter()
        .filter(|e| matches!(e.state, crate::deploy::status::State::Applied { .. }))
        .map(|e| e.version)
        .collect();
    let mut results = Vec::new();
    for step in &plan.steps {
        let Some(m) = set.get(&step.version) else {
            continue;
        };
        if !m.runs_in(settings.environment) {
            continue;
        }
        let version = m.version.to_string();
        if !m.has_sql() {
            if !out.json {
                out.line(&format!(
                    "  -     {version:<width$}  holds no SQL: skipped, as deploys skip it"
                ));
            }
            continue;
        }
        if applied.contains(&version) {
            if !out.json {
                out.line(&format!(
                    "  -     {version:<width$}  applied in this database before: not run again, not checked"
                ));
            }
            continue;
        }
        let started = Instant::now();
        let mut r = RoundTrip {
            version: version.clone(),
            down: m.down.is_some(),
            applied: false,
            problem: None,
            interrupted: false,
        };
        let before = if r.down { Some(dump()?) } else { None };
        let code = up(&version)?;
        r.applied = code == exit::OK;
        if code != exit::OK {
            r.interrupted = code == exit::INTERRUPTED;
            r.problem = Some(if r.interrupted {
                "interrupted while it was applied (rolled back)".into()
            } else {
                "up failed (see above)".into()
            });
        } else if let Some(before) = before {
            let undone = undo(
                settings,
                vars,
                spec,
                (set, plan),
                &Selection::Version(version.clone()),
                Undo {
                    cascade: false,
                    dry_run: false,
                    gate: safety.gate,
                },
                &quiet,
            )?;
            if undone.interrupted || undone.failed {
                r.interrupted = undone.interrupted;
                r.problem = Some(if r.interrupted {
                    "interrupted while its down file ran (rolled back)".into()
                } else {
                    "down failed (see above)".into()
                });
            } else {
                let after = dump()?;
                let difference = schema::diff(
                    &before,
                    &after,
                    &format!("schema before {version}"),
                    "schema after its down file",
                );
                let again = up(&version)?;
                // What follows needs this migration applied.
                r.applied = again == exit::OK;
                r.interrupted = again == exit::INTERRUPTED;
                r.problem = match (difference, again) {
                    (Some(d), _) => Some(format!(
                        "the schema after the down file differs from the one before up:\n{d}"
                    )),
                    (None, exit::OK) => None,
                    (None, _) if r.interrupted => {
                        Some("interrupted while it was applied again".into())
                    }
                    (None, _) => Some("up again, after down, failed (see above)".into()),
                };
            }
        }
        if !out.json {
            let ms = started.elapsed().as_millis();
            let line = match (&r.problem, r.down) {
                (None, true) => format!("  ok    {version:<width$}  up, down, up: the down file restores the schema ({ms} ms)"),
                (None, false) => format!("  -     {version:<width$}  applied; no down file to check ({ms} ms)"),
                (Some(p), _) => format!("  FAIL  {version:<width$}  {}", untrusted_lines(p)),
            };
            out.line(&line);
        }
        let stop = !r.applied || r.interrupted;
        results.push(r);
        if stop {
            break;
        }
    }
    Ok(results)
}
