//! `pgshift migrate` (alias `deploy`), `status`, `history` and `test`: the commands that talk to
//! a database. Events from the library become lines (or JSON lines) here.

use std::collections::BTreeMap;
use std::io::Write;

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::db::tracking::Tracking;
use crate::deploy::status::State;
use crate::deploy::{self, DeployError, Event, Options};
use crate::diagnostic::Level;
use crate::lint::report::{render, Format};
use crate::migration::Version;
use crate::validate::{self, Check};

use super::{exit, CliError, HistoryArgs, MigrateArgs, Output};

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::usage(format!("cannot start the async runtime: {e}"), None))
}

fn spec(settings: &Settings) -> Result<ConnectionSpec, CliError> {
    let Some(url) = &settings.database_url else {
        return Err(CliError::usage(
            "no database given: set DATABASE_URL, or pass --database-url",
            Some("e.g. DATABASE_URL=postgresql://user:password@localhost:5432/app; `pgshift test` needs none: it starts its own PostgreSQL".to_string()),
        ));
    };
    ConnectionSpec::parse(url.url.expose())
        .map_err(|e| CliError::usage(format!("{} (from {})", e.message, url.source), Some(e.help)))
}

fn deploy_error(e: DeployError) -> CliError {
    let code = match e {
        DeployError::Blocked { .. } => exit::FINDINGS,
        _ => exit::USAGE,
    };
    CliError {
        help: Some(e.help()),
        message: e.to_string(),
        code,
    }
}

