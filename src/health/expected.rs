//! The tables the applied migrations leave behind: created (CREATE TABLE, CREATE TABLE AS) and
//! not dropped, renamed or moved later, in plan order. Unqualified names resolve through the
//! file's `SET search_path`; with none, the table may be in any schema of the default path.

use std::collections::HashMap;

use pg_query::protobuf::{self, node::Node as N, ObjectType, VariableSetKind};
use pg_query::NodeEnum;

use crate::sql::parsed::{ParsedFile, PLACEHOLDER};
use crate::sql::tree::names;

/// A table the database should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `None`: created without a schema and with the default search_path.
    pub schema: Option<String>,
    /// The table's name.
    pub name: String,
    /// The migration that created it.
    pub created_by: String,
}

impl Table {
    fn is(&self, schema: &Option<String>, name: &str) -> bool {
        self.name == name && (self.schema.is_none() || schema.is_none() || self.schema == *schema)
    }
}

/// The first schema of a `SET search_path` (`"$user"` skipped: that schema rarely exists).
fn first_schema(s: &protobuf::VariableSetStmt) -> Option<String> {
    if s.kind != VariableSetKind::VarSetValue as i32 {
        return None;
    }
    s.args.iter().find_map(|a| match &a.node {
        Some(N::AConst(c)) => match &c.val {
            Some(protobuf::a_const::Val::Sval(v)) if v.sval != "$user" => {
                Some(v.sval.split(',').next().unwrap_or("").trim().to_string())
            }
            _ => None,
        },
        _ => None,
    })
}

/// Whether a file may create, drop, rename or move a table: only those are parsed.
fn may_touch_tables(source: &str) -> bool {
    let b = source.as_bytes();
    b.windows(5).any(|w| w.eq_ignore_ascii_case(b"table"))
        || b.windows(6).any(|w| w.eq_ignore_ascii_case(b"schema"))
}

/// What a file does to tables, its unqualified names resolved through its own search_path.
enum Op {
    Create(Option<String>, String),
    Drop(Option<String>, String),
    DropSchema(String),
    Rename(Option<String>, String, String),
    Move(Option<String>, String, String),
}

