//! The locks a statement takes on existing tables, predicted from its parse tree: PostgreSQL's
//! lock mode (as `pg_locks` names it), whether the table is rewritten or read whole, and what
//! the lock blocks. The modes follow PostgreSQL 15's `AlterTableGetLockLevel` and each
//! command's own `table_open`; the lock corpus (tests/it/review.rs) holds every prediction to
//! what `pg_locks` shows on a real server.

use std::collections::{BTreeMap, HashMap};

use pg_query::protobuf::{self, node::Node as N, AlterTableType, ConstrType, ObjectType};
use pg_query::{NodeEnum, NodeRef};

use crate::lint::{alter_cmds, def_elems, json_func_names, names, to_json, QualName};

/// PostgreSQL's table lock modes, weakest first (their numbers in `lockdefs.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    AccessShare = 1,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl Mode {
    /// The name `pg_locks.mode` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::AccessShare => "AccessShareLock",
            Mode::RowShare => "RowShareLock",
            Mode::RowExclusive => "RowExclusiveLock",
            Mode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            Mode::Share => "ShareLock",
            Mode::ShareRowExclusive => "ShareRowExclusiveLock",
            Mode::Exclusive => "ExclusiveLock",
            Mode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// The mode `pg_locks` names `name`.
    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Every mode, weakest first.
    pub const ALL: [Mode; 8] = [
        Mode::AccessShare,
        Mode::RowShare,
        Mode::RowExclusive,
        Mode::ShareUpdateExclusive,
        Mode::Share,
        Mode::ShareRowExclusive,
        Mode::Exclusive,
        Mode::AccessExclusive,
    ];

    /// The mode a second session holds to see this one asked for: the weakest that conflicts
    /// with it and with no weaker mode (where PostgreSQL's table has one), so that a
    /// statement's weaker locks pass and it waits at this one.
    pub fn probe(self) -> Mode {
        match self {
            Mode::AccessShare => Mode::AccessExclusive,
            Mode::RowShare => Mode::Exclusive,
            Mode::RowExclusive => Mode::Share,
            Mode::ShareUpdateExclusive | Mode::ShareRowExclusive => Mode::ShareUpdateExclusive,
            Mode::Share => Mode::RowExclusive,
            Mode::Exclusive => Mode::RowShare,
            Mode::AccessExclusive => Mode::AccessShare,
        }
    }

    /// The mode's name in `LOCK TABLE … IN … MODE`.
    pub fn sql(self) -> &'static str {
        match self {
            Mode::AccessShare => "ACCESS SHARE",
            Mode::RowShare => "ROW SHARE",
            Mode::RowExclusive => "ROW EXCLUSIVE",
            Mode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Mode::Share => "SHARE",
            Mode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Mode::Exclusive => "EXCLUSIVE",
            Mode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// What waits while the lock is held (PostgreSQL's conflict table, in words).
    pub fn blocks(self) -> &'static str {
        match self {
            Mode::AccessShare => "only ACCESS EXCLUSIVE locks (ALTER TABLE, DROP, TRUNCATE, VACUUM FULL); reads and writes go on",
            Mode::RowShare => "EXCLUSIVE and ACCESS EXCLUSIVE locks; reads and writes go on",
            Mode::RowExclusive => "SHARE and stronger locks (CREATE INDEX without CONCURRENTLY, most DDL); reads and writes go on",
            Mode::ShareUpdateExclusive => "other schema changes, VACUUM, ANALYZE and CREATE INDEX CONCURRENTLY on the table; reads and writes go on",
            Mode::Share => "writes (INSERT, UPDATE, DELETE) and schema changes; reads go on",
            Mode::ShareRowExclusive => "writes (INSERT, UPDATE, DELETE) and schema changes; reads go on",
            Mode::Exclusive => "writes and SELECT … FOR UPDATE/SHARE; plain reads go on",
            Mode::AccessExclusive => "everything: reads and writes wait until the transaction ends",
        }
    }
}

impl serde::Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A lock predicted on one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicted {
    pub table: QualName,
    pub mode: Mode,
    /// The table is written anew (a new file: time and disk as large as the table).
    pub rewrite: bool,
    /// The table is read whole (a validation, an index build) while the lock is held.
    pub scan: bool,
    /// The table gets a new file: a rewrite, or TRUNCATE's empty one (what a rehearsal sees
    /// in `pg_relation_filenode`).
    pub new_file: bool,
}

/// What earlier statements (the base's migrations and the new ones before) tell about objects
/// a statement names without their table: an index's table, the foreign keys between tables.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// `schema.index` → its table.
    indexes: HashMap<QualName, QualName>,
    /// (referencing table, referenced table).
    foreign_keys: Vec<(QualName, QualName)>,
    /// Foreign keys by (table, constraint name): the table they reference.
    named_keys: HashMap<(QualName, String), QualName>,
    /// The relations a materialized view reads, which a refresh reads again.
    matviews: HashMap<QualName, Vec<QualName>>,
    /// Each table's partitions and inheritance children, which most statements on it reach.
    children: HashMap<QualName, Vec<QualName>>,
}

