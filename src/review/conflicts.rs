//! Conflicts between this branch and the base (SPEC §18), each found from the base's set (REF)
//! and this checkout's, and from git: which files the merge base had, which changed on each
//! side since.
//! - `duplicate-version`: the same version added on both sides, with different contents;
//! - `same-object`: a migration of each side since the merge base touching the same table,
//!   view, function or type, neither depending on the other (directly or not);
//! - `out-of-order`: a new migration sorting before the base's newest (unless
//!   `out_of_order = "allow"`);
//! - `edited-applied`: a file the base has, changed or deleted here.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use crate::config::OutOfOrder;
use crate::deploy::status::normalized;
use crate::migration::{Migration, MigrationSet, Version};

/// One conflict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    /// `duplicate-version`, `same-object`, `out-of-order` or `edited-applied`.
    pub kind: &'static str,
    /// The migrations involved: this side's first.
    pub versions: Vec<String>,
    /// The object both touch (`same-object`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

/// The two sets compared, and what git says of them.
pub struct Sides<'a> {
    /// The files the merge base had, relative to the migrations folder.
    pub at_merge_base: &'a HashSet<std::path::PathBuf>,
    /// The files REF changed since the merge base.
    pub theirs_changed: &'a HashSet<std::path::PathBuf>,
    /// At REF.
    pub base: &'a MigrationSet,
    /// Here (the working tree).
    pub here: &'a MigrationSet,
    /// The files changed here since the merge base, relative to the migrations folder.
    pub changed: &'a HashSet<std::path::PathBuf>,
}

impl Sides<'_> {
    /// This side's migrations whose up file changed since the merge base.
    fn ours(&self) -> Vec<&Migration> {
        self.here
            .migrations
            .iter()
            .filter(|m| self.changed.contains(relative(self.here, &m.path)))
            .collect()
    }

    /// The base's migrations added or changed since the merge base.
    fn theirs(&self) -> Vec<&Migration> {
        self.base
            .migrations
            .iter()
            .filter(|m| self.theirs_changed.contains(relative(self.base, &m.path)))
            .collect()
    }
}

/// `path` relative to the set's folder.
fn relative<'p>(set: &MigrationSet, path: &'p Path) -> &'p Path {
    path.strip_prefix(&set.dir).unwrap_or(path)
}

/// Every conflict, in the order of the kinds above.
pub fn find(
    sides: &Sides,
    touched: &dyn Fn(&Migration) -> BTreeSet<String>,
    out_of_order: OutOfOrder,
) -> Vec<Conflict> {
    let (ours, theirs) = (sides.ours(), sides.theirs());
    let mut out = Vec::new();
    duplicate_versions(sides, &ours, &theirs, &mut out);
    same_objects(sides, &ours, &theirs, touched, &mut out);
    if out_of_order != OutOfOrder::Allow {
        out_of_order_versions(sides, &ours, &mut out);
    }
    edited_applied(sides, &mut out);
    out
}

fn duplicate_versions(
    sides: &Sides,
    ours: &[&Migration],
    theirs: &[&Migration],
    out: &mut Vec<Conflict>,
) {
    for m in ours {
        if sides.at_merge_base.contains(relative(sides.here, &m.path)) {
            continue;
        }
        if let Some(t) = theirs.iter().find(|t| t.version == m.version) {
            if t.checksum != m.checksum {
                out.push(Conflict {
                    kind: "duplicate-version",
                    versions: vec![m.version.to_string()],
                    object: None,
                    message: format!(
                        "{} is added on both sides with different contents: once merged, one of them is never run",
                        m.file_name()
                    ),
                });
            }
        }
    }
}

/// The declared dependencies of both sides, by version, as the files name them (a migration
/// may name one the other side adds).
fn dependencies(sets: &[&MigrationSet]) -> HashMap<Version, Vec<Version>> {
    let mut out: HashMap<Version, Vec<Version>> = HashMap::new();
    for m in sets.iter().flat_map(|s| &s.migrations) {
        let d = &m.front;
        let named = d
            .directives
            .depends_on
            .iter()
            .chain(d.header.dependencies.iter().flatten())
            .map(|r| r.version.clone());
        out.entry(m.version.clone()).or_default().extend(named);
    }
    out
}

