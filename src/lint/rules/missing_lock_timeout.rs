//! `locking/missing-lock-timeout`: DDL on an existing table with no `lock_timeout` set first:
//! while it waits for its lock, every query on that table queues behind it.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/missing-lock-timeout",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "DDL on an existing table without SET lock_timeout can stall all traffic on that table while it waits.",
    help: "start the file with `SET LOCAL lock_timeout = '5s';`, or set `[deploy] statement_lock_timeout` for every migration (5 s is the default in staging and production), so the migration fails fast instead of queueing every query behind it",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    // The deploy sets one for every migration (`[deploy] statement_lock_timeout`, 5 s by default
    // in staging and production).
    if ctx.lock_timeout_configured {
        return;
    }
    for s in ctx.statements() {
        let locks_existing = match &s.node {
            NodeEnum::VariableSetStmt(v) if v.name == "lock_timeout" => return,
            NodeEnum::AlterTableStmt(a) => ctx.existed_before(&a.relation),
            NodeEnum::IndexStmt(i) => !i.concurrent && ctx.existed_before(&i.relation),
            NodeEnum::CreateTrigStmt(t) => ctx.existed_before(&t.relation),
            NodeEnum::RenameStmt(r) => ctx.existed_before(&r.relation),
            NodeEnum::DropStmt(d) => {
                !d.concurrent
                    && (d.remove_type == ObjectType::ObjectTable as i32
                        || d.remove_type == ObjectType::ObjectIndex as i32)
            }
            _ => false,
        };
        if locks_existing {
            out.push(
                Violation::stmt(
                    ctx,
                    s,
                    "this statement locks an existing table, and no lock_timeout is set before it",
                )
                .fix("SET LOCAL lock_timeout = '5s';"),
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_once_per_file() {
        let found = run(
            &RULE,
            "ALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int;",
        );
        assert_eq!(found, ["ALTER TABLE users ADD COLUMN a int"]);
    }

    #[test]
    fn quiet_with_a_timeout_or_only_new_tables() {
        assert!(!fires(
            &RULE,
            "SET LOCAL lock_timeout = '5s'; ALTER TABLE users ADD COLUMN a int;"
        ));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); ALTER TABLE t ADD COLUMN b int; CREATE INDEX i ON t (a);"
        ));
    }
}
