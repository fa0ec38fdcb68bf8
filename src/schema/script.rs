//! The SQL that turns one snapshot into another, ordered by the dependencies the catalogs
//! record: first what must let go of something (a default that names a sequence to drop, a
//! partition to detach), then drops in reverse dependency order, then creates and changes in
//! dependency order, then INHERIT and ATTACH PARTITION, then the types, domains, extensions
//! and schemas that go (once no column uses them), and default privileges last (so that they
//! give nothing to what the script creates). A view, function, trigger or policy that must be re-created brings what
//! depends on it; a column changes in place and is never dropped and added; an object made
//! anew gets exactly the privileges it has on the other side, whatever the defaults there.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde::Serialize;

use super::compare::Changes;
use super::tables::ColumnFacts;
use super::{literal, Detail, Key, Kind, Object, Snapshot};

/// Where in the script a statement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Roles,
    Release,
    Drop,
    Create,
    /// INHERIT and ATTACH PARTITION, once the columns and constraints they need are there.
    Attach,
    /// Types, domains, extensions and schemas that go: after the columns that used them
    /// changed type (and a schema after what was in it).
    LateDrop,
    Defaults,
}

/// One statement of the script.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub phase: Phase,
    /// The object it is about.
    pub object: Key,
    pub sql: String,
    /// It can lose data: written as a comment unless drops are allowed.
    pub destructive: bool,
    /// A line said before it (a possible rename).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    rank: usize,
}

/// The script, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Script {
    pub statements: Vec<Statement>,
    /// What the script cannot do, said once each.
    pub warnings: Vec<String>,
}

impl Script {
    /// Any statement that can lose data.
    pub fn destructive(&self) -> usize {
        self.statements.iter().filter(|s| s.destructive).count()
    }

    /// As psql runs it (`psql -v ON_ERROR_STOP=1 -f`): destructive statements commented out
    /// with a warning unless `allow_drop`.
    pub fn render(&self, allow_drop: bool) -> String {
        let mut out = String::new();
        out.push_str("SET check_function_bodies = false;\nSET client_min_messages = warning;\n");
        for w in &self.warnings {
            out.push_str(&comment(&format!("warning: {w}")));
        }
        let mut phase = None;
        for s in &self.statements {
            if phase != Some(s.phase) {
                phase = Some(s.phase);
                out.push('\n');
            }
            if let Some(n) = &s.note {
                out.push_str(&comment(n));
            }
            if s.destructive && !allow_drop {
                out.push_str("-- destructive, left out (run with --allow-drop to include it):\n");
                out.push_str(&comment(&s.sql));
            } else {
                out.push_str(&s.sql);
                out.push('\n');
            }
        }
        out
    }
}