impl Known {
    /// Learns what `node` makes (run under `path`, the search_path's schemas).
    pub fn learn(&mut self, node: &NodeEnum, path: &[String]) {
        match node {
            NodeEnum::IndexStmt(i) => {
                if let Some(t) = i.relation.as_ref().map(|r| qual(r, path)) {
                    if !i.idxname.is_empty() {
                        let index = QualName {
                            schema: t.schema.clone(),
                            name: i.idxname.clone(),
                        };
                        self.indexes.insert(index, t);
                    }
                }
            }
            NodeEnum::CreateStmt(_) | NodeEnum::AlterTableStmt(_) => {
                self.learn_children(node, path);
                for (table, k) in constraints(node, path) {
                    if k.contype == ConstrType::ConstrForeign as i32 {
                        if let Some(to) = k.pktable.as_ref() {
                            let to = qual(to, path);
                            if !k.conname.is_empty() {
                                self.named_keys
                                    .insert((table.clone(), k.conname.clone()), to.clone());
                            }
                            self.foreign_keys.push((table.clone(), to));
                        }
                    }
                }
            }
            NodeEnum::CreateTableAsStmt(c) if c.objtype == ObjectType::ObjectMatview as i32 => {
                if let Some(view) = c.into.as_ref().and_then(|i| i.rel.as_ref()) {
                    let mut read = Locks::default();
                    reads(node, path, &mut read);
                    self.matviews
                        .insert(qual(view, path), read.0.into_keys().collect());
                }
            }
            _ => {}
        }
    }

    /// A partition or child made, attached or detached.
    fn learn_children(&mut self, node: &NodeEnum, path: &[String]) {
        match node {
            NodeEnum::CreateStmt(c) => {
                let Some(child) = c.relation.as_ref().map(|r| qual(r, path)) else {
                    return;
                };
                for parent in range_vars(&c.inh_relations) {
                    self.children
                        .entry(qual(parent, path))
                        .or_default()
                        .push(child.clone());
                }
            }
            NodeEnum::AlterTableStmt(s) => {
                let Some(parent) = s.relation.as_ref().map(|r| qual(r, path)) else {
                    return;
                };
                for c in alter_cmds(s) {
                    let Some(N::PartitionCmd(p)) = c.def.as_ref().and_then(|d| d.node.as_ref())
                    else {
                        continue;
                    };
                    let Some(part) = p.name.as_ref().map(|r| qual(r, path)) else {
                        continue;
                    };
                    let list = self.children.entry(parent.clone()).or_default();
                    if c.subtype == AlterTableType::AtAttachPartition as i32 {
                        list.push(part);
                    } else {
                        list.retain(|t| *t != part);
                    }
                }
            }
            _ => {}
        }
    }

    /// Every partition and child of `table`, theirs too.
    fn descendants(&self, table: &QualName) -> Vec<QualName> {
        let mut out = Vec::new();
        let mut stack = vec![table.clone()];
        while let Some(t) = stack.pop() {
            for c in self.children.get(&t).into_iter().flatten() {
                if !out.contains(c) && c != table {
                    out.push(c.clone());
                    stack.push(c.clone());
                }
            }
        }
        out
    }

    /// The tables whose foreign keys reference `table`.
    fn referencing(&self, table: &QualName) -> Vec<QualName> {
        self.foreign_keys
            .iter()
            .filter(|(from, to)| to == table && from != table)
            .map(|(from, _)| from.clone())
            .collect()
    }

    /// The tables `table`'s foreign keys reference.
    fn referenced(&self, table: &QualName) -> Vec<QualName> {
        self.foreign_keys
            .iter()
            .filter(|(from, to)| from == table && to != table)
            .map(|(_, to)| to.clone())
            .collect()
    }
}

/// `r` resolved against the search_path's first schema.
pub fn qual(r: &protobuf::RangeVar, path: &[String]) -> QualName {
    QualName {
        schema: if r.schemaname.is_empty() {
            path.first().cloned().unwrap_or_else(|| "public".into())
        } else {
            r.schemaname.clone()
        },
        name: r.relname.clone(),
    }
}

/// Collects predictions, the strongest mode per table kept.
#[derive(Default)]
struct Locks(BTreeMap<QualName, Predicted>);

impl Locks {
    fn add(&mut self, table: QualName, mode: Mode, rewrite: bool, scan: bool) {
        let e = self.0.entry(table.clone()).or_insert(Predicted {
            table,
            mode,
            rewrite: false,
            scan: false,
            new_file: false,
        });
        e.mode = e.mode.max(mode);
        e.rewrite |= rewrite;
        e.scan |= scan;
        e.new_file |= rewrite;
    }

