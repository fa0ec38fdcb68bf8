//! `pgshift init`: configuration, folders and .gitignore entries.

use std::path::Path;

use crate::config::Settings;
use crate::scaffold::{init_github_workflow, init_project, InitAction};

use super::{exit, CiKind, CliError, InitArgs, Output};

pub fn run(settings: &Settings, args: &InitArgs, cwd: &Path, out: &Output) -> Result<u8, CliError> {
    let fail = |e: crate::scaffold::ScaffoldError| {
        CliError::usage(
            e.to_string(),
            Some("check the folder's permissions".to_string()),
        )
    };
    let mut actions = init_project(cwd, &settings.migrations.dir).map_err(fail)?;
    if let Some(CiKind::Github) = args.ci {
        actions.push(init_github_workflow(cwd, &settings.migrations.dir).map_err(fail)?);
    }
    for a in &actions {
        let (what, path) = match a {
            InitAction::Created(p) => ("created", p),
            InitAction::Updated(p) => ("updated", p),
            InitAction::Kept(p) => ("exists, kept", p),
        };
        let shown = path.strip_prefix(cwd).unwrap_or(path);
        if out.json {
            out.line(&serde_json::json!({ "event": what, "path": shown }).to_string());
        } else {
            out.line(&format!("  {what:<13} {}", shown.display()));
        }
    }
    if !out.json {
        out.line("\nNext: `pgshift new <description>` creates your first migration.");
        if args.ci.is_some() {
            out.line("The workflow's first lines list the secrets, variables and environments to set up in GitHub (docs/ci.md).");
        }
    }
    Ok(exit::OK)
}
