//! `dangerous/disable-rls`: ALTER TABLE … DISABLE ROW LEVEL SECURITY.

use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

use crate::lint::{alter_cmds, Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/disable-rls",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "Disabling row level security exposes every row to every role with table access.",
    help: "change the policies instead (CREATE/ALTER POLICY); if this is intended, add `-- @allow: dangerous/disable-rls <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::AlterTableStmt(a) = &*s.node else {
            continue;
        };
        if alter_cmds(a).any(|c| {
            c.subtype == AlterTableType::AtDisableRowSecurity as i32
                || c.subtype == AlterTableType::AtNoForceRowSecurity as i32
        }) {
            let table = a
                .relation
                .as_ref()
                .map_or(String::new(), |r| r.relname.clone());
            let at = ctx
                .find_in(s, "disable")
                .or_else(|| ctx.find_in(s, "no force"))
                .unwrap_or(s.start);
            let len = ctx.sql()[at..s.end]
                .find("SECURITY")
                .or_else(|| ctx.sql()[at..s.end].find("security"))
                .map_or(7, |i| i + 8);
            out.push(Violation::at(
                at,
                len,
                format!("row level security is turned off on {table}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_it() {
        assert_eq!(
            run(&RULE, "ALTER TABLE t DISABLE ROW LEVEL SECURITY;"),
            ["DISABLE ROW LEVEL SECURITY"]
        );
        assert!(fires(&RULE, "ALTER TABLE t NO FORCE ROW LEVEL SECURITY;"));
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(&RULE, "ALTER TABLE t ENABLE ROW LEVEL SECURITY;"));
    }
}
