//! `dangerous/add-required-column`: `ADD COLUMN … NOT NULL` without a default on a table that
//! existed before this migration fails as soon as the table holds a row, and the application's
//! inserts that do not know the column fail after it.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};
use pg_query::NodeEnum;

use crate::lint::{alter_cmds, Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/add-required-column",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "ADD COLUMN … NOT NULL without a DEFAULT fails on a table that holds rows, and breaks inserts that do not set it.",
    help: "give it a DEFAULT (a constant default is instant since PostgreSQL 11), or add it nullable, backfill, then SET NOT NULL through a NOT VALID check",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::AlterTableStmt(a) = &*s.node else {
            continue;
        };
        if !ctx.existed_before(&a.relation) {
            continue;
        }
        for c in alter_cmds(a) {
            if c.subtype != AlterTableType::AtAddColumn as i32 {
                continue;
            }
            let Some(N::ColumnDef(col)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else {
                continue;
            };
            let kinds: Vec<i32> = col
                .constraints
                .iter()
                .filter_map(|k| match &k.node {
                    Some(N::Constraint(k)) => Some(k.contype),
                    _ => None,
                })
                .collect();
            let not_null = col.is_not_null
                || kinds.contains(&(ConstrType::ConstrNotnull as i32))
                || kinds.contains(&(ConstrType::ConstrPrimary as i32));
            let filled = col.raw_default.is_some()
                || [
                    ConstrType::ConstrDefault,
                    ConstrType::ConstrIdentity,
                    ConstrType::ConstrGenerated,
                ]
                .iter()
                .any(|k| kinds.contains(&(*k as i32)));
            if not_null && !filled {
                let at = ctx.find_in(s, &col.colname).unwrap_or(s.start);
                out.push(Violation::at(
                    at,
                    col.colname.len(),
                    format!("column {} is NOT NULL with no DEFAULT: the ALTER fails if the table holds a row", col.colname),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_a_required_column_without_default() {
        assert_eq!(
            run(
                &RULE,
                "ALTER TABLE users ADD COLUMN tenant_id uuid NOT NULL;"
            ),
            ["tenant_id"]
        );
    }

    #[test]
    fn stays_quiet_with_a_default_an_identity_nullable_or_new_table() {
        assert!(!fires(
            &RULE,
            "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;"
        ));
        assert!(!fires(
            &RULE,
            "ALTER TABLE users ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY NOT NULL;"
        ));
        assert!(!fires(&RULE, "ALTER TABLE users ADD COLUMN nick text;"));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN x int NOT NULL;"
        ));
    }
}
