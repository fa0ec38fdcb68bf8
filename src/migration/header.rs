//! The leading comment block of a migration: the header fields (`-- MIGRATION:`, `-- Version:`,
//! `-- Author:`, `-- Dependencies:`) and the directives (`-- @depends-on:`, `-- @no-transaction`,
//! `-- @allow:`, `-- @env:`).

use std::path::Path;

use crate::config::Environment;
use crate::diagnostic::{Finding, Level, Location};

use super::filename::Version;

/// A header field's value and the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Field {
    /// The value after the colon, trimmed.
    pub value: String,
    /// 1-based line of the field.
    pub line: usize,
}

/// A dependency as written in a file: which version, and where it was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DepRef {
    /// The version it names.
    pub version: Version,
    /// Byte offset and length of the reference in the file, for diagnostics.
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
}

/// The guide's header block.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// `-- MIGRATION: <what it does>`
    pub title: Option<Field>,
    /// `-- Version: <date>`
    pub version: Option<Field>,
    /// `-- Author: <name>`
    pub author: Option<Field>,
    /// `Some(vec![])` for `Dependencies: None`.
    pub dependencies: Option<Vec<DepRef>>,
}

/// `-- @allow: rule-id reason`: for the whole file when in the leading block, otherwise for
/// the statement directly below it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Allow {
    /// The rule it accepts.
    pub rule: String,
    /// Why, as written after the rule.
    pub reason: Option<String>,
    /// 1-based line of the directive.
    pub line: usize,
    /// In the header: the whole file; else only the statement below it.
    pub file_level: bool,
}

/// The directives of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Directives {
    /// `@depends-on`: the migrations it needs.
    pub depends_on: Vec<DepRef>,
    /// Line of `-- @no-transaction`, if present.
    pub no_transaction: Option<usize>,
    /// `@allow`: findings accepted, with their reasons.
    pub allows: Vec<Allow>,
    /// `-- @env:` restriction; `None` means every environment.
    pub environments: Option<Vec<Environment>>,
    /// `-- @replaces:` (a baseline `squash` wrote): the versions it stands for. A database
    /// that has them all recorded has what it builds.
    pub replaces: Vec<String>,
}

/// What the front matter of a file says.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FrontMatter {
    /// The guide's header fields.
    pub header: Header,
    /// The `@` directives.
    pub directives: Directives,
    /// Byte offset of the first SQL token; `None` when the file holds only comments.
    pub sql_start: Option<usize>,
}

const KNOWN_DIRECTIVES: &str = "@depends-on, @no-transaction, @allow, @env";

/// Reads the leading comment block of `source`. Problems become findings; nothing here fails.
pub fn parse_front_matter(path: &Path, source: &str, findings: &mut Vec<Finding>) -> FrontMatter {
    let mut fm = FrontMatter::default();
    let file = Text {
        path,
        source,
        lines: crate::diagnostic::Lines::default(),
    };
    let mut lines = Lines::default();
    let mut pos = 0;
    let bytes = source.as_bytes();
    loop {
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if source[pos..].starts_with("--") {
            let end = source[pos..].find('\n').map_or(source.len(), |i| pos + i);
            leading_comment(&file, pos, end, &mut lines, &mut fm, findings);
            pos = end;
        } else if source[pos..].starts_with("/*") {
            pos = crate::sql::block_comment_end(source.as_bytes(), pos);
        } else {
            fm.sql_start = (pos < bytes.len()).then_some(pos);
            break;
        }
    }
    if let Some(start) = fm.sql_start {
        attach_allows_to_first_statement(source, start, &mut fm);
        later_comments(&file, start, &mut lines, &mut fm, findings);
    }
    fm
}

/// An `@allow` in the comment lines directly above the first statement (no blank line between)
/// covers that statement only, when those lines are set apart from the header by a blank line
/// or other text; `@allow`s in the header itself cover the file.
fn attach_allows_to_first_statement(source: &str, sql_start: usize, fm: &mut FrontMatter) {
    let first_sql_line = line_of(source, sql_start);
    let lines: Vec<&str> = source
        .lines()
        .take(first_sql_line.saturating_sub(1))
        .collect();
    let mut run_start = first_sql_line;
    for (i, l) in lines.iter().enumerate().rev() {
        if l.trim_start().starts_with("--") {
            run_start = i + 1;
        } else {
            break;
        }
    }
    let header_before = lines[..run_start.saturating_sub(1)]
        .iter()
        .any(|l| !l.trim().is_empty());
    if header_before {
        for a in fm.directives.allows.iter_mut() {
            if a.line >= run_start && a.line < first_sql_line {
                a.file_level = false;
            }
        }
    }
}

