//! `rls/enabled-without-policy`: row level security enabled on a table that no migration gives
//! a policy: every non-owner sees nothing.

use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

use crate::lint::{alter_cmds, Ctx, Family, QualName, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "rls/enabled-without-policy",
    family: Family::Rls,
    levels: DANGEROUS,
    summary: "Row level security enabled without any policy: the table looks empty to every role but its owner.",
    help: "add a policy (CREATE POLICY … ON … USING (…)); if the table must be closed to the API on purpose, say so with `-- @allow: rls/enabled-without-policy <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::AlterTableStmt(a) = &s.node else {
            continue;
        };
        let Some(rel) = &a.relation else { continue };
        if alter_cmds(a).any(|c| c.subtype == AlterTableType::AtEnableRowSecurity as i32) {
            let t = QualName::of(rel);
            if ctx.facts.policy_count(&t) == 0 {
                out.push(Violation::stmt(ctx, s, format!("row level security is enabled on {t}, but no migration creates a policy for it")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run_set};

    #[test]
    fn fires_without_a_policy() {
        assert!(fires(
            &RULE,
            "CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        ));
    }

    #[test]
    fn quiet_with_a_policy_in_any_migration() {
        let found = run_set(
            &RULE,
            &[
                (
                    "2026-01-01_a",
                    "CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY;",
                ),
                ("2026-01-02_b", "CREATE POLICY p ON t USING (true);"),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
