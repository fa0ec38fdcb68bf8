//! The tables the applied migrations leave behind: created (CREATE TABLE, CREATE TABLE AS) and
//! not dropped, renamed or moved later, in plan order. Unqualified names resolve through the
//! file's `SET search_path`; with none, the table may be in any schema of the default path.

use pg_query::protobuf::{self, node::Node as N, ObjectType, VariableSetKind};
use pg_query::NodeEnum;

use crate::lint::{names, ParsedFile, PLACEHOLDER};

/// A table the database should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `None`: created without a schema and with the default search_path.
    pub schema: Option<String>,
    pub name: String,
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

/// Walks `(version, source)` pairs in plan order.
pub fn tables_left(applied: &[(&str, &str)]) -> Vec<Table> {
    let mut tables: Vec<Table> = Vec::new();
    for (version, source) in applied {
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
        for s in &parsed.statements {
            match &s.node {
                NodeEnum::VariableSetStmt(v) if v.name == "search_path" => {
                    path = first_schema(v);
                }
                NodeEnum::CreateStmt(c) => {
                    if let Some(r) = c.relation.as_ref().filter(|r| r.relpersistence != "t") {
                        let schema = resolve(r, &path);
                        tables.retain(|t| !t.is(&schema, &r.relname) || t.schema != schema);
                        tables.push(Table {
                            schema,
                            name: r.relname.clone(),
                            created_by: version.to_string(),
                        });
                    }
                }
                NodeEnum::CreateTableAsStmt(c) => {
                    let rel = c.into.as_ref().and_then(|i| i.rel.as_ref());
                    if let Some(r) = rel
                        .filter(|r| r.relpersistence != "t")
                        .filter(|_| c.objtype == ObjectType::ObjectTable as i32)
                    {
                        tables.push(Table {
                            schema: resolve(r, &path),
                            name: r.relname.clone(),
                            created_by: version.to_string(),
                        });
                    }
                }
                NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => {
                    for o in &d.objects {
                        let Some(N::List(l)) = &o.node else { continue };
                        let parts = names(&l.items);
                        let (schema, name) = match parts.as_slice() {
                            [name] => (path.clone(), name.clone()),
                            [.., schema, name] => (Some(schema.clone()), name.clone()),
                            [] => continue,
                        };
                        tables.retain(|t| !t.is(&schema, &name));
                    }
                }
                NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectSchema as i32 => {
                    for o in &d.objects {
                        if let Some(N::String(s)) = &o.node {
                            tables.retain(|t| t.schema.as_deref() != Some(s.sval.as_str()));
                        }
                    }
                }
                NodeEnum::RenameStmt(r) if r.rename_type == ObjectType::ObjectTable as i32 => {
                    if let Some(rel) = &r.relation {
                        let schema = resolve(rel, &path);
                        for t in tables.iter_mut().filter(|t| t.is(&schema, &rel.relname)) {
                            t.name = r.newname.clone();
                        }
                    }
                }
                NodeEnum::AlterObjectSchemaStmt(a)
                    if a.object_type == ObjectType::ObjectTable as i32 =>
                {
                    if let Some(rel) = &a.relation {
                        let schema = resolve(rel, &path);
                        for t in tables.iter_mut().filter(|t| t.is(&schema, &rel.relname)) {
                            t.schema = Some(a.newschema.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::tables_left;

    fn left(files: &[&str]) -> Vec<String> {
        let applied: Vec<(&str, &str)> = files.iter().map(|f| ("v", *f)).collect();
        tables_left(&applied)
            .into_iter()
            .map(|t| format!("{}.{}", t.schema.as_deref().unwrap_or("*"), t.name))
            .collect()
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
