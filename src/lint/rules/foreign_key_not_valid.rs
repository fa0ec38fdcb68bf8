//! `locking/foreign-key-not-valid`: a foreign key added to an existing table without NOT VALID
//! locks both tables while every row is checked.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};

use crate::lint::{alter_existing, Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/foreign-key-not-valid",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "FOREIGN KEY on an existing table without NOT VALID blocks writes to both tables while it checks every row.",
    help: "add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later statement",
    check,
};

fn is_unchecked_fk(node: Option<&N>) -> bool {
    matches!(node, Some(N::Constraint(k)) if k.contype == ConstrType::ConstrForeign as i32 && !k.skip_validation)
}

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for (s, _, c) in alter_existing(ctx) {
        let def = c.def.as_ref().and_then(|d| d.node.as_ref());
        let hit = if c.subtype == AlterTableType::AtAddConstraint as i32 {
            is_unchecked_fk(def)
        } else if c.subtype == AlterTableType::AtAddColumn as i32 {
            matches!(def, Some(N::ColumnDef(col)) if col.constraints.iter().any(|k| is_unchecked_fk(k.node.as_ref())))
        } else {
            false
        };
        if hit {
            let at = ctx.find_in(s, "references").unwrap_or(s.start);
            out.push(
                Violation::at(
                    at,
                    "references".len(),
                    "the foreign key is validated while both tables are locked",
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
                "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);"
            ),
            ["REFERENCES"]
        );
        assert!(fires(
            &RULE,
            "ALTER TABLE orders ADD COLUMN user_id int REFERENCES users (id);"
        ));
    }

    #[test]
    fn quiet_with_not_valid_or_on_new_tables() {
        assert!(!fires(&RULE, "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;"));
        assert!(!fires(&RULE, "CREATE TABLE t (u int REFERENCES users (id)); ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id);"));
    }
}