/// The `--var NAME=VALUE` flags.
fn values(flags: &[String]) -> Result<BTreeMap<String, String>, CliError> {
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

/// Prints events as lines, or as JSON lines with --json; on a terminal, a progress bar stays
/// below the lines while migrations run.
struct Printer {
    json: bool,
    width: usize,
    tty: bool,
    bar: Option<indicatif::ProgressBar>,
    /// `logs/migration_YYYYMMDD.log`: every event as a JSON line with its UTC time.
    log: Option<std::fs::File>,
}

impl Printer {
    fn new(json: bool, log_dir: Option<&std::path::Path>) -> Printer {
        use std::io::IsTerminal;
        let log = log_dir.and_then(|dir| {
            std::fs::create_dir_all(dir).ok()?;
            let name = format!("migration_{}.log", chrono::Utc::now().format("%Y%m%d"));
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
                .ok()
        });
        Printer {
            json,
            width: 0,
            tty: std::io::stdout().is_terminal(),
            bar: None,
            log,
        }
    }

    fn print(&mut self, e: &Event) {
        if let Some(log) = &mut self.log {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["at"] = serde_json::Value::String(
                chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string(),
            );
            let _ = writeln!(log, "{v}");
        }
        if self.json {
            if let Ok(s) = serde_json::to_string(e) {
                let _ = writeln!(std::io::stdout().lock(), "{s}");
            }
            return;
        }
        let text = self.text(e);
        match (&self.bar, e) {
            (Some(bar), Event::Applying { version, .. }) => bar.set_message(version.clone()),
            (
                Some(bar),
                Event::Applied { .. }
                | Event::Notice { .. }
                | Event::Resumed { .. }
                | Event::Warning { .. },
            ) => {
                if let Some(t) = text {
                    bar.println(t.trim_end());
                }
                if matches!(e, Event::Applied { .. }) {
                    bar.inc(1);
                }
            }
            (bar, _) => {
                if let Some(b) = bar {
                    b.finish_and_clear();
                    self.bar = None;
                }
                if let Some(t) = text {
                    let _ = write!(std::io::stdout().lock(), "{t}");
                }
            }
        }
    }

    /// The text of an event (several lines end with a newline each); errors go to stderr here.
    fn text(&mut self, e: &Event) -> Option<String> {
        let w = self.width;
        Some(match e {
            Event::Connected {
                target,
                server_version,
                environment,
            } => format!("Connected to {target} (PostgreSQL {server_version}, {environment}).\n"),
            Event::Waiting { holder } => {
                format!("Waiting for the deploy lock, held by {holder}…\n")
            }
            Event::Plan {
                to_run,
                variables,
                dry_run,
            } => {
                self.width = to_run.iter().map(|p| p.version.len()).max().unwrap_or(0);
                let w = self.width;
                if to_run.is_empty() {
                    "Nothing to do: every migration is applied.\n".to_string()
                } else if *dry_run {
                    let mut t = format!(
                        "Dry run: {} migration(s) would run, in this order:\n",
                        to_run.len()
                    );
                    for (i, p) in to_run.iter().enumerate() {
                        let late = if p.out_of_order {
                            "  (out of order)"
                        } else {
                            ""
                        };
                        t.push_str(&format!(
                            "  {:>3}. {:<w$}  {}{late}\n",
                            i + 1,
                            p.version,
                            p.mode
                        ));
                    }
                    if !variables.is_empty() {
                        t.push_str(&format!(
                            "psql variables used (values not shown): {}\n",
                            variables.join(", ")
                        ));
                    }
                    t.push_str("Backup: none (backups arrive in a later pgshift version). Nothing was changed.\n");
                    t
                } else {
                    if self.tty {
                        let bar = indicatif::ProgressBar::new(to_run.len() as u64);
                        bar.set_style(
                            indicatif::ProgressStyle::with_template(
                                "  [{bar:30}] {pos}/{len} {msg}",
                            )
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                            .progress_chars("=> "),
                        );
                        self.bar = Some(bar);
                    }
                    format!("{} migration(s) to apply:\n", to_run.len())
                }
            }
            Event::Warning { message } => format!("warning: {message}\n"),
            Event::Applying { .. } => return None,
            Event::Resumed {
                version,
                from_statement,
                dropped_invalid_index,
            } => {
                let mut t = String::new();
                if let Some(i) = dropped_invalid_index {
                    t.push_str(&format!(
                        "  {version}: dropped the invalid index {i} left by the failed run\n"
                    ));
                }
                t.push_str(&format!(
                    "  {version}: resuming at statement {from_statement}\n"
                ));
                t
            }
            Event::Applied { version, ms } => format!("  ✓ {version:<w$}  {ms} ms\n"),
            Event::Rehearsed { version, ms, locks } => {
                let mut t = format!("  ✓ {version:<w$}  {ms} ms (rolled back)\n");
                if !locks.is_empty() {
                    t.push_str(&format!("      locks: {}\n", locks.join(", ")));
                }
                t
            }
            Event::Skipped { version, reason } => format!("  - {version}: skipped, {reason}\n"),
            Event::Notice {
                version,
                severity,
                message,
            } => format!(
                "    {} from {version}: {message}\n",
                severity.to_lowercase()
            ),
            Event::Failed {
                version,
                sqlstate,
                message,
                position,
                detail,
                hint,
            } => {
                let mut err = std::io::stderr().lock();
                let code = sqlstate
                    .as_deref()
                    .map_or(String::new(), |s| format!(" [SQLSTATE {s}]"));
                let _ = writeln!(err, "error: {version} failed: {message}{code}");
                if let Some(p) = position {
                    let _ = writeln!(err, "  --> {p}");
                }
                if let Some(d) = detail {
                    let _ = writeln!(err, "  detail: {d}");
                }
                if let Some(h) = hint {
                    let _ = writeln!(err, "  hint: {h}");
                }
                let _ = writeln!(err, "  help: nothing of {version} was kept; earlier migrations stay applied and recorded. Fix the file and run `pgshift migrate` again");
                format!("  ✗ {version:<w$}  failed\n")
            }
            Event::Notified { channel } => format!(
                "Sent NOTIFY {channel}, 'reload schema' (PostgREST reloads its schema cache).\n"
            ),
            Event::Done {
                applied,
                failed,
                interrupted,
                ms,
            } => {
                if *interrupted {
                    format!("Interrupted after {applied} migration(s), {ms} ms; the lock is released.\n")
                } else if *failed {
                    format!("Stopped at the failure: {applied} migration(s) applied in {ms} ms.\n")
                } else if *applied > 0 {
                    format!("Applied {applied} migration(s) in {ms} ms.\n")
                } else {
                    return None;
                }
            }
        })
    }
}

/// SIGINT and SIGTERM set the returned flag.
fn interrupt_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        let _ = tx.send(true);
    });
    rx
}

