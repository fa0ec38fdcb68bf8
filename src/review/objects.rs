//! The tables, views, functions and types a statement touches: makes, changes or drops (an
//! index, a trigger, a policy or a grant on a table touches the table; rows written touch it
//! too). Two migrations of two branches that touch the same one conflict unless one depends
//! on the other.

use std::collections::BTreeSet;

use pg_query::protobuf::{node::Node as N, ObjectType};
use pg_query::NodeEnum;

use super::locks::qual;
use crate::lint::names;

/// `kind schema.name`, e.g. `table public.users`, `function public.touch`.
pub fn touched(node: &NodeEnum, path: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let named = |kind: &str, parts: &[String]| named(kind, parts, path);
    let rel = |kind: &str, r: &Option<pg_query::protobuf::RangeVar>| {
        r.as_ref().map(|r| format!("{kind} {}", qual(r, path)))
    };
    let item = match node {
        NodeEnum::CreateStmt(c) => rel("table", &c.relation),
        NodeEnum::AlterTableStmt(a) => {
            let kind = match ObjectType::try_from(a.objtype).unwrap_or(ObjectType::Undefined) {
                ObjectType::ObjectView => "view",
                ObjectType::ObjectMatview => "view",
                ObjectType::ObjectIndex => return out,
                _ => "table",
            };
            rel(kind, &a.relation)
        }
        NodeEnum::IndexStmt(i) => rel("table", &i.relation),
        NodeEnum::CreateTrigStmt(t) => rel("table", &t.relation),
        NodeEnum::CreatePolicyStmt(p) => rel("table", &p.table),
        NodeEnum::AlterPolicyStmt(p) => rel("table", &p.table),
        NodeEnum::RuleStmt(r) => rel("table", &r.relation),
        NodeEnum::InsertStmt(i) => rel("table", &i.relation),
        NodeEnum::UpdateStmt(u) => rel("table", &u.relation),
        NodeEnum::DeleteStmt(d) => rel("table", &d.relation),
        NodeEnum::MergeStmt(m) => rel("table", &m.relation),
        NodeEnum::ViewStmt(v) => rel("view", &v.view),
        NodeEnum::CreateTableAsStmt(c) => {
            let kind = if c.objtype == ObjectType::ObjectMatview as i32 {
                "view"
            } else {
                "table"
            };
            rel(kind, &c.into.as_ref().and_then(|i| i.rel.clone()))
        }
        NodeEnum::RefreshMatViewStmt(r) => rel("view", &r.relation),
        NodeEnum::TruncateStmt(t) => {
            for r in &t.relations {
                if let Some(N::RangeVar(r)) = &r.node {
                    out.insert(format!("table {}", qual(r, path)));
                }
            }
            None
        }
        NodeEnum::CreateFunctionStmt(f) => named("function", &names(&f.funcname)),
        NodeEnum::AlterFunctionStmt(f) => f
            .func
            .as_ref()
            .and_then(|o| named("function", &names(&o.objname))),
        NodeEnum::CreateEnumStmt(e) => named("type", &names(&e.type_name)),
        NodeEnum::AlterEnumStmt(e) => named("type", &names(&e.type_name)),
        NodeEnum::CompositeTypeStmt(c) => c
            .typevar
            .as_ref()
            .map(|r| format!("type {}", qual(r, path))),
        NodeEnum::CreateDomainStmt(d) => named("type", &names(&d.domainname)),
        NodeEnum::AlterDomainStmt(d) => named("type", &names(&d.type_name)),
        NodeEnum::RenameStmt(r) => {
            match ObjectType::try_from(r.rename_type).unwrap_or(ObjectType::Undefined) {
                ObjectType::ObjectView | ObjectType::ObjectMatview => rel("view", &r.relation),
                ObjectType::ObjectIndex | ObjectType::ObjectSequence => None,
                _ if r.relation.is_some() => rel("table", &r.relation),
                _ => None,
            }
        }
        NodeEnum::CommentStmt(c) => commented(c, path),
        NodeEnum::GrantStmt(g) if g.objtype == ObjectType::ObjectTable as i32 => {
            for o in &g.objects {
                if let Some(N::RangeVar(r)) = &o.node {
                    out.insert(format!("table {}", qual(r, path)));
                }
            }
            None
        }
        NodeEnum::DropStmt(d) => {
            out.extend(dropped(d, path));
            None
        }
        _ => None,
    };
    out.extend(item);
    out
}

