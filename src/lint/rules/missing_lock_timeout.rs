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
    help: "start the file with `SET LOCAL lock_timeout = '5s';`, or give `[deploy] statement_lock_timeout` a duration instead of 0 (pgshift sets 5 s for every migration in staging and production unless it is 0), so the migration fails fast instead of queueing every query behind it",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    // The deploys that meet traffic set one for every migration (`[deploy]
    // statement_lock_timeout`, 5 s by default in staging and production).
    if ctx.lock_timeout_configured {
        return;
    }
    for s in ctx.statements() {
        let locks_existing = match &*s.node {
            NodeEnum::VariableSetStmt(v) if v.name == "lock_timeout" => {
                // `SET lock_timeout = 0` (pg_dump's preamble) turns it off.
                if turns_off(v) {
                    continue;
                }
                return;
            }
            NodeEnum::SelectStmt(_)
                if sets_lock_timeout(&s.text(ctx.sql()).to_ascii_lowercase()) =>
            {
                return
            }
            // ADD/DROP CONSTRAINT, ENABLE/DISABLE ROW LEVEL SECURITY, … are ALTER TABLEs.
            NodeEnum::AlterTableStmt(a) => ctx.existed_before(&a.relation),
            // Policies take an ACCESS EXCLUSIVE lock on their table.
            NodeEnum::CreatePolicyStmt(p) => ctx.existed_before(&p.table),
            NodeEnum::AlterPolicyStmt(p) => ctx.existed_before(&p.table),
            NodeEnum::IndexStmt(i) => !i.concurrent && ctx.existed_before(&i.relation),
            NodeEnum::CreateTrigStmt(t) => ctx.existed_before(&t.relation),
            NodeEnum::RenameStmt(r) => ctx.existed_before(&r.relation),
            NodeEnum::DropStmt(d) => {
                !d.concurrent
                    && (d.remove_type == ObjectType::ObjectTable as i32
                        || d.remove_type == ObjectType::ObjectIndex as i32
                        || ((d.remove_type == ObjectType::ObjectPolicy as i32
                            || d.remove_type == ObjectType::ObjectTrigger as i32)
                            && d.objects.iter().any(|o| on_existing_table(ctx, o))))
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

/// `SET lock_timeout = 0` (or `'0'`, `'0s'`, DEFAULT, RESET: the server's default is off).
fn turns_off(v: &pg_query::protobuf::VariableSetStmt) -> bool {
    use pg_query::protobuf::{a_const::Val, node::Node as N};
    let Some(N::AConst(c)) = v.args.first().and_then(|a| a.node.as_ref()) else {
        return true;
    };
    match &c.val {
        Some(Val::Ival(i)) => i.ival == 0,
        Some(Val::Sval(s)) => s
            .sval
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .trim()
            .parse::<f64>()
            .is_ok_and(|n| n == 0.0),
        _ => false,
    }
}

/// `SELECT set_config('lock_timeout', …)`.
fn sets_lock_timeout(text: &str) -> bool {
    text.contains("set_config") && text.contains("lock_timeout")
}

/// Whether the table of `DROP POLICY|TRIGGER name ON table` existed before this migration.
fn on_existing_table(ctx: &Ctx, object: &pg_query::protobuf::Node) -> bool {
    let Some(pg_query::protobuf::node::Node::List(l)) = &object.node else {
        return false;
    };
    let parts = crate::lint::names(&l.items);
    let table = match parts.as_slice() {
        [table, _name] => crate::lint::QualName {
            schema: "public".into(),
            name: table.clone(),
        },
        [.., schema, table, _name] => crate::lint::QualName {
            schema: schema.clone(),
            name: table.clone(),
        },
        _ => return false,
    };
    !ctx.created_here.contains(&table)
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
    fn fires_on_policy_and_trigger_ddl_on_existing_tables() {
        for sql in [
            "CREATE POLICY p ON profiles USING (true);",
            "ALTER POLICY p ON profiles USING (false);",
            "DROP POLICY p ON public.profiles;",
            "DROP TRIGGER t ON profiles;",
            "ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;",
            "ALTER TABLE profiles DROP CONSTRAINT c;",
        ] {
            assert!(fires(&RULE, sql), "{sql}");
        }
    }

    #[test]
    fn quiet_with_set_config_or_on_tables_made_here() {
        assert!(!fires(
            &RULE,
            "SELECT set_config('lock_timeout', '5s', true); CREATE POLICY p ON profiles USING (true);"
        ));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); CREATE POLICY p ON t USING (true); DROP POLICY p ON t; DROP TRIGGER x ON t;"
        ));
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

    /// pg_dump's preamble turns the timeout off: that is no timeout.
    #[test]
    fn fires_after_a_timeout_turned_off() {
        for off in [
            "SET lock_timeout = 0;",
            "SET lock_timeout = '0s';",
            "RESET lock_timeout;",
        ] {
            let sql = format!("{off} ALTER TABLE users ADD COLUMN a int;");
            assert!(fires(&RULE, &sql), "{off}");
        }
        assert!(!fires(
            &RULE,
            "SET lock_timeout = 0; SET lock_timeout = '2s'; ALTER TABLE users ADD COLUMN a int;"
        ));
    }
}
