//! `pgshift drift [--targets FILE]`: each database against what its applied migrations build,
//! grouped as made by hand, dropped by hand and different; a table of every target at the
//! end with `--targets`. Exit 0 when nothing drifted, 1 when something did, 2 on an error.

use std::collections::BTreeMap;

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::diff::drift::{drift, Drift, Ignore};
use crate::diff::Builder;
use crate::report::diff::{github, json_report, markdown_report, sarif, text, Labels};

use super::database::{load_ordered, runtime, spec};
use super::output::Kind;
use super::{exit, CliError, DriftArgs, DriftFormat, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &DriftArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let (set, plan) = load_ordered(settings)?;
    let ignore = ignore(settings, args.include_platform);
    let targets: Vec<(String, Result<ConnectionSpec, String>)> = match &args.targets {
        None => vec![("DATABASE_URL".into(), Ok(spec(settings, vars, out)?))],
        Some(file) => crate::fleet::targets::read_targets(file, vars)
            .map_err(|e| CliError::usage(e.message, Some(e.help)))?
            .into_iter()
            .map(|t| {
                let spec = t
                    .url
                    .and_then(|u| ConnectionSpec::parse(u.expose()).map_err(|e| e.message));
                (t.label, spec)
            })
            .collect(),
    };
    let none = BTreeMap::new();
    let values = |name: &str| settings.variable(vars, &none, name);
    let rt = runtime()?;
    let mut table: Vec<(String, String)> = Vec::new();
    let mut code = exit::OK;
    for (label, spec) in &targets {
        let spec = match spec {
            Ok(s) => s,
            Err(e) => {
                out.error(
                    &format!("{label}: {e}"),
                    Some("fix the line in the targets file"),
                );
                table.push((label.clone(), "error".into()));
                code = exit::USAGE;
                continue;
            }
        };
        if !out.json && args.format == DriftFormat::Text {
            out.stderr(&format!(
                "Building the migrations applied on {} on a throwaway PostgreSQL…\n",
                spec.describe()
            ));
        }
        let mut builder = Builder::new(
            settings,
            &values,
            args.supabase || settings.supabase_project,
        );
        match rt.block_on(drift(&mut builder, spec, (&set, &plan), &ignore)) {
            Ok(d) => {
                print(&d, args.format, out);
                table.push((
                    spec.describe(),
                    if d.clean() {
                        "clean".into()
                    } else {
                        format!("{} drifted", count(&d))
                    },
                ));
                if !d.clean() && code == exit::OK {
                    code = exit::FINDINGS;
                }
            }
            Err(e) => {
                out.error(&format!("{}: {e}", spec.describe()), Some(e.help()));
                table.push((spec.describe(), "error".into()));
                code = exit::USAGE;
            }
        }
    }
    if args.targets.is_some() && !out.json && args.format == DriftFormat::Text {
        let width = table.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
        out.line("");
        out.line(&format!("{:width$}  drift", "target"));
        for (t, r) in &table {
            out.line(&format!("{t:width$}  {r}"));
        }
    }
    Ok(code)
}

/// What drift leaves out: `[drift]` in pgshift.toml, the platform's schemas unless asked.
pub fn ignore(settings: &Settings, include_platform: bool) -> Ignore {
    Ignore {
        schemas: settings.drift.ignore_schemas.clone(),
        patterns: settings.drift.ignore.clone(),
        platform: include_platform || settings.drift.include_platform.unwrap_or(false),
    }
}

/// Objects drifted, what hangs on a listed one counted with it.
fn count(d: &Drift) -> usize {
    crate::report::diff::count(&d.changes, &d.expected, &d.live)
}

fn print(d: &Drift, format: DriftFormat, out: &Output) {
    let labels = Labels::drift();
    match format {
        DriftFormat::Text if !out.json => {
            for n in &d.notes {
                out.warning(n);
            }
            if d.clean() {
                out.line(&format!(
                    "No drift on {}: its schema is what its {} applied migration(s) build.",
                    d.target,
                    d.built.len()
                ));
            } else {
                out.line(&format!("Drift on {}: {} object(s).", d.target, count(d)));
                out.stdout(&text(&d.changes, &d.expected, &d.live, &labels), Kind::Text);
                out.line("To see the SQL that would make the migrations' schema from the database's: pgshift diff --from \"$DATABASE_URL\" --to <migrations folder>; to keep a change, write it as a migration: pgshift diff --from <migrations folder> --to \"$DATABASE_URL\" --write NAME");
            }
        }
        DriftFormat::Markdown => out.stdout(
            &markdown_report(
                &d.changes,
                &d.expected,
                &d.live,
                &labels,
                &format!("pgshift drift: {}", d.target),
            ),
            Kind::Text,
        ),
        DriftFormat::Github => out.stdout(
            &github(&d.changes, (&d.expected, &d.live), &d.target),
            Kind::Commands,
        ),
        DriftFormat::Sarif => out.stdout(
            &sarif(&d.changes, (&d.expected, &d.live), &d.target),
            Kind::Json,
        ),
        _ => out.stdout(&json_report(&d.changes, None), Kind::Json),
    }
}
