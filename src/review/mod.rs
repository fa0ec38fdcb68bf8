//! `pgshift review --base REF` (SPEC §18): what a pull request's migrations do, put in front of
//! the reviewer. Named stages:
//! 1. `sides`: git's merge base of HEAD and REF, the migration files changed on each side
//!    since it, and the two sets (REF's, read from git's objects; the working tree's);
//! 2. `conflicts`: duplicate versions, the same object changed on both sides, out of order,
//!    applied files edited (`conflicts`);
//! 3. `predict`: each new statement's locks on existing tables, from its parse tree (`locks`);
//! 4. `rehearse` (`--rehearse`): REF's schema built on a throwaway cluster, the new migrations
//!    run there statement by statement, `pg_locks` read after each (`rehearse`); a prediction
//!    that observation contradicts is reported as pgshift's error;
//! 5. `estimate` (`--stats-from URL`): durations from the tables' sizes (`stats`);
//! 6. `lint`: the findings of the new and changed files only.

pub mod conflicts;
pub mod git;
pub mod locks;
pub mod objects;
pub mod rehearse;
pub mod stats;

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use crate::config::Settings;
use crate::db::connect::ConnectionSpec;
use crate::diagnostic::{Finding, Level};
use crate::lint::{ParsedFile, QualName};
use crate::migration::{Migration, MigrationSet};

pub use conflicts::Conflict;
pub use git::Change;
use locks::{Known, Mode};

/// Why the review could not be made.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ReviewError {
    pub message: String,
    pub help: String,
}

impl ReviewError {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> ReviewError {
        ReviewError {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// What the review is asked.
pub struct Options<'a> {
    /// Everything configured (the migrations folder, `out_of_order`, rule levels).
    pub settings: &'a Settings,
    /// psql variables' values (a rehearsal uses a placeholder for a missing one).
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// REF: the branch the pull request goes into.
    pub base: String,
    /// Build REF's schema on a throwaway cluster and observe the locks.
    pub rehearse: bool,
    /// Load the Supabase stub before building REF's schema.
    pub supabase: bool,
    /// A database (a replica is enough) whose table sizes give the estimates.
    pub stats_from: Option<ConnectionSpec>,
}

/// The review (SPEC §18's JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Review {
    /// REF, as given.
    pub base: String,
    /// The merge base's commit.
    #[serde(skip)]
    pub merge_base: String,
    /// The migrations added or changed, in plan order.
    pub migrations: Vec<Reviewed>,
    pub conflicts: Vec<Conflict>,
    /// Lint findings of the new and changed files.
    pub findings: Vec<Finding>,
    /// Predictions a rehearsal contradicted: pgshift's errors, to report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contradictions: Vec<String>,
    /// Where the rehearsal failed: a new migration that does not apply on REF's schema
    /// (`file:line: error`). It fails the review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rehearsal_failed: Option<String>,
    /// What the review could not do (a statement not observed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The lock entries were observed (`--rehearse`).
    #[serde(skip)]
    pub rehearsed: bool,
    /// The estimates come from this database (`--stats-from`).
    #[serde(skip)]
    pub stats_from: Option<String>,
    /// No conflict, no contradiction, no error-level finding.
    pub passed: bool,
}

/// One migration added or changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reviewed {
    pub version: String,
    /// Its file, relative to the migrations folder.
    pub file: String,
    pub change: Change,
    pub statements: Vec<StatementReview>,
}

/// One statement and its locks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatementReview {
    pub line: usize,
    pub sql: String,
    pub locks: Vec<LockEntry>,
}

/// One lock on one existing table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LockEntry {
    /// `schema.table`.
    pub table: String,
    pub mode: Mode,
    pub rewrite: bool,
    pub scan: bool,
    pub blocks: &'static str,
    /// What `pg_locks` showed (`--rehearse`): the mode, or null when nothing was taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Option<Mode>>,
    /// `false` for a lock observed but not predicted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted: Option<bool>,
    /// Whether the rehearsal saw the table get a new file (`pg_relation_filenode`): a rewrite,
    /// or TRUNCATE's empty file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_rewrite: Option<bool>,
    /// The estimated duration of its rewrite, scan or index build (`--stats-from`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_ms: Option<u64>,
    /// The statement builds an index on the table.
    #[serde(skip)]
    pub index_build: bool,
    /// The table gets a new file (a rewrite, or TRUNCATE).
    #[serde(skip)]
    pub new_file: bool,
}