/// Loads and orders the set; dependency and file-name errors stop here.
fn load_and_plan(
    settings: &Settings,
    out: &Output,
) -> Result<(crate::migration::MigrationSet, crate::plan::Plan), CliError> {
    let set = crate::migration::load_dir(&settings.dir, settings.environment)?;
    let mut blocking: Vec<_> = set
        .findings
        .iter()
        .filter(|f| f.level == Level::Error)
        .cloned()
        .collect();
    let plan = match crate::plan::plan(&set) {
        Ok(p) => Some(p),
        Err(errs) => {
            blocking.extend(errs);
            None
        }
    };
    match plan {
        Some(p) if blocking.is_empty() => Ok((set, p)),
        _ => {
            if !out.json {
                out.findings(&blocking);
            }
            Err(CliError {
                message: format!(
                    "the migrations in {} have errors; nothing was run",
                    settings.dir.display()
                ),
                help: Some("fix the errors above (`pgshift validate` shows every finding)".into()),
                code: exit::FINDINGS,
            })
        }
    }
}

/// Validation before applying: findings are shown; error-level findings stop the deploy (with
/// --force, dangerous operations do not).
fn validate_before(settings: &Settings, vars: &VarSource, out: &Output) -> Result<(), CliError> {
    validate::check_rule_config(&settings.rules)
        .map_err(|e| CliError::usage(e, Some("fix [rules] in pgshift.toml".to_string())))?;
    let lookup = super::validate::variable_lookup(settings, vars);
    let report = validate::validate(&validate::Options {
        dir: settings.dir.clone(),
        environment: settings.environment,
        parallel_jobs: settings.parallel_jobs,
        exposed_schemas: settings.exposed_schemas.clone(),
        rules: settings.rules.clone(),
        only: Vec::new(),
        families: Vec::new(),
        value_of: &lookup,
    })?;
    let shown: Vec<_> = report
        .findings
        .iter()
        .filter(|f| {
            f.allowed.is_none() && f.level >= Level::Warning && f.rule != "sql/missing-variable"
        })
        .cloned()
        .collect();
    if !out.json && !shown.is_empty() {
        let mut r = report.clone();
        r.findings = shown;
        eprint!("{}", render(&r, Format::Text, out.color));
    }
    let blocking = report.findings.iter().any(|f| {
        f.allowed.is_none()
            && f.level == Level::Error
            && !(settings.force
                && Check::of(&f.rule) == Check::Lint
                && f.rule.starts_with("dangerous/"))
    });
    if blocking {
        return Err(CliError {
            message: format!("validation found errors in {}; nothing was run", settings.dir.display()),
            help: Some("fix them (`pgshift validate` lists them), or accept a deliberate one with `-- @allow: <rule> <reason>`".into()),
            code: exit::FINDINGS,
        });
    }
    Ok(())
}

pub fn migrate(
    settings: &Settings,
    vars: &VarSource,
    args: &MigrateArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let spec = spec(settings)?;
    // The first part of the production gate (SPEC §6); the typed confirmation comes with the
    // environment gate.
    if settings.environment == crate::config::Environment::Production
        && !settings.force
        && settings.dry_run == crate::config::DryRun::Off
    {
        return Err(CliError {
            message: format!("refusing to deploy to production ({}) without FORCE_RUN=true", spec.describe()),
            help: Some("set FORCE_RUN=true or pass --force to deploy to production; `--dry-run` shows what would run".into()),
            code: exit::REFUSED,
        });
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
        out,
    )
}

