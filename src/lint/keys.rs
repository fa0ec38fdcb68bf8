//! The keys and indexes the set gives its tables: primary keys, unique constraints and plain
//! column indexes (by their columns, in order), and the foreign keys each statement adds. The
//! rules about missing and duplicate indexes read these, the file-side half of the health
//! checks of the same names.

use std::collections::{HashMap, HashSet};

use pg_query::protobuf::{self, node::Node as N, AlterTableType, ConstrType};
use pg_query::NodeEnum;

use super::tables::{Table, Tables};
use super::{alter_cmds, names, QualName};

/// A foreign key a statement adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub table: QualName,
    pub columns: Vec<String>,
    pub references: String,
    /// Offset of the constraint in the parsed text, when the parser gives one.
    pub location: Option<usize>,
}

/// Indexes and primary keys of the set's tables, at the end of the set, by the tables'
/// numbers.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    indexes: HashMap<Table, Vec<Vec<String>>>,
    primary: HashSet<Table>,
}

/// The constraints of a CREATE TABLE or ALTER TABLE … ADD, each with the column it is declared
/// on (a column constraint names no keys of its own).
fn constraints(node: &NodeEnum) -> Vec<(QualName, &protobuf::Constraint, Option<&str>)> {
    let mut out = Vec::new();
    match node {
        NodeEnum::CreateStmt(c) => {
            let Some(rel) = &c.relation else { return out };
            let t = QualName::of(rel);
            for e in &c.table_elts {
                match &e.node {
                    Some(N::ColumnDef(col)) => {
                        for k in &col.constraints {
                            if let Some(N::Constraint(k)) = &k.node {
                                out.push((t.clone(), k.as_ref(), Some(col.colname.as_str())));
                            }
                        }
                    }
                    Some(N::Constraint(k)) => out.push((t.clone(), k.as_ref(), None)),
                    _ => {}
                }
            }
        }
        NodeEnum::AlterTableStmt(a) => {
            let Some(rel) = &a.relation else { return out };
            let t = QualName::of(rel);
            for c in alter_cmds(a) {
                if c.subtype == AlterTableType::AtAddConstraint as i32 {
                    if let Some(N::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) {
                        out.push((t.clone(), k.as_ref(), None));
                    }
                } else if c.subtype == AlterTableType::AtAddColumn as i32 {
                    if let Some(N::ColumnDef(col)) = c.def.as_ref().and_then(|d| d.node.as_ref()) {
                        for k in &col.constraints {
                            if let Some(N::Constraint(k)) = &k.node {
                                out.push((t.clone(), k.as_ref(), Some(col.colname.as_str())));
                            }
                        }
                    }
                }
            }
        }
        _ => {}
    }
    out
}

fn columns(keys: &[protobuf::Node], column: Option<&str>) -> Vec<String> {
    let named = names(keys);
    if named.is_empty() {
        column.map(|c| vec![c.to_string()]).unwrap_or_default()
    } else {
        named
    }
}

/// The foreign keys a statement adds.
pub fn foreign_keys(node: &NodeEnum) -> Vec<ForeignKey> {
    constraints(node)
        .into_iter()
        .filter(|(_, k, _)| k.contype == ConstrType::ConstrForeign as i32)
        .map(|(table, k, column)| ForeignKey {
            table,
            columns: columns(&k.fk_attrs, column),
            references: k
                .pktable
                .as_ref()
                .map(|r| QualName::of(r).to_string())
                .unwrap_or_default(),
            location: usize::try_from(k.location).ok(),
        })
        .collect()
}

/// A plain B-tree index's table and columns (none for another access method, expressions, an
/// operator class, a collation, INCLUDE columns or a predicate: they serve other queries).
pub fn index_columns(node: &NodeEnum) -> Option<(QualName, Vec<String>)> {
    let NodeEnum::IndexStmt(i) = node else {
        return None;
    };
    let btree = i.access_method.is_empty() || i.access_method.eq_ignore_ascii_case("btree");
    if !btree || i.where_clause.is_some() || !i.index_including_params.is_empty() {
        return None;
    }
    let mut cols = Vec::new();
    for p in &i.index_params {
        match &p.node {
            Some(N::IndexElem(e))
                if e.expr.is_none()
                    && !e.name.is_empty()
                    && e.opclass.is_empty()
                    && e.collation.is_empty() =>
            {
                cols.push(e.name.clone())
            }
            _ => return None,
        }
    }
    Some((QualName::of(i.relation.as_ref()?), cols))
}

impl Keys {
    /// Records one statement (call in plan order), numbering its tables in `tables`.
    pub fn add(&mut self, node: &NodeEnum, tables: &mut Tables) {
        for (t, k, column) in constraints(node) {
            let primary = k.contype == ConstrType::ConstrPrimary as i32;
            if primary || k.contype == ConstrType::ConstrUnique as i32 {
                let t = tables.number(&t);
                if primary {
                    self.primary.insert(t);
                }
                let cols = columns(&k.keys, column);
                if !cols.is_empty() && k.where_clause.is_none() {
                    self.indexes.entry(t).or_default().push(cols);
                }
            }
        }
        if let Some((t, cols)) = index_columns(node) {
            self.indexes
                .entry(tables.number(&t))
                .or_default()
                .push(cols);
        }
        if let NodeEnum::DropStmt(d) = node {
            if d.remove_type == protobuf::ObjectType::ObjectTable as i32 {
                // A table created again later starts without keys.
                for o in &d.objects {
                    if let Some(N::List(l)) = &o.node {
                        let parts = names(&l.items);
                        if let Some(name) = parts.last() {
                            let schema = if parts.len() > 1 {
                                parts[parts.len() - 2].clone()
                            } else {
                                "public".into()
                            };
                            let t = QualName {
                                schema,
                                name: name.clone(),
                            };
                            if let Some(t) = tables.get(&t) {
                                self.indexes.remove(&t);
                                self.primary.remove(&t);
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn has_primary_key(&self, t: Table) -> bool {
        self.primary.contains(&t)
    }

    /// Whether an index's leading columns are `cols` (in any order).
    pub fn indexed(&self, t: Table, cols: &[String]) -> bool {
        let want: HashSet<&String> = cols.iter().collect();
        self.indexes.get(&t).is_some_and(|all| {
            all.iter().any(|idx| {
                idx.len() >= cols.len() && idx[..cols.len()].iter().collect::<HashSet<_>>() == want
            })
        })
    }

    /// How many of the table's indexes have exactly these columns, in this order.
    pub fn identical(&self, t: Table, cols: &[String]) -> usize {
        self.indexes.get(&t).map_or(0, |all| {
            all.iter().filter(|idx| idx.as_slice() == cols).count()
        })
    }
}
