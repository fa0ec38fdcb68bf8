//! Helpers over PostgreSQL's syntax tree (libpg_query's protobuf nodes) that the lint rules,
//! the health checks and the rehearsal share: names, options, ALTER TABLE commands, deep
//! searches.

use pg_query::protobuf::{self, node::Node as N};

/// A `DefElem`'s argument as a string, whatever node holds it.
pub fn def_string(d: &protobuf::DefElem) -> Option<String> {
    match d.arg.as_ref()?.node.as_ref()? {
        N::String(s) => Some(s.sval.clone()),
        N::TypeName(t) => names(&t.names).last().cloned(),
        N::List(l) => names(&l.items).last().cloned(),
        N::AConst(c) => match &c.val {
            Some(protobuf::a_const::Val::Sval(s)) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A `DefElem`'s argument as a boolean (`SUPERUSER` → true, `NOSUPERUSER` → false).
pub fn def_bool(d: &protobuf::DefElem) -> Option<bool> {
    match d.arg.as_ref()?.node.as_ref()? {
        N::Boolean(b) => Some(b.boolval),
        N::Integer(i) => Some(i.ival != 0),
        _ => None,
    }
}

/// The strings of a list of `String` nodes (`funcname`, `names`).
pub fn names(list: &[protobuf::Node]) -> Vec<String> {
    list.iter()
        .filter_map(|n| match &n.node {
            Some(N::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// The `AlterTableCmd`s of an `ALTER TABLE`.
pub fn alter_cmds(s: &protobuf::AlterTableStmt) -> impl Iterator<Item = &protobuf::AlterTableCmd> {
    s.cmds.iter().filter_map(|c| match &c.node {
        Some(N::AlterTableCmd(c)) => Some(c.as_ref()),
        _ => None,
    })
}

/// The role and options of `CREATE ROLE|USER` and `ALTER ROLE|USER`.
pub fn role_options(node: &pg_query::NodeEnum) -> Option<(String, &[protobuf::Node])> {
    match node {
        pg_query::NodeEnum::CreateRoleStmt(r) => Some((r.role.clone(), &r.options)),
        pg_query::NodeEnum::AlterRoleStmt(r) => Some((
            r.role
                .as_ref()
                .map_or(String::new(), |r| r.rolename.clone()),
            &r.options,
        )),
        _ => None,
    }
}

/// Every node below `node` as JSON, for rules that search deep expressions (function calls in
/// a default, a LIMIT in a subquery). Used on small subtrees only.
pub fn to_json<T: serde::Serialize>(node: &T) -> serde_json::Value {
    serde_json::to_value(node).unwrap_or(serde_json::Value::Null)
}

/// Whether a JSON tree has an object key `key` anywhere.
pub fn json_has_key(v: &serde_json::Value, key: &str) -> bool {
    match v {
        serde_json::Value::Object(m) => m.iter().any(|(k, v)| k == key || json_has_key(v, key)),
        serde_json::Value::Array(a) => a.iter().any(|v| json_has_key(v, key)),
        _ => false,
    }
}

/// The names of all functions called in a JSON tree (last part of the qualified name).
pub fn json_func_names(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(call) = m.get("FuncCall") {
                if let Some(parts) = call.get("funcname").and_then(|f| f.as_array()) {
                    if let Some(name) = parts
                        .iter()
                        .filter_map(|p| p.pointer("/node/String/sval").and_then(|s| s.as_str()))
                        .next_back()
                    {
                        out.push(name.to_string());
                    }
                }
            }
            m.values().for_each(|v| json_func_names(v, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_func_names(v, out)),
        _ => {}
    }
}