fn line_of(source: &str, offset: usize) -> usize {
    source[..offset].matches('\n').count() + 1
}

/// The file being read, and the index that places its findings (built when it is large).
struct Text<'a> {
    path: &'a Path,
    source: &'a str,
    lines: crate::diagnostic::Lines,
}

impl Text<'_> {
    fn at(&self, offset: usize, len: usize) -> Location {
        self.lines.locate(self.path, self.source, offset, len)
    }
}

/// 1-based line numbers of offsets asked in increasing order, counting each newline once:
/// a file of 100,000 comment lines is read in linear time.
#[derive(Default)]
struct Lines {
    offset: usize,
    line: usize,
}

impl Lines {
    fn at(&mut self, source: &str, offset: usize) -> usize {
        if offset < self.offset || self.line == 0 {
            *self = Lines { offset: 0, line: 1 };
        }
        self.line += memchr::memchr_iter(b'\n', &source.as_bytes()[self.offset..offset]).count();
        self.offset = offset;
        self.line
    }
}

/// One `-- …` line of the leading block, `start..end` covering it without the newline.
fn leading_comment(
    file: &Text,
    start: usize,
    end: usize,
    lines: &mut Lines,
    fm: &mut FrontMatter,
    findings: &mut Vec<Finding>,
) {
    let source = file.source;
    let raw = &source[start + 2..end];
    let text = raw.trim_end_matches('\r');
    let body = text.trim_start();
    let body_offset = start + 2 + (text.len() - body.len());
    let body = body.trim_end();
    let line = lines.at(source, start);
    if let Some(directive) = body.strip_prefix('@') {
        directive_line(file, body_offset, directive, line, true, fm, findings);
        return;
    }
    let Some((key, value)) = body.split_once(':') else {
        return;
    };
    let value_offset = body_offset + key.len() + 1 + (value.len() - value.trim_start().len());
    let value = value.trim();
    let field = || Field {
        value: value.to_string(),
        line,
    };
    match key.trim().to_ascii_lowercase().as_str() {
        "migration" if fm.header.title.is_none() => fm.header.title = Some(field()),
        "version" if fm.header.version.is_none() => fm.header.version = Some(field()),
        "author" if fm.header.author.is_none() => fm.header.author = Some(field()),
        "dependencies" if fm.header.dependencies.is_none() => {
            if value.is_empty() {
                return;
            }
            let deps = if ["none", "-", "n/a"].contains(&value.to_ascii_lowercase().as_str()) {
                Vec::new()
            } else {
                dep_list(file, value_offset, value, findings)
            };
            fm.header.dependencies = Some(deps);
        }
        _ => {}
    }
}

/// Parses `a.sql, b.sql` starting at byte `offset` of the file.
fn dep_list(file: &Text, offset: usize, list: &str, findings: &mut Vec<Finding>) -> Vec<DepRef> {
    let mut deps = Vec::new();
    // Names separated by commas, spaces or both.
    let separator = |c: char| c == ',' || c.is_whitespace();
    let mut rest = list;
    let mut consumed = 0;
    while let Some(start) = rest.find(|c: char| !separator(c)) {
        let len = rest[start..].find(separator).unwrap_or(rest.len() - start);
        let item = &rest[start..start + len];
        let item_offset = offset + consumed + start;
        consumed += start + len;
        rest = &rest[start + len..];
        match Version::parse_reference(item) {
            Ok(version) => deps.push(DepRef {
                version,
                offset: item_offset,
                len: item.len(),
            }),
            Err(e) => findings.push(
                Finding::error(
                    "deps/invalid-reference",
                    format!("`{item}` is not a migration file name"),
                )
                .at(file.at(item_offset, item.len()))
                .help(format!(
                    "name the migration it depends on as YYYY-MM-DD_description.sql ({})",
                    e.help()
                )),
            ),
        }
    }
    deps
}

