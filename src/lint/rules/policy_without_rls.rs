//! `rls/policy-without-rls`: a policy on a table the set creates and never enables row level
//! security on: the policy does nothing, and the author believes rows are guarded. The health
//! check `policy-without-rls` looks for the same in the database.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, QualName, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "rls/policy-without-rls",
    family: Family::Rls,
    levels: DANGEROUS,
    summary: "A policy on a table whose row level security is never enabled: the policy has no effect.",
    help: "add `ALTER TABLE … ENABLE ROW LEVEL SECURITY;` (in this migration or one before the API can reach the table)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::CreatePolicyStmt(p) = &*s.node else {
            continue;
        };
        let Some(rel) = &p.table else { continue };
        let t = QualName::of(rel);
        // A table the set does not create may have RLS from elsewhere (storage.objects).
        if ctx.facts.created_by(&t).is_some()
            && !ctx.facts.rls_enabled(&t)
            && !ctx.facts.dropped(&t)
        {
            out.push(Violation::stmt(
                ctx,
                s,
                format!(
                    "policy {} on {t} does nothing: no migration enables row level security on {t}",
                    p.policy_name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run_set};

    #[test]
    fn fires_when_rls_is_never_enabled() {
        assert!(fires(
            &RULE,
            "CREATE TABLE t (id int); CREATE POLICY p ON t USING (true);"
        ));
    }

    #[test]
    fn stays_quiet_when_enabled_later_in_the_set_or_on_a_table_from_elsewhere() {
        assert!(run_set(
            &RULE,
            &[
                (
                    "2026-01-01_a",
                    "CREATE TABLE t (id int); CREATE POLICY p ON t USING (true);"
                ),
                ("2026-01-02_b", "ALTER TABLE t ENABLE ROW LEVEL SECURITY;"),
            ]
        )
        .is_empty());
        assert!(!fires(
            &RULE,
            "CREATE POLICY p ON storage.objects USING (true);"
        ));
    }
}
