//! `rls/auth-users-exposed`: a view in an exposed schema that reads `auth.users` hands users'
//! e-mails and metadata to the API. The health check `auth-users-exposed` looks for the same in
//! the database.

use pg_query::{NodeEnum, NodeRef};

use crate::lint::{Ctx, Family, QualName, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "rls/auth-users-exposed",
    family: Family::Rls,
    levels: DANGEROUS,
    summary: "A view in an exposed schema reads auth.users: user e-mails and metadata become readable through the API.",
    help: "keep what the API may show in a table of your own (a `profiles` table filled by a trigger on auth.users), or put the view in a schema the API does not expose",
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
        let reads_users = s.node.nodes().iter().any(|(n, ..)| {
            matches!(n, NodeRef::RangeVar(r) if r.schemaname == "auth" && r.relname == "users")
        });
        if reads_users {
            let at = ctx.find_in(s, "auth.users").unwrap_or(s.start);
            out.push(Violation::at(
                at,
                "auth.users".len(),
                format!("view {t} is exposed and reads auth.users"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_an_exposed_view_over_auth_users() {
        assert_eq!(
            run(&RULE, "CREATE VIEW emails AS SELECT u.email FROM public.profiles p JOIN auth.users u ON u.id = p.id;"),
            ["auth.users"]
        );
    }

    #[test]
    fn stays_quiet_elsewhere() {
        assert!(!fires(
            &RULE,
            "CREATE VIEW private.emails AS SELECT email FROM auth.users;"
        ));
        assert!(!fires(
            &RULE,
            "CREATE VIEW names AS SELECT username FROM public.profiles;"
        ));
    }
}
