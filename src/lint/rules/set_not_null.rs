//! `locking/set-not-null`: ALTER COLUMN … SET NOT NULL scans the whole table under an ACCESS
//! EXCLUSIVE lock.

use pg_query::protobuf::AlterTableType;

use std::collections::HashSet;

use crate::lint::{alter_existing, Ctx, Family, QualName, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/set-not-null",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "SET NOT NULL on an existing table holds an ACCESS EXCLUSIVE lock while it scans every row.",
    help: "add `CHECK (col IS NOT NULL) NOT VALID`, VALIDATE CONSTRAINT in a later statement, then SET NOT NULL (PostgreSQL 12+ uses the check and skips the scan)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    let version = ctx.migration.version.as_str();
    // Columns whose `CHECK (col IS NOT NULL)` this migration has validated (or added valid) so
    // far: a later SET NOT NULL uses it and skips the scan.
    let mut checked: HashSet<(QualName, String)> = HashSet::new();
    for (s, a, c) in alter_existing(ctx) {
        let Some(rel) = &a.relation else { continue };
        let table = QualName::of(rel);
        if c.subtype == AlterTableType::AtValidateConstraint as i32 {
            if let Some(column) = ctx.facts.not_null_check(&table, &c.name) {
                checked.insert((table, column.to_string()));
            }
            continue;
        }
        if c.subtype == AlterTableType::AtAddConstraint as i32 {
            if let Some(pg_query::protobuf::node::Node::Constraint(k)) =
                c.def.as_ref().and_then(|d| d.node.as_ref())
            {
                match ctx.facts.not_null_check(&table, &k.conname) {
                    Some(column) if !k.skip_validation => {
                        checked.insert((table, column.to_string()));
                    }
                    _ => {}
                }
            }
            continue;
        }
        if c.subtype != AlterTableType::AtSetNotNull as i32
            || checked.contains(&(table.clone(), c.name.clone()))
            || ctx.facts.not_null_valid_before(&table, &c.name, version)
        {
            continue;
        }
        let at = ctx.find_in(s, "set not null").unwrap_or(s.start);
        out.push(
            Violation::at(
                at,
                "set not null".len(),
                format!(
                    "SET NOT NULL on {} scans the table under an exclusive lock",
                    c.name
                ),
            )
            .fix(format!(
                "ALTER TABLE … ADD CONSTRAINT {0}_not_null CHECK ({0} IS NOT NULL) NOT VALID;",
                c.name
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, messages, run};

    #[test]
    fn fires_on_existing_tables() {
        assert_eq!(
            run(&RULE, "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
            ["SET NOT NULL"]
        );
    }

    /// The way the help gives: a valid CHECK (col IS NOT NULL) first, in an earlier migration
    /// or earlier in this one.
    #[test]
    fn quiet_after_a_valid_not_null_check() {
        let found = messages(
            &RULE,
            &[
                ("2026-01-01_t", "CREATE TABLE t (a int, b int, c int);"),
                (
                    "2026-01-02_checks",
                    "ALTER TABLE t ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;\nALTER TABLE t ADD CONSTRAINT b_nn CHECK (b IS NOT NULL) NOT VALID;\nALTER TABLE t ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID;",
                ),
                ("2026-01-03_validate", "ALTER TABLE t VALIDATE CONSTRAINT a_nn;"),
                (
                    "2026-01-04_set",
                    "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\nALTER TABLE t VALIDATE CONSTRAINT b_nn;\nALTER TABLE t ALTER COLUMN b SET NOT NULL;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;",
                ),
            ],
            false,
        );
        // c's check was never validated: its SET NOT NULL still scans.
        assert_eq!(
            found,
            ["SET NOT NULL on c scans the table under an exclusive lock"]
        );
    }

    #[test]
    fn quiet_on_new_tables_and_drop_not_null() {
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); ALTER TABLE t ALTER COLUMN a SET NOT NULL;"
        ));
        assert!(!fires(
            &RULE,
            "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;"
        ));
    }
}