impl LockEntry {
    fn of(p: &locks::Predicted, index_build: bool) -> LockEntry {
        LockEntry {
            table: p.table.to_string(),
            mode: p.mode,
            rewrite: p.rewrite,
            scan: p.scan,
            blocks: p.mode.blocks(),
            observed: None,
            predicted: None,
            observed_rewrite: None,
            estimate_ms: None,
            index_build,
            new_file: p.new_file,
        }
    }
}

/// Stage 1's result: the two sets and what changed.
pub struct Loaded {
    pub merge_base: String,
    /// The files changed here since the merge base, relative to the migrations folder.
    pub changed: Vec<(PathBuf, Change)>,
    /// The files the merge base had.
    pub at_merge_base: HashSet<PathBuf>,
    /// The files REF changed since the merge base.
    pub theirs_changed: HashSet<PathBuf>,
    /// REF's set (read from git; its folder is named `REF:folder`).
    pub base: MigrationSet,
    /// The working tree's set.
    pub here: MigrationSet,
}

/// Stage 1: git's view and the two sets.
pub fn sides(opts: &Options) -> Result<Loaded, ReviewError> {
    let settings = opts.settings;
    let dir = &settings.migrations.dir;
    let repo = git::Repo::open(dir)?;
    // REF resolved once: every later git call gets the commit, never the name.
    let base_commit = repo.commit(&opts.base)?;
    let merge_base = repo.merge_base(&base_commit)?;
    let changed = repo.changed(&merge_base)?;
    // REF's files are read from git, never written out: the set is named `REF:folder`.
    let ref_dir = PathBuf::from(format!("{}:{}", opts.base, repo.dir.display()));
    let files = repo
        .read_tree(&base_commit)?
        .into_iter()
        .map(|(rel, bytes)| (ref_dir.join(rel), Ok(bytes)));
    let base = crate::migration::from_files(&ref_dir, files, settings.environment);
    let here = crate::migration::load_dir(dir, settings.environment)
        .map_err(|e| ReviewError::new(e.to_string(), e.help()))?;
    Ok(Loaded {
        at_merge_base: repo.files(&merge_base)?,
        theirs_changed: repo.changed_between(&merge_base, &base_commit)?,
        merge_base,
        changed,
        base,
        here,
    })
}

/// The whole review.
pub async fn review(opts: &Options<'_>) -> Result<Review, ReviewError> {
    let loaded = sides(opts)?;
    let mut notes = Vec::new();
    let conflicts = find_conflicts(&loaded, opts);
    let new = new_migrations(&loaded, &mut notes);
    let mut migrations = predict(&loaded, &new, opts.values);
    let mut contradictions = Vec::new();
    let mut rehearsal_failed = None;
    if opts.rehearse {
        rehearsal_failed = rehearse_all(
            &loaded,
            &new,
            opts,
            &mut migrations,
            &mut contradictions,
            &mut notes,
        )
        .await?;
    }
    if let Some(spec) = &opts.stats_from {
        estimate(spec, &mut migrations).await?;
    }
    let findings = lint(&loaded, opts);
    let passed = conflicts.is_empty()
        && contradictions.is_empty()
        && rehearsal_failed.is_none()
        && !findings
            .iter()
            .any(|f| f.level == Level::Error && f.allowed.is_none());
    Ok(Review {
        base: opts.base.clone(),
        merge_base: loaded.merge_base.clone(),
        migrations,
        conflicts,
        findings,
        contradictions,
        rehearsal_failed,
        notes,
        rehearsed: opts.rehearse,
        stats_from: opts.stats_from.as_ref().map(|s| s.describe()),
        passed,
    })
}

