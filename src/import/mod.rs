//! `pgshift import --from TOOL SOURCE`: another tool's migrations turned into pgshift files. One
//! file per source tool reads its layout into [`Foreign`] migrations in the order that tool runs
//! them; this module names them (dates from the source's timestamps, else one date and
//! zero-padded sequence numbers, so that pgshift's order is the source's), writes the header,
//! the directives and the down files, and never overwrites anything. Pure but for reading the
//! source and writing the result.

mod dbmate;
mod flyway;
mod golang_migrate;
mod goose;
pub mod history;
mod numbered;
mod prisma;
mod sqitch;
mod supabase;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::migration::filename::suggest_description;

/// The tools pgshift imports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    Supabase,
    Prisma,
    Dbmate,
    Goose,
    GolangMigrate,
    Flyway,
    Sqitch,
    Numbered,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Supabase => crate::supabase::history::CLI,
            Tool::Prisma => "prisma",
            Tool::Dbmate => "dbmate",
            Tool::Goose => "goose",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Flyway => "flyway",
            Tool::Sqitch => "sqitch",
            Tool::Numbered => "numbered",
        }
    }
}

/// When a source migration was made, as its name or plan says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    /// A date and the time of day as `HHMMSS` (a 14-digit `YYYYMMDDHHMMSS` version).
    Timestamp(NaiveDate, String),
    /// A position only (`0001_init.sql`, Flyway's `V1_2`).
    Sequence,
    /// A repeatable migration (Flyway's `R__name.sql`): `repeatable/<name>.sql`.
    Repeatable,
}

/// One migration as the source tool has it, in the order it runs them.
#[derive(Debug, Clone)]
pub struct Foreign {
    /// The source file (or folder), for the mapping and the header.
    pub original: PathBuf,
    /// The source's own version or change name, as its history table records it.
    pub source_version: String,
    pub stamp: Stamp,
    /// What it does, in words (becomes the description).
    pub name: String,
    /// The header's MIGRATION title, when it says more than `name` (a Sqitch change's note).
    pub title: Option<String>,
    pub up: String,
    pub down: Option<String>,
    pub no_transaction: bool,
    /// Source versions (`source_version`) this one requires.
    pub requires: Vec<String>,
}

impl Foreign {
    /// A migration from its up file and its down file (if any), both read whole: how most
    /// tools lay them out.
    pub(crate) fn from_files(
        up: &Path,
        down: Option<&Path>,
        source_version: String,
        stamp: Stamp,
        name: String,
    ) -> Result<Foreign, ImportError> {
        Ok(Foreign {
            original: up.to_path_buf(),
            source_version,
            stamp,
            name,
            title: None,
            up: read(up)?,
            down: down.map(read).transpose()?,
            no_transaction: false,
            requires: Vec::new(),
        })
    }
}

