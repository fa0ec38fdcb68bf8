//! `locking/domain-check`: `ALTER DOMAIN … ADD CONSTRAINT … CHECK` (without NOT VALID) checks
//! every column of every table that uses the domain, under lock; and a CHECK on a domain
//! cannot be changed later without that same scan.

use pg_query::protobuf::{node::Node as N, ConstrType};
use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/domain-check",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "A CHECK added to a domain scans every table that uses the domain while it holds locks on them.",
    help: "add it `NOT VALID`, then `ALTER DOMAIN … VALIDATE CONSTRAINT` in a later migration; or put the CHECK on the table's columns, where it can be added NOT VALID and validated without blocking writes",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::AlterDomainStmt(d) = &*s.node else {
            continue;
        };
        // subtype 'C': ADD CONSTRAINT.
        if d.subtype != "C" {
            continue;
        }
        let Some(N::Constraint(k)) = d.def.as_ref().and_then(|n| n.node.as_ref()) else {
            continue;
        };
        if k.contype == ConstrType::ConstrCheck as i32 && !k.skip_validation {
            let name = d
                .type_name
                .iter()
                .filter_map(|n| match &n.node {
                    Some(N::String(s)) => Some(s.sval.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(".");
            out.push(
                Violation::stmt(ctx, s, format!("the CHECK added to domain {name} scans every column of that type, under lock"))
                    .fix("ALTER DOMAIN … ADD CONSTRAINT … CHECK (…) NOT VALID;".to_string()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::fires;

    #[test]
    fn fires_on_a_validated_domain_check() {
        assert!(fires(
            &RULE,
            "ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE LIKE '%@%');"
        ));
    }

    #[test]
    fn stays_quiet_when_not_valid_or_not_a_check() {
        assert!(!fires(
            &RULE,
            "ALTER DOMAIN email ADD CONSTRAINT email_at CHECK (VALUE LIKE '%@%') NOT VALID;"
        ));
        assert!(!fires(&RULE, "ALTER DOMAIN email SET NOT NULL;"));
    }
}
