//! Comparing the files with the tracking table: applied, pending, failed, partial, modified,
//! unknown, out of order. Pure: no database, no terminal.

use serde::Serialize;

use crate::config::Environment;
use crate::db::tracking::AppliedRow;
use crate::migration::{Migration, MigrationSet, Version};
use crate::plan::Plan;

/// The state of one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Applied, and the file is unchanged (or changed only in comments and whitespace).
    Applied {
        /// The file changed since, in comments or whitespace only.
        cosmetic_change: bool,
    },
    /// Not applied yet.
    Pending {
        /// Dated before migrations already applied.
        out_of_order: bool,
    },
    /// The last attempt failed; it runs again on the next deploy.
    Failed {
        /// The error of the last attempt.
        message: String,
    },
    /// A no-transaction file stopped after this many statements; the next deploy resumes.
    Partial {
        /// Statements that finished before it stopped.
        statements_done: i32,
        /// The error it stopped at.
        message: String,
    },
    /// Applied, but the SQL of the file changed since: blocks deploys until `repair`.
    Modified,
    /// A repeatable migration whose SQL changed since it ran: it runs again on the next deploy.
    Changed,
    /// A baseline (`squash`) whose replaced versions are all recorded: the database has what
    /// it builds; the next deploy records it without running it.
    Covered,
    /// A baseline of which some replaced versions are recorded, not all: deploys refuse.
    PartlyCovered {
        /// The replaced versions the database lacks.
        missing: Vec<String>,
    },
    /// In the database, with no file.
    Unknown,
    /// Its record was changed by hand or by another tool (a NULL where pgshift always writes a
    /// value, the version recorded twice): blocks deploys until `repair` or `forget`.
    Damaged {
        /// What is wrong with the record.
        problem: String,
    },
    /// `@env` excludes it from this environment.
    NotForEnvironment,
    /// Not applied, and the file holds only comments (a superseded migration, or one `new` just
    /// made): skipped, not recorded, until it holds SQL.
    NoSql,
}

/// One line of `status`.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The migration's version.
    pub version: String,
    #[serde(flatten)]
    /// Where it stands.
    pub state: State,
    /// When it ran (UTC), if it did.
    pub executed_at: Option<String>,
    /// How long it took, if it ran.
    pub execution_time_ms: Option<i64>,
    /// The checksum recorded when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Counts per state, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Applied and unchanged (or changed in comments only).
    pub applied: usize,
    /// Not applied yet.
    pub pending: usize,
    /// Failed or partial.
    pub failed: usize,
    /// Applied, but the file's SQL changed since.
    pub modified: usize,
    /// Recorded, with no file.
    pub unknown: usize,
    /// Records changed by hand or by another tool.
    pub damaged: usize,
    /// Pending, dated before applied ones.
    pub out_of_order: usize,
    /// Not run here: no SQL, or another environment.
    pub skipped: usize,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Every migration and recorded version, in plan order (unknown ones last).
    pub entries: Vec<Entry>,
    /// How many are in each state.
    pub counts: Counts,
}

/// The normalised checksum of a file (its SHA-256 when it cannot be scanned).
pub fn normalized(m: &Migration) -> String {
    crate::sql::normalized_checksum(&m.source).unwrap_or_else(|| m.checksum.as_str().to_string())
}

/// [`normalized`], the `COPY` data of its text found already.
pub fn normalized_of(m: &Migration, copies: &[crate::sql::variables::CopyData]) -> String {
    crate::sql::normalized_checksum_of(&m.source, copies)
        .unwrap_or_else(|| m.checksum.as_str().to_string())
}

/// Items of a list sorted by version, found by version. Each search tries the item after
/// the last one found first: looking up in version order costs one comparison a look, not a
/// binary search, nor a hash of every version (10,000 rows: a third of `status`'s comparison).
/// Of items with the same version, the last is found.
pub struct InOrder<'a, T> {
    items: &'a [T],
    version: fn(&T) -> &str,
    next: std::cell::Cell<usize>,
}

impl<'a, T> InOrder<'a, T> {
    /// `items` must be sorted by `version`.
    pub fn new(items: &'a [T], version: fn(&T) -> &str) -> InOrder<'a, T> {
        InOrder {
            items,
            version,
            next: std::cell::Cell::new(0),
        }
    }

    /// The item of `v`, if any.
    pub fn get(&self, v: &str) -> Option<&'a T> {
        let key = self.version;
        let next = self.next.get();
        let mut i = match self.items.get(next) {
            Some(t) if key(t) == v => next,
            _ => self.items.binary_search_by(|t| key(t).cmp(v)).ok()?,
        };
        while self.items.get(i + 1).is_some_and(|t| key(t) == v) {
            i += 1;
        }
        self.next.set(i + 1);
        Some(&self.items[i])
    }
}

