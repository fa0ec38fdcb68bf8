//! `secrets/literal-password`: a password written into CREATE/ALTER ROLE|USER.

use crate::lint::{def_elems, role_options, Ctx, Family, Rule, Violation, ALWAYS_ERROR};

pub const RULE: Rule = Rule {
    id: "secrets/literal-password",
    family: Family::Secrets,
    levels: ALWAYS_ERROR,
    summary: "A literal password in CREATE/ALTER ROLE|USER ends up in git, logs and backups.",
    help: "use a psql variable, `PASSWORD :'app_password'`, and set APP_PASSWORD in the environment (or pass --var app_password=…)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let Some((role, options)) = role_options(&s.node) else {
            continue;
        };
        for d in def_elems(options).filter(|d| d.defname == "password" && d.arg.is_some()) {
            // The value follows the PASSWORD keyword; a psql variable's value is fine.
            let kw = s.place(d.location).max(s.start);
            let rest = &ctx.sql()[kw..s.end];
            let after_kw = rest
                .to_ascii_lowercase()
                .find("password")
                .map_or(0, |i| i + 8);
            let value_at =
                kw + after_kw + (rest[after_kw..].len() - rest[after_kw..].trim_start().len());
            if ctx.file.sub.is_substituted(value_at) {
                continue;
            }
            let len = ctx.sql()[value_at..s.end]
                .find(|c: char| c.is_whitespace() || c == ';')
                .unwrap_or(s.end - value_at);
            out.push(
                Violation::at(
                    value_at,
                    len.max(1),
                    format!("the password of role {role} is written in the migration"),
                )
                .fix(format!(
                    "ALTER ROLE {role} WITH PASSWORD :'{role}_password'"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_the_guides_bad_example() {
        assert_eq!(
            run(&RULE, "CREATE USER admin WITH PASSWORD 'secret123';"),
            ["'secret123'"]
        );
        assert!(fires(
            &RULE,
            "ALTER ROLE app ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:abc';"
        ));
    }

    #[test]
    fn accepts_variables_and_null() {
        assert!(!fires(
            &RULE,
            "CREATE USER admin WITH PASSWORD :app_password;"
        ));
        assert!(!fires(
            &RULE,
            "ALTER ROLE admin WITH PASSWORD :'app_password';"
        ));
        assert!(!fires(
            &RULE,
            "ALTER ROLE admin PASSWORD NULL; CREATE ROLE r LOGIN;"
        ));
    }
}
