//! `pgshift new`: a migration file dated today with its header filled in, and its down file.

use std::path::Path;

use crate::config::Settings;
use crate::migration::{load_dir, Version};
use crate::scaffold::{default_author, NewMigration, ScaffoldError};

use super::{exit, CliError, NewArgs, Output};

pub fn run(settings: &Settings, args: &NewArgs, cwd: &Path, out: &Output) -> Result<u8, CliError> {
    let mut depends_on = Vec::new();
    if !args.depends_on.is_empty() {
        let set = load_dir(&settings.migrations.dir, settings.environment)?;
        for d in &args.depends_on {
            let name = Path::new(d)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(d);
            let version = Version::parse_reference(name)
                .map_err(|e| CliError::usage(format!("--depends-on {d}: {e}"), Some(e.help())))?;
            if set.get(&version).is_none() {
                return Err(CliError::usage(
                    format!(
                        "--depends-on {d}: there is no {}.sql in {}",
                        version,
                        settings.migrations.dir.display()
                    ),
                    Some("`pgshift order` lists the migrations".to_string()),
                ));
            }
            depends_on.push(version);
        }
    }
    let new = NewMigration {
        description: args.description.join(" "),
        date: chrono::Local::now().date_naive(),
        author: default_author(cwd),
        depends_on,
        down: !args.no_down && !args.repeatable,
        repeatable: args.repeatable,
    };
    let written = new.write(&settings.migrations.dir).map_err(|e| {
        let help = match &e {
            ScaffoldError::MissingDir(_) => "run `pgshift init`, or pass the folder with --dir",
            ScaffoldError::Exists(_) => "choose another description, or edit the existing file",
            ScaffoldError::EmptyDescription(_) => {
                "describe the change in words, e.g. add_user_profiles"
            }
            ScaffoldError::Write { .. } => "check the folder's permissions",
        };
        CliError::usage(e.to_string(), Some(help.to_string()))
    })?;
    for path in &written {
        if out.json {
            out.line(&serde_json::json!({ "event": "created", "path": path }).to_string());
        } else {
            out.line(&format!("Created {}", path.display()));
        }
    }
    if !out.json {
        out.line(if written.len() > 1 {
            "Write the SQL below the header, and what undoes it in the .down.sql; `pgshift order` shows where it will run."
        } else {
            "Write the SQL below the header; `pgshift order` shows where it will run."
        });
    }
    Ok(exit::OK)
}
