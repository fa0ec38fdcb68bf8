//! `pgshift diff --from SRC --to SRC`: what turns FROM's schema into TO's, as SQL psql runs
//! (default), or grouped as text, JSON or Markdown; `--write NAME` writes it as a migration
//! pair. SRC is a database URL, a migrations directory (built on a throwaway PostgreSQL) or
//! `empty`. Exit 0 when nothing differs, 1 when something does, 2 on an error (as diff(1)).

use std::collections::BTreeMap;

use crate::config::{Settings, VarSource};
use crate::diff::{Builder, Source};
use crate::report::diff::{json_report, markdown_report, text, Labels};
use crate::schema::script::script;

use super::database::runtime;
use super::output::Kind;
use super::{exit, CliError, DiffArgs, DiffFormat, Output};

/// A URL given to --from or --to is a secret like DATABASE_URL: masked wherever it could be
/// printed, and so is its password.
fn remember_urls(sources: &[&Source]) {
    for source in sources {
        if let Source::Url(u) = source {
            crate::sanitize::redact::remember(u);
            if let Ok(spec) = crate::db::connect::ConnectionSpec::parse(u) {
                if let (_, Some(password)) = spec.for_libpq("pgshift diff") {
                    crate::sanitize::redact::remember(&password);
                }
            }
        }
    }
}

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &DiffArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let from = Source::parse(&args.from);
    let to = Source::parse(&args.to);
    remember_urls(&[&from, &to]);
    if args.write.is_some() && !matches!(from, Source::Dir(_)) {
        return Err(CliError::usage(
            "--write needs --from to be the migrations folder".to_string(),
            Some(
                "pgshift diff --from migrations --to postgresql://localhost/dev --write add_orders"
                    .into(),
            ),
        ));
    }
    let none = BTreeMap::new();
    let values = |name: &str| settings.variable(vars, &none, name);
    let mut ignore = settings.diff.ignore_schemas.clone();
    ignore.extend(args.ignore_schemas.iter().cloned());
    let scope = crate::diff::scope(settings, &ignore);
    let fail =
        |e: crate::diff::DiffError| CliError::usage(e.to_string(), Some(e.help().to_string()));
    let mut builder = Builder::new(settings, &values, args.supabase);
    let rt = runtime()?;
    let mut building = |word: &str, source: &Source| {
        if !out.json {
            out.stderr(&format!(
                "Reading {word}: building {} on a throwaway PostgreSQL…\n",
                source.describe()
            ));
        }
    };
    let sides = rt
        .block_on(builder.sides(&from, &to, &scope, &mut building))
        .map_err(fail)?;
    let (a, b) = (&sides[0], &sides[1]);
    let changes = crate::schema::compare::compare(a, b);
    let sql = script(a, b, &changes);
    if let (Some(name), Source::Dir(dir)) = (&args.write, &from) {
        return write(
            settings,
            (dir, name, args.allow_drop),
            (a, b, &changes),
            out,
        );
    }
    let labels = Labels::diff(&from.describe(), &to.describe());
    // --json asks every command for JSON.
    let format = if out.json {
        DiffFormat::Json
    } else {
        args.format
    };
    match format {
        DiffFormat::Sql => print_sql((&from, &to), &changes, &sql, args.allow_drop, out),
        DiffFormat::Text => out.stdout(&text(&changes, a, b, &labels), Kind::Text),
        DiffFormat::Markdown => out.stdout(
            &markdown_report(&changes, a, b, &labels, "pgshift diff"),
            Kind::Text,
        ),
        DiffFormat::Json => out.stdout(
            &json_report(&changes, Some(&sql.render(args.allow_drop))),
            Kind::Json,
        ),
    }
    Ok(if changes.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    })
}

/// The script on stdout, after a header that says what it turns into what; kinds not compared
/// on stderr.
fn print_sql(
    (from, to): (&Source, &Source),
    changes: &crate::schema::compare::Changes,
    sql: &crate::schema::script::Script,
    allow_drop: bool,
    out: &Output,
) {
    if changes.is_empty() {
        out.stderr("No difference.\n");
        return;
    }
    let left_out = if allow_drop || sql.destructive() == 0 {
        ""
    } else {
        " (left out as comments: --allow-drop includes them)"
    };
    let header = crate::schema::script::comment(&format!(
        "pgshift diff: what turns {} into {}\n{} object(s) differ; {} statement(s), {} of them destructive{left_out}.",
        from.describe(),
        to.describe(),
        changes.count(),
        sql.statements.len(),
        sql.destructive(),
    ));
    out.stdout(&format!("{header}{}", sql.render(allow_drop)), Kind::Text);
    let nc = crate::report::diff::not_compared(changes);
    if !nc.is_empty() {
        out.stderr(&nc);
    }
}

/// `--write NAME`: the migration pair in the migrations directory.
fn write(
    settings: &Settings,
    (dir, name, allow_drop): (&std::path::Path, &str, bool),
    (a, b, changes): (
        &crate::schema::Snapshot,
        &crate::schema::Snapshot,
        &crate::schema::compare::Changes,
    ),
    out: &Output,
) -> Result<u8, CliError> {
    if changes.is_empty() {
        out.line("No difference: nothing to write.");
        return Ok(exit::OK);
    }
    let (set, _) = crate::diff::load(settings, dir)
        .map_err(|e| CliError::usage(e.to_string(), Some(e.help().to_string())))?;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let files = crate::diff::write::migrations(&set, a, b, changes, name, &today, allow_drop)
        .map_err(|e| CliError::usage(e.to_string(), Some(e.help().to_string())))?;
    for f in &files {
        out.line(&format!("Wrote {}", f.display()));
    }
    out.line(&format!(
        "Check them: pgshift --dir {} validate && pgshift --dir {} test --rollback",
        dir.display(),
        dir.display()
    ));
    Ok(exit::OK)
}