/// `text` as SQL comment lines: every line of it behind `-- `, so that a name holding a line
/// break (a quoted identifier may) cannot end the comment and become a statement.
pub fn comment(text: &str) -> String {
    let mut out = String::new();
    for line in text.split(['\n', '\r']) {
        out.push_str("-- ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// What changing one object in place takes, or that it cannot be.
enum Change {
    /// Statements before the drops, and after them.
    InPlace {
        before: Vec<String>,
        after: Vec<String>,
        destructive: bool,
        /// A column's type changes: what reads it is re-created.
        retyped: bool,
    },
    Replace,
}

/// The statements that turn `from` into `to`, given what differs: named stages.
pub fn script(from: &Snapshot, to: &Snapshot, changes: &Changes) -> Script {
    let mut script = Script::default();
    let mut work = Work::classify(from, to, changes);
    cascade(
        from,
        to,
        &work.only_from,
        &work.retyped,
        &mut work.replace,
        &mut script.warnings,
    );
    let gone = work.gone();
    let ranks = (ranks(from), ranks(to));
    work.drops(&renames(from, to, changes), &ranks.0, &mut script);
    work.in_place(&ranks, &mut script);
    work.creates(&gone, &ranks.1, &mut script);
    roles(from, to, &mut script);
    column_order(from, to, &mut script.warnings);
    privileged(from, &mut script);
    // Stable: a key's statements keep their order.
    script.statements.sort_by_key(|s| (s.phase, s.rank));
    script
}

type Ranks<'a> = HashMap<&'a Key, usize>;

fn rank(r: &Ranks, k: &Key) -> usize {
    r.get(k).copied().unwrap_or(usize::MAX)
}

/// What a diff does to each object: dropped (only in FROM), replaced (dropped and made again),
/// changed in place (statements before the drops and after them).
struct Work<'a> {
    from: &'a Snapshot,
    to: &'a Snapshot,
    only_from: BTreeSet<&'a Key>,
    replace: BTreeSet<Key>,
    in_place: Vec<(Key, Vec<String>, Vec<String>, bool)>,
    /// Columns whose type changes.
    retyped: Vec<Key>,
}

impl<'a> Work<'a> {
    fn classify(from: &'a Snapshot, to: &'a Snapshot, changes: &'a Changes) -> Work<'a> {
        let mut work = Work {
            from,
            to,
            only_from: changes.only_in_from.iter().collect(),
            replace: BTreeSet::new(),
            in_place: Vec::new(),
            retyped: Vec::new(),
        };
        for d in &changes.different {
            match change(&from.objects[&d.key], &to.objects[&d.key]) {
                Change::InPlace {
                    before,
                    after,
                    destructive,
                    retyped,
                } => {
                    if retyped {
                        work.retyped.push(d.key.clone());
                    }
                    work.in_place
                        .push((d.key.clone(), before, after, destructive));
                }
                Change::Replace => {
                    work.replace.insert(d.key.clone());
                    // An enum made anew converts its columns: what reads them is re-created.
                    if matches!(from.objects[&d.key].detail, Detail::Enum(_)) {
                        work.retyped
                            .extend(columns_of_type(from, &d.key.name).map(|c| Key {
                                kind: Kind::Column,
                                name: format!("{}.{}", c.table, c.name),
                            }));
                    }
                }
            }
        }
        work
    }

    /// What goes: dropped or re-created, and everything that hangs on it.
    fn gone(&self) -> BTreeSet<&'a Key> {
        let children = self.from.children();
        let mut gone: BTreeSet<&Key> = BTreeSet::new();
        let mut queue: Vec<&Key> = self.only_from.iter().copied().collect();
        queue.extend(
            self.replace
                .iter()
                .filter_map(|k| self.from.objects.get_key_value(k).map(|(k, _)| k)),
        );
        while let Some(k) = queue.pop() {
            if gone.insert(k) {
                queue.extend(children.get(k).into_iter().flatten().copied());
            }
        }
        gone
    }

    fn dropped(&self, k: &Key) -> bool {
        self.only_from.contains(k) || self.replace.contains(k)
    }

    /// An ancestor of `k` is dropped or replaced: `k` goes with it.
    fn ancestor_goes(&self, k: &Key) -> bool {
        let parent = |k: &Key| self.from.objects.get(k).and_then(|o| o.parent.as_ref());
        let mut p = parent(k);
        while let Some(up) = p {
            if self.dropped(up) {
                return true;
            }
            p = parent(up);
        }
        false
    }

    /// A sequence owned by a column goes with the column (or its table).
    fn owner_goes(&self, k: &Key) -> bool {
        let owner = Key {
            kind: Kind::SequenceOwner,
            name: k.name.clone(),
        };
        let column = self
            .from
            .objects
            .get(&owner)
            .and_then(|o| o.definition.strip_prefix("OWNED BY "));
        column.is_some_and(|c| {
            let col = Key {
                kind: Kind::Column,
                name: c.to_string(),
            };
            self.only_from.contains(&col) || self.ancestor_goes(&col)
        })
    }

    /// Drops, in reverse dependency order; what goes with its parent is not dropped itself.
    fn drops(&self, renames: &BTreeMap<Key, String>, from_rank: &Ranks, script: &mut Script) {
        for k in self.only_from.iter().copied().chain(self.replace.iter()) {
            if self.ancestor_goes(k) || (k.kind == Kind::Sequence && self.owner_goes(k)) {
                continue;
            }
            let o = &self.from.objects[k];
            let Some(drop) = &o.drop else { continue };
            // A replaced enum is renamed away, not dropped first (`replace_enum`).
            if self.replace.contains(k) && matches!(o.detail, Detail::Enum(_)) {
                continue;
            }
            let late = self.only_from.contains(k)
                && matches!(
                    k.kind,
                    Kind::Type | Kind::Domain | Kind::Extension | Kind::Schema
                );
            script.statements.push(Statement {
                phase: if late { Phase::LateDrop } else { Phase::Drop },
                object: k.clone(),
                sql: drop.clone(),
                destructive: o.destructive,
                note: renames.get(k).cloned(),
                rank: usize::MAX - rank(from_rank, k),
            });
        }
    }

    /// Changes in place: what lets go before the drops, the rest after them.
    fn in_place(&self, (from_rank, to_rank): &(Ranks, Ranks), script: &mut Script) {
        for (k, before, after, destructive) in &self.in_place {
            let stages = [
                (Phase::Release, before, false, rank(from_rank, k)),
                (Phase::Create, after, *destructive, rank(to_rank, k)),
            ];
            for (phase, sqls, destructive, rank) in stages {
                for sql in sqls {
                    let attach = sql.contains(" ATTACH PARTITION ")
                        || (sql.contains(" INHERIT ") && !sql.contains(" NO INHERIT "));
                    script.statements.push(Statement {
                        phase: if attach { Phase::Attach } else { phase },
                        object: k.clone(),
                        sql: sql.clone(),
                        destructive,
                        note: None,
                        rank,
                    });
                }
            }
        }
    }

    /// Creates, in dependency order: what is new, replaced, or went with something replaced.
    fn creates(&self, gone: &BTreeSet<&Key>, to_rank: &Ranks, script: &mut Script) {
        let made = |k: &Key| !self.from.objects.contains_key(k) || gone.contains(k);
        for (k, o) in &self.to.objects {
            // A new table's columns are made with it.
            if !made(k) || (k.kind == Kind::Column && o.parent.as_ref().is_some_and(&made)) {
                continue;
            }
            let replaced = self.replace.contains(k);
            let mut sqls = match (replaced, self.from.objects.get(k).map(|f| &f.detail)) {
                (true, Some(Detail::Enum(_))) => replace_enum(self.from, self.to, o),
                _ => o.create.clone(),
            };
            sqls.extend(reset_privileges(self.from, o));
            let phase = if k.kind == Kind::DefaultPrivilege {
                Phase::Defaults
            } else {
                Phase::Create
            };
            let destructive = replaced && self.from.objects[k].destructive;
            for sql in sqls {
                script.statements.push(Statement {
                    phase,
                    object: k.clone(),
                    sql,
                    destructive,
                    note: None,
                    rank: rank(to_rank, k),
                });
            }
        }
    }
}

/// Whether `k`'s object can be dropped and made again from its definition without losing data.
fn recreatable(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::View
            | Kind::MaterializedView
            | Kind::Function
            | Kind::Trigger
            | Kind::Policy
            | Kind::Index
            | Kind::Constraint
            | Kind::ForeignKey
            | Kind::Statistics
            | Kind::DomainConstraint
            | Kind::EventTrigger
            | Kind::SequenceOwner
            | Kind::Publication
    )
}

/// Adds to `replace` what depends on an object dropped or re-created (or on a column whose
/// type changes) and is on the other side: it is dropped first and made again after.
fn cascade(
    from: &Snapshot,
    to: &Snapshot,
    only_from: &BTreeSet<&Key>,
    retyped: &[Key],
    replace: &mut BTreeSet<Key>,
    warnings: &mut Vec<String>,
) {
    let mut dependents: HashMap<&Key, Vec<&Key>> = HashMap::new();
    for (a, b) in &from.depends {
        dependents.entry(b).or_default().push(a);
    }
    // A column's new type: the index and constraint on it are rebuilt by the server; what
    // else reads it must be re-created.
    for k in retyped {
        for d in dependents.get(k).into_iter().flatten() {
            let reads = matches!(
                d.kind,
                Kind::View | Kind::MaterializedView | Kind::Policy | Kind::Trigger | Kind::Function
            );
            if reads && to.objects.contains_key(*d) && !only_from.contains(*d) {
                replace.insert((*d).clone());
            }
        }
    }
    let mut queue: Vec<Key> = only_from
        .iter()
        .map(|k| (*k).clone())
        .chain(replace.iter().cloned())
        .collect();
    let mut seen: BTreeSet<Key> = BTreeSet::new();
    while let Some(k) = queue.pop() {
        if !seen.insert(k.clone()) {
            continue;
        }
        for d in dependents.get(&k).into_iter().flatten() {
            let d = *d;
            if only_from.contains(d) || replace.contains(d) || !to.objects.contains_key(d) {
                continue;
            }
            if from.objects.get(d).and_then(|o| o.parent.as_ref()) == Some(&k) {
                // It goes with its parent and comes back with it.
                continue;
            }
            if recreatable(d.kind) {
                replace.insert(d.clone());
                queue.push(d.clone());
            } else if converted(from, &k, d) {
                // An enum made anew converts the columns that use it (`replace_enum`).
            } else if !matches!(d.kind, Kind::Column | Kind::Table) || !is_descendant(from, d, &k) {
                warnings.push(format!(
                    "{d} depends on {k}, which is dropped or re-created: change it by hand first"
                ));
            }
        }
    }
}

/// `d` is a column (or its table) that uses the enum `k`, which is made anew.
fn converted(from: &Snapshot, k: &Key, d: &Key) -> bool {
    let is_enum = matches!(
        from.objects.get(k).map(|o| &o.detail),
        Some(Detail::Enum(_))
    );
    is_enum
        && columns_of_type(from, &k.name)
            .any(|c| d.name == c.table || d.name == format!("{}.{}", c.table, c.name))
}

fn is_descendant(snap: &Snapshot, k: &Key, of: &Key) -> bool {
    let mut p = snap.objects.get(k).and_then(|o| o.parent.as_ref());
    while let Some(parent) = p {
        if parent == of {
            return true;
        }
        p = snap.objects.get(parent).and_then(|o| o.parent.as_ref());
    }
    false
}

/// How `f` becomes `t`.
fn change(f: &Object, t: &Object) -> Change {
    let name = &t.key.name;
    let alter = |after: Vec<String>| Change::InPlace {
        before: vec![],
        after,
        destructive: false,
        retyped: false,
    };
    match (&f.detail, &t.detail) {
        (Detail::Column(a), Detail::Column(b)) => column(a, b),
        (Detail::Table(a), Detail::Table(b)) => table(name, a, b),
        (Detail::Sequence(_), Detail::Sequence(o)) => alter(sequence(name, o, f, t)),
        (Detail::Enum(a), Detail::Enum(b)) => match enum_values(name, a, b) {
            Some(sqls) => alter(sqls),
            None => Change::Replace,
        },
        (Detail::Domain { base: a, .. }, Detail::Domain { base: b, .. }) if a == b => {
            alter(domain(name, &f.detail, &t.detail))
        }
        (
            Detail::Extension {
                version: va,
                schema: sa,
            },
            Detail::Extension {
                version: vb,
                schema: sb,
            },
        ) => {
            let mut out = Vec::new();
            if sa != sb {
                out.push(format!("ALTER EXTENSION {name} SET SCHEMA {sb};"));
            }
            if va != vb {
                out.push(format!("ALTER EXTENSION {name} UPDATE TO {};", literal(vb)));
            }
            alter(out)
        }
        // CREATE OR REPLACE keeps what depends on a function whose signature stays.
        (
            Detail::Function {
                result: ra,
                args: aa,
                is: ia,
            },
            Detail::Function {
                result: rb,
                args: ab,
                is: ib,
            },
        ) if ra == rb && aa == ab && ia == ib && *ia != 'a' => alter(t.create.clone()),
        (Detail::Comment { .. }, Detail::Comment { .. }) => alter(t.create.clone()),
        _ => Change::Replace,
    }
}

/// A table's flags; one whose partition key changes is made anew (destructive).
fn table(name: &str, a: &super::tables::TableFacts, b: &super::tables::TableFacts) -> Change {
    if a.partition_key != b.partition_key {
        return Change::Replace;
    }
    let (before, after): (Vec<String>, Vec<String>) = super::tables::flags(name, b, Some(a))
        .into_iter()
        .partition(|s| s.contains(" DETACH PARTITION ") || s.contains(" NO INHERIT "));
    Change::InPlace {
        before,
        after,
        destructive: false,
        retyped: false,
    }
}

/// A sequence's options, and whether it is logged.
fn sequence(name: &str, options: &str, f: &Object, t: &Object) -> Vec<String> {
    let mut out = vec![format!("ALTER SEQUENCE {name} {options};")];
    let unlogged = |d: &str| d.starts_with("UNLOGGED ");
    if unlogged(&f.definition) != unlogged(&t.definition) {
        let how = if unlogged(&t.definition) {
            "UNLOGGED"
        } else {
            "LOGGED"
        };
        out.push(format!("ALTER SEQUENCE {name} SET {how};"));
    }
    out
}

/// A domain whose base type stays: its default and NOT NULL.
fn domain(name: &str, a: &Detail, b: &Detail) -> Vec<String> {
    let (
        Detail::Domain {
            default: da,
            not_null: na,
            ..
        },
        Detail::Domain {
            default: db,
            not_null: nb,
            ..
        },
    ) = (a, b)
    else {
        return vec![];
    };
    let mut out = Vec::new();
    if da != db {
        out.push(match db {
            Some(d) => format!("ALTER DOMAIN {name} SET DEFAULT {d};"),
            None => format!("ALTER DOMAIN {name} DROP DEFAULT;"),
        });
    }
    if na != nb {
        let how = if *nb { "SET" } else { "DROP" };
        out.push(format!("ALTER DOMAIN {name} {how} NOT NULL;"));
    }
    out
}

/// A column changed in place: its default let go of first (it may name something dropped),
/// then type, identity, default and NOT NULL.
fn column(a: &ColumnFacts, b: &ColumnFacts) -> Change {
    if a.generated != b.generated {
        return Change::Replace;
    }
    let at = |what: String| format!("ALTER TABLE {} ALTER COLUMN {} {what};", b.table, b.name);
    let mut before = Vec::new();
    let mut after = Vec::new();
    let retyped = a.data_type != b.data_type || a.collation != b.collation;
    if a.default.is_some() && (a.default != b.default || retyped) {
        before.push(at("DROP DEFAULT".into()));
    }
    if a.identity.is_some() && b.identity.is_none() {
        before.push(at("DROP IDENTITY".into()));
    }
    if retyped {
        let collate = b
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        after.push(at(format!(
            "TYPE {}{collate} USING {}::{}",
            b.data_type, b.name, b.data_type
        )));
    }
    match (a.identity, b.identity) {
        (None, Some(i)) => after.push(at(format!(
            "ADD GENERATED {} AS IDENTITY",
            if i == 'a' { "ALWAYS" } else { "BY DEFAULT" }
        ))),
        (Some(x), Some(y)) if x != y => after.push(at(format!(
            "SET GENERATED {}",
            if y == 'a' { "ALWAYS" } else { "BY DEFAULT" }
        ))),
        _ => {}
    }
    if let Some(d) = &b.default {
        if a.default.as_ref() != Some(d) || retyped {
            after.push(at(format!("SET DEFAULT {d}")));
        }
    }
    if a.not_null != b.not_null {
        let how = if b.not_null { "SET" } else { "DROP" };
        after.push(at(format!("{how} NOT NULL")));
    }
    let destructive = retyped && !widening(&a.data_type, &b.data_type);
    Change::InPlace {
        before,
        after,
        destructive,
        retyped,
    }
}

/// A type change that keeps every value: to text (every value has a text form), to a wider
/// integer, to a longer or unbounded varchar.
fn widening(from: &str, to: &str) -> bool {
    let length = |t: &str, prefix: &str| -> Option<u32> {
        t.strip_prefix(prefix)?
            .strip_prefix('(')?
            .strip_suffix(')')?
            .parse()
            .ok()
    };
    match (from, to) {
        (_, "text") => true,
        ("smallint", "integer" | "bigint") | ("integer", "bigint") => true,
        (f, "character varying") => {
            f.starts_with("character varying") || f.starts_with("character(")
        }
        (f, t) => match (
            length(f, "character varying"),
            length(t, "character varying"),
        ) {
            (Some(a), Some(b)) => b >= a,
            _ => false,
        },
    }
}

/// `ALTER TYPE … ADD VALUE` for each value of `b` not in `a`, when `a`'s values keep their
/// order in `b`; `None` when a value goes or moves.
fn enum_values(name: &str, a: &[String], b: &[String]) -> Option<Vec<String>> {
    let kept: Vec<&String> = b.iter().filter(|v| a.contains(v)).collect();
    if kept.len() != a.len() || kept.iter().zip(a).any(|(x, y)| *x != y) {
        return None;
    }
    let mut out = Vec::new();
    let mut present: Vec<&String> = Vec::new();
    for v in b {
        if !a.contains(v) {
            out.push(match present.last() {
                Some(prev) => format!(
                    "ALTER TYPE {name} ADD VALUE {} AFTER {};",
                    literal(v),
                    literal(prev)
                ),
                None => match a.first() {
                    Some(first) => format!(
                        "ALTER TYPE {name} ADD VALUE {} BEFORE {};",
                        literal(v),
                        literal(first)
                    ),
                    None => format!("ALTER TYPE {name} ADD VALUE {};", literal(v)),
                },
            });
        }
        present.push(v);
    }
    Some(out)
}

/// An enum whose values go or move: made anew beside the old one, every column that uses it
/// converted through text, the old one dropped. A value in use that is gone fails the cast.
fn replace_enum(from: &Snapshot, to_snap: &Snapshot, to: &Object) -> Vec<String> {
    let name = &to.key.name;
    let (schema, bare) = name.rsplit_once('.').unwrap_or(("", name));
    let old_bare = format!(
        "{}_pgshift_old\"",
        bare.trim_end_matches('"').trim_start_matches('"')
    );
    let old_bare = format!("\"{old_bare}");
    let old = if schema.is_empty() {
        old_bare.clone()
    } else {
        format!("{schema}.{old_bare}")
    };
    let mut out = vec![format!("ALTER TYPE {name} RENAME TO {old_bare};")];
    out.extend(to.create.iter().cloned());
    // The columns that use it on both sides: converted, their default set again after.
    for c in columns_of_type(from, name) {
        let Some(Detail::Column(now)) = to_snap
            .objects
            .get(&Key {
                kind: Kind::Column,
                name: format!("{}.{}", c.table, c.name),
            })
            .map(|o| &o.detail)
        else {
            continue;
        };
        let at = format!("ALTER TABLE {} ALTER COLUMN {}", c.table, c.name);
        if c.default.is_some() {
            out.push(format!("{at} DROP DEFAULT;"));
        }
        // An array of it goes through text[].
        let (ty, text) = if c.data_type.ends_with("[]") {
            (format!("{name}[]"), "text[]")
        } else {
            (name.clone(), "text")
        };
        out.push(format!("{at} TYPE {ty} USING {}::{text}::{ty};", c.name));
        if let (Some(d), true) = (&now.default, now.data_type == ty) {
            out.push(format!("{at} SET DEFAULT {d};"));
        }
    }
    out.push(format!("DROP TYPE {old};"));
    out
}

/// The columns of `snap` whose type is `name`.
fn columns_of_type<'a>(
    snap: &'a Snapshot,
    name: &'a str,
) -> impl Iterator<Item = &'a ColumnFacts> + 'a {
    snap.objects.values().filter_map(move |o| match &o.detail {
        Detail::Column(c)
            if c.data_type == name || c.data_type.strip_suffix("[]") == Some(name) =>
        {
            Some(c)
        }
        _ => None,
    })
}