#[allow(clippy::too_many_arguments)]
fn directive_line(
    file: &Text,
    offset: usize,
    directive: &str,
    line: usize,
    leading: bool,
    fm: &mut FrontMatter,
    findings: &mut Vec<Finding>,
) {
    let name_len = directive
        .find(|c: char| c == ':' || c.is_whitespace())
        .unwrap_or(directive.len());
    let name = &directive[..name_len];
    let arg = directive[name_len..].trim_start_matches(':');
    let arg_offset = offset + 1 + name_len + (directive.len() - name_len - arg.len());
    let arg_lead = arg.len() - arg.trim_start().len();
    let arg_offset = arg_offset + arg_lead;
    let arg = arg.trim();
    let here = || file.at(offset, 1 + name_len);
    if !leading && name != "allow" {
        if matches!(name, "depends-on" | "no-transaction" | "env") {
            findings.push(
                Finding::warning(
                    "directive/misplaced",
                    format!("`@{name}` after the first SQL statement is ignored"),
                )
                .at(here())
                .help("move it into the comment block at the top of the file"),
            );
        }
        return;
    }
    match name {
        "depends-on" => {
            if arg.is_empty() {
                findings.push(
                    Finding::error("directive/invalid", "`@depends-on` names no migration")
                        .at(here())
                        .help("write `-- @depends-on: 2026-01-20_create_users_table.sql`"),
                );
            }
            let deps = dep_list(file, arg_offset, arg, findings);
            fm.directives.depends_on.extend(deps);
        }
        "no-transaction" => fm.directives.no_transaction = Some(line),
        "replaces" => fm.directives.replaces.extend(
            arg.split([',', ' '])
                .map(|v| v.trim().trim_end_matches(".sql"))
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        ),
        "allow" => match allow(arg, line, leading) {
            Some(a) => fm.directives.allows.push(a),
            None => findings.push(
                Finding::error("directive/invalid", "`@allow` names no rule")
                    .at(here())
                    .help("write `-- @allow: <rule-id> <why this is intended>`"),
            ),
        },
        "env" => {
            let envs = environments(arg, &mut |message| {
                findings.push(Finding::error("directive/invalid", message).at(here()))
            });
            if arg.is_empty() {
                findings.push(
                    Finding::error("directive/invalid", "`@env` names no environment")
                        .at(here())
                        .help(format!(
                            "write `-- @env: development,staging`; accepted: {}",
                            Environment::ACCEPTED
                        )),
                );
            }
            fm.directives.environments = Some(envs);
        }
        _ => findings.push(
            Finding::error("directive/unknown", format!("unknown directive `@{name}`"))
                .at(here())
                .help(format!("known directives: {KNOWN_DIRECTIVES}")),
        ),
    }
}

/// An `@allow: rule-id [reason]`; `None` when it names no rule.
fn allow(arg: &str, line: usize, file_level: bool) -> Option<Allow> {
    let mut words = arg.splitn(2, char::is_whitespace);
    let rule = words.next().unwrap_or("").trim();
    if rule.is_empty() {
        return None;
    }
    let reason = words
        .next()
        .map(|r| {
            r.trim()
                .trim_start_matches(['-', '—', ':'])
                .trim()
                .to_string()
        })
        .filter(|r| !r.is_empty());
    Some(Allow {
        rule: rule.to_string(),
        reason,
        line,
        file_level,
    })
}

/// The environments an `@env` names, each once; `bad` hears of a name that is none.
fn environments(arg: &str, bad: &mut dyn FnMut(String)) -> Vec<Environment> {
    let mut envs = Vec::new();
    for part in arg.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<Environment>() {
            Ok(env) if !envs.contains(&env) => envs.push(env),
            Ok(_) => {}
            Err(e) => bad(format!("`@env` names `{part}`, which {e}")),
        }
    }
    envs
}

