//! `locking/alter-column-type`: ALTER COLUMN … TYPE usually rewrites the table and its indexes
//! under an ACCESS EXCLUSIVE lock.

use pg_query::protobuf::AlterTableType;

use crate::lint::{alter_existing, Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/alter-column-type",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "ALTER COLUMN … TYPE rewrites an existing table and its indexes while holding an exclusive lock.",
    help: "add a new column, backfill it in batches, switch the code, then drop the old column; some changes (varchar(n) → text) skip the rewrite: add `-- @allow: locking/alter-column-type <reason>` for those",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for (s, _, c) in alter_existing(ctx)
        .filter(|(_, _, c)| c.subtype == AlterTableType::AtAlterColumnType as i32)
    {
        let at = ctx.find_in(s, "type").unwrap_or(s.start);
        out.push(Violation::at(
            at,
            4,
            format!(
                "changing the type of {} rewrites the table under an exclusive lock",
                c.name
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_existing_tables() {
        assert_eq!(
            run(&RULE, "ALTER TABLE users ALTER COLUMN id TYPE bigint;"),
            ["TYPE"]
        );
    }

    #[test]
    fn quiet_on_new_tables() {
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); ALTER TABLE t ALTER COLUMN a TYPE bigint;"
        ));
    }
}
