//! What the whole migration set does to tables, in plan order: where each table is created,
//! whether RLS is enabled on it, and how many policies it has. Rules about RLS and about
//! "a table that existed before this migration" read these facts.

use std::collections::{HashMap, HashSet};

use pg_query::protobuf::{self, node::Node as N, AlterTableType};
use pg_query::NodeEnum;

use super::alter_cmds;

/// `schema.table`, schema defaulting to `public` (the usual search_path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualName {
    pub schema: String,
    pub name: String,
}

impl QualName {
    pub fn of(r: &protobuf::RangeVar) -> QualName {
        QualName {
            schema: if r.schemaname.is_empty() {
                "public".into()
            } else {
                r.schemaname.clone()
            },
            name: r.relname.clone(),
        }
    }
}

impl std::fmt::Display for QualName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// The table a statement creates (regular, persistent tables only).
pub fn created_table(node: &NodeEnum) -> Option<QualName> {
    match node {
        NodeEnum::CreateStmt(s) => s
            .relation
            .as_ref()
            .filter(|r| r.relpersistence != "t")
            .map(QualName::of),
        NodeEnum::CreateTableAsStmt(s) => s
            .into
            .as_ref()
            .and_then(|i| i.rel.as_ref())
            .filter(|r| r.relpersistence != "t")
            .map(QualName::of),
        _ => None,
    }
}

/// Facts about the set, gathered over every migration's statements in plan order.
#[derive(Debug, Clone, Default)]
pub struct SetFacts {
    created: HashMap<QualName, String>,
    rls_enabled: HashSet<QualName>,
    policies: HashMap<QualName, usize>,
    dropped: HashSet<QualName>,
    /// Primary keys, unique constraints and indexes.
    pub keys: super::keys::Keys,
}

impl SetFacts {
    /// Records one migration's statements (call in plan order).
    pub fn add(&mut self, version: &str, statements: &[crate::sql::Statement]) {
        for s in statements {
            self.keys.add(&s.node);
            if let Some(t) = created_table(&s.node) {
                self.dropped.remove(&t);
                self.rls_enabled.remove(&t);
                self.created.insert(t, version.to_string());
            }
            match &s.node {
                NodeEnum::AlterTableStmt(a) => {
                    let Some(rel) = &a.relation else { continue };
                    let t = QualName::of(rel);
                    for c in alter_cmds(a) {
                        if c.subtype == AlterTableType::AtEnableRowSecurity as i32 {
                            self.rls_enabled.insert(t.clone());
                        } else if c.subtype == AlterTableType::AtDisableRowSecurity as i32 {
                            self.rls_enabled.remove(&t);
                        }
                    }
                }
                NodeEnum::CreatePolicyStmt(p) => {
                    if let Some(rel) = &p.table {
                        *self.policies.entry(QualName::of(rel)).or_default() += 1;
                    }
                }
                NodeEnum::DropStmt(d)
                    if d.remove_type == protobuf::ObjectType::ObjectTable as i32 =>
                {
                    for o in &d.objects {
                        if let Some(N::List(l)) = &o.node {
                            let parts = super::names(&l.items);
                            let t = match parts.as_slice() {
                                [name] => QualName {
                                    schema: "public".into(),
                                    name: name.clone(),
                                },
                                [.., schema, name] => QualName {
                                    schema: schema.clone(),
                                    name: name.clone(),
                                },
                                [] => continue,
                            };
                            self.dropped.insert(t);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The migration that created the table, if one of the set did.
    pub fn created_by(&self, t: &QualName) -> Option<&str> {
        self.created.get(t).map(String::as_str)
    }

    /// Whether RLS is enabled on the table at the end of the set.
    pub fn rls_enabled(&self, t: &QualName) -> bool {
        self.rls_enabled.contains(t)
    }

    /// Number of policies created on the table in the whole set.
    pub fn policy_count(&self, t: &QualName) -> usize {
        self.policies.get(t).copied().unwrap_or(0)
    }

    /// Whether the table is dropped by a later migration.
    pub fn dropped(&self, t: &QualName) -> bool {
        self.dropped.contains(t)
    }
}