/// Whether `from` depends on `to`, directly or through others.
fn reaches(deps: &HashMap<Version, Vec<Version>>, from: &Version, to: &Version) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![from];
    while let Some(v) = stack.pop() {
        if v == to {
            return true;
        }
        if seen.insert(v) {
            stack.extend(deps.get(v).into_iter().flatten());
        }
    }
    false
}

fn same_objects(
    sides: &Sides,
    ours: &[&Migration],
    theirs: &[&Migration],
    touched: &dyn Fn(&Migration) -> BTreeSet<String>,
    out: &mut Vec<Conflict>,
) {
    let deps = dependencies(&[sides.here, sides.base]);
    let theirs: Vec<(&Migration, BTreeSet<String>)> =
        theirs.iter().map(|t| (*t, touched(t))).collect();
    for m in ours {
        let mine = touched(m);
        for (t, objects) in &theirs {
            if t.version == m.version {
                continue;
            }
            let both: Vec<&String> = mine.intersection(objects).collect();
            let Some(first) = both.first() else { continue };
            if reaches(&deps, &m.version, &t.version) || reaches(&deps, &t.version, &m.version) {
                continue;
            }
            let all = both
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            out.push(Conflict {
                kind: "same-object",
                versions: vec![m.version.to_string(), t.version.to_string()],
                object: Some(first.to_string()),
                message: format!(
                    "{} (this branch) and {} (the base) both change {all}, and neither depends on the other: their order after the merge is by date alone. Say which comes first with `-- @depends-on: {}` in {}, and check that both still do what they should",
                    m.file_name(),
                    t.file_name(),
                    t.version,
                    m.file_name(),
                ),
            });
        }
    }
}

fn out_of_order_versions(sides: &Sides, ours: &[&Migration], out: &mut Vec<Conflict>) {
    // The order once merged (dependencies, then dates), as a deploy computes it.
    let mut merged = MigrationSet {
        dir: sides.here.dir.clone(),
        migrations: sides.here.migrations.clone(),
        findings: Vec::new(),
    };
    for m in &sides.base.migrations {
        if merged.get(&m.version).is_none() {
            merged.migrations.push(m.clone());
        }
    }
    merged.migrations.sort_by(|a, b| a.version.cmp(&b.version));
    let order: Vec<&Version> = match crate::plan::plan(&merged) {
        Ok(p) => p
            .steps
            .iter()
            .filter_map(|s| merged.get(&s.version).map(|m| &m.version))
            .collect(),
        Err(_) => merged.migrations.iter().map(|m| &m.version).collect(),
    };
    let in_base = |v: &Version| !v.is_repeatable() && sides.base.get(v).is_some();
    let Some(last) = order.iter().rposition(|v| in_base(v)) else {
        return;
    };
    for m in ours {
        if m.is_repeatable() || sides.base.get(&m.version).is_some() {
            continue;
        }
        if order
            .iter()
            .position(|v| **v == m.version)
            .is_some_and(|i| i < last)
        {
            out.push(Conflict {
                kind: "out-of-order",
                versions: vec![m.version.to_string()],
                object: None,
                message: format!(
                    "{} comes before the base's newest migration, {}, in the merged order: a database that has the base's migrations runs it out of order. Rename it with today's date (`pgshift new` names files so), or set [migrations] out_of_order = \"allow\" if the order does not matter",
                    m.file_name(),
                    order[last]
                ),
            });
        }
    }
}

fn edited_applied(sides: &Sides, out: &mut Vec<Conflict>) {
    for b in sides.base.migrations.iter().filter(|m| !m.is_repeatable()) {
        // One the base added since the merge base is not applied anywhere this branch knew
        // of: added here too, it is a duplicate version.
        let rel = relative(sides.base, &b.path);
        if !sides.changed.contains(rel) || !sides.at_merge_base.contains(rel) {
            continue;
        }
        let message = match sides.here.get(&b.version) {
            None => format!(
                "{} is in the base but deleted here: databases that applied it keep it, and `status` reports a record without a file. Restore the file; undo it with a new migration",
                b.file_name()
            ),
            Some(h) if h.checksum != b.checksum && normalized(h) != normalized(b) => format!(
                "{} is in the base (applied where the base is deployed) and changed here: a deploy refuses a changed checksum, and databases that applied it never run the change. Restore the file and put the change in a new migration (`pgshift new`)",
                b.file_name()
            ),
            Some(_) => continue,
        };
        out.push(Conflict {
            kind: "edited-applied",
            versions: vec![b.version.to_string()],
            object: None,
            message,
        });
    }
}
