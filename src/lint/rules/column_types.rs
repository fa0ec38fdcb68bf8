//! `hygiene/column-types`: type choices that bite later, as hints: `integer` keys that run out
//! at 2.1 billion, `serial` instead of identity columns, `varchar(n)` and `char(n)` instead of
//! `text`, `timestamp` without time zone, and CHECK constraints on domains (changing them scans
//! every column of the type).

use pg_query::protobuf::{self, node::Node as N, AlterTableType, ConstrType};
use pg_query::NodeEnum;

use crate::lint::{alter_cmds, names, Ctx, Family, Rule, Violation, ALWAYS_INFO};

pub const RULE: Rule = Rule {
    id: "hygiene/column-types",
    family: Family::Hygiene,
    levels: ALWAYS_INFO,
    summary: "A type that bites later: integer keys, serial, varchar(n), char(n), timestamp without time zone, a CHECK on a domain.",
    help: "bigint for keys, `GENERATED ALWAYS AS IDENTITY` for generated keys, text (with a CHECK on length if it matters), timestamptz; each can be changed later only by rewriting the table",
    check,
};

/// The hint for a column's type, if any.
fn hint(t: &protobuf::TypeName, key: bool) -> Option<&'static str> {
    let name = names(&t.names).last().cloned().unwrap_or_default();
    let sized = !t.typmods.is_empty();
    match name.as_str() {
        "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2" => {
            Some("serial: prefer `bigint GENERATED ALWAYS AS IDENTITY` (no separate sequence to grant, dump and keep in step)")
        }
        "int4" | "int2" if key => Some("an integer key runs out at 2,147,483,647 rows: prefer bigint"),
        "varchar" if sized => Some("varchar(n): prefer text (a CHECK on char_length if the limit matters; changing n rewrites or rescans)"),
        "bpchar" => Some("char(n) pads with spaces: prefer text"),
        "timestamp" => Some("timestamp without time zone: prefer timestamptz (an instant, whatever the session's time zone)"),
        _ => None,
    }
}

fn constraint_kinds(list: &[protobuf::Node]) -> Vec<i32> {
    list.iter()
        .filter_map(|k| match &k.node {
            Some(N::Constraint(k)) => Some(k.contype),
            _ => None,
        })
        .collect()
}

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let mut columns: Vec<(&protobuf::ColumnDef, bool)> = Vec::new();
        match &*s.node {
            NodeEnum::CreateStmt(c) => {
                // Columns named by a table-level PRIMARY KEY are keys too.
                let table_keys: Vec<String> = c
                    .table_elts
                    .iter()
                    .filter_map(|e| match &e.node {
                        Some(N::Constraint(k)) if k.contype == ConstrType::ConstrPrimary as i32 => {
                            Some(names(&k.keys))
                        }
                        _ => None,
                    })
                    .flatten()
                    .collect();
                for e in &c.table_elts {
                    if let Some(N::ColumnDef(col)) = &e.node {
                        let kinds = constraint_kinds(&col.constraints);
                        // A CHECK bounds the values (a singleton table's `id int PRIMARY KEY
                        // CHECK (id = 1)`): running out is not its risk.
                        let key = (table_keys.contains(&col.colname)
                            || kinds.contains(&(ConstrType::ConstrPrimary as i32))
                            || kinds.contains(&(ConstrType::ConstrIdentity as i32)))
                            && !kinds.contains(&(ConstrType::ConstrCheck as i32));
                        columns.push((col.as_ref(), key));
                    }
                }
            }
            NodeEnum::AlterTableStmt(a) => {
                for c in alter_cmds(a) {
                    if c.subtype == AlterTableType::AtAddColumn as i32 {
                        if let Some(N::ColumnDef(col)) =
                            c.def.as_ref().and_then(|d| d.node.as_ref())
                        {
                            let kinds = constraint_kinds(&col.constraints);
                            let key = kinds.contains(&(ConstrType::ConstrPrimary as i32))
                                || kinds.contains(&(ConstrType::ConstrIdentity as i32));
                            columns.push((col.as_ref(), key));
                        }
                    }
                }
            }
            NodeEnum::CreateDomainStmt(d) => {
                if constraint_kinds(&d.constraints).contains(&(ConstrType::ConstrCheck as i32)) {
                    out.push(Violation::stmt(
                        ctx,
                        s,
                        "a CHECK on a domain: changing it later checks every column of the type under lock; a CHECK on the columns can be added NOT VALID",
                    ));
                }
                continue;
            }
            _ => continue,
        }
        for (col, key) in columns {
            let Some(t) = &col.type_name else { continue };
            if let Some(h) = hint(t, key) {
                let at = ctx.find_in(s, &col.colname).unwrap_or(s.start);
                out.push(Violation::at(
                    at,
                    col.colname.len(),
                    format!("column {}: {h}", col.colname),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::run;

    #[test]
    fn hints_at_each_type() {
        let found = run(
            &RULE,
            "CREATE TABLE t (id serial PRIMARY KEY, code char(3), name varchar(80), at timestamp, n int);\n\
             CREATE TABLE k (id integer, PRIMARY KEY (id));\n\
             CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');",
        );
        assert_eq!(found.len(), 6, "{found:?}");
    }

    #[test]
    fn stays_quiet_on_good_types() {
        assert!(run(
            &RULE,
            "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, code varchar, at timestamptz, n int);\n\
             CREATE TABLE settings (id int PRIMARY KEY CHECK (id = 1), v text);"
        )
        .is_empty());
    }
}
