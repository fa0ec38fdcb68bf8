//! `locking/set-not-null`: ALTER COLUMN … SET NOT NULL scans the whole table under an ACCESS
//! EXCLUSIVE lock.

use pg_query::protobuf::AlterTableType;

use crate::lint::{alter_existing, Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/set-not-null",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "SET NOT NULL on an existing table holds an ACCESS EXCLUSIVE lock while it scans every row.",
    help: "add `CHECK (col IS NOT NULL) NOT VALID`, VALIDATE CONSTRAINT in a later statement, then SET NOT NULL (PostgreSQL 12+ uses the check and skips the scan)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for (s, _, c) in
        alter_existing(ctx).filter(|(_, _, c)| c.subtype == AlterTableType::AtSetNotNull as i32)
    {
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
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_existing_tables() {
        assert_eq!(
            run(&RULE, "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
            ["SET NOT NULL"]
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