/// The table operations of one file, in order.
fn ops(source: &std::sync::Arc<String>) -> Vec<Op> {
    if !may_touch_tables(source) {
        return Vec::new();
    }
    let (parsed, _, _) = ParsedFile::parse(source, &|_| None);
    // Each file starts with the session's search_path: pgshift resets it between migrations.
    let mut path: Option<String> = None;
    let resolve = |r: &protobuf::RangeVar, path: &Option<String>| {
        // A schema from a psql variable: unknown here, any schema will do.
        if r.schemaname == PLACEHOLDER {
            None
        } else if r.schemaname.is_empty() {
            path.clone()
        } else {
            Some(r.schemaname.clone())
        }
    };
    let mut out = Vec::new();
    for s in &parsed.statements {
        match &*s.node {
            NodeEnum::VariableSetStmt(v) if v.name == "search_path" => path = first_schema(v),
            NodeEnum::CreateStmt(c) => {
                if let Some(r) = c.relation.as_ref().filter(|r| r.relpersistence != "t") {
                    out.push(Op::Create(resolve(r, &path), r.relname.clone()));
                }
            }
            NodeEnum::CreateTableAsStmt(c) if c.objtype == ObjectType::ObjectTable as i32 => {
                let rel = c.into.as_ref().and_then(|i| i.rel.as_ref());
                if let Some(r) = rel.filter(|r| r.relpersistence != "t") {
                    out.push(Op::Create(resolve(r, &path), r.relname.clone()));
                }
            }
            NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => {
                for o in &d.objects {
                    let Some(N::List(l)) = &o.node else { continue };
                    match names(&l.items).as_slice() {
                        [name] => out.push(Op::Drop(path.clone(), name.clone())),
                        [.., schema, name] => {
                            out.push(Op::Drop(Some(schema.clone()), name.clone()))
                        }
                        [] => {}
                    }
                }
            }
            NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectSchema as i32 => {
                for o in &d.objects {
                    if let Some(N::String(s)) = &o.node {
                        out.push(Op::DropSchema(s.sval.clone()));
                    }
                }
            }
            NodeEnum::RenameStmt(r) if r.rename_type == ObjectType::ObjectTable as i32 => {
                if let Some(rel) = &r.relation {
                    out.push(Op::Rename(
                        resolve(rel, &path),
                        rel.relname.clone(),
                        r.newname.clone(),
                    ));
                }
            }
            NodeEnum::AlterObjectSchemaStmt(a)
                if a.object_type == ObjectType::ObjectTable as i32 =>
            {
                if let Some(rel) = &a.relation {
                    out.push(Op::Move(
                        resolve(rel, &path),
                        rel.relname.clone(),
                        a.newschema.clone(),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

/// Walks `(version, source)` pairs in plan order. The files are parsed on every core, each
/// reduced to its table operations at once (no syntax tree is kept), then the operations are
/// followed in order.
pub fn tables_left(applied: &[(&str, &std::sync::Arc<String>)]) -> Vec<Table> {
    crate::memory::many_files();
    let jobs = crate::parallel::cores();
    let per_file =
        crate::parallel::map(applied.iter().collect(), 1, jobs, |(_, source)| ops(source));
    // By name, so that each operation costs the tables of that name only (linear in the set).
    let mut by_name: HashMap<String, Vec<(usize, Table)>> = HashMap::new();
    let mut created = 0usize;
    for ((version, _), ops) in applied.iter().zip(per_file) {
        for op in ops {
            match op {
                Op::Create(schema, name) => {
                    let same = by_name.entry(name.clone()).or_default();
                    same.retain(|(_, t)| t.schema != schema);
                    created += 1;
                    same.push((
                        created,
                        Table {
                            schema,
                            name,
                            created_by: version.to_string(),
                        },
                    ));
                }
                Op::Drop(schema, name) => {
                    if let Some(same) = by_name.get_mut(&name) {
                        same.retain(|(_, t)| !t.is(&schema, &name));
                    }
                }
                Op::DropSchema(schema) => {
                    for same in by_name.values_mut() {
                        same.retain(|(_, t)| t.schema.as_deref() != Some(schema.as_str()));
                    }
                }
                Op::Rename(schema, name, new) => {
                    let Some(same) = by_name.get_mut(&name) else {
                        continue;
                    };
                    let (moved, kept): (Vec<_>, Vec<_>) =
                        same.drain(..).partition(|(_, t)| t.is(&schema, &name));
                    *same = kept;
                    let target = by_name.entry(new.clone()).or_default();
                    for (i, mut t) in moved {
                        t.name = new.clone();
                        target.push((i, t));
                    }
                }
                Op::Move(schema, name, new) => {
                    if let Some(same) = by_name.get_mut(&name) {
                        for (_, t) in same.iter_mut().filter(|(_, t)| t.is(&schema, &name)) {
                            t.schema = Some(new.clone());
                        }
                    }
                }
            }
        }
    }
    let mut tables: Vec<(usize, Table)> = by_name.into_values().flatten().collect();
    tables.sort_by_key(|(i, _)| *i);
    tables.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::tables_left;

    fn left(files: &[&str]) -> Vec<String> {
        let sources: Vec<std::sync::Arc<String>> = files
            .iter()
            .map(|f| std::sync::Arc::new(f.to_string()))
            .collect();
        let applied: Vec<(&str, &std::sync::Arc<String>)> =
            sources.iter().map(|f| ("v", f)).collect();
        tables_left(&applied)
            .into_iter()
            .map(|t| format!("{}.{}", t.schema.as_deref().unwrap_or("*"), t.name))
            .collect()
    }

    #[test]
    fn the_files_followed_are_said_to_be_many() {
        crate::memory::said_here();
        left(&["CREATE TABLE a (id int);"]);
        assert_eq!(crate::memory::said_here(), [crate::memory::Work::ManyFiles]);
    }

    #[test]
    fn follows_creates_drops_renames_moves_and_search_path() {
        assert_eq!(
            left(&[
                "CREATE TABLE a (id int); CREATE TABLE app.b (id int); CREATE TEMP TABLE t (id int);",
                "SET search_path TO shop, public; CREATE TABLE c (id int); RESET search_path; CREATE TABLE d (id int);",
                "DROP TABLE a; ALTER TABLE app.b RENAME TO b2; ALTER TABLE d SET SCHEMA archive;",
                "CREATE TABLE gone.x (id int); DROP SCHEMA gone CASCADE; CREATE TABLE e AS SELECT 1 AS one;",
            ]),
            ["app.b2", "shop.c", "archive.d", "*.e"]
        );
    }

    #[test]
    fn a_file_with_psql_variables_still_counts() {
        assert_eq!(
            left(&["CREATE TABLE :\"schema\".t (id int); CREATE ROLE r PASSWORD :'pw';"]),
            ["*.t"]
        );
    }
}
