//! The lint engine: rules as values (id, levels per environment, summary, help, check), one rule
//! per file under `rules/`, suppression with `-- @allow:`, levels from the config, and the
//! facts about the whole migration set that some rules need.

mod declared_types;
pub mod facts;
pub mod keys;
pub mod rules;
pub mod tables;

use std::collections::{BTreeMap, HashSet};

use pg_query::protobuf::{self, node::Node as N};

use crate::config::{Environment, RuleLevel};
use crate::diagnostic::{Finding, Level};
use crate::migration::Migration;
use crate::sql::Statement;

pub use crate::sql::parsed::{ParsedFile, PLACEHOLDER};
pub use crate::sql::tree::{
    alter_cmds, def_bool, def_string, json_func_names, json_has_key, names, role_options, to_json,
};
pub use facts::{QualName, Resolved, SetFacts};

/// The families of SPEC §3; `--only lint` and `scan` select by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Secrets,
    Dangerous,
    Rls,
    Locking,
    Hygiene,
}

/// Levels in development, staging and production.
pub type Levels = [Level; 3];

/// Dangerous operations: warnings while developing, errors that block staging and production.
pub const DANGEROUS: Levels = [Level::Warning, Level::Error, Level::Error];
/// Always an error.
pub const ALWAYS_ERROR: Levels = [Level::Error; 3];
/// Always a warning.
pub const ALWAYS_WARNING: Levels = [Level::Warning; 3];
/// Always informational.
pub const ALWAYS_INFO: Levels = [Level::Info; 3];

/// A lint rule.
pub struct Rule {
    /// `family/what`, e.g. `dangerous/drop-table`.
    pub id: &'static str,
    pub family: Family,
    pub levels: Levels,
    /// What it catches, in one line (reports, SARIF).
    pub summary: &'static str,
    /// Why it matters and what to do instead.
    pub help: &'static str,
    pub check: fn(&Ctx, &mut Vec<Violation>),
}

impl Rule {
    pub fn level(&self, env: Environment) -> Level {
        self.levels[env as usize]
    }
}

/// Where a violation is: in the parsed text (after psql substitution) or in the raw file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Parsed { offset: usize, len: usize },
    Source { offset: usize, len: usize },
}

/// What a rule found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub span: Span,
    /// The level of this violation when it is not the rule's (a deny-all table is only worth
    /// knowing); the config's level for the rule still wins.
    pub level: Option<Level>,
    pub message: String,
    pub help: Option<String>,
    /// A safe rewrite, when there is one.
    pub fix: Option<String>,
}

impl Violation {
    pub fn at(offset: usize, len: usize, message: impl Into<String>) -> Violation {
        Violation {
            span: Span::Parsed { offset, len },
            level: None,
            message: message.into(),
            help: None,
            fix: None,
        }
    }

    /// At the start of a statement, underlining its first line.
    pub fn stmt(ctx: &Ctx, stmt: &Statement, message: impl Into<String>) -> Violation {
        let text = stmt.text(ctx.sql());
        let len = text.find('\n').unwrap_or(text.len());
        Violation::at(stmt.start, len, message)
    }