/// Something the import could not do, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{message}")]
    Source { message: String, help: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} file(s) exist already in {dir}, e.g. {first}: nothing was written", .count)]
    Exists {
        dir: PathBuf,
        count: usize,
        first: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ImportError {
    pub fn help(&self) -> String {
        match self {
            ImportError::Source { help, .. } => help.clone(),
            ImportError::Read { .. } => "check the SOURCE path and its permissions".into(),
            ImportError::Exists { .. } => {
                "import into an empty folder (--dir), or remove the files of an earlier import first".into()
            }
            ImportError::Write { .. } => "check that the migrations folder is writable".into(),
        }
    }
}

thread_local! {
    /// The folder an import reads (canonical): no file outside it is read, links included.
    static ROOT: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// Refuses `path` when it resolves outside the folder being imported (a link to elsewhere, a
/// `../` in a name from a plan file), as psql's `\i` would have to be told to.
fn inside_root(path: &Path) -> Result<(), ImportError> {
    let Some(root) = ROOT.with(|r| r.borrow().clone()) else {
        return Ok(());
    };
    let real = fs::canonicalize(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if real.starts_with(&root) {
        return Ok(());
    }
    Err(ImportError::Source {
        message: format!(
            "{} leads outside the folder being imported (to {}): pgshift copies nothing from elsewhere, and nothing was written",
            path.display(),
            real.display()
        ),
        help: format!(
            "copy that file into {} if it belongs to the set, or remove the link",
            root.display()
        ),
    })
}

pub(crate) fn read(path: &Path) -> Result<String, ImportError> {
    inside_root(path)?;
    fs::read(path)
        .map(|b| {
            let s = String::from_utf8_lossy(&b).into_owned();
            s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s)
        })
        .map_err(|source| ImportError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// The entries of a folder, sorted by name.
pub(crate) fn entries(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|source| ImportError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

pub(crate) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `20240115093000` → (2024-01-15, `093000`).
pub(crate) fn timestamp(digits: &str) -> Option<Stamp> {
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&digits[..8], "%Y%m%d").ok()?;
    Some(Stamp::Timestamp(date, digits[8..].to_string()))
}

/// Stamps for a set's numeric versions: timestamps when every one is a 14-digit timestamp, else
/// positions (a set that mixes the two orders by number, and so does pgshift's naming).
pub(crate) fn stamps(versions: &[&str]) -> Vec<Stamp> {
    let all: Option<Vec<Stamp>> = versions.iter().map(|v| timestamp(v)).collect();
    all.unwrap_or_else(|| vec![Stamp::Sequence; versions.len()])
}

/// A `<version>_<name>.sql` file of a folder.
pub(crate) struct Versioned {
    pub version: String,
    pub name: String,
    pub path: PathBuf,
    pub stamp: Stamp,
}

/// The `<version>_<name>.sql` files of `dir`, ordered by version as a number (the order of every
/// tool that names files so, whatever the padding), with their stamps. Other files go to
/// `skipped` with the reason.
pub(crate) fn versioned_sql(
    dir: &Path,
    skipped: &mut Vec<String>,
) -> Result<Vec<Versioned>, ImportError> {
    let mut found: Vec<(String, String, PathBuf)> = Vec::new();
    for p in entries(dir)? {
        if !p.is_file() {
            continue;
        }
        let name = file_name(&p);
        if name.ends_with(".go") {
            skipped.push(format!(
                "{name}: a Go migration; write its SQL as a pgshift migration by hand"
            ));
            continue;
        }
        match name.strip_suffix(".sql").and_then(split_number) {
            Some((version, rest)) => found.push((version.to_string(), rest.to_string(), p.clone())),
            None => skipped.push(format!("{name}: not <version>_<name>.sql")),
        }
    }
    // As a number: leading zeros aside, a longer number is larger.
    let key = |v: &str| {
        let t = v.trim_start_matches('0');
        (t.len(), t.to_string())
    };
    found.sort_by_key(|f| key(&f.0));
    let versions: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    let stamps = stamps(&versions);
    Ok(found
        .into_iter()
        .zip(stamps)
        .map(|((version, name, path), stamp)| Versioned {
            version,
            name,
            path,
            stamp,
        })
        .collect())
}

/// A file's up section, its down section if any, and whether up runs without a transaction.
pub(crate) type Sections = (String, Option<String>, bool);

/// Migrations from files with up and down sections in one file (dbmate, goose): `sections`
/// splits a file, `no_marker` is the error for a file without its up marker, `source_version`
/// is the version as the tool's history table records it.
pub(crate) fn sectioned(
    files: Vec<Versioned>,
    sections: fn(&str) -> Option<Sections>,
    no_marker: fn(&Path) -> ImportError,
    source_version: fn(&str) -> String,
) -> Result<Vec<Foreign>, ImportError> {
    let mut migrations = Vec::new();
    for f in files {
        let text = read(&f.path)?;
        let Some((up, down, no_transaction)) = sections(&text) else {
            return Err(no_marker(&f.path));
        };
        migrations.push(Foreign {
            source_version: source_version(&f.version),
            original: f.path,
            stamp: f.stamp,
            name: f.name,
            title: None,
            up,
            down,
            no_transaction,
            requires: Vec::new(),
        });
    }
    Ok(migrations)
}

/// `<digits>_<name>` or `<digits>-<name>`.
pub(crate) fn split_number(stem: &str) -> Option<(&str, &str)> {
    let end = stem.find(|c: char| !c.is_ascii_digit())?;
    if end == 0 {
        return None;
    }
    let (digits, rest) = stem.split_at(end);
    let name = rest.strip_prefix(['_', '-'])?;
    Some((digits, name))
}

/// A BEGIN; … COMMIT; around the whole file is dropped: pgshift runs each migration in one
/// transaction with its record, which the file's own COMMIT would split. Comments (`--` and
/// `/* */`, such as Prisma's warnings) may come before and after; a line that holds only the
/// BEGIN or the COMMIT goes whole.
pub(crate) fn without_outer_transaction(sql: &str) -> (String, bool) {
    let Some((open, close)) = outer_transaction(sql) else {
        return (sql.to_string(), false);
    };
    let (open, close) = (whole_lines(sql, open), whole_lines(sql, close));
    let mut out = String::with_capacity(sql.len());
    out.push_str(&sql[..open.start]);
    out.push_str(&sql[open.end..close.start]);
    out.push_str(&sql[close.end..]);
    (out, true)
}

/// The byte ranges of the opening BEGIN and the closing COMMIT (each with its `;`), when the
/// file's first statement is a plain BEGIN, its last a plain COMMIT, and no statement between
/// them starts or ends a transaction.
fn outer_transaction(sql: &str) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    use pg_query::protobuf::Token;
    let tokens: Vec<(std::ops::Range<usize>, String)> = crate::sql::tokens(sql)?
        .into_iter()
        .filter(|t| t.token != Token::SqlComment as i32 && t.token != Token::CComment as i32)
        .map(|t| {
            let range = t.start.max(0) as usize..t.end.max(0) as usize;
            let text = sql.get(range.clone()).unwrap_or("").to_ascii_lowercase();
            (range, text)
        })
        .collect();
    // Statements as token ranges, split at `;`.
    let mut statements: Vec<&[(std::ops::Range<usize>, String)]> =
        tokens.split_inclusive(|(_, text)| text == ";").collect();
    if statements.len() < 2 || tokens.iter().any(|(_, text)| text == "atomic") {
        return None;
    }
    let words = |s: &[(std::ops::Range<usize>, String)]| -> Vec<String> {
        s.iter()
            .map(|(_, t)| t.clone())
            .filter(|t| t != ";")
            .collect()
    };
    let is = |s: &[(std::ops::Range<usize>, String)], first: &[&str]| {
        let w = words(s);
        !w.is_empty()
            && first.contains(&w[0].as_str())
            && w[1..]
                .iter()
                .all(|t| matches!(t.as_str(), "transaction" | "work"))
    };
    let last = statements.pop()?;
    let first = statements.remove(0);
    let opens =
        is(first, &["begin", "start"]) && (words(first)[0] != "start" || words(first).len() == 2);
    let closes = is(last, &["commit", "end"]);
    let ends_with_semicolon = first.last().is_some_and(|(_, t)| t == ";");
    let between_is_plain = statements.iter().all(|s| {
        !words(s).first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "begin" | "start" | "commit" | "end" | "rollback" | "abort"
            )
        })
    });
    if !(opens && closes && ends_with_semicolon && between_is_plain) {
        return None;
    }
    let span = |s: &[(std::ops::Range<usize>, String)]| s[0].0.start..s[s.len() - 1].0.end;
    Some((span(first), span(last)))
}

