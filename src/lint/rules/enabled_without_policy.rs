//! `rls/enabled-without-policy`: row level security enabled on a table that no migration gives
//! a policy: every non-owner sees nothing. That is a deliberate lock ("deny-all") on tables no
//! API role may touch, such as a platform's own bookkeeping: a warning only where the set also
//! grants the table to PUBLIC or an API role (who then sees an empty table), else info.

use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

use crate::diagnostic::Level;
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
        let NodeEnum::AlterTableStmt(a) = &*s.node else {
            continue;
        };
        let Some(rel) = &a.relation else { continue };
        if alter_cmds(a).any(|c| c.subtype == AlterTableType::AtEnableRowSecurity as i32) {
            let t = QualName::of(rel);
            if ctx.facts.policy_count(&t) > 0 {
                continue;
            }
            if ctx.facts.granted_to_api(&t) {
                out.push(Violation::stmt(ctx, s, format!("row level security is enabled on {t}, which the set grants to an API role, but no migration creates a policy for it: that role sees an empty table")));
            } else {
                out.push(
                    Violation::stmt(ctx, s, format!("{t} is deny-all: row level security is on and no migration creates a policy, so only its owner sees rows (nothing grants it to an API role)"))
                        .level(Level::Info),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run_set};

    #[test]
    fn warns_without_a_policy_on_a_table_granted_to_an_api_role() {
        assert!(fires(
            &RULE,
            "CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY; GRANT SELECT ON t TO anon;"
        ));
        assert!(fires(
            &RULE,
            "CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY; GRANT SELECT ON ALL TABLES IN SCHEMA public TO authenticated;"
        ));
    }

    #[test]
    fn deny_all_tables_no_api_role_is_given_are_info() {
        let found = levels(
            "CREATE TABLE audit (id int); ALTER TABLE audit ENABLE ROW LEVEL SECURITY; GRANT SELECT ON audit TO auditor;",
        );
        assert_eq!(found, [Some(Level::Info)]);
        let found = levels(
            "CREATE TABLE t (id int); ALTER TABLE t ENABLE ROW LEVEL SECURITY; GRANT SELECT ON t TO anon;",
        );
        assert_eq!(found, [None]);
    }

    fn levels(sql: &str) -> Vec<Option<Level>> {
        crate::lint::rules::testing::violations(&RULE, sql)
            .into_iter()
            .map(|v| v.level)
            .collect()
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
