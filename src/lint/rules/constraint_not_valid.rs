//! `locking/constraint-not-valid`: ADD CONSTRAINT … CHECK without NOT VALID checks every row
//! under an ACCESS EXCLUSIVE lock.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};

use crate::lint::{alter_existing, Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/constraint-not-valid",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "ADD CONSTRAINT … CHECK without NOT VALID scans an existing table under an exclusive lock.",
    help: "add it NOT VALID, then `ALTER TABLE … VALIDATE CONSTRAINT …` (which only needs a SHARE UPDATE EXCLUSIVE lock)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for (s, _, c) in
        alter_existing(ctx).filter(|(_, _, c)| c.subtype == AlterTableType::AtAddConstraint as i32)
    {
        let Some(N::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else {
            continue;
        };
        if k.contype == ConstrType::ConstrCheck as i32 && !k.skip_validation {
            let at = ctx.find_in(s, "check").unwrap_or(s.start);
            out.push(
                Violation::at(
                    at,
                    5,
                    format!(
                        "CHECK constraint {} is validated under an exclusive lock",
                        k.conname
                    ),
                )
                .fix("… NOT VALID; then ALTER TABLE … VALIDATE CONSTRAINT …;"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_without_not_valid() {
        assert_eq!(
            run(
                &RULE,
                "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0);"
            ),
            ["CHECK"]
        );
    }

    #[test]
    fn quiet_with_not_valid_or_on_new_tables() {
        assert!(!fires(
            &RULE,
            "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0) NOT VALID;"
        ));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);"
        ));
    }
}