    pub fn in_source(offset: usize, len: usize, message: impl Into<String>) -> Violation {
        Violation {
            span: Span::Source { offset, len },
            ..Violation::at(0, 0, message)
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Violation {
        self.help = Some(help.into());
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Violation {
        self.fix = Some(fix.into());
        self
    }

    /// At `level` instead of the rule's.
    pub fn level(mut self, level: Level) -> Violation {
        self.level = Some(level);
        self
    }
}

/// What a rule may look at.
pub struct Ctx<'a> {
    pub migration: &'a Migration,
    pub file: &'a ParsedFile,
    pub facts: &'a SetFacts,
    pub exposed_schemas: &'a [String],
    /// Tables this migration creates.
    pub created_here: HashSet<QualName>,
    /// The deploy sets a `lock_timeout` for every migration.
    pub lock_timeout_configured: bool,
    /// `exposed_schemas` comes from the config, not the default.
    pub exposed_configured: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(
        migration: &'a Migration,
        file: &'a ParsedFile,
        facts: &'a SetFacts,
        exposed_schemas: &'a [String],
    ) -> Ctx<'a> {
        let created_here = file
            .statements
            .iter()
            .filter_map(|s| facts::created_table(&s.node))
            .collect();
        Ctx {
            migration,
            file,
            facts,
            exposed_schemas,
            created_here,
            lock_timeout_configured: false,
            exposed_configured: false,
        }
    }

    /// Why an API serves `schema`, or `None`. The config's `exposed_schemas` says so; without
    /// it, `public` counts as served only when the set shows an API (grants to `anon` or
    /// `authenticated`, their policies, `auth.uid()`): a Prisma, Rails or dbmate application
    /// that connects as the owner has no API, and row level security means nothing to it.
    pub fn exposure(&self, schema: &str) -> Option<String> {
        if !self.exposed_schemas.iter().any(|s| s == schema) {
            return None;
        }
        if self.exposed_configured {
            return Some(format!("[deploy] exposed_schemas lists {schema}"));
        }
        self.facts
            .api_evidence()
            .map(|e| format!("{e}: an API such as PostgREST serves {schema}"))
    }

    /// The parsed text.
    pub fn sql(&self) -> &str {
        &self.file.sub.text
    }

    pub fn source(&self) -> &str {
        &self.migration.source
    }

    /// Whether the migration runs in one transaction (no `@no-transaction`).
    pub fn in_one_transaction(&self) -> bool {
        self.migration.front.directives.no_transaction.is_none()
    }

    pub fn statements(&self) -> &[Statement] {
        &self.file.statements
    }

    /// Whether the table existed before this migration (it is not created here). Locking rules
    /// only matter for tables that may already hold data and serve traffic.
    pub fn existed_before(&self, rel: &Option<protobuf::RangeVar>) -> bool {
        rel.as_ref()
            .is_some_and(|r| !self.created_here.contains(&QualName::of(r)))
    }

    /// Offset of `needle` (case-insensitive) in the statement, for a precise underline.
    pub fn find_in(&self, stmt: &Statement, needle: &str) -> Option<usize> {
        let text = stmt.text(self.sql()).to_ascii_lowercase();
        text.find(&needle.to_ascii_lowercase())
            .map(|i| stmt.start + i)
    }
}

/// The `DefElem`s of an option list.
pub fn def_elems(options: &[protobuf::Node]) -> impl Iterator<Item = &protobuf::DefElem> {
    options.iter().filter_map(|o| match &o.node {
        Some(N::DefElem(d)) => Some(d.as_ref()),
        _ => None,
    })
}

/// The `ALTER TABLE` commands of this migration that touch tables which existed before it,
/// with their statement: what the locking rules look at.
pub fn alter_existing<'a>(
    ctx: &'a Ctx,
) -> impl Iterator<
    Item = (
        &'a Statement,
        &'a protobuf::AlterTableStmt,
        &'a protobuf::AlterTableCmd,
    ),
> + 'a {
    ctx.statements().iter().flat_map(move |s| {
        let alter = match &*s.node {
            pg_query::NodeEnum::AlterTableStmt(a) if ctx.existed_before(&a.relation) => Some(a),
            _ => None,
        };
        alter
            .into_iter()
            .flat_map(move |a| alter_cmds(a).map(move |c| (s, a, c)))
    })
}