/// Comments after the first statement: statement-level `@allow`s, and misplaced directives.
/// Only lines holding `--` are looked at, found with `memmem`: a data file's 100 MB are
/// mostly lines without it.
fn later_comments(
    file: &Text,
    start: usize,
    lines: &mut Lines,
    fm: &mut FrontMatter,
    findings: &mut Vec<Finding>,
) {
    let source = file.source;
    let b = source.as_bytes();
    let dashes = memchr::memmem::Finder::new(b"--");
    let mut from = source[..start].rfind('\n').map_or(0, |i| i + 1);
    while let Some(k) = dashes.find(&b[from..]) {
        let at = from + k;
        // `from` starts a line: the line of `at` starts there or after.
        let line_offset = memchr::memrchr(b'\n', &b[from..at]).map_or(from, |i| from + i + 1);
        let line_end = memchr::memchr(b'\n', &b[at..]).map_or(b.len(), |i| at + i + 1);
        from = line_end;
        // A comment line: nothing but white space before its first `--`.
        if line_offset < start || !source[line_offset..at].trim_start().is_empty() {
            continue;
        }
        let raw = &source[line_offset..line_end];
        let body = source[at + 2..line_end].trim_start();
        let Some(directive) = body.strip_prefix('@') else {
            continue;
        };
        let body_offset = line_offset + (raw.len() - body.len());
        let directive = directive.trim_end();
        let line = lines.at(source, line_offset);
        directive_line(file, body_offset, directive, line, false, fm, findings);
    }
}

/// The level of a missing header field in each environment: a reminder while developing, a
/// blocker for production.
pub fn missing_field_level(env: Environment) -> Level {
    match env {
        Environment::Development | Environment::Staging => Level::Warning,
        Environment::Production => Level::Error,
    }
}

