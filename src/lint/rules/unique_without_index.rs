//! `locking/unique-without-index`: `ADD CONSTRAINT … UNIQUE` or `PRIMARY KEY` on a table that
//! existed before this migration builds its index under an ACCESS EXCLUSIVE lock: no reads, no
//! writes until it is built.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};
use pg_query::NodeEnum;

use crate::lint::{alter_cmds, Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/unique-without-index",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "ADD UNIQUE or PRIMARY KEY without USING INDEX builds the index while the table is locked against reads and writes.",
    help: "build the index first with `CREATE UNIQUE INDEX CONCURRENTLY name ON table (…)` in a migration of its own, then `ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX name` (or PRIMARY KEY USING INDEX)",
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
            if c.subtype != AlterTableType::AtAddConstraint as i32 {
                continue;
            }
            let Some(N::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else {
                continue;
            };
            let kind = if k.contype == ConstrType::ConstrUnique as i32 {
                "UNIQUE"
            } else if k.contype == ConstrType::ConstrPrimary as i32 {
                "PRIMARY KEY"
            } else {
                continue;
            };
            if k.indexname.is_empty() {
                let table = a
                    .relation
                    .as_ref()
                    .map_or(String::new(), |r| r.relname.clone());
                let at = ctx.find_in(s, kind).unwrap_or(s.start);
                out.push(
                    Violation::at(
                        at,
                        kind.len(),
                        format!("ADD {kind} builds its index on {table} under an ACCESS EXCLUSIVE lock"),
                    )
                    .fix(format!("CREATE UNIQUE INDEX CONCURRENTLY … ; then ADD CONSTRAINT … {kind} USING INDEX …")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_without_using_index() {
        assert_eq!(
            run(
                &RULE,
                "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);"
            ),
            ["UNIQUE"]
        );
        assert!(fires(&RULE, "ALTER TABLE users ADD PRIMARY KEY (id);"));
    }

    #[test]
    fn stays_quiet_with_using_index_or_on_a_new_table() {
        assert!(!fires(
            &RULE,
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;"
        ));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (id int); ALTER TABLE t ADD PRIMARY KEY (id);"
        ));
    }
}