/// `range` widened to its whole line(s) when only blanks share them (with the line's end).
fn whole_lines(sql: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let line_start = sql[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let after = &sql[range.end..];
    let line_end = after.find('\n').map_or(sql.len(), |i| range.end + i + 1);
    let blank_before = sql[line_start..range.start].trim().is_empty();
    let blank_after = sql[range.end..line_end].trim().is_empty();
    if blank_before && blank_after {
        line_start..line_end
    } else {
        range
    }
}

/// The psql include lines (`\i FILE`, `\ir FILE`, …) of an imported text: the files they name
/// are not copied, since they may lie anywhere in the source project.
pub fn include_lines(text: &str) -> Vec<String> {
    crate::sql::variables::scan(text)
        .unsupported
        .into_iter()
        .filter(|u| crate::migration::include::include_kind(&u.what).is_some())
        .map(|u| text[u.start..u.end].trim().to_string())
        .collect()
}

/// `slug` cut to at most `max` bytes at the end of a word (a `_`), never in the middle of one
/// unless a single word is longer than that.
fn at_word_end(slug: &str, max: usize) -> &str {
    let slug = slug.trim_end_matches('_');
    if slug.len() <= max {
        return slug;
    }
    // Descriptions are ASCII (`a-z`, `0-9`, `_`), so every byte is a boundary.
    let cut = &slug[..max];
    match cut.rfind('_') {
        Some(i) if i > 0 => cut[..i].trim_end_matches('_'),
        _ => cut,
    }
}

/// A migration as pgshift will have it.
#[derive(Debug, Clone)]
pub struct Imported {
    pub foreign: Foreign,
    /// The new version (file stem), e.g. `2024-01-15_093000_create_users`.
    pub version: String,
    pub text: String,
    pub down_text: Option<String>,
}

/// Names the migrations in the source's order: dated ones `YYYY-MM-DD_HHMMSS_name`, undated ones
/// `<date>_<NNNN>_name` with one date for the whole set (`undated_on`), so that pgshift's order
/// (date, then description) is the source's.
pub fn name(tool: Tool, foreign: Vec<Foreign>, undated_on: NaiveDate) -> Vec<Imported> {
    let width = foreign.len().to_string().len().max(4);
    let versions: Vec<String> = foreign
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut slug = suggest_description(&f.name);
            if slug.is_empty() {
                slug = "migration".into();
            }
            let slug = at_word_end(&slug, 80);
            match &f.stamp {
                Stamp::Timestamp(date, time) => {
                    format!("{}_{time}_{slug}", date.format("%Y-%m-%d"))
                }
                Stamp::Sequence => {
                    format!("{}_{:0width$}_{slug}", undated_on.format("%Y-%m-%d"), i + 1)
                }
                Stamp::Repeatable => {
                    format!("{}/{slug}", crate::migration::filename::REPEATABLE_DIR)
                }
            }
        })
        .collect();
    let by_source = |v: &str| {
        let find = |v: &str| foreign.iter().position(|f| f.source_version == v);
        // `change@tag` is that change's script as of the tag; else the change itself.
        find(v)
            .or_else(|| find(v.split('@').next().unwrap_or(v)))
            .map(|i| versions[i].clone())
    };
    foreign
        .iter()
        .zip(&versions)
        .map(|(f, version)| {
            let deps: Vec<String> = f
                .requires
                .iter()
                .filter_map(|r| by_source(r))
                .filter(|v| v != version)
                .map(|v| format!("{v}.sql"))
                .collect();
            let mut text = String::new();
            let _ = writeln!(text, "-- =============================================");
            let _ = writeln!(
                text,
                "-- MIGRATION: {}",
                f.title.as_deref().unwrap_or(&f.name).replace(['\n', '\r'], " ")
            );
            // `YYYY-MM-DD`, or `repeatable`.
            let _ = writeln!(text, "-- Version: {}", &version[..10]);
            let _ = writeln!(text, "-- Author: imported from {}", tool.name());
            let _ = writeln!(
                text,
                "-- Dependencies: {}",
                if deps.is_empty() { "None".to_string() } else { deps.join(", ") }
            );
            let _ = writeln!(text, "-- =============================================");
            let _ = writeln!(
                text,
                "-- Imported from {}: {} (version {})",
                tool.name(),
                f.original.display(),
                f.source_version
            );
            if f.no_transaction {
                let _ = writeln!(text, "-- @no-transaction");
            }
            let (up, stripped) = without_outer_transaction(&f.up);
            if stripped {
                let _ = writeln!(
                    text,
                    "-- (its own BEGIN/COMMIT removed: pgshift runs the file in one transaction with its record)"
                );
            }
            text.push('\n');
            text.push_str(up.trim_start_matches('\n'));
            if !text.ends_with('\n') {
                text.push('\n');
            }
            let down_text = f.down.as_ref().filter(|d| !d.trim().is_empty()).map(|d| {
                let (down, _) = without_outer_transaction(d);
                format!(
                    "-- Down: {version}\n-- Imported from {} ({})\n\n{}{}",
                    tool.name(),
                    f.source_version,
                    down.trim_start_matches('\n'),
                    if down.ends_with('\n') { "" } else { "\n" }
                )
            });
            Imported {
                foreign: f.clone(),
                version: version.clone(),
                text,
                down_text,
            }
        })
        .collect()
}

