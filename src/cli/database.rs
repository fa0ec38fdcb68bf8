//! What the commands that talk to a database share: the async runtime, the connection (from
//! the URL, libpq's environment and password file), the set and its plan, and how library
//! errors become command-line errors.

use crate::config::{Settings, VarSource};
use std::sync::Mutex;

use crate::db::connect::ConnectionSpec;
use crate::deploy::files::{Files, Loading, Wait};
use crate::deploy::DeployError;
use crate::diagnostic::Level;
use crate::migration::MigrationSet;
use crate::plan::Plan;

use super::{exit, CliError, Output};

pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::usage(format!("cannot start the async runtime: {e}"), None))
}

/// The database to use (see [`crate::api::connection`]); its warnings printed.
pub fn spec(
    settings: &Settings,
    vars: &VarSource,
    out: &Output,
) -> Result<ConnectionSpec, CliError> {
    let spec = crate::api::connection(settings, vars).map_err(api_error)?;
    for w in &spec.warnings {
        out.warning(w);
    }
    Ok(spec)
}

/// A library API error as the command line reports it.
pub fn api_error(e: crate::api::ApiError) -> CliError {
    use crate::api::ApiError;
    match e {
        ApiError::Connection { message, help } => CliError::usage(message, Some(help)),
        ApiError::Load(l) => CliError::from(l),
        ApiError::Config(c) => CliError::from(c),
        ApiError::Deploy(d) => deploy_error(d),
        other => CliError::usage(other.to_string(), None),
    }
}

pub fn deploy_error(e: DeployError) -> CliError {
    let code = match &e {
        DeployError::Blocked { .. } | DeployError::Invalid { .. } => exit::FINDINGS,
        DeployError::Refused { .. } => exit::REFUSED,
        DeployError::Connect(c) if c.interrupted => exit::INTERRUPTED,
        _ => exit::USAGE,
    };
    CliError {
        help: Some(e.help()),
        message: e.to_string(),
        code,
    }
}

/// Loads and orders the set; dependency and file-name errors stop here.
pub fn load_and_plan(settings: &Settings, out: &Output) -> Result<(MigrationSet, Plan), CliError> {
    let set = crate::migration::load_dir_indexed(&settings.migrations.dir, settings.environment)?;
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
                // Every error at once, as `validate` shows them (syntax and lint too), not only
                // the ones that stopped loading: one round of fixes, not one per error.
                let full = crate::api::MigrationValidator::from_settings(settings)
                    .validate_with(&|_| None);
                let errors: Vec<_> = match full {
                    Ok(r) => r
                        .findings
                        .into_iter()
                        .filter(|f| f.level == Level::Error && f.allowed.is_none())
                        .collect(),
                    Err(_) => blocking,
                };
                out.findings(&errors);
            }
            Err(CliError {
                message: format!(
                    "the migrations in {} have errors; nothing was run",
                    settings.migrations.dir.display()
                ),
                help: Some("fix the errors above (`pgshift validate` shows every finding)".into()),
                code: exit::FINDINGS,
            })
        }
    }
}

/// Loads and orders the set for commands that only read the database (`status`, `health`):
/// findings in the files do not stop them, an order that cannot be made does.
/// Runs `work` while `load` reads the files on another thread: a command that connects gets
/// its connection and the records while thousands of files are read. `work` waits for the
/// files when it needs them (`Files::get`); a problem with them is said in place of whatever
/// `work` says (it may have failed without them, or for want of them).
pub fn while_loading<T>(
    load: impl FnOnce() -> Result<(MigrationSet, Plan), CliError> + Send,
    work: impl FnOnce(Files<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let failed: Mutex<Option<CliError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let loading = Loading::spawn(scope, || match load() {
            Ok(loaded) => Some(loaded),
            Err(e) => {
                if let Ok(mut f) = failed.lock() {
                    *f = Some(e);
                }
                None
            }
        });
        let result = work(Files::Loading(&loading));
        let _ = loading.wait();
        loading.join();
        // The process ends next, and its memory goes back whole: freeing 10,000 migrations
        // one by one cost a no-op 6 ms. (The loader's thread is joined by `join`.)
        std::mem::forget(loading);
        match failed.lock().ok().and_then(|mut f| f.take()) {
            Some(e) => Err(e),
            None => result,
        }
    })
}

pub fn load_ordered(settings: &Settings) -> Result<(MigrationSet, Plan), CliError> {
    let set = crate::migration::load_dir_indexed(&settings.migrations.dir, settings.environment)?;
    let plan = crate::plan::plan(&set).map_err(|f| CliError {
        message: format!("the migrations cannot be ordered: {}", f[0].message),
        help: Some("run `pgshift order` to see every problem".into()),
        code: exit::FINDINGS,
    })?;
    Ok((set, plan))
}

/// The database commands that change tracking records only (`repair`, `forget`, `baseline`):
/// the set, the gate, the lock, the events printed and logged.
pub fn run_records(
    settings: &Settings,
    vars: &VarSource,
    out: &Output,
    operation: crate::deploy::gate::Operation,
    version: &str,
) -> Result<u8, CliError> {
    use crate::deploy::records::{self, RecordOptions};
    let spec = spec(settings, vars, out)?;
    let (set, plan) = load_ordered(settings)?;
    let version = crate::migration::Version::parse_reference(version)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| version.trim_end_matches(".sql").to_string());
    let gate = super::confirm::gate_for(settings, vars, out, &spec);
    let check = |lines: &[String]| gate.check(operation, lines, &[]);
    let opts = RecordOptions {
        environment: settings.environment,
        tracking: settings.tracking.clone(),
        lock_wait: settings.deploy.lock_timeout,
        gate: &check,
    };
    let mut printer = super::events::Printer::new(*out, Some(&settings.log_dir));
    let mut on = |e: crate::deploy::Event| printer.print(&e);
    let rt = runtime()?;
    use crate::deploy::gate::Operation;
    let result = rt.block_on(async {
        match operation {
            Operation::Repair => {
                records::repair(&set, &plan, &spec, &opts, &version, &mut on).await
            }
            Operation::Forget => {
                records::forget(&set, &plan, &spec, &opts, &version, &mut on).await
            }
            _ => records::baseline(&set, &plan, &spec, &opts, &version, &mut on).await,
        }
    });
    result.map_err(deploy_error)?;
    Ok(exit::OK)
}

/// Loads the set and plans it. Findings are printed (text mode); `Ok(None)` means errors
/// prevent an order.
pub fn load_plan(
    settings: &Settings,
    out: &Output,
) -> Result<(MigrationSet, Option<Plan>, Vec<crate::diagnostic::Finding>), CliError> {
    let set = crate::migration::load_dir_indexed(&settings.migrations.dir, settings.environment)?;
    let mut findings = set.findings.clone();
    let planned = match crate::plan::plan(&set) {
        Ok(p) => Some(p),
        Err(errs) => {
            findings.extend(errs);
            None
        }
    };
    findings.sort_by(crate::diagnostic::Finding::by_place);
    if !out.json {
        out.findings(&findings);
    }
    let blocked = crate::diagnostic::Counts::of(&findings).errors > 0;
    Ok((set, planned.filter(|_| !blocked), findings))
}