/// For an object made anew, taking away what the other side's defaults give it (PUBLIC's
/// EXECUTE and USAGE, default privileges), so that it ends with exactly the grants it has.
fn reset_privileges(from: &Snapshot, o: &Object) -> Vec<String> {
    let (target, letter, public) = match o.key.kind {
        Kind::Table | Kind::View | Kind::MaterializedView => {
            (format!("TABLE {}", o.key.name), 'r', false)
        }
        Kind::Sequence => (format!("SEQUENCE {}", o.key.name), 'S', false),
        Kind::Function => {
            let word = if matches!(o.detail, Detail::Function { is: 'p', .. }) {
                "PROCEDURE"
            } else {
                "FUNCTION"
            };
            (format!("{word} {}", o.key.name), 'f', true)
        }
        Kind::Type | Kind::Domain => (format!("TYPE {}", o.key.name), 'T', true),
        Kind::Schema => (format!("SCHEMA {}", o.key.name), 'n', false),
        _ => return vec![],
    };
    let mut grantees: BTreeSet<String> = from
        .default_grantees
        .iter()
        .filter(|(l, s, _)| *l == letter && (s.is_empty() || *s == o.schema))
        .map(|(_, _, g)| g.clone())
        .collect();
    if public {
        grantees.insert("PUBLIC".into());
    }
    if grantees.is_empty() {
        return vec![];
    }
    vec![format!(
        "REVOKE ALL ON {target} FROM {};",
        grantees.into_iter().collect::<Vec<_>>().join(", ")
    )]
}

