//! `hygiene/unindexed-foreign-key`: a foreign key on a table of the set whose columns lead no
//! index anywhere in the set: every delete (or key update) on the referenced table scans this
//! one. The health check `unindexed-foreign-keys` looks for the same in the database.

use crate::lint::keys::foreign_keys;
use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_INFO};

pub const RULE: Rule = Rule {
    id: "hygiene/unindexed-foreign-key",
    family: Family::Hygiene,
    levels: ALWAYS_INFO,
    summary: "A foreign key whose columns lead no index: each delete on the referenced table scans the referencing one.",
    help: "index the foreign key's columns (`CREATE INDEX … ON table (columns)`; CONCURRENTLY, in a migration of its own, on a table that already holds data)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        for fk in foreign_keys(&s.node) {
            // Only tables the set creates: the indexes of others are not known here.
            if ctx.facts.created_by(&fk.table).is_none()
                || ctx.facts.dropped(&fk.table)
                || fk.columns.is_empty()
                || ctx.facts.indexed(&fk.table, &fk.columns)
            {
                continue;
            }
            let cols = fk.columns.join(", ");
            let at = fk
                .location
                .map(|l| s.base + l)
                .filter(|l| (s.start..s.end).contains(l))
                .or_else(|| ctx.find_in(s, "references"))
                .unwrap_or(s.start);
            let len = ctx.sql()[at..s.end].find([',', '\n']).unwrap_or(s.end - at);
            out.push(
                Violation::at(
                    at,
                    len,
                    format!(
                        "foreign key {} ({cols}) to {} has no index starting with its columns",
                        fk.table, fk.references
                    ),
                )
                .fix(format!("CREATE INDEX ON {} ({cols});", fk.table)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run_set};

    #[test]
    fn fires_without_an_index() {
        assert!(fires(
            &RULE,
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p);"
        ));
        assert!(fires(
            &RULE,
            "CREATE TABLE c (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES p (x, y)); CREATE INDEX ON c (a);"
        ));
    }

    #[test]
    fn stays_quiet_with_an_index_anywhere_in_the_set() {
        assert!(run_set(
            &RULE,
            &[
                (
                    "2026-01-01_a",
                    "CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p);"
                ),
                ("2026-01-02_b", "CREATE INDEX c_p ON c (p_id, id);"),
            ]
        )
        .is_empty());
        // The primary key leads with it.
        assert!(!fires(
            &RULE,
            "CREATE TABLE profiles (id uuid PRIMARY KEY REFERENCES auth.users (id));"
        ));
        // A table the set does not create.
        assert!(!fires(
            &RULE,
            "ALTER TABLE old ADD FOREIGN KEY (p_id) REFERENCES p;"
        ));
    }
}