/// The statements' parse, under placeholders for psql variables.
fn parsed(
    m: &Migration,
    values: &(dyn Fn(&str) -> Option<String> + Sync),
) -> (ParsedFile, Vec<std::sync::Arc<[String]>>) {
    let (file, _, _) = ParsedFile::parse(&m.source, values);
    let paths = crate::lint::facts::search_paths(&file.sub.text, &file.statements);
    (file, paths)
}

/// Stage 2.
fn find_conflicts(loaded: &Loaded, opts: &Options) -> Vec<Conflict> {
    let changed: HashSet<PathBuf> = loaded.changed.iter().map(|(p, _)| p.clone()).collect();
    let sides = conflicts::Sides {
        at_merge_base: &loaded.at_merge_base,
        theirs_changed: &loaded.theirs_changed,
        base: &loaded.base,
        here: &loaded.here,
        changed: &changed,
    };
    let touched = |m: &Migration| -> BTreeSet<String> {
        let (file, paths) = parsed(m, opts.values);
        file.statements
            .iter()
            .zip(&paths)
            .flat_map(|(s, p)| objects::touched(&s.node, p))
            .collect()
    };
    conflicts::find(&sides, &touched, opts.settings.migrations.out_of_order)
}

/// This side's migrations whose up file was added or changed, in plan order, with how.
fn new_migrations<'a>(loaded: &'a Loaded, notes: &mut Vec<String>) -> Vec<(&'a Migration, Change)> {
    let changed: std::collections::HashMap<&std::path::Path, Change> = loaded
        .changed
        .iter()
        .map(|(p, c)| (p.as_path(), *c))
        .collect();
    let order: Vec<&Migration> = match crate::plan::plan(&loaded.here) {
        Ok(plan) => plan
            .steps
            .iter()
            .filter_map(|s| loaded.here.get(&s.version))
            .collect(),
        Err(_) => {
            notes.push("the migrations cannot be ordered (see the findings): they are reviewed in version order".into());
            loaded.here.migrations.iter().collect()
        }
    };
    order
        .into_iter()
        .filter_map(|m| {
            let rel = m.path.strip_prefix(&loaded.here.dir).unwrap_or(&m.path);
            changed.get(rel).map(|_| {
                let how = if loaded.at_merge_base.contains(rel) {
                    Change::Modified
                } else {
                    Change::Added
                };
                (m, how)
            })
        })
        .collect()
}