/// Compares the set (in plan order) with the tracking rows.
pub fn compare(set: &MigrationSet, plan: &Plan, rows: &[AppliedRow], env: Environment) -> Status {
    // By version; of a version recorded twice, the row a map filled in the rows' order would
    // keep: the last (a stable sort, skipped when deploys wrote them in version order).
    let mut sorted: Vec<&AppliedRow> = rows.iter().collect();
    if !sorted.is_sorted_by(|a, b| a.version <= b.version) {
        sorted.sort_by(|a, b| a.version.cmp(&b.version));
    }
    let by_version = InOrder::new(&sorted, |r| r.version.as_str());
    // The last applied migration in plan order: anything pending before it is out of order.
    let last_applied = plan.steps.iter().rposition(|s| {
        by_version
            .get(s.version.as_str())
            .is_some_and(|r| r.success)
    });
    let by_version = InOrder::new(&sorted, |r| r.version.as_str());
    let mut entries = Vec::with_capacity(plan.steps.len());
    let mut counts = Counts::default();
    for (i, step) in plan.steps.iter().enumerate() {
        let Some(m) = migration_at(set, i, &step.version) else {
            continue;
        };
        let row = by_version.get(m.version.as_str()).copied();
        let before_last = last_applied.is_some_and(|l| i < l);
        let state = state_of(m, row, env, &by_version, before_last);
        counts.add(&state);
        entries.push(Entry {
            version: m.version.as_str().to_owned(),
            state,
            executed_at: row.map(|r| r.executed_at.clone()),
            execution_time_ms: row.map(|r| r.execution_time_ms),
            checksum: row.map(|r| r.checksum.clone()),
        });
    }
    // A row is unknown when no file has its version, exactly as recorded (once, however many
    // times it is there).
    let files = InOrder::new(&set.migrations, |m| m.version.as_str());
    // A version a baseline replaced is known: its file moved to `squashed/`.
    let replaced: std::collections::HashSet<&str> = set
        .migrations
        .iter()
        .flat_map(|m| m.front.directives.replaces.iter().map(String::as_str))
        .collect();
    let known = |v: &str| files.get(v).is_some() || replaced.contains(v);
    let mut seen = std::collections::HashSet::new();
    for r in rows.iter().filter(|r| !known(r.version.as_str())) {
        if !seen.insert(r.version.as_str()) {
            continue;
        }
        let e = unknown(by_version.get(r.version.as_str()).copied().unwrap_or(r));
        match e.state {
            State::Damaged { .. } => counts.damaged += 1,
            _ => counts.unknown += 1,
        }
        entries.push(e);
    }
    Status { entries, counts }
}

/// The state of migration `m` from its row (`None`: never recorded); `before_last`: a
/// migration after it in plan order is applied.
fn state_of(
    m: &Migration,
    row: Option<&AppliedRow>,
    env: Environment,
    by_version: &InOrder<'_, &AppliedRow>,
    before_last: bool,
) -> State {
    match row {
        Some(r) if r.damage.is_some() => State::Damaged {
            problem: r.damage.clone().unwrap_or_default(),
        },
        None if !m.runs_in(env) => State::NotForEnvironment,
        None if !m.has_sql() => State::NoSql,
        None if !m.front.directives.replaces.is_empty() => {
            baseline_state(m, by_version, before_last)
        }
        None => State::Pending {
            out_of_order: !m.is_repeatable() && before_last,
        },
        Some(r) if !r.success => match r.statements_done {
            Some(done) if done > 0 => State::Partial {
                statements_done: done,
                message: r.error_message.clone().unwrap_or_default(),
            },
            _ => State::Failed {
                message: r.error_message.clone().unwrap_or_default(),
            },
        },
        Some(r) if r.checksum == m.checksum.as_str() => State::Applied {
            cosmetic_change: false,
        },
        Some(r) => {
            let same_sql = r.normalized_checksum.as_deref() == Some(normalized(m).as_str());
            if same_sql {
                State::Applied {
                    cosmetic_change: true,
                }
            } else if m.is_repeatable() {
                State::Changed
            } else {
                State::Modified
            }
        }
    }
}

impl Counts {
    /// Counts one migration in `state`.
    fn add(&mut self, state: &State) {
        match state {
            State::Applied { .. } => self.applied += 1,
            State::Pending { out_of_order } => {
                self.pending += 1;
                self.out_of_order += usize::from(*out_of_order);
            }
            State::Changed => self.pending += 1,
            State::Covered => self.applied += 1,
            State::PartlyCovered { .. } => self.damaged += 1,
            State::Failed { .. } | State::Partial { .. } => self.failed += 1,
            State::Modified => self.modified += 1,
            State::NotForEnvironment | State::NoSql => self.skipped += 1,
            State::Damaged { .. } => self.damaged += 1,
            State::Unknown => {}
        }
    }
}