/// The roles that the grants and policies of TO name and FROM's cluster lacks, made first,
/// guarded: NOLOGIN, no password, skipped when present.
fn roles(from: &Snapshot, to: &Snapshot, script: &mut Script) {
    let named: BTreeSet<&String> = script
        .statements
        .iter()
        .filter_map(|s| to.objects.get(&s.object))
        .flat_map(|o| o.roles.iter())
        .collect();
    for role in named {
        let bare = role.trim_matches('"').replace("\"\"", "\"");
        if from.roles.contains(&bare) {
            continue;
        }
        script.statements.push(Statement {
            phase: Phase::Roles,
            object: Key { kind: Kind::Privilege, name: format!("role {role}") },
            sql: format!(
                "DO $pgshift$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN CREATE ROLE {role} NOLOGIN; END IF; END $pgshift$;",
                literal(&bare)
            ),
            destructive: false,
            note: None,
            rank: 0,
        });
    }
}

/// What FROM's role may not be allowed to do, said before it fails: event triggers need a
/// superuser, and so does an extension that is not trusted.
fn privileged(from: &Snapshot, script: &mut Script) {
    if from.superuser {
        return;
    }
    let made = |kind: Kind| {
        script
            .statements
            .iter()
            .filter(|s| {
                s.object.kind == kind && s.phase == Phase::Create && s.sql.starts_with("CREATE")
            })
            .count()
    };
    let (events, extensions) = (made(Kind::EventTrigger), made(Kind::Extension));
    if events > 0 {
        script.warnings.push(format!(
            "{events} event trigger(s) to create: that needs a superuser, which {} is not",
            from.user
        ));
    }
    if extensions > 0 {
        script.warnings.push(format!(
            "{extensions} extension(s) to create: one that is not trusted needs a superuser, which {} is not (on Supabase, enable it in the dashboard)",
            from.user
        ));
    }
}