/// Runs every rule on one migration and turns violations into findings, applying levels
/// (environment, then config) and `@allow` directives.
pub fn check(
    ctx: &Ctx,
    rules: &[&Rule],
    env: Environment,
    config: &BTreeMap<String, RuleLevel>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let allows = &ctx.migration.front.directives.allows;
    for rule in rules {
        let configured = match config.get(rule.id) {
            Some(RuleLevel::Off) => continue,
            Some(RuleLevel::Info) => Some(Level::Info),
            Some(RuleLevel::Warning) => Some(Level::Warning),
            Some(RuleLevel::Error) => Some(Level::Error),
            None => None,
        };
        let mut violations = Vec::new();
        (rule.check)(ctx, &mut violations);
        for v in violations {
            let (src_offset, src_len, parsed_offset) = match v.span {
                Span::Source { offset, len } => (offset, len, None),
                Span::Parsed { offset, len } => {
                    let start = ctx.file.sub.to_source(offset);
                    let end = ctx.file.sub.to_source(offset + len).max(start);
                    (start, end - start, Some(offset))
                }
            };
            let location = ctx.migration.locate(src_offset, src_len);
            // Lines of the text that runs (the directives are read from it too): the location's
            // own line, unless it points into an included file.
            let line = if ctx.migration.includes.is_empty() {
                location.line
            } else {
                ctx.source()[..src_offset.min(ctx.source().len())]
                    .matches('\n')
                    .count()
                    + 1
            };
            let allowed = allows
                .iter()
                .filter(|a| a.rule == rule.id)
                .find(|a| a.file_level || covers(ctx, a.line, parsed_offset, line))
                .map(|a| a.reason.clone().unwrap_or_default());
            let level = configured.or(v.level).unwrap_or_else(|| rule.level(env));
            // The rule's own levels decide where it blocks; a configured or per-violation level
            // is the same everywhere this run can tell.
            let stricter = (configured.is_none() && v.level.is_none())
                .then(|| stricter_in(rule, env, level))
                .flatten();
            findings.push(Finding {
                rule: rule.id.to_string(),
                level,
                message: v.message,
                location: Some(location),
                help: Some(v.help.unwrap_or_else(|| rule.help.to_string())),
                fix: v.fix,
                allowed,
                stricter,
            });
        }
    }
    // Kept until the report: a first push makes room for four (a thousand bytes a file on a
    // set of 20,000 files with a finding or two each).
    findings.shrink_to_fit();
    findings
}

/// `an error in staging and production` when `rule`, at `level` in `env`, is an error in the
/// environments after it.
fn stricter_in(rule: &Rule, env: Environment, level: Level) -> Option<String> {
    if level == Level::Error {
        return None;
    }
    let later: Vec<&str> = [Environment::Staging, Environment::Production]
        .into_iter()
        .filter(|e| (*e as usize) > (env as usize) && rule.level(*e) == Level::Error)
        .map(|e| e.as_str())
        .collect();
    (!later.is_empty()).then(|| format!("an error in {}", later.join(" and ")))
}

/// Whether a statement-level `@allow` on `allow_line` covers a violation: the comment sits
/// between the previous statement and the one holding the violation.
fn covers(
    ctx: &Ctx,
    allow_line: usize,
    parsed_offset: Option<usize>,
    violation_line: usize,
) -> bool {
    let stmts = ctx.statements();
    let line_of = |parsed: usize| {
        let src = ctx.file.sub.to_source(parsed);
        ctx.source()[..src.min(ctx.source().len())]
            .matches('\n')
            .count()
            + 1
    };
    let idx = match parsed_offset {
        Some(off) => stmts.iter().position(|s| s.start <= off && off <= s.end),
        None => stmts.iter().position(|s| line_of(s.end) >= violation_line),
    };
    let Some(i) = idx else { return false };
    let start_line = line_of(stmts[i].start);
    let prev_end_line = if i == 0 { 0 } else { line_of(stmts[i - 1].end) };
    allow_line < start_line && allow_line > prev_end_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_development_warning_says_it_blocks_staging_and_production() {
        let rule = Rule {
            id: "dangerous/x",
            family: Family::Dangerous,
            levels: DANGEROUS,
            summary: "",
            help: "",
            check: |_, _| {},
        };
        assert_eq!(
            stricter_in(&rule, Environment::Development, Level::Warning).as_deref(),
            Some("an error in staging and production")
        );
        assert_eq!(stricter_in(&rule, Environment::Staging, Level::Error), None);
        let always = Rule {
            levels: ALWAYS_WARNING,
            ..rule
        };
        assert_eq!(
            stricter_in(&always, Environment::Development, Level::Warning),
            None
        );
    }
}