/// What [`compare`] says when the rows are exactly one success per migration that runs in
/// `env` and holds SQL, each with its file's checksum — as a digest of the records vouched
/// (`deploy::unchanged`): those are applied, the others skipped. No row was read: no time or
/// checksum is shown.
pub fn all_applied(set: &MigrationSet, plan: &Plan, env: Environment) -> Status {
    let mut entries = Vec::with_capacity(plan.steps.len());
    let mut counts = Counts::default();
    for (i, step) in plan.steps.iter().enumerate() {
        let Some(m) = migration_at(set, i, &step.version) else {
            continue;
        };
        let state = if !m.runs_in(env) {
            State::NotForEnvironment
        } else if !m.has_sql() {
            State::NoSql
        } else {
            counts.applied += 1;
            State::Applied {
                cosmetic_change: false,
            }
        };
        counts.skipped += usize::from(!matches!(state, State::Applied { .. }));
        entries.push(Entry {
            version: m.version.as_str().to_owned(),
            state,
            executed_at: None,
            execution_time_ms: None,
            checksum: None,
        });
    }
    Status { entries, counts }
}

/// The migration of `version`, the plan's `i`th step. The plan follows the versions' order
/// unless dependencies reorder it: the same position is tried before a search.
fn migration_at<'s>(set: &'s MigrationSet, i: usize, version: &Version) -> Option<&'s Migration> {
    match set.migrations.get(i) {
        Some(m) if m.version == *version => Some(m),
        _ => set.get(version),
    }
}

/// A baseline not recorded: covered when the database has every version it replaces,
/// pending when none, refused when some.
fn baseline_state(
    m: &Migration,
    by_version: &InOrder<'_, &AppliedRow>,
    out_of_order: bool,
) -> State {
    let replaces = &m.front.directives.replaces;
    let recorded = |v: &String| by_version.get(v.as_str()).is_some_and(|r| r.success);
    let missing: Vec<String> = replaces.iter().filter(|v| !recorded(v)).cloned().collect();
    if missing.is_empty() {
        State::Covered
    } else if missing.len() == replaces.len() {
        State::Pending { out_of_order }
    } else {
        State::PartlyCovered { missing }
    }
}

/// What fixes a damaged record of `version`, as commands to type.
pub fn damaged_fix(version: &str) -> String {
    let w = crate::sanitize::escape::shell_word(version);
    if version == crate::db::tracking::NULL_VERSION {
        format!("`pgshift forget {w}` removes the records without a version")
    } else {
        format!("`pgshift repair {w}` mends it, `pgshift forget {w}` removes it")
    }
}

