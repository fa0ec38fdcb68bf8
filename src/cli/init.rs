//! `pgshift init`: configuration, folders and .gitignore entries.

use std::path::Path;

use crate::config::Settings;
use crate::scaffold::{init_project, InitAction};

use super::{exit, CliError, Output};

pub fn run(settings: &Settings, cwd: &Path, out: &Output) -> Result<u8, CliError> {
    let actions = init_project(cwd, &settings.dir).map_err(|e| {
        CliError::usage(
            e.to_string(),
            Some("check the folder's permissions".to_string()),
        )
    })?;
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
    }
    Ok(exit::OK)
}
