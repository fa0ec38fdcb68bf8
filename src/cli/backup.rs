//! `pgshift backup create | list | verify FILE | restore FILE | prune [--keep N]`.

use std::path::Path;

use crate::backup::{self};
use crate::config::{Settings, VarSource};
use crate::deploy::Event;
use crate::sanitize::escape::untrusted as u;

use super::database::{deploy_error, runtime, spec};
use super::deploying::backup_options;
use super::events::Printer;
use super::{exit, BackupCommand, CliError, Output};

fn backup_error(e: backup::BackupError) -> CliError {
    CliError {
        help: Some(e.help()),
        message: e.to_string(),
        code: exit::FINDINGS,
    }
}

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    command: &BackupCommand,
    out: &Output,
) -> Result<u8, CliError> {
    match command {
        BackupCommand::Create => create(settings, vars, out),
        BackupCommand::List => list(settings, out),
        BackupCommand::Verify { file } => verify(file, out),
        BackupCommand::Restore {
            file,
            from_database,
            dry_run,
            ..
        } => super::deploying::restore_file(
            settings,
            vars,
            file,
            from_database.clone(),
            *dry_run,
            out,
        ),
        BackupCommand::Prune { keep } => {
            let keep = keep.unwrap_or(settings.backup.keep);
            let removed = backup::prune(&settings.backup.dir, keep, None).map_err(backup_error)?;
            for r in &removed {
                out.line(&format!("removed {}", u(&r.display().to_string())));
            }
            out.line(&format!(
                "{} backup(s) removed; the newest {} kept in {}.",
                removed.len(),
                keep.max(1),
                u(&settings.backup.dir.display().to_string())
            ));
            Ok(exit::OK)
        }
    }
}

/// `backup create`: a backup now, with the versions applied at the time in its manifest.
fn create(settings: &Settings, vars: &VarSource, out: &Output) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let (server, applied) = runtime()?
        .block_on(crate::deploy::backup_source(&spec, &settings.tracking))
        .map_err(deploy_error)?;
    let started = std::time::Instant::now();
    let bar = progress_bar(out);
    let created = backup::create(
        &spec,
        &server,
        applied,
        &crate::deploy::new_run_id(),
        &backup_options(settings, "manual"),
        &mut |p| {
            if let Some(b) = &bar {
                b.set_message(crate::report::events::rate(
                    p.written,
                    started.elapsed().as_millis(),
                ));
            }
        },
    )
    .map_err(backup_error)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut printer = Printer::new(*out, Some(&settings.log_dir));
    printer.print(&Event::backed_up(&created, started.elapsed().as_millis()));
    Ok(exit::OK)
}

/// A spinner with a message, on a terminal only.
fn progress_bar(out: &Output) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    (!out.json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        b
    })
}

fn list(settings: &Settings, out: &Output) -> Result<u8, CliError> {
    let backups = backup::list(&settings.backup.dir).map_err(backup_error)?;
    if out.json {
        let v: Vec<_> = backups
            .iter()
            .map(|b| serde_json::json!({ "path": b.path, "size": b.size, "manifest": b.manifest }))
            .collect();
        out.line(&serde_json::Value::Array(v).to_string());
        return Ok(exit::OK);
    }
    if backups.is_empty() {
        out.line(&format!(
            "No backup in {}.",
            u(&settings.backup.dir.display().to_string())
        ));
        return Ok(exit::OK);
    }
    out.stdout(
        &crate::report::backup::list(&backups, &settings.backup.dir),
        super::output::Kind::Text,
    );
    Ok(exit::OK)
}

fn verify(file: &Path, out: &Output) -> Result<u8, CliError> {
    let v = backup::verify(file, &mut |_| {}).map_err(backup_error)?;
    let against = if backup::manifest(file).is_some() {
        "matches its manifest"
    } else {
        "has no manifest to compare with"
    };
    out.line(&format!(
        "{} is sound: {} of SQL in {} of gzip, complete, SHA-256 {}; it {against}.",
        u(&file.display().to_string()),
        crate::report::backup::mb(v.input_size),
        crate::report::backup::mb(v.size),
        v.sha256
    ));
    Ok(exit::OK)
}
