//! `dangerous/superuser-role`: a role made SUPERUSER or BYPASSRLS.

use crate::lint::{def_bool, def_elems, role_options, Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/superuser-role",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "CREATE/ALTER ROLE … SUPERUSER or BYPASSRLS: a role that ignores every permission or every policy.",
    help: "grant the specific privileges the role needs instead; if this is intended, add `-- @allow: dangerous/superuser-role <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let Some((role, options)) = role_options(&s.node) else {
            continue;
        };
        for d in def_elems(options) {
            if matches!(d.defname.as_str(), "superuser" | "bypassrls") && def_bool(d) == Some(true)
            {
                let what = d.defname.to_uppercase();
                let at = ctx.find_in(s, &what).unwrap_or(s.start);
                out.push(Violation::at(
                    at,
                    what.len(),
                    format!("role {role} gets {what}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_it() {
        assert_eq!(run(&RULE, "ALTER ROLE app WITH SUPERUSER;"), ["SUPERUSER"]);
        assert_eq!(
            run(&RULE, "CREATE ROLE etl LOGIN BYPASSRLS;"),
            ["BYPASSRLS"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(
            &RULE,
            "ALTER ROLE app NOSUPERUSER NOBYPASSRLS; CREATE ROLE r LOGIN;"
        ));
    }
}