fn unknown(r: &AppliedRow) -> Entry {
    Entry {
        version: r.version.clone(),
        state: match &r.damage {
            Some(problem) => State::Damaged {
                problem: problem.clone(),
            },
            None => State::Unknown,
        },
        executed_at: Some(r.executed_at.clone()),
        execution_time_ms: Some(r.execution_time_ms),
        checksum: Some(r.checksum.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn row(m: &Migration) -> AppliedRow {
        AppliedRow {
            version: m.version.to_string(),
            checksum: m.checksum.as_str().to_string(),
            normalized_checksum: None,
            executed_at: "2026-01-01 00:00:00 UTC".into(),
            execution_time_ms: 1,
            success: true,
            error_message: None,
            sqlstate: None,
            error_position: None,
            statements_done: None,
            run_id: "r".into(),
            applied_by: "u".into(),
            environment: None,
            tool_version: None,
            damage: None,
        }
    }

    /// The set of `files` (name, text) in development, and its plan.
    fn planned(files: &[(&str, &str)]) -> (MigrationSet, Plan) {
        let files = files.iter().map(|(n, t)| {
            (
                PathBuf::from(format!("m/{n}.sql")),
                Ok(t.as_bytes().to_vec()),
            )
        });
        let set = crate::migration::from_files(Path::new("m"), files, Environment::Development);
        let plan = crate::plan::plan(&set).expect("plans");
        (set, plan)
    }

    #[test]
    fn in_order_finds_a_version_in_order_or_not_and_the_last_of_equal_ones() {
        let items = ["a", "b", "b", "d", "e"];
        let find = InOrder::new(&items, |s: &&str| *s);
        let at = |v: &str| find.get(v).map(|f| f as *const &str);
        // In order: each after the last found (the last of the two `b`s).
        assert_eq!(at("a"), Some(&items[0] as *const &str));
        assert_eq!(at("b"), Some(&items[2] as *const &str));
        assert_eq!(at("c"), None);
        assert_eq!(at("d"), Some(&items[3] as *const &str));
        // Out of order: searched for, and still the last of equal ones.
        assert_eq!(at("b"), Some(&items[2] as *const &str));
        assert_eq!(at("a"), Some(&items[0] as *const &str));
        assert_eq!(at("e"), Some(&items[4] as *const &str));
        assert_eq!(at("f"), None);
        assert_eq!(at(""), None);
    }

    #[test]
    fn rows_out_of_version_order_are_compared_as_a_map_of_the_last_row_would() {
        let (set, plan) = planned(&[
            ("2026-01-01_a", "SELECT 1;\n"),
            ("2026-01-02_b", "SELECT 2;\n"),
        ]);
        let (a, b) = (&set.migrations[0], &set.migrations[1]);
        let failed = AppliedRow {
            success: false,
            error_message: Some("boom".into()),
            ..row(b)
        };
        let gone = AppliedRow {
            version: "2025-12-31_gone".into(),
            ..row(a)
        };
        // `b` failed, then `a` ran, then `b` again; a row no file has, at the end.
        let rows = vec![failed.clone(), row(a), row(b), gone];
        let status = compare(&set, &plan, &rows, Environment::Development);
        let states: Vec<(&str, &State)> = status
            .entries
            .iter()
            .map(|e| (e.version.as_str(), &e.state))
            .collect();
        assert_eq!(
            states,
            [
                (
                    "2026-01-01_a",
                    &State::Applied {
                        cosmetic_change: false
                    }
                ),
                (
                    "2026-01-02_b",
                    &State::Applied {
                        cosmetic_change: false
                    }
                ),
                ("2025-12-31_gone", &State::Unknown),
            ]
        );
        // The failure last: that is what counts.
        let rows = vec![row(b), row(a), failed];
        let status = compare(&set, &plan, &rows, Environment::Development);
        assert!(matches!(status.entries[1].state, State::Failed { .. }));
        assert_eq!(status.counts.failed, 1);
    }

    #[test]
    fn each_step_is_compared_with_its_own_migration_when_dependencies_reorder_the_plan() {
        // The first file waits for the third: the plan's positions differ from the set's.
        let (set, plan) = planned(&[
            ("2026-01-01_a", "-- @depends-on: 2026-01-03_c\nSELECT 1;\n"),
            ("2026-01-02_b", "SELECT 2;\n"),
            ("2026-01-03_c", "SELECT 3;\n"),
        ]);
        let order: Vec<&str> = plan.steps.iter().map(|s| s.version.as_str()).collect();
        assert_eq!(order, ["2026-01-02_b", "2026-01-03_c", "2026-01-01_a"]);
        // Only `a` is applied, with its own checksum; `b` recorded with another's is modified.
        let mut b = row(&set.migrations[1]);
        b.checksum = set.migrations[2].checksum.as_str().to_string();
        let rows = [row(&set.migrations[0]), b];
        let status = compare(&set, &plan, &rows, Environment::Development);
        let states: Vec<(&str, &State)> = status
            .entries
            .iter()
            .map(|e| (e.version.as_str(), &e.state))
            .collect();
        assert_eq!(
            states,
            [
                ("2026-01-02_b", &State::Modified),
                ("2026-01-03_c", &State::Pending { out_of_order: true }),
                (
                    "2026-01-01_a",
                    &State::Applied {
                        cosmetic_change: false
                    }
                ),
            ]
        );
    }

    #[test]
    fn all_applied_is_what_the_comparison_says_of_exactly_the_files_rows() {
        let (set, plan) = planned(&[
            ("2026-01-01_a", "-- @depends-on: 2026-01-03_c\nSELECT 1;\n"),
            ("2026-01-02_prod", "-- @env: production\nSELECT 2;\n"),
            ("2026-01-03_c", "SELECT 3;\n"),
            ("2026-01-04_empty", "-- nothing yet\n"),
            ("2026-01-05_prod_empty", "-- @env: production\n"),
        ]);
        let env = Environment::Development;
        let rows: Vec<AppliedRow> = set
            .migrations
            .iter()
            .filter(|m| m.runs_in(env) && m.has_sql())
            .map(row)
            .collect();
        assert_eq!(rows.len(), 2);
        let read = compare(&set, &plan, &rows, env);
        let vouched = all_applied(&set, &plan, env);
        let states = |s: &Status| -> Vec<(String, State)> {
            s.entries
                .iter()
                .map(|e| (e.version.clone(), e.state.clone()))
                .collect()
        };
        assert_eq!(states(&vouched), states(&read));
        assert_eq!(vouched.counts, read.counts);
        assert_eq!(vouched.counts.skipped, 3);
    }
}