    /// TRUNCATE: `table` gets a new, empty file without being rewritten.
    fn emptied(&mut self, table: QualName) {
        self.add(table.clone(), Mode::AccessExclusive, false, false);
        if let Some(e) = self.0.get_mut(&table) {
            e.new_file = true;
        }
    }
}

/// The locks `node` takes, run under `path` (the search_path's schemas), on every table it
/// names; the caller keeps those that existed before.
pub fn predict(node: &NodeEnum, path: &[String], known: &Known) -> Vec<Predicted> {
    let mut locks = Locks::default();
    if let Some((r, mode, rewrite, scan)) = one_table(node) {
        locks.add(qual(r, path), mode, rewrite, scan);
    }
    match node {
        NodeEnum::AlterTableStmt(s) => alter_table(s, path, known, &mut locks),
        NodeEnum::CreateStmt(c) => create_table(c, path, &mut locks),
        NodeEnum::DropStmt(d) => drop(d, path, known, &mut locks),
        NodeEnum::TruncateStmt(t) => {
            for r in range_vars(&t.relations) {
                let table = qual(r, path);
                if t.behavior == protobuf::DropBehavior::DropCascade as i32 {
                    for other in known.referencing(&table) {
                        locks.emptied(other);
                    }
                }
                locks.emptied(table);
            }
        }
        NodeEnum::VacuumStmt(v) => vacuum(v, path, &mut locks),
        NodeEnum::ReindexStmt(r) => reindex(r, path, known, &mut locks),
        NodeEnum::RefreshMatViewStmt(r) => {
            if let Some(rel) = &r.relation {
                let mode = if r.concurrent {
                    Mode::Exclusive
                } else {
                    Mode::AccessExclusive
                };
                let view = qual(rel, path);
                for t in known.matviews.get(&view).into_iter().flatten() {
                    locks.add(t.clone(), Mode::AccessShare, false, true);
                }
                locks.add(view, mode, !r.concurrent, false);
            }
        }
        NodeEnum::LockStmt(l) => {
            let mode = Mode::ALL
                .into_iter()
                .find(|m| *m as i32 == l.mode)
                .unwrap_or(Mode::AccessExclusive);
            for r in range_vars(&l.relations) {
                locks.add(qual(r, path), mode, false, false);
            }
        }
        NodeEnum::RenameStmt(r) => rename(r, path, &mut locks),
        NodeEnum::CommentStmt(c) => comment(c, path, &mut locks),
        NodeEnum::CreateStatsStmt(s) => {
            for r in range_vars(&s.relations) {
                locks.add(qual(r, path), Mode::ShareUpdateExclusive, false, false);
            }
        }
        NodeEnum::ViewStmt(v) => {
            if let Some(r) = &v.view {
                if v.replace {
                    locks.add(qual(r, path), Mode::AccessExclusive, false, false);
                }
            }
            reads(node, path, &mut locks);
        }
        NodeEnum::InsertStmt(_)
        | NodeEnum::UpdateStmt(_)
        | NodeEnum::DeleteStmt(_)
        | NodeEnum::MergeStmt(_)
        | NodeEnum::SelectStmt(_)
        | NodeEnum::CreateTableAsStmt(_) => {
            writes(node, path, known, &mut locks);
            reads(node, path, &mut locks);
        }
        _ => {}
    }
    reach_children(node, path, known, &mut locks);
    locks.0.into_values().collect()
}

/// A statement on a table without ONLY (ALTER TABLE, CREATE INDEX, TRUNCATE, DROP) takes the
/// same lock on its partitions and inheritance children.
fn reach_children(node: &NodeEnum, path: &[String], known: &Known, locks: &mut Locks) {
    let parents: Vec<QualName> = match node {
        NodeEnum::AlterTableStmt(s) => {
            let partitions = alter_cmds(s).any(|c| {
                c.subtype == AlterTableType::AtAttachPartition as i32
                    || c.subtype == AlterTableType::AtDetachPartition as i32
            });
            s.relation
                .as_ref()
                .filter(|r| r.inh && !partitions)
                .map(|r| qual(r, path))
                .into_iter()
                .collect()
        }
        NodeEnum::IndexStmt(i) => i
            .relation
            .as_ref()
            .filter(|r| r.inh)
            .map(|r| qual(r, path))
            .into_iter()
            .collect(),
        NodeEnum::TruncateStmt(t) => range_vars(&t.relations)
            .filter(|r| r.inh)
            .map(|r| qual(r, path))
            .collect(),
        NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => {
            locks.0.keys().cloned().collect()
        }
        _ => Vec::new(),
    };
    for parent in parents {
        let Some(p) = locks.0.get(&parent).cloned() else {
            continue;
        };
        for child in known.descendants(&parent) {
            locks.add(child.clone(), p.mode, p.rewrite, p.scan);
            if p.new_file {
                if let Some(e) = locks.0.get_mut(&child) {
                    e.new_file = true;
                }
            }
        }
    }
}