/// Tables whose common columns come in another order: said, never changed (that takes
/// re-creating the table).
fn column_order(from: &Snapshot, to: &Snapshot, warnings: &mut Vec<String>) {
    let order = |snap: &Snapshot| {
        let mut by_table: BTreeMap<String, Vec<(i32, String)>> = BTreeMap::new();
        for o in snap.objects.values() {
            if let Detail::Column(c) = &o.detail {
                by_table
                    .entry(c.table.clone())
                    .or_default()
                    .push((c.position, c.name.clone()));
            }
        }
        for v in by_table.values_mut() {
            v.sort();
        }
        by_table
    };
    let (a, b) = (order(from), order(to));
    for (table, cols) in &a {
        let Some(other) = b.get(table) else { continue };
        let common = |x: &Vec<(i32, String)>, y: &Vec<(i32, String)>| -> Vec<String> {
            x.iter()
                .filter(|(_, n)| y.iter().any(|(_, m)| m == n))
                .map(|(_, n)| n.clone())
                .collect()
        };
        if common(cols, other) != common(other, cols) {
            warnings.push(format!(
                "the columns of {table} are in another order; pgshift does not re-create a table to reorder its columns"
            ));
        }
    }
}

/// A column dropped and one added with the same type on one table: a possible rename, said
/// beside the drop (never guessed).
fn renames(from: &Snapshot, to: &Snapshot, changes: &Changes) -> BTreeMap<Key, String> {
    let mut out = BTreeMap::new();
    // A table dropped and one added with the same columns.
    let shape = |snap: &Snapshot, table: &Key| -> Vec<String> {
        let mut cols: Vec<String> = snap
            .objects
            .values()
            .filter(|o| o.parent.as_ref() == Some(table))
            .filter_map(|o| match &o.detail {
                Detail::Column(c) => Some(format!("{} {}", c.name, c.data_type)),
                _ => None,
            })
            .collect();
        cols.sort();
        cols
    };
    for gone in changes
        .only_in_from
        .iter()
        .filter(|k| k.kind == Kind::Table)
    {
        let before = shape(from, gone);
        let same = changes
            .only_in_to
            .iter()
            .filter(|k| k.kind == Kind::Table)
            .find(|k| !before.is_empty() && shape(to, k) == before);
        if let Some(new) = same {
            let bare = new.name.rsplit('.').next().unwrap_or(&new.name);
            let (old_schema, _) = gone.name.rsplit_once('.').unwrap_or(("", ""));
            let (new_schema, _) = new.name.rsplit_once('.').unwrap_or(("", ""));
            let how = if old_schema == new_schema {
                format!("ALTER TABLE {} RENAME TO {bare};", gone.name)
            } else {
                format!("ALTER TABLE {} SET SCHEMA {new_schema}; (then rename it if its name changed too)", gone.name)
            };
            out.insert(
                gone.clone(),
                format!("possible rename (keeps the data): {how}"),
            );
        }
    }
    for gone in &changes.only_in_from {
        let Some(Detail::Column(g)) = from.objects.get(gone).map(|o| &o.detail) else {
            continue;
        };
        let added =
            changes
                .only_in_to
                .iter()
                .find_map(|k| match to.objects.get(k).map(|o| &o.detail) {
                    Some(Detail::Column(n))
                        if n.table == g.table
                            && n.data_type == g.data_type
                            && to.objects.contains_key(&Key {
                                kind: Kind::Table,
                                name: g.table.clone(),
                            }) =>
                    {
                        Some(n)
                    }
                    _ => None,
                });
        if let Some(n) = added {
            out.insert(
                gone.clone(),
                format!(
                    "possible rename (keeps the data): ALTER TABLE {} RENAME COLUMN {} TO {};",
                    g.table, g.name, n.name
                ),
            );
        }
    }
    out
}