/// The source version an imported file names in its header (see
/// [`crate::migration::header::imported_from`]).
pub fn source_version(tool: Tool, text: &str) -> Option<&str> {
    crate::migration::header::imported_from(tool.name(), text)
}

/// What a tool's reader returns: the migrations in order, and what it could not take.
pub struct Read {
    pub migrations: Vec<Foreign>,
    /// Files skipped, each with why (Flyway's repeatables…).
    pub skipped: Vec<String>,
}

impl Read {
    /// The migrations read, and what was skipped.
    pub(crate) fn of(migrations: Vec<Foreign>, skipped: Vec<String>) -> Read {
        Read {
            migrations,
            skipped,
        }
    }
}

/// Reads `source` as `tool` lays migrations out.
pub fn read_source(tool: Tool, source: &Path) -> Result<Read, ImportError> {
    if !source.exists() {
        return Err(ImportError::Source {
            message: format!("{} does not exist", source.display()),
            help: "give the folder of the other tool's migrations (or its project folder)".into(),
        });
    }
    let root = fs::canonicalize(source).map_err(|e| ImportError::Read {
        path: source.to_path_buf(),
        source: e,
    })?;
    ROOT.with(|r| *r.borrow_mut() = Some(root));
    let read = read_tool(tool, source);
    ROOT.with(|r| *r.borrow_mut() = None);
    let mut read = read?;
    // Paths as found under SOURCE: the header and the mapping do not need the machine's.
    for m in &mut read.migrations {
        if let Ok(rel) = m.original.strip_prefix(source) {
            m.original = rel.to_path_buf();
        }
    }
    if read.migrations.is_empty() {
        return Err(ImportError::Source {
            message: format!("no {} migration found in {}", tool.name(), source.display()),
            help: layout_help(tool).into(),
        });
    }
    Ok(read)
}