/// The source version an imported file names in its leading comments (`-- Imported from
/// dbmate: … (version 20220301101010)`), when it came from the tool named `tool`
/// (`supabase`, `dbmate`…).
pub fn imported_from<'a>(tool: &str, text: &'a str) -> Option<&'a str> {
    let prefix = format!("-- Imported from {tool}: ");
    text.lines()
        .take_while(|l| l.starts_with("--") || l.trim().is_empty())
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit_once("(version "))
        .map(|(_, v)| v.trim_end().trim_end_matches(')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> (FrontMatter, Vec<Finding>) {
        let mut findings = Vec::new();
        let fm = parse_front_matter(Path::new("m.sql"), src, &mut findings);
        (fm, findings)
    }

    const GUIDE_HEADER: &str = "\
-- =============================================
-- MIGRATION: Add user profiles
-- Version: 2026-01-21
-- Author: Ada Lovelace
-- Dependencies: 2026-01-20_create_users_table.sql, 2026-01-19_create_tenants_table
-- =============================================
-- @depends-on: 2026-01-20_create_users_table.sql
-- @no-transaction
-- @allow: dangerous/drop-table the table is recreated below
-- @env: dev, staging

/* a block comment */
CREATE TABLE t (id int);
-- @allow: hygiene/create-if-not-exists legacy name
CREATE TABLE u (id int);
";

    #[test]
    fn reads_the_guide_header_and_all_directives() {
        let (fm, findings) = parse(GUIDE_HEADER);
        assert!(findings.is_empty(), "{findings:?}");
        let h = &fm.header;
        assert_eq!(h.title.as_ref().unwrap().value, "Add user profiles");
        assert_eq!(h.version.as_ref().unwrap().line, 3);
        assert_eq!(h.author.as_ref().unwrap().value, "Ada Lovelace");
        let deps: Vec<_> = h
            .dependencies
            .as_ref()
            .unwrap()
            .iter()
            .map(|d| d.version.as_str())
            .collect();
        assert_eq!(
            deps,
            [
                "2026-01-20_create_users_table",
                "2026-01-19_create_tenants_table"
            ]
        );
        let d = &fm.directives;
        assert_eq!(d.depends_on.len(), 1);
        assert_eq!(d.no_transaction, Some(8));
        assert_eq!(
            d.environments,
            Some(vec![Environment::Development, Environment::Staging])
        );
        assert_eq!(d.allows.len(), 2);
        assert_eq!(d.allows[0].rule, "dangerous/drop-table");
        assert_eq!(
            d.allows[0].reason.as_deref(),
            Some("the table is recreated below")
        );
        assert!(d.allows[0].file_level);
        assert_eq!(d.allows[1].line, 14);
        assert!(!d.allows[1].file_level);
        assert_eq!(&GUIDE_HEADER[fm.sql_start.unwrap()..][..12], "CREATE TABLE");
    }

    #[test]
    fn dependency_reference_positions_point_at_the_name() {
        let (fm, _) = parse(GUIDE_HEADER);
        let d = &fm.header.dependencies.as_ref().unwrap()[1];
        assert_eq!(
            &GUIDE_HEADER[d.offset..d.offset + d.len],
            "2026-01-19_create_tenants_table"
        );
    }

    #[test]
    fn none_means_no_dependencies() {
        let (fm, _) = parse("-- Dependencies: None\nselect 1;");
        assert_eq!(fm.header.dependencies, Some(vec![]));
    }

    #[test]
    fn comments_only_has_no_sql() {
        let (fm, _) = parse("-- just a note\n/* and /* nested */ block */\n\n");
        assert_eq!(fm.sql_start, None);
        let (fm, _) = parse("");
        assert_eq!(fm.sql_start, None);
    }

    #[test]
    fn crlf_headers_are_read_without_carriage_returns() {
        let (fm, findings) = parse("-- Version: 2026-01-21\r\n-- @env: prod\r\nselect 1;\r\n");
        assert!(findings.is_empty());
        assert_eq!(fm.header.version.unwrap().value, "2026-01-21");
        assert_eq!(
            fm.directives.environments,
            Some(vec![Environment::Production])
        );
    }

    #[test]
    fn bad_directives_are_errors_with_positions() {
        let (_, findings) = parse(
            "-- @dependson: x.sql\n-- @env: prd\n-- @depends-on: not-a-file\n-- @allow:\nselect 1;\n",
        );
        let rules: Vec<_> = findings
            .iter()
            .map(|f| (f.rule.as_str(), f.location.as_ref().unwrap().line))
            .collect();
        assert_eq!(
            rules,
            [
                ("directive/unknown", 1),
                ("directive/invalid", 2),
                ("deps/invalid-reference", 3),
                ("directive/invalid", 4)
            ]
        );
        assert!(findings[0].help.as_ref().unwrap().contains("@depends-on"));
        assert!(findings[1].message.contains("`prd`"));
        assert_eq!(findings[2].location.as_ref().unwrap().column, 17);
    }

    #[test]
    fn directives_after_sql_are_reported_as_ignored() {
        let (fm, findings) = parse("select 1;\n  -- @depends-on: 2026-01-01_a.sql\n");
        assert!(fm.directives.depends_on.is_empty());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, "directive/misplaced");
        assert_eq!(findings[0].location.as_ref().unwrap().line, 2);
        assert_eq!(findings[0].location.as_ref().unwrap().column, 6);
    }

    #[test]
    fn depends_on_takes_names_separated_by_commas_spaces_or_both() {
        let (fm, findings) = parse(
            "-- @depends-on: 2026-01-01_a.sql 2026-01-02_b.sql,2026-01-03_c ,  2026-01-04_d.sql\n-- @depends-on: 2026-01-05_e.sql bad-name\nselect 1;\n",
        );
        let deps: Vec<&str> = fm
            .directives
            .depends_on
            .iter()
            .map(|d| d.version.as_str())
            .collect();
        assert_eq!(
            deps,
            [
                "2026-01-01_a",
                "2026-01-02_b",
                "2026-01-03_c",
                "2026-01-04_d",
                "2026-01-05_e"
            ]
        );
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, "deps/invalid-reference");
        // The bad name is located exactly: after "-- @depends-on: 2026-01-05_e.sql ".
        assert_eq!(findings[0].location.as_ref().unwrap().column, 34);
        assert_eq!(fm.directives.depends_on[2].len, "2026-01-03_c".len());
    }

    #[test]
    fn later_directives_are_read_only_on_lines_that_are_comments() {
        let text = "select 1;\nselect '--'; -- @allow: a/b not a comment line\n1\t--\t2\n\u{a0}\t-- note -- @allow: c/d no\n\t \u{2003}--   @allow: e/f on line 5\r\nselect 2; --\n--@allow: g/h last";
        let (fm, findings) = parse(text);
        assert!(findings.is_empty(), "{findings:?}");
        let allows: Vec<(&str, usize)> = fm
            .directives
            .allows
            .iter()
            .map(|a| (a.rule.as_str(), a.line))
            .collect();
        assert_eq!(allows, [("e/f", 5), ("g/h", 7)]);
        assert_eq!(fm.directives.allows[0].reason.as_deref(), Some("on line 5"));
    }
}