/// A statement that locks the one table it names: the table, the mode, whether it rewrites
/// and reads it.
fn one_table(node: &NodeEnum) -> Option<(&protobuf::RangeVar, Mode, bool, bool)> {
    match node {
        NodeEnum::IndexStmt(i) => {
            let mode = if i.concurrent {
                Mode::ShareUpdateExclusive
            } else {
                Mode::Share
            };
            Some((i.relation.as_ref()?, mode, false, true))
        }
        NodeEnum::CreateTrigStmt(t) => {
            Some((t.relation.as_ref()?, Mode::ShareRowExclusive, false, false))
        }
        NodeEnum::CreatePolicyStmt(p) => {
            Some((p.table.as_ref()?, Mode::AccessExclusive, false, false))
        }
        NodeEnum::AlterPolicyStmt(p) => {
            Some((p.table.as_ref()?, Mode::AccessExclusive, false, false))
        }
        NodeEnum::RuleStmt(r) => Some((r.relation.as_ref()?, Mode::AccessExclusive, false, false)),
        NodeEnum::ClusterStmt(c) => Some((c.relation.as_ref()?, Mode::AccessExclusive, true, true)),
        NodeEnum::AlterObjectSchemaStmt(a) => {
            Some((a.relation.as_ref()?, Mode::AccessExclusive, false, false))
        }
        _ => None,
    }
}

fn range_vars(list: &[protobuf::Node]) -> impl Iterator<Item = &protobuf::RangeVar> {
    list.iter().filter_map(|n| match &n.node {
        Some(N::RangeVar(r)) => Some(r),
        _ => None,
    })
}

/// The constraints a CREATE TABLE or ALTER TABLE adds, with their table.
fn constraints<'a>(
    node: &'a NodeEnum,
    path: &[String],
) -> Vec<(QualName, &'a protobuf::Constraint)> {
    let mut out = Vec::new();
    let mut column = |table: &QualName, col: &'a protobuf::ColumnDef| {
        for k in &col.constraints {
            if let Some(N::Constraint(k)) = &k.node {
                out.push((table.clone(), k.as_ref()));
            }
        }
    };
    match node {
        NodeEnum::CreateStmt(c) => {
            let Some(r) = &c.relation else { return out };
            let table = qual(r, path);
            let mut own = Vec::new();
            for e in &c.table_elts {
                match &e.node {
                    Some(N::ColumnDef(col)) => column(&table, col),
                    Some(N::Constraint(k)) => own.push((table.clone(), k.as_ref())),
                    _ => {}
                }
            }
            out.extend(own);
        }
        NodeEnum::AlterTableStmt(s) => {
            let Some(r) = &s.relation else { return out };
            let table = qual(r, path);
            let mut own = Vec::new();
            for c in alter_cmds(s) {
                match c.def.as_ref().and_then(|d| d.node.as_ref()) {
                    Some(N::ColumnDef(col)) if c.subtype == AlterTableType::AtAddColumn as i32 => {
                        column(&table, col)
                    }
                    Some(N::Constraint(k))
                        if c.subtype == AlterTableType::AtAddConstraint as i32 =>
                    {
                        own.push((table.clone(), k.as_ref()))
                    }
                    _ => {}
                }
            }
            out.extend(own);
        }
        _ => {}
    }
    out
}

fn create_table(c: &protobuf::CreateStmt, path: &[String], locks: &mut Locks) {
    for (_, k) in constraints(&NodeEnum::CreateStmt(c.clone()), path) {
        if k.contype == ConstrType::ConstrForeign as i32 {
            if let Some(to) = &k.pktable {
                locks.add(qual(to, path), Mode::ShareRowExclusive, false, false);
            }
        }
    }
    if c.partbound.is_some() {
        for parent in range_vars(&c.inh_relations) {
            locks.add(qual(parent, path), Mode::AccessExclusive, false, false);
        }
    } else {
        for parent in range_vars(&c.inh_relations) {
            locks.add(qual(parent, path), Mode::ShareUpdateExclusive, false, false);
        }
    }
    for e in &c.table_elts {
        if let Some(N::TableLikeClause(l)) = &e.node {
            if let Some(r) = &l.relation {
                locks.add(qual(r, path), Mode::AccessShare, false, false);
            }
        }
    }
}

/// Storage parameters that ALTER TABLE … SET (…) changes under SHARE UPDATE EXCLUSIVE; the
/// others (a view's options, `user_catalog_table`) need ACCESS EXCLUSIVE.
fn rel_options_mode(def: Option<&protobuf::Node>) -> Mode {
    let Some(N::List(l)) = def.and_then(|d| d.node.as_ref()) else {
        return Mode::AccessExclusive;
    };
    let strong = def_elems(&l.items).any(|d| {
        matches!(
            d.defname.as_str(),
            "security_barrier" | "check_option" | "security_invoker" | "user_catalog_table"
        )
    });
    if strong {
        Mode::AccessExclusive
    } else {
        Mode::ShareUpdateExclusive
    }
}

