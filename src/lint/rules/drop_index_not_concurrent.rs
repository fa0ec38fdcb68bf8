//! `locking/drop-index-not-concurrent`: DROP INDEX without CONCURRENTLY takes an ACCESS
//! EXCLUSIVE lock on the index's table: reads and writes wait.

use pg_query::protobuf::{node::Node as N, ObjectType};
use pg_query::NodeEnum;

use crate::lint::{names, Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/drop-index-not-concurrent",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "DROP INDEX without CONCURRENTLY locks its table against reads and writes until it is done.",
    help: "use DROP INDEX CONCURRENTLY (pgshift then runs the file outside a transaction); put it in its own migration",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    // Indexes this migration creates: dropping them locks nothing anyone uses yet.
    let created: Vec<String> = ctx
        .statements()
        .iter()
        .filter_map(|s| match &*s.node {
            NodeEnum::IndexStmt(i) if !i.idxname.is_empty() => Some(i.idxname.clone()),
            _ => None,
        })
        .collect();
    for s in ctx.statements() {
        let NodeEnum::DropStmt(d) = &*s.node else {
            continue;
        };
        if d.remove_type != ObjectType::ObjectIndex as i32 || d.concurrent {
            continue;
        }
        let dropped: Vec<String> = d
            .objects
            .iter()
            .filter_map(|o| match &o.node {
                Some(N::List(l)) => names(&l.items).last().cloned(),
                _ => None,
            })
            .filter(|n| !created.contains(n))
            .collect();
        if !dropped.is_empty() {
            out.push(
                Violation::stmt(
                    ctx,
                    s,
                    format!(
                        "DROP INDEX {} locks its table against reads and writes",
                        dropped.join(", ")
                    ),
                )
                .fix("DROP INDEX CONCURRENTLY …".to_string()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::fires;

    #[test]
    fn fires_without_concurrently() {
        assert!(fires(&RULE, "DROP INDEX users_email_idx;"));
        assert!(fires(&RULE, "DROP INDEX IF EXISTS app.users_email_idx;"));
    }

    #[test]
    fn stays_quiet_concurrently_or_on_an_index_made_here() {
        assert!(!fires(&RULE, "DROP INDEX CONCURRENTLY users_email_idx;"));
        assert!(!fires(
            &RULE,
            "CREATE INDEX tmp_idx ON t (a); DROP INDEX tmp_idx;"
        ));
    }
}