/// `tool`'s reader on `source`.
fn read_tool(tool: Tool, source: &Path) -> Result<Read, ImportError> {
    Ok(match tool {
        Tool::Supabase => supabase::read(source)?,
        Tool::Prisma => prisma::read(source)?,
        Tool::Dbmate => dbmate::read(source)?,
        Tool::Goose => goose::read(source)?,
        Tool::GolangMigrate => golang_migrate::read(source)?,
        Tool::Flyway => flyway::read(source)?,
        Tool::Sqitch => sqitch::read(source)?,
        Tool::Numbered => numbered::read(source)?,
    })
}

/// How `tool` lays its files out, for the message when none is found.
pub fn layout_help(tool: Tool) -> &'static str {
    match tool {
        Tool::Supabase => "expected supabase/migrations/<14-digit timestamp>_<name>.sql (give the project folder or supabase/migrations)",
        Tool::Prisma => "expected prisma/migrations/<timestamp>_<name>/migration.sql (give the project folder or prisma/migrations)",
        Tool::Dbmate => "expected db/migrations/<version>_<name>.sql with `-- migrate:up` and `-- migrate:down` sections",
        Tool::Goose => "expected <version>_<name>.sql files with `-- +goose Up` and `-- +goose Down`",
        Tool::GolangMigrate => "expected <version>_<name>.up.sql and <version>_<name>.down.sql files",
        Tool::Flyway => "expected V<version>__<description>.sql files (and U<version>__… undo files)",
        Tool::Sqitch => "expected a folder with sqitch.plan, deploy/ and revert/",
        Tool::Numbered => "expected <number>_<name>.sql (or <number>-<name>.sql) files",
    }
}

/// Writes every file into `dir`, or none when one of them exists already.
pub fn write(dir: &Path, imported: &[Imported]) -> Result<Vec<PathBuf>, ImportError> {
    fs::create_dir_all(dir).map_err(|source| ImportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<(PathBuf, &str)> = Vec::new();
    for i in imported {
        files.push((dir.join(format!("{}.sql", i.version)), &i.text));
        if let Some(d) = &i.down_text {
            files.push((dir.join(format!("{}.down.sql", i.version)), d));
        }
    }
    let existing: Vec<&PathBuf> = files
        .iter()
        .map(|(p, _)| p)
        .filter(|p| crate::files::exists(p))
        .collect();
    if let Some(first) = existing.first() {
        return Err(ImportError::Exists {
            dir: dir.to_path_buf(),
            count: existing.len(),
            first: file_name(first),
        });
    }
    let mut written = Vec::new();
    for (path, text) in files {
        if let Some(folder) = path.parent().filter(|f| *f != dir) {
            fs::create_dir_all(folder).map_err(|source| ImportError::Write {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        let result = crate::files::create_new(&path, 0o644)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        if let Err(source) = result {
            return Err(ImportError::Write { path, source });
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
