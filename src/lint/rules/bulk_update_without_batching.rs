//! `locking/bulk-update-without-batching`: UPDATE or DELETE over an existing table in one
//! statement: one long transaction that locks every row it touches.

use pg_query::NodeEnum;

use crate::lint::{json_has_key, to_json, Ctx, Family, Rule, Violation, ALWAYS_INFO};

pub const RULE: Rule = Rule {
    id: "locking/bulk-update-without-batching",
    family: Family::Locking,
    levels: ALWAYS_INFO,
    summary: "UPDATE/DELETE on an existing table in one statement locks every matching row until the migration commits.",
    help: "on large tables, change rows in batches (WHERE id IN (SELECT id … LIMIT 1000)) from a script; for small tables, add `-- @allow: locking/bulk-update-without-batching <why it is small>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let (rel, where_clause, verb) = match &*s.node {
            NodeEnum::UpdateStmt(u) => (&u.relation, &u.where_clause, "UPDATE"),
            NodeEnum::DeleteStmt(d) => (&d.relation, &d.where_clause, "DELETE"),
            _ => continue,
        };
        // No WHERE at all is the dangerous family's finding; a LIMIT in the WHERE is a batch.
        let Some(w) = where_clause else { continue };
        if ctx.existed_before(rel) && !json_has_key(&to_json(w), "limit_count") {
            let table = rel.as_ref().map_or(String::new(), |r| r.relname.clone());
            out.push(Violation::stmt(
                ctx,
                s,
                format!("{verb} of {table} runs as one batch"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_unbatched_changes() {
        assert_eq!(
            run(
                &RULE,
                "UPDATE users SET active = false WHERE last_login < now() - interval '1 year';"
            )
            .len(),
            1
        );
        assert!(fires(
            &RULE,
            "DELETE FROM events WHERE created_at < '2020-01-01';"
        ));
    }

    #[test]
    fn quiet_on_batches_new_tables_and_no_where() {
        assert!(!fires(&RULE, "UPDATE users SET active = false WHERE id IN (SELECT id FROM users WHERE x LIMIT 1000);"));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); UPDATE t SET a = 1 WHERE a IS NULL;"
        ));
        assert!(!fires(&RULE, "UPDATE users SET active = false;"));
    }
}