fn alter_table(s: &protobuf::AlterTableStmt, path: &[String], known: &Known, locks: &mut Locks) {
    let Some(r) = &s.relation else { return };
    let table = qual(r, path);
    if s.objtype == ObjectType::ObjectIndex as i32 {
        // ALTER INDEX: its table, when known.
        if let Some(t) = known.indexes.get(&table) {
            locks.add(t.clone(), Mode::ShareUpdateExclusive, false, false);
        }
        return;
    }
    for c in alter_cmds(s) {
        use AlterTableType as T;
        let def = c.def.as_deref();
        let sub = T::try_from(c.subtype).unwrap_or(T::Undefined);
        let (mode, rewrite, scan) = match sub {
            T::AtSetStatistics
            | T::AtClusterOn
            | T::AtDropCluster
            | T::AtSetOptions
            | T::AtResetOptions => (Mode::ShareUpdateExclusive, false, false),
            T::AtSetRelOptions | T::AtResetRelOptions | T::AtReplaceRelOptions => {
                (rel_options_mode(def), false, false)
            }
            T::AtValidateConstraint => {
                // A foreign key's check reads the referenced table (SELECT … FOR KEY SHARE).
                if let Some(to) = known.named_keys.get(&(table.clone(), c.name.clone())) {
                    locks.add(to.clone(), Mode::RowShare, false, true);
                }
                (Mode::ShareUpdateExclusive, false, true)
            }
            T::AtEnableTrig
            | T::AtEnableAlwaysTrig
            | T::AtEnableReplicaTrig
            | T::AtDisableTrig
            | T::AtEnableTrigAll
            | T::AtDisableTrigAll
            | T::AtEnableTrigUser
            | T::AtDisableTrigUser => (Mode::ShareRowExclusive, false, false),
            T::AtAddConstraint => add_constraint(def, &table, path, locks),
            T::AtAddColumn => add_column(def, &table, path, locks),
            T::AtSetNotNull => (Mode::AccessExclusive, false, true),
            T::AtAlterColumnType => (Mode::AccessExclusive, type_rewrites(def), true),
            T::AtSetLogged | T::AtSetUnLogged | T::AtSetTableSpace | T::AtSetAccessMethod => {
                (Mode::AccessExclusive, true, true)
            }
            T::AtAttachPartition => {
                if let Some(N::PartitionCmd(p)) = def.and_then(|d| d.node.as_ref()) {
                    if let Some(part) = &p.name {
                        locks.add(qual(part, path), Mode::AccessExclusive, false, true);
                    }
                }
                (Mode::ShareUpdateExclusive, false, false)
            }
            T::AtDetachPartition => {
                let concurrent = matches!(def.and_then(|d| d.node.as_ref()), Some(N::PartitionCmd(p)) if p.concurrent);
                let mode = if concurrent {
                    Mode::ShareUpdateExclusive
                } else {
                    Mode::AccessExclusive
                };
                if let Some(N::PartitionCmd(p)) = def.and_then(|d| d.node.as_ref()) {
                    if let Some(part) = &p.name {
                        locks.add(qual(part, path), Mode::AccessExclusive, false, false);
                    }
                }
                (mode, false, false)
            }
            T::AtDropConstraint => {
                // A foreign key's triggers on the referenced table go with it.
                for other in known.referenced(&table) {
                    locks.add(other, Mode::AccessExclusive, false, false);
                }
                (Mode::AccessExclusive, false, false)
            }
            T::AtAddInherit | T::AtDropInherit => {
                if let Some(N::RangeVar(parent)) = def.and_then(|d| d.node.as_ref()) {
                    locks.add(qual(parent, path), Mode::ShareUpdateExclusive, false, false);
                }
                (Mode::AccessExclusive, false, sub == T::AtAddInherit)
            }
            _ => (Mode::AccessExclusive, false, false),
        };
        locks.add(table.clone(), mode, rewrite, scan);
    }
}

/// ADD CONSTRAINT: a foreign key takes SHARE ROW EXCLUSIVE on both tables and reads both
/// unless NOT VALID; a CHECK reads the table unless NOT VALID; a primary key or unique
/// constraint builds its index (unless USING INDEX).
fn add_constraint(
    def: Option<&protobuf::Node>,
    table: &QualName,
    path: &[String],
    locks: &mut Locks,
) -> (Mode, bool, bool) {
    let Some(N::Constraint(k)) = def.and_then(|d| d.node.as_ref()) else {
        return (Mode::AccessExclusive, false, false);
    };
    let validated = !k.skip_validation;
    match ConstrType::try_from(k.contype).unwrap_or(ConstrType::Undefined) {
        ConstrType::ConstrForeign => {
            if let Some(to) = &k.pktable {
                locks.add(qual(to, path), Mode::ShareRowExclusive, false, validated);
            }
            (Mode::ShareRowExclusive, false, validated)
        }
        ConstrType::ConstrCheck => (Mode::AccessExclusive, false, validated),
        ConstrType::ConstrPrimary | ConstrType::ConstrUnique | ConstrType::ConstrExclusion => {
            (Mode::AccessExclusive, false, k.indexname.is_empty())
        }
        _ => {
            let _ = table;
            (Mode::AccessExclusive, false, false)
        }
    }
}

