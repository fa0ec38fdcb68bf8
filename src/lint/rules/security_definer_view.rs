//! `rls/security-definer-view`: a view in an exposed schema without `security_invoker`: it reads
//! its tables with its owner's rights, past their row level security (PostgreSQL 15+ offers
//! `WITH (security_invoker = on)`). The health check `security-definer-view` looks for the same
//! in the database.

use pg_query::NodeEnum;

use crate::lint::{
    def_bool, def_elems, def_string, Ctx, Family, QualName, Rule, Violation, ALWAYS_WARNING,
};

pub const RULE: Rule = Rule {
    id: "rls/security-definer-view",
    family: Family::Rls,
    levels: ALWAYS_WARNING,
    summary: "A view in an exposed schema runs with its owner's rights, so it bypasses the row level security of the tables it reads.",
    help: "create it `WITH (security_invoker = on)` (PostgreSQL 15+), so the caller's policies apply; or keep it in a schema the API does not expose",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::ViewStmt(v) = &*s.node else {
            continue;
        };
        let Some(rel) = &v.view else { continue };
        let t = QualName::of(rel);
        if ctx.exposure(&t.schema).is_none() {
            continue;
        }
        let invoker = def_elems(&v.options).any(|d| {
            d.defname == "security_invoker"
                && (def_bool(d) == Some(true)
                    || def_string(d).is_some_and(|s| {
                        matches!(s.to_ascii_lowercase().as_str(), "on" | "true" | "yes" | "1")
                    }))
        });
        if !invoker {
            out.push(
                Violation::stmt(
                    ctx,
                    s,
                    format!("view {t} is exposed and runs with its owner's rights"),
                )
                .fix(format!("CREATE VIEW {t} WITH (security_invoker = on) AS …")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::fires;

    #[test]
    fn fires_on_an_exposed_owner_rights_view() {
        assert!(fires(&RULE, "CREATE VIEW v AS SELECT 1 AS one;"));
    }

    #[test]
    fn stays_quiet_with_security_invoker_or_outside_the_exposed_schemas() {
        assert!(!fires(
            &RULE,
            "CREATE VIEW v WITH (security_invoker = on) AS SELECT 1 AS one;"
        ));
        assert!(!fires(
            &RULE,
            "CREATE VIEW v WITH (security_invoker = true) AS SELECT 1 AS one;"
        ));
        assert!(!fires(&RULE, "CREATE VIEW private.v AS SELECT 1 AS one;"));
    }
}
