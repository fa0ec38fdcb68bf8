//! `locking/validate-in-same-migration`: `VALIDATE CONSTRAINT` in the same migration as the
//! `ADD … NOT VALID` it validates. pgshift runs a migration in one transaction, so the ADD's
//! ACCESS EXCLUSIVE lock is still held while VALIDATE scans the table: the split buys nothing.

use std::collections::HashSet;

use pg_query::protobuf::{node::Node as N, AlterTableType};
use pg_query::NodeEnum;

use crate::lint::{alter_cmds, Ctx, Family, QualName, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/validate-in-same-migration",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "VALIDATE CONSTRAINT in the migration that adds the constraint NOT VALID: one transaction holds the ADD's exclusive lock through the whole scan.",
    help: "move `ALTER TABLE … VALIDATE CONSTRAINT …` to the next migration: pgshift runs each migration in one transaction, so only a separate migration lets the ADD's lock go before the scan (VALIDATE alone takes SHARE UPDATE EXCLUSIVE, which lets reads and writes go on)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    // Without a transaction each statement commits alone: the split does what it should.
    if !ctx.in_one_transaction() {
        return;
    }
    let mut added_not_valid: HashSet<(QualName, String)> = HashSet::new();
    for s in ctx.statements() {
        // A table made by this migration is empty: its scan is instant.
        let NodeEnum::AlterTableStmt(a) = &*s.node else {
            continue;
        };
        if !ctx.existed_before(&a.relation) {
            continue;
        }
        let Some(rel) = &a.relation else { continue };
        let table = QualName::of(rel);
        for c in alter_cmds(a) {
            if c.subtype == AlterTableType::AtAddConstraint as i32 {
                if let Some(N::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) {
                    if k.skip_validation {
                        added_not_valid.insert((table.clone(), k.conname.clone()));
                    }
                }
            } else if c.subtype == AlterTableType::AtValidateConstraint as i32
                && added_not_valid.contains(&(table.clone(), c.name.clone()))
            {
                let at = ctx.find_in(s, "validate").unwrap_or(s.start);
                out.push(
                    Violation::at(
                        at,
                        "validate".len(),
                        format!(
                            "constraint {} on {table} is added NOT VALID and validated in the same migration: the table stays locked for the whole scan",
                            c.name
                        ),
                    )
                    .fix(format!(
                        "-- in the next migration:\nALTER TABLE {table} VALIDATE CONSTRAINT {};",
                        c.name
                    )),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run, run_set};

    #[test]
    fn fires_when_one_migration_adds_and_validates() {
        assert_eq!(
            run(
                &RULE,
                "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT positive;"
            ),
            ["VALIDATE"]
        );
        assert!(fires(
            &RULE,
            "ALTER TABLE public.orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID, VALIDATE CONSTRAINT fk;"
        ));
    }

    #[test]
    fn quiet_in_two_migrations_without_a_transaction_or_for_another_constraint() {
        let found = run_set(
            &RULE,
            &[
                (
                    "2026-01-01_a",
                    "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0) NOT VALID;",
                ),
                (
                    "2026-01-02_b",
                    "ALTER TABLE orders VALIDATE CONSTRAINT positive;",
                ),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
        assert!(!fires(
            &RULE,
            "-- @no-transaction\nALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT positive;"
        ));
        assert!(!fires(
            &RULE,
            "ALTER TABLE orders ADD CONSTRAINT a CHECK (total >= 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT b;\nALTER TABLE other VALIDATE CONSTRAINT a;"
        ));
    }

    /// `supabase db diff` adds every foreign key NOT VALID and validates it at once, also on
    /// the table it has just created: empty, so nothing is scanned.
    #[test]
    fn quiet_on_a_table_made_by_the_migration() {
        assert!(!fires(
            &RULE,
            "create table \"public\".\"comments\" (\"id\" bigint not null, \"task_id\" bigint not null);\nalter table \"public\".\"comments\" add constraint \"comments_task_id_fkey\" FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE not valid;\nalter table \"public\".\"comments\" validate constraint \"comments_task_id_fkey\";"
        ));
    }
}