/// ADD COLUMN: rewrites the table when each row gets a value of its own (a volatile default,
/// a serial, an identity, a stored generated column); reads it for a CHECK, a NOT NULL, a
/// validated foreign key.
fn add_column(
    def: Option<&protobuf::Node>,
    table: &QualName,
    path: &[String],
    locks: &mut Locks,
) -> (Mode, bool, bool) {
    let _ = table;
    let Some(N::ColumnDef(col)) = def.and_then(|d| d.node.as_ref()) else {
        return (Mode::AccessExclusive, false, false);
    };
    let serial = col.type_name.as_ref().is_some_and(|t| {
        names(&t.names)
            .last()
            .is_some_and(|n| n.ends_with("serial"))
    });
    let (mut rewrite, mut scan) = (serial, false);
    let has_default = serial
        || col.constraints.iter().any(|k| {
            matches!(&k.node, Some(N::Constraint(k)) if k.contype == ConstrType::ConstrDefault as i32)
        });
    for k in &col.constraints {
        let Some(N::Constraint(k)) = &k.node else {
            continue;
        };
        match ConstrType::try_from(k.contype).unwrap_or(ConstrType::Undefined) {
            ConstrType::ConstrDefault => {
                let mut funcs = Vec::new();
                json_func_names(&to_json(&k.raw_expr), &mut funcs);
                rewrite |= funcs.iter().any(|f| {
                    crate::lint::rules::volatile_default::VOLATILE
                        .contains(&f.to_ascii_lowercase().as_str())
                });
            }
            ConstrType::ConstrIdentity | ConstrType::ConstrGenerated => rewrite = true,
            ConstrType::ConstrCheck => scan = true,
            ConstrType::ConstrNotnull => scan |= !has_default,
            ConstrType::ConstrPrimary | ConstrType::ConstrUnique => scan = true,
            ConstrType::ConstrForeign => {
                if let Some(to) = &k.pktable {
                    locks.add(qual(to, path), Mode::ShareRowExclusive, false, false);
                }
            }
            _ => {}
        }
    }
    (Mode::AccessExclusive, rewrite, scan || rewrite)
}

/// ALTER COLUMN … TYPE rewrites the table unless the new type is `text` or an unbounded
/// `varchar`, to which `varchar` and `text` convert without a rewrite (a `USING` always
/// rewrites).
fn type_rewrites(def: Option<&protobuf::Node>) -> bool {
    let Some(N::ColumnDef(col)) = def.and_then(|d| d.node.as_ref()) else {
        return true;
    };
    if col.raw_default.is_some() {
        return true;
    }
    let Some(t) = &col.type_name else { return true };
    let name = names(&t.names).last().cloned().unwrap_or_default();
    !(t.typmods.is_empty() && matches!(name.as_str(), "text" | "varchar"))
}

fn drop(d: &protobuf::DropStmt, path: &[String], known: &Known, locks: &mut Locks) {
    let kind = ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined);
    let cascade = d.behavior == protobuf::DropBehavior::DropCascade as i32;
    for o in &d.objects {
        let parts = match &o.node {
            Some(N::List(l)) => names(&l.items),
            _ => continue,
        };
        let qualified = |parts: &[String]| -> Option<QualName> {
            match parts {
                [name] => Some(QualName {
                    schema: path.first().cloned().unwrap_or_else(|| "public".into()),
                    name: name.clone(),
                }),
                [schema, name] => Some(QualName {
                    schema: schema.clone(),
                    name: name.clone(),
                }),
                [_, schema, name] => Some(QualName {
                    schema: schema.clone(),
                    name: name.clone(),
                }),
                _ => None,
            }
        };
        match kind {
            ObjectType::ObjectTable
            | ObjectType::ObjectView
            | ObjectType::ObjectMatview
            | ObjectType::ObjectForeignTable => {
                let Some(t) = qualified(&parts) else { continue };
                for other in known.referenced(&t) {
                    locks.add(other, Mode::AccessExclusive, false, false);
                }
                if cascade {
                    for other in known.referencing(&t) {
                        locks.add(other, Mode::AccessExclusive, false, false);
                    }
                }
                locks.add(t, Mode::AccessExclusive, false, false);
            }
            ObjectType::ObjectIndex => {
                let Some(index) = qualified(&parts) else {
                    continue;
                };
                if let Some(t) = known.indexes.get(&index) {
                    let mode = if d.concurrent {
                        Mode::ShareUpdateExclusive
                    } else {
                        Mode::AccessExclusive
                    };
                    locks.add(t.clone(), mode, false, false);
                }
            }
            // `DROP TRIGGER t ON table`, `DROP POLICY p ON table`, `DROP RULE r ON table`:
            // the table's name, then the object's.
            ObjectType::ObjectTrigger | ObjectType::ObjectPolicy | ObjectType::ObjectRule => {
                if let Some(t) = qualified(&parts[..parts.len().saturating_sub(1)]) {
                    locks.add(t, Mode::AccessExclusive, false, false);
                }
            }
            _ => {}
        }
    }
}

