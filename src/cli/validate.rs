//! `pgshift validate`, `scan` and `deps`: every check without a database.

use std::io::IsTerminal;

use crate::api::MigrationValidator;
use crate::config::{Settings, VarSource};
use crate::lint::Family;
use crate::report::{render, Format};
use crate::validate::{check_rule_config, Check};

use super::database::api_error;
use super::output::Kind;
use super::{exit, CliError, Output, ReportFormat};

fn format(f: ReportFormat, out: &Output) -> Format {
    match f {
        ReportFormat::Text if out.json => Format::Json,
        ReportFormat::Text => Format::Text,
        ReportFormat::Json => Format::Json,
        ReportFormat::Markdown => Format::Markdown,
        ReportFormat::Github => Format::Github,
        ReportFormat::Sarif => Format::Sarif,
    }
}

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    only: &[String],
    families: &[Family],
    report_format: ReportFormat,
    out: &Output,
) -> Result<u8, CliError> {
    check_rule_config(&settings.rules)
        .map_err(|e| CliError::usage(e, Some("fix [rules] in pgshift.toml".to_string())))?;
    let mut checks = Vec::new();
    for o in only {
        checks.push(Check::parse(o).ok_or_else(|| {
            CliError::usage(
                format!("--only {o}: not a check"),
                Some(
                    "accepted: filenames, headers, syntax, deps, lint (comma-separated)"
                        .to_string(),
                ),
            )
        })?);
    }
    let none = std::collections::BTreeMap::new();
    let lookup = |name: &str| settings.variable(vars, &none, name);
    let report = MigrationValidator::from_settings(settings)
        .only(&checks)
        .families(families)
        .validate_with(&lookup)
        .map_err(api_error)?;
    let color = out.color && std::io::stdout().is_terminal();
    let format = format(report_format, out);
    let text = render(&report, format, color);
    out.stdout(
        &text,
        match format {
            Format::Json | Format::Sarif => Kind::Json,
            Format::Github => Kind::Commands,
            Format::Text | Format::Markdown => Kind::Text,
        },
    );
    super::summary::step_summary(|| render(&report, Format::Markdown, false), out);
    Ok(if report.has_errors() {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
