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
    let schema = || path.first().cloned().unwrap_or_else(|| "public".into());
    let named = |kind: &str, parts: &[String]| -> Option<String> {
        match parts {
            [n] => Some(format!("{kind} {}.{n}", schema())),
            [.., s, n] => Some(format!("{kind} {s}.{n}")),
            [] => None,
        }
    };
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
        NodeEnum::CommentStmt(c) => {
            let parts = match c.object.as_ref().and_then(|o| o.node.as_ref()) {
                Some(N::List(l)) => names(&l.items),
                _ => Vec::new(),
            };
            match ObjectType::try_from(c.objtype).unwrap_or(ObjectType::Undefined) {
                ObjectType::ObjectTable => named("table", &parts),
                ObjectType::ObjectColumn => named("table", &parts[..parts.len().saturating_sub(1)]),
                ObjectType::ObjectView | ObjectType::ObjectMatview => named("view", &parts),
                _ => None,
            }
        }
        NodeEnum::GrantStmt(g) if g.objtype == ObjectType::ObjectTable as i32 => {
            for o in &g.objects {
                if let Some(N::RangeVar(r)) = &o.node {
                    out.insert(format!("table {}", qual(r, path)));
                }
            }
            None
        }
        NodeEnum::DropStmt(d) => {
            let kind = match ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined) {
                ObjectType::ObjectTable | ObjectType::ObjectForeignTable => Some("table"),
                ObjectType::ObjectView | ObjectType::ObjectMatview => Some("view"),
                ObjectType::ObjectType | ObjectType::ObjectDomain => Some("type"),
                ObjectType::ObjectFunction
                | ObjectType::ObjectProcedure
                | ObjectType::ObjectRoutine => Some("function"),
                ObjectType::ObjectTrigger | ObjectType::ObjectPolicy | ObjectType::ObjectRule => {
                    Some("on table")
                }
                _ => None,
            };
            for o in &d.objects {
                let parts = match &o.node {
                    Some(N::List(l)) => names(&l.items),
                    Some(N::ObjectWithArgs(f)) => names(&f.objname),
                    Some(N::TypeName(t)) => names(&t.names),
                    _ => continue,
                };
                let found = match kind {
                    Some("on table") => named("table", &parts[..parts.len().saturating_sub(1)]),
                    Some(k) => named(k, &parts),
                    None => None,
                };
                out.extend(found);
            }
            None
        }
        _ => None,
    };
    out.extend(item);
    out
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