fn vacuum(v: &protobuf::VacuumStmt, path: &[String], locks: &mut Locks) {
    let full = v.is_vacuumcmd
        && def_elems(&v.options)
            .any(|d| d.defname == "full" && crate::lint::def_bool(d).unwrap_or(true));
    let mode = if full {
        Mode::AccessExclusive
    } else {
        Mode::ShareUpdateExclusive
    };
    for r in &v.rels {
        if let Some(N::VacuumRelation(vr)) = &r.node {
            if let Some(rel) = &vr.relation {
                locks.add(qual(rel, path), mode, full, true);
            }
        }
    }
}

fn reindex(r: &protobuf::ReindexStmt, path: &[String], known: &Known, locks: &mut Locks) {
    use protobuf::ReindexObjectType as K;
    let concurrent = def_elems(&r.params)
        .any(|d| d.defname == "concurrently" && crate::lint::def_bool(d).unwrap_or(true));
    let mode = if concurrent {
        Mode::ShareUpdateExclusive
    } else {
        Mode::Share
    };
    let Some(rel) = &r.relation else { return };
    match K::try_from(r.kind).unwrap_or(K::Undefined) {
        K::ReindexObjectTable => locks.add(qual(rel, path), mode, false, true),
        K::ReindexObjectIndex => {
            if let Some(t) = known.indexes.get(&qual(rel, path)) {
                locks.add(t.clone(), mode, false, true);
            }
        }
        _ => {}
    }
}

fn rename(r: &protobuf::RenameStmt, path: &[String], locks: &mut Locks) {
    let kind = ObjectType::try_from(r.rename_type).unwrap_or(ObjectType::Undefined);
    let Some(rel) = &r.relation else { return };
    let target = qual(rel, path);
    match kind {
        // An index is renamed under a lock on the index alone.
        ObjectType::ObjectTable
        | ObjectType::ObjectColumn
        | ObjectType::ObjectTabconstraint
        | ObjectType::ObjectView
        | ObjectType::ObjectMatview
        | ObjectType::ObjectTrigger
        | ObjectType::ObjectPolicy
        | ObjectType::ObjectRule
        | ObjectType::ObjectForeignTable => locks.add(target, Mode::AccessExclusive, false, false),
        _ => {}
    }
}

fn comment(c: &protobuf::CommentStmt, path: &[String], locks: &mut Locks) {
    let kind = ObjectType::try_from(c.objtype).unwrap_or(ObjectType::Undefined);
    let Some(N::List(l)) = c.object.as_ref().and_then(|o| o.node.as_ref()) else {
        return;
    };
    let parts = names(&l.items);
    let table = match (kind, parts.as_slice()) {
        (ObjectType::ObjectTable | ObjectType::ObjectView | ObjectType::ObjectMatview, [n]) => {
            Some((
                path.first().cloned().unwrap_or_else(|| "public".into()),
                n.clone(),
            ))
        }
        (ObjectType::ObjectTable | ObjectType::ObjectView | ObjectType::ObjectMatview, [s, n]) => {
            Some((s.clone(), n.clone()))
        }
        (ObjectType::ObjectColumn, [t, _]) => Some((
            path.first().cloned().unwrap_or_else(|| "public".into()),
            t.clone(),
        )),
        (ObjectType::ObjectColumn, [s, t, _]) => Some((s.clone(), t.clone())),
        _ => None,
    };
    if let Some((schema, name)) = table {
        locks.add(
            QualName { schema, name },
            Mode::ShareUpdateExclusive,
            false,
            false,
        );
    }
}

/// The tables a statement writes rows of: ROW EXCLUSIVE; an UPDATE or DELETE without WHERE
/// reads them whole; an INSERT checks the tables its foreign keys reference.
fn writes(node: &NodeEnum, path: &[String], known: &Known, locks: &mut Locks) {
    let (target, whole) = match node {
        NodeEnum::InsertStmt(i) => (i.relation.as_ref(), false),
        NodeEnum::UpdateStmt(u) => (u.relation.as_ref(), u.where_clause.is_none()),
        NodeEnum::DeleteStmt(d) => (d.relation.as_ref(), d.where_clause.is_none()),
        NodeEnum::MergeStmt(m) => (m.relation.as_ref(), true),
        _ => (None, false),
    };
    if let Some(r) = target {
        let table = qual(r, path);
        // A new row's foreign keys are checked with SELECT … FOR KEY SHARE.
        if matches!(node, NodeEnum::InsertStmt(_)) {
            for to in known.referenced(&table) {
                locks.add(to, Mode::RowShare, false, false);
            }
        }
        locks.add(table, Mode::RowExclusive, false, whole);
    }
}

