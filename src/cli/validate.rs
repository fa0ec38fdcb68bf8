//! `pgshift validate`, `scan` and `deps`: every check without a database.

use std::io::IsTerminal;

use crate::api::MigrationValidator;
use crate::config::{Settings, VarSource};
use crate::lint::Family;
use crate::report::stream::Writer;
use crate::report::{render, Format};
use crate::validate::{check_rule_config, Check};

use super::database::api_error;
use super::output::{safe, Kind};
use super::{exit, CliError, Output, ReportFormat};

/// How much of each part of the output waits in memory before the rest waits in a temporary
/// file (the text's information findings wait for the last error).
const SPILL_AFTER: usize = 1 << 20;

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
    let validator = MigrationValidator::from_settings(settings)
        .only(&checks)
        .families(families);
    let color = out.color && std::io::stdout().is_terminal();
    let format = format(report_format, out);
    let kind = match format {
        Format::Json | Format::Sarif => Kind::Json,
        Format::Github => Kind::Commands,
        Format::Text | Format::Markdown => Kind::Text,
    };
    // Text, JSON and GitHub's commands are written as the files are checked; Markdown, SARIF
    // and a job summary are made from the whole report.
    if super::summary::wanted().is_none() {
        let keep_ansi = out.keeps_ansi();
        let clean = |text: &str| safe(text, kind, keep_ansi).into_owned();
        if let Some(mut writer) = Writer::new(format, color, &clean, SPILL_AFTER) {
            let report = validator
                .validate_each(&lookup, &mut |f| writer.add(&f))
                .map_err(api_error)?;
            let errors = writer.counts().errors;
            writer
                .finish(&report, &mut |bytes| out.stdout_clean(bytes))
                .map_err(|e| CliError {
                    message: format!(
                        "cannot read back the findings kept in a temporary file: {e}; the report above is incomplete"
                    ),
                    help: Some("free space in the temporary folder (TMPDIR), or point TMPDIR at one with room, and run again".into()),
                    code: exit::FINDINGS,
                })?;
            return Ok(if errors > 0 { exit::FINDINGS } else { exit::OK });
        }
    }
    let report = validator.validate_with(&lookup).map_err(api_error)?;
    let text = render(&report, format, color);
    out.stdout(&text, kind);
    super::summary::step_summary(|| render(&report, Format::Markdown, false), out);
    Ok(if report.has_errors() {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