/// `kind schema.name` of a name's parts (`[schema.]name`), the schema from `path` when left out.
fn named(kind: &str, parts: &[String], path: &[String]) -> Option<String> {
    match parts {
        [n] => Some(format!(
            "{kind} {}.{n}",
            path.first().map_or("public", String::as_str)
        )),
        [.., s, n] => Some(format!("{kind} {s}.{n}")),
        [] => None,
    }
}

/// COMMENT ON a table, a column (its table) or a view.
fn commented(c: &pg_query::protobuf::CommentStmt, path: &[String]) -> Option<String> {
    let parts = match c.object.as_ref().and_then(|o| o.node.as_ref()) {
        Some(N::List(l)) => names(&l.items),
        _ => Vec::new(),
    };
    match ObjectType::try_from(c.objtype).unwrap_or(ObjectType::Undefined) {
        ObjectType::ObjectTable => named("table", &parts, path),
        ObjectType::ObjectColumn => named("table", &parts[..parts.len().saturating_sub(1)], path),
        ObjectType::ObjectView | ObjectType::ObjectMatview => named("view", &parts, path),
        _ => None,
    }
}

/// What a DROP names: tables, views, types, functions; a trigger's, policy's or rule's table.
fn dropped(d: &pg_query::protobuf::DropStmt, path: &[String]) -> Vec<String> {
    let kind = match ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined) {
        ObjectType::ObjectTable | ObjectType::ObjectForeignTable => "table",
        ObjectType::ObjectView | ObjectType::ObjectMatview => "view",
        ObjectType::ObjectType | ObjectType::ObjectDomain => "type",
        ObjectType::ObjectFunction | ObjectType::ObjectProcedure | ObjectType::ObjectRoutine => {
            "function"
        }
        ObjectType::ObjectTrigger | ObjectType::ObjectPolicy | ObjectType::ObjectRule => "on table",
        _ => return Vec::new(),
    };
    d.objects
        .iter()
        .filter_map(|o| {
            let parts = match &o.node {
                Some(N::List(l)) => names(&l.items),
                Some(N::ObjectWithArgs(f)) => names(&f.objname),
                Some(N::TypeName(t)) => names(&t.names),
                _ => return None,
            };
            if kind == "on table" {
                named("table", &parts[..parts.len().saturating_sub(1)], path)
            } else {
                named(kind, &parts, path)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str) -> Vec<String> {
        let s = crate::sql::parse(sql).unwrap();
        touched(&s[0].node, &["public".to_string()])
            .into_iter()
            .collect()
    }

    #[test]
    fn each_kind_is_named_with_its_schema() {
        assert_eq!(
            of("ALTER TABLE users ADD COLUMN x int"),
            ["table public.users"]
        );
        assert_eq!(of("CREATE INDEX i ON app.users (x)"), ["table app.users"]);
        assert_eq!(
            of("CREATE OR REPLACE VIEW v AS SELECT 1"),
            ["view public.v"]
        );
        assert_eq!(
            of("CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'SELECT 1'"),
            ["function app.f"]
        );
        assert_eq!(
            of("ALTER TYPE status ADD VALUE 'x'"),
            ["type public.status"]
        );
        assert_eq!(of("DROP POLICY p ON users"), ["table public.users"]);
        assert_eq!(
            of("DROP FUNCTION f(int), g()"),
            ["function public.f", "function public.g"]
        );
        assert_eq!(
            of("COMMENT ON COLUMN users.x IS 'y'"),
            ["table public.users"]
        );
        assert!(of("SELECT 1").is_empty());
    }
}