/// Each object's position in an order where everything comes after what it needs; among
/// objects free to go, by kind then name. A cycle is broken at its smallest object.
fn ranks(snap: &Snapshot) -> HashMap<&Key, usize> {
    let mut needs: HashMap<&Key, usize> = snap.objects.keys().map(|k| (k, 0)).collect();
    let mut dependents: HashMap<&Key, Vec<&Key>> = HashMap::new();
    for (a, b) in &snap.depends {
        if let (Some((a, _)), Some((b, _))) =
            (snap.objects.get_key_value(a), snap.objects.get_key_value(b))
        {
            *needs.entry(a).or_default() += 1;
            dependents.entry(b).or_default().push(a);
        }
    }
    let mut ready: BinaryHeap<Reverse<&Key>> = needs
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| Reverse(*k))
        .collect();
    let mut rank: HashMap<&Key, usize> = HashMap::new();
    while rank.len() < needs.len() {
        let next = match ready.pop() {
            Some(Reverse(k)) => k,
            None => match snap.objects.keys().find(|k| !rank.contains_key(k)) {
                Some(k) => k,
                None => break,
            },
        };
        if rank.contains_key(next) {
            continue;
        }
        rank.insert(next, rank.len());
        for d in dependents.get(next).into_iter().flatten() {
            if let Some(n) = needs.get_mut(d) {
                *n = n.saturating_sub(1);
                if *n == 0 && !rank.contains_key(d) {
                    ready.push(Reverse(d));
                }
            }
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_are_added_in_place_only_when_the_old_ones_keep_their_order() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let sqls = enum_values(
            "public.mood",
            &v(&["sad", "ok"]),
            &v(&["meh", "sad", "ok", "happy"]),
        )
        .unwrap();
        assert_eq!(
            sqls,
            vec![
                "ALTER TYPE public.mood ADD VALUE 'meh' BEFORE 'sad';",
                "ALTER TYPE public.mood ADD VALUE 'happy' AFTER 'ok';",
            ]
        );
        assert!(enum_values("public.mood", &v(&["sad", "ok"]), &v(&["ok", "sad"])).is_none());
        assert!(enum_values("public.mood", &v(&["sad", "ok"]), &v(&["sad"])).is_none());
    }

    #[test]
    fn only_widening_type_changes_keep_every_value() {
        assert!(widening("integer", "bigint"));
        assert!(widening("character varying(10)", "character varying(20)"));
        assert!(widening("character varying(10)", "text"));
        assert!(!widening("character varying(20)", "character varying(10)"));
        assert!(!widening("bigint", "integer"));
        assert!(!widening("text", "integer"));
        assert!(widening("public.legacy", "text"));
    }
}