#[allow(clippy::too_many_arguments)]
fn run_deploy(
    settings: &Settings,
    vars: &VarSource,
    spec: &ConnectionSpec,
    set: &crate::migration::MigrationSet,
    plan: &crate::plan::Plan,
    fixed: &BTreeMap<String, String>,
    target: Option<&str>,
    out: &Output,
) -> Result<u8, CliError> {
    let target = match target {
        Some(t) => Some(
            Version::parse_reference(t)
                .map_err(|e| CliError::usage(format!("--target {t}: {e}"), Some(e.help())))?,
        ),
        None => None,
    };
    let lookup = |name: &str| -> Option<String> {
        fixed
            .get(name)
            .cloned()
            .or_else(|| vars.get(&name.to_uppercase()).map(|(v, _)| v.to_string()))
            .or_else(|| settings.variables.get(name).cloned())
    };
    let rt = runtime()?;
    let mut printer = Printer::new(out.json, Some(&settings.log_dir));
    let before_run = || {
        validate_before(settings, vars, out).map_err(|e| DeployError::Blocked {
            message: e.message,
            help: e.help.unwrap_or_default(),
        })
    };
    let result = rt.block_on(async {
        let opts = Options {
            environment: settings.environment,
            tracking: Tracking::new(&settings.tracking_schema, &settings.tracking_table),
            timeout: settings.timeout,
            lock_wait: settings.lock_timeout,
            statement_lock_timeout: settings.statement_lock_timeout,
            target,
            dry_run: settings.dry_run,
            out_of_order: settings.out_of_order,
            values: &lookup,
            debug: settings.debug,
            notify_pgrst: settings.notify_pgrst,
            interrupt: interrupt_on_signals(),
            before_run: &before_run,
        };
        deploy::migrate(set, plan, spec, &opts, &mut |e| printer.print(&e)).await
    });
    let outcome = result.map_err(deploy_error)?;
    Ok(if outcome.interrupted {
        exit::INTERRUPTED
    } else if outcome.failed {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

pub fn status(settings: &Settings, out: &Output) -> Result<u8, CliError> {
    let spec = spec(settings)?;
    let set = crate::migration::load_dir(&settings.dir, settings.environment)?;
    let plan = crate::plan::plan(&set).map_err(|f| CliError {
        message: format!("the migrations cannot be ordered: {}", f[0].message),
        help: Some("run `pgshift order` to see every problem".into()),
        code: exit::FINDINGS,
    })?;
    let (status, target) = read_status(settings, &set, &plan, &spec)?;
    print_status(&status, &target, out);
    Ok(exit::OK)
}

/// The state of the database compared with the files (no lock, nothing created).
fn read_status(
    settings: &Settings,
    set: &crate::migration::MigrationSet,
    plan: &crate::plan::Plan,
    spec: &ConnectionSpec,
) -> Result<(deploy::status::Status, String), CliError> {
    let tracking = Tracking::new(&settings.tracking_schema, &settings.tracking_table);
    runtime()?
        .block_on(deploy::read_status(
            set,
            plan,
            spec,
            &tracking,
            settings.environment,
        ))
        .map_err(deploy_error)
}

fn print_status(status: &deploy::status::Status, target: &str, out: &Output) {
    if out.json {
        out.line(&serde_json::to_string(status).unwrap_or_default());
        return;
    }
    let width = status
        .entries
        .iter()
        .map(|e| e.version.len())
        .max()
        .unwrap_or(0);
    let mut text = format!("Migrations in {target}:\n");
    for e in &status.entries {
        let (state, extra) = match &e.state {
            State::Applied {
                cosmetic_change: false,
            } => ("applied", String::new()),
            State::Applied {
                cosmetic_change: true,
            } => (
                "applied",
                "  (comments/whitespace changed since)".to_string(),
            ),
            State::Pending {
                out_of_order: false,
            } => ("pending", String::new()),
            State::Pending { out_of_order: true } => (
                "pending",
                "  (out of order: dated before applied migrations)".to_string(),
            ),
            State::Failed { message } => ("FAILED", format!("  {message}")),
            State::Partial {
                statements_done,
                message,
            } => (
                "PARTIAL",
                format!("  {statements_done} statement(s) ran; {message}"),
            ),
            State::Modified => (
                "MODIFIED",
                "  the file changed after it was applied".to_string(),
            ),
            State::Unknown => ("unknown", "  recorded, but no file".to_string()),
            State::NotForEnvironment => ("skipped", "  @env excludes this environment".to_string()),
        };
        let when = e.executed_at.as_deref().unwrap_or("");
        text.push_str(&format!(
            "  {:<width$}  {state:<8}  {when:<23}{extra}\n",
            e.version
        ));
    }
    let c = status.counts;
    text.push_str(&format!(
        "{} applied, {} pending, {} failed, {} modified, {} unknown, {} out of order, {} skipped.",
        c.applied, c.pending, c.failed, c.modified, c.unknown, c.out_of_order, c.skipped
    ));
    out.line(&text);
}

pub fn history(settings: &Settings, args: &HistoryArgs, out: &Output) -> Result<u8, CliError> {
    let spec = spec(settings)?;
    let tracking = Tracking::new(&settings.tracking_schema, &settings.tracking_table);
    let rt = runtime()?;
    let rows = rt
        .block_on(async {
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
            tracking
                .rows(&client)
                .await
                .map_err(|e| DeployError::Db(e.to_string()))
        })
        .map_err(deploy_error)?;
    let mut rows: Vec<_> = rows.into_iter().rev().collect();
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    if out.json {
        out.line(&serde_json::to_string(&rows).unwrap_or_default());
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        out.line(&format!(
            "No migration recorded in {} of {}.",
            tracking.display(),
            spec.describe()
        ));
        return Ok(exit::OK);
    }
    let width = rows.iter().map(|r| r.version.len()).max().unwrap_or(0);
    for r in &rows {
        let result = if r.success {
            "ok".to_string()
        } else {
            format!("FAILED: {}", r.error_message.as_deref().unwrap_or(""))
        };
        out.line(&format!(
            "{}  {:<width$}  {:>6} ms  {}  {}",
            r.executed_at, r.version, r.execution_time_ms, r.applied_by, result
        ));
    }
    Ok(exit::OK)
}

/// `pgshift test`: a throwaway PostgreSQL, every migration applied, then the status.
pub fn test(settings: &Settings, vars: &VarSource, out: &Output) -> Result<u8, CliError> {
    let (set, plan) = load_and_plan(settings, out)?;
    // Only an explicit --database-url: a DATABASE_URL in the environment may well be a real
    // database, and `test` must never deploy there by accident.
    let explicit = settings
        .database_url
        .as_ref()
        .filter(|u| u.source == "--database-url");
    let (_cluster, url) = if let Some(url) = explicit {
        (None, url.url.expose().to_string())
    } else {
        if !out.json {
            out.line("Starting a throwaway PostgreSQL in a temporary directory…");
        }
        let c = crate::ephemeral::Cluster::start(&crate::ephemeral::ClusterOptions::default())
            .map_err(|e| CliError::usage(e.to_string(), Some(e.help().to_string())))?;
        let db = c
            .create_database("pgshift_test")
            .map_err(|e| CliError::usage(e.to_string(), Some(e.help().to_string())))?;
        let url = c.url(&db);
        (Some(c), url)
    };
    let spec = ConnectionSpec::parse(&url).map_err(|e| CliError::usage(e.message, Some(e.help)))?;
    let code = run_deploy(
        settings,
        vars,
        &spec,
        &set,
        &plan,
        &BTreeMap::new(),
        None,
        out,
    )?;
    let (status, target) = read_status(settings, &set, &plan, &spec)?;
    if !out.json {
        out.line("");
    }
    print_status(&status, &target, out);
    Ok(code)
}
