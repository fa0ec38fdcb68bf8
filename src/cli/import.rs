//! `pgshift import --from TOOL SOURCE`: another tool's migrations written into the migrations
//! folder as pgshift files (never overwriting), and the mapping old → new printed.

use std::path::Path;

use crate::config::Settings;
use crate::import::{self, Tool};
use crate::sanitize::escape::untrusted as u;

use super::{exit, CliError, Output};

pub fn run(settings: &Settings, tool: Tool, source: &Path, out: &Output) -> Result<u8, CliError> {
    let fail = |e: import::ImportError| CliError::usage(e.to_string(), Some(e.help()));
    let read = import::read_source(tool, source).map_err(fail)?;
    let today = chrono::Utc::now().date_naive();
    let imported = import::name(tool, read.migrations, today);
    let written = import::write(&settings.migrations.dir, &imported).map_err(fail)?;
    if out.json {
        let mapping: Vec<serde_json::Value> = imported
            .iter()
            .map(|i| {
                serde_json::json!({
                    "from": i.foreign.original.display().to_string(),
                    "source_version": i.foreign.source_version,
                    "to": format!("{}.sql", i.version),
                    "down": i.down_text.is_some(),
                    "includes": std::iter::once(&i.text).chain(i.down_text.as_ref()).flat_map(|t| import::include_lines(t)).collect::<Vec<_>>(),
                })
            })
            .collect();
        out.line(
            &serde_json::json!({ "imported": mapping, "skipped": read.skipped, "files_written": written.len() })
                .to_string(),
        );
        return Ok(exit::OK);
    }
    let width = imported
        .iter()
        .map(|i| i.foreign.original.display().to_string().len())
        .max()
        .unwrap_or(0);
    let mut text = format!(
        "Imported {} {} migration(s) into {}:\n",
        imported.len(),
        tool.name(),
        settings.migrations.dir.display()
    );
    for i in &imported {
        text.push_str(&format!(
            "  {:<width$}  →  {}.sql{}\n",
            u(&i.foreign.original.display().to_string()),
            i.version,
            if i.down_text.is_some() {
                " (+ .down.sql)"
            } else {
                ""
            }
        ));
    }
    for s in &read.skipped {
        text.push_str(&format!("  skipped: {}\n", u(s)));
    }
    for i in &imported {
        let texts = std::iter::once(&i.text).chain(i.down_text.as_ref());
        for line in texts.flat_map(|t| import::include_lines(t)) {
            text.push_str(&format!(
                "  note: {}.sql keeps `{}`: copy that file into {} where the line finds it (`\\ir` is relative to the migration); `pgshift validate` checks it\n",
                i.version,
                u(&line),
                settings.migrations.dir.display()
            ));
        }
    }
    // Supabase migrations need the schemas a project gives them (auth, storage): the test
    // loads the stub of them.
    let test = if tool == Tool::Supabase && !settings.supabase_project {
        "`pgshift test --supabase --rollback` (or set `[supabase] project = true` in pgshift.toml once, and `pgshift test` loads the stub itself)"
    } else {
        "`pgshift test --rollback`"
    };
    text.push_str(&format!(
        "{} file(s) written. Next: `pgshift validate`, then {test}; on a database {} already migrated, `pgshift adopt --from {}` records what it applied.",
        written.len(),
        tool.name(),
        tool.name()
    ));
    out.line(&text);
    Ok(exit::OK)
}