/// Stage 3: every statement's predicted locks on tables that exist before it (REF's, and not
/// made by a new migration before).
fn predict(
    loaded: &Loaded,
    new: &[(&Migration, Change)],
    values: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Vec<Reviewed> {
    let mut known = Known::default();
    for m in &loaded.base.migrations {
        let (file, paths) = parsed(m, values);
        for (s, p) in file.statements.iter().zip(&paths) {
            known.learn(&s.node, p);
        }
    }
    let mut made: HashSet<QualName> = HashSet::new();
    let mut out = Vec::new();
    for (m, change) in new {
        let (file, paths) = parsed(m, values);
        let mut statements = Vec::new();
        for (s, path) in file.statements.iter().zip(&paths) {
            let index_build = matches!(
                *s.node,
                pg_query::NodeEnum::IndexStmt(_) | pg_query::NodeEnum::ReindexStmt(_)
            );
            let locks = locks::predict(&s.node, path, &known)
                .iter()
                .filter(|p| !made.contains(&p.table))
                .map(|p| LockEntry::of(p, index_build))
                .collect();
            known.learn(&s.node, path);
            made.extend(made_relation(&s.node, path));
            let (start, end) = (file.sub.to_source(s.start), file.sub.to_source(s.end));
            statements.push(StatementReview {
                line: m.locate(start, 1).line,
                sql: shortened(m.source.get(start..end).unwrap_or_default()),
                locks,
            });
        }
        out.push(Reviewed {
            version: m.version.to_string(),
            file: m
                .path
                .strip_prefix(&loaded.here.dir)
                .unwrap_or(&m.path)
                .display()
                .to_string(),
            change: *change,
            statements,
        });
    }
    out
}

/// A statement's text as the review shows it: a data migration's INSERT of a million rows is
/// cut after [`SQL_SHOWN`] characters, with the count of the rest.
fn shortened(sql: &str) -> String {
    match sql.char_indices().nth(SQL_SHOWN) {
        None => sql.to_string(),
        Some((cut, _)) => format!(
            "{}… ({} more characters)",
            &sql[..cut],
            sql[cut..].chars().count()
        ),
    }
}

/// The characters of a statement the review shows.
const SQL_SHOWN: usize = 1000;

/// The relation a statement makes (a table, a view that did not exist, a materialized view).
fn made_relation(node: &pg_query::NodeEnum, path: &[String]) -> Option<QualName> {
    use pg_query::NodeEnum as E;
    match node {
        E::CreateStmt(c) => c.relation.as_ref().map(|r| locks::qual(r, path)),
        E::CreateTableAsStmt(c) => c
            .into
            .as_ref()
            .and_then(|i| i.rel.as_ref())
            .map(|r| locks::qual(r, path)),
        E::ViewStmt(v) if !v.replace => v.view.as_ref().map(|r| locks::qual(r, path)),
        _ => None,
    }
}

/// Stage 4: REF's schema built on a throwaway cluster, the new migrations run there, each
/// statement's locks observed and held against the predictions. Returns where a new
/// migration failed, if one did.
async fn rehearse_all(
    loaded: &Loaded,
    new: &[(&Migration, Change)],
    opts: &Options<'_>,
    migrations: &mut [Reviewed],
    contradictions: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<Option<String>, ReviewError> {
    // The values do not matter on a throwaway database: a missing one gets a placeholder.
    let fallback =
        |name: &str| (opts.values)(name).or_else(|| Some(crate::lint::PLACEHOLDER.to_string()));
    let mut builder = crate::diff::Builder::new(opts.settings, &fallback, opts.supabase);
    let built = |e: crate::diff::DiffError| {
        ReviewError::new(
            format!("building {}'s schema failed: {e}", opts.base),
            e.help(),
        )
    };
    let spec = builder.database().map_err(built)?;
    let base_plan = crate::plan::plan(&loaded.base).map_err(|f| {
        ReviewError::new(
            format!(
                "{}'s migrations cannot be ordered: {}",
                opts.base,
                f.first().map(|f| f.message.as_str()).unwrap_or_default()
            ),
            "review without --rehearse",
        )
    })?;
    builder
        .build(&spec, &loaded.base, &base_plan)
        .await
        .map_err(built)?;
    let a = rehearse::session(&spec).await?;
    let probe = rehearse::session(&spec).await?;
    let existing = rehearse::relations(&a).await?;
    let names: HashSet<String> = existing.values().map(|t| t.to_string()).collect();
    for ((m, _), r) in new.iter().zip(migrations.iter_mut()) {
        let p = match crate::deploy::prepare(m, &fallback) {
            Ok(p) => p,
            Err(missing) => {
                notes.push(format!(
                    "{} was not rehearsed: {}",
                    r.file,
                    missing.join("; ")
                ));
                break;
            }
        };
        if p.statements.len() != r.statements.len() {
            notes.push(format!("{} was not observed statement by statement: its statements differ once variables are substituted", r.file));
        }
        let tables: Vec<Vec<(QualName, Mode)>> = r
            .statements
            .iter()
            .map(|s| {
                s.locks
                    .iter()
                    .filter_map(|l| Some((split(&l.table)?, l.mode)))
                    .collect()
            })
            .collect();
        let (seen, stopped) = rehearse::migration(&a, &probe, &p, &tables, &existing).await?;
        if p.statements.len() == r.statements.len() {
            for (s, o) in r.statements.iter_mut().zip(seen) {
                held_against(s, o.as_ref(), &names, &r.file, contradictions);
            }
        }
        if let Some(stop) = stopped {
            let line = r.statements.get(stop.statement).map_or(0, |s| s.line);
            return Ok(Some(format!(
                "{}:{line}: {} (on {}'s schema; what follows was not rehearsed)",
                r.file, stop.error, opts.base
            )));
        }
    }
    Ok(None)
}

/// `schema.table` back into its parts (names with a dot inside are not split well: they are
/// not observed).
fn split(table: &str) -> Option<QualName> {
    let (schema, name) = table.split_once('.')?;
    Some(QualName {
        schema: schema.into(),
        name: name.into(),
    })
}

/// One statement's observation held against its predictions.
fn held_against(
    s: &mut StatementReview,
    o: Option<&rehearse::Observed>,
    existing: &HashSet<String>,
    file: &str,
    contradictions: &mut Vec<String>,
) {
    let Some(o) = o else { return };
    // A table REF's schema does not have is not an existing one.
    s.locks.retain(|l| existing.contains(&l.table));
    for l in &mut s.locks {
        let Some(t) = split(&l.table) else { continue };
        let seen = o.new.get(&t).copied().or_else(|| {
            o.held
                .get(&t)
                .filter(|h| h.contains(&l.mode))
                .map(|_| l.mode)
        });
        l.observed = Some(seen);
        if seen != Some(l.mode) {
            contradictions.push(format!(
                "{file}:{}: pgshift predicted {} on {}, pg_locks showed {}",
                s.line,
                l.mode.name(),
                l.table,
                seen.map_or("no lock", Mode::name)
            ));
        }
        if let Some(&changed) = o.new_files.get(&t) {
            l.observed_rewrite = Some(changed);
            if changed != l.new_file {
                contradictions.push(format!(
                    "{file}:{}: pgshift predicted that {} {} a new file, pg_relation_filenode showed it {}",
                    s.line,
                    l.table,
                    if l.new_file { "gets" } else { "keeps its file, not" },
                    if changed { "changed" } else { "unchanged" }
                ));
            }
        }
    }
    for (t, mode) in &o.new {
        let name = t.to_string();
        if s.locks.iter().any(|l| l.table == name) {
            continue;
        }
        s.locks.push(LockEntry {
            table: name,
            mode: *mode,
            rewrite: false,
            scan: false,
            blocks: mode.blocks(),
            observed: Some(Some(*mode)),
            predicted: Some(false),
            observed_rewrite: o.new_files.get(t).copied(),
            estimate_ms: None,
            index_build: false,
            new_file: false,
        });
    }
}

/// Stage 5.
async fn estimate(spec: &ConnectionSpec, migrations: &mut [Reviewed]) -> Result<(), ReviewError> {
    let sizes = stats::read(spec).await?;
    for l in migrations
        .iter_mut()
        .flat_map(|m| m.statements.iter_mut())
        .flat_map(|s| s.locks.iter_mut())
    {
        if let Some(size) = split(&l.table).and_then(|t| sizes.get(&t)) {
            l.estimate_ms = stats::estimate(*size, l.rewrite, l.scan, l.index_build);
        }
    }
    Ok(())
}

/// Stage 6: the findings of the whole set that fall in the new and changed files.
fn lint(loaded: &Loaded, opts: &Options) -> Vec<Finding> {
    let changed: HashSet<&std::path::Path> = loaded
        .changed
        .iter()
        .filter(|(_, c)| *c != Change::Deleted)
        .map(|(p, _)| p.as_path())
        .collect();
    let options = crate::validate::Options::from_settings(opts.settings, opts.values);
    crate::validate::validate_set(&loaded.here, &options)
        .findings
        .into_iter()
        .filter(|f| {
            f.location.as_ref().is_some_and(|l| {
                changed.contains(l.file.strip_prefix(&loaded.here.dir).unwrap_or(&l.file))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_statement_is_cut_with_the_count_of_the_rest() {
        let long = format!("INSERT INTO t VALUES {}", "(1),".repeat(400));
        let shown = super::shortened(&long);
        assert!(shown.starts_with("INSERT INTO t VALUES (1),"));
        assert!(shown.ends_with("… (621 more characters)"), "{shown}");
        assert_eq!(super::shortened("SELECT 1"), "SELECT 1");
    }
}