/// The relations a statement's queries read: ACCESS SHARE (a FOR UPDATE/SHARE clause takes
/// ROW SHARE). Names a WITH clause defines are not tables.
fn reads(node: &NodeEnum, path: &[String], locks: &mut Locks) {
    let all = node.nodes();
    let ctes: Vec<&str> = all
        .iter()
        .filter_map(|(n, _, _, _)| match n {
            NodeRef::CommonTableExpr(c) => Some(c.ctename.as_str()),
            _ => None,
        })
        .collect();
    let locking = all
        .iter()
        .any(|(n, _, _, _)| matches!(n, NodeRef::SelectStmt(s) if !s.locking_clause.is_empty()));
    let target = match node {
        NodeEnum::InsertStmt(i) => i.relation.as_ref(),
        NodeEnum::UpdateStmt(u) => u.relation.as_ref(),
        NodeEnum::DeleteStmt(d) => d.relation.as_ref(),
        NodeEnum::MergeStmt(m) => m.relation.as_ref(),
        NodeEnum::ViewStmt(v) => v.view.as_ref(),
        NodeEnum::CreateTableAsStmt(c) => c.into.as_ref().and_then(|i| i.rel.as_ref()),
        _ => None,
    };
    for (n, _, _, _) in &all {
        let NodeRef::RangeVar(r) = n else { continue };
        if r.schemaname.is_empty() && ctes.contains(&r.relname.as_str()) {
            continue;
        }
        if target.is_some_and(|t| std::ptr::eq(t, *r)) {
            continue;
        }
        let mode = if locking {
            Mode::RowShare
        } else {
            Mode::AccessShare
        };
        locks.add(qual(r, path), mode, false, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Vec<(String, &'static str, bool, bool)> {
        let known = Known::default();
        let stmts = crate::sql::parse(sql).unwrap();
        predict(&stmts[0].node, &["public".to_string()], &known)
            .into_iter()
            .map(|p| (p.table.to_string(), p.mode.name(), p.rewrite, p.scan))
            .collect()
    }

    #[test]
    fn alter_table_takes_its_strongest_subcommand() {
        assert_eq!(
            one("ALTER TABLE t SET (fillfactor = 70), ADD COLUMN c int"),
            [("public.t".into(), "AccessExclusiveLock", false, false)]
        );
        assert_eq!(
            one("ALTER TABLE s.t ALTER COLUMN c SET STATISTICS 100"),
            [("s.t".into(), "ShareUpdateExclusiveLock", false, false)]
        );
        assert_eq!(
            one("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()"),
            [("public.t".into(), "AccessExclusiveLock", true, true)]
        );
        assert_eq!(
            one("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()"),
            [("public.t".into(), "AccessExclusiveLock", false, false)]
        );
    }

    #[test]
    fn foreign_keys_lock_both_tables_and_not_valid_reads_neither() {
        assert_eq!(
            one("ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b_id) REFERENCES b (id) NOT VALID"),
            [
                ("public.a".into(), "ShareRowExclusiveLock", false, false),
                ("public.b".into(), "ShareRowExclusiveLock", false, false)
            ]
        );
        assert_eq!(
            one("ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b_id) REFERENCES b (id)"),
            [
                ("public.a".into(), "ShareRowExclusiveLock", false, true),
                ("public.b".into(), "ShareRowExclusiveLock", false, true)
            ]
        );
    }

    #[test]
    fn reads_leave_out_names_a_with_clause_defines() {
        assert_eq!(
            one("WITH x AS (SELECT * FROM a) INSERT INTO b SELECT * FROM x"),
            [
                ("public.a".into(), "AccessShareLock", false, false),
                ("public.b".into(), "RowExclusiveLock", false, false)
            ]
        );
        assert_eq!(
            one("UPDATE a SET x = 1"),
            [("public.a".into(), "RowExclusiveLock", false, true)]
        );
    }

    #[test]
    fn a_drop_index_locks_the_table_it_is_known_on() {
        let mut known = Known::default();
        let path = ["public".to_string()];
        let stmts =
            crate::sql::parse("CREATE INDEX i ON t (x); DROP INDEX CONCURRENTLY i").unwrap();
        known.learn(&stmts[0].node, &path);
        let p = predict(&stmts[1].node, &path, &known);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].table.to_string(), "public.t");
        assert_eq!(p[0].mode, Mode::ShareUpdateExclusive);
    }

    #[test]
    fn mode_names_round_trip() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.name()), Some(m));
        }
        assert!(Mode::AccessShare < Mode::AccessExclusive);
    }
}
