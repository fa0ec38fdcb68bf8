//! `secrets/connection-string`: a URL with a password in it (`postgres://user:pw@host`).

use std::sync::LazyLock;

use regex::Regex;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_ERROR};

pub const RULE: Rule = Rule {
    id: "secrets/connection-string",
    family: Family::Secrets,
    levels: ALWAYS_ERROR,
    summary: "A connection string with a password in a migration.",
    help: "remove the password from the URL and pass it at run time (a psql variable, or the server's configuration)",
    check,
};

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@'\x22]+:([^\s@'\x22]+)@[^\s'\x22]+")
        .expect("valid regex")
});

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for c in URL.captures_iter(ctx.source()) {
        let password = &c[1];
        // Placeholders such as ${DB_PASSWORD}, <password> or *** are not secrets.
        let placeholder = password.contains("${")
            || password.starts_with('<')
            || password.starts_with(':')
            || password.chars().all(|c| c == '*' || c == 'x');
        if !placeholder {
            let m = c.get(0).expect("whole match");
            out.push(Violation::in_source(
                m.start(),
                m.len(),
                "a connection string with a password is written in the migration",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_urls_with_passwords() {
        assert_eq!(
            run(&RULE, "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dsn 'postgres://etl:hunter2@db.internal/prod');"),
            ["postgres://etl:hunter2@db.internal/prod"]
        );
    }

    #[test]
    fn stays_quiet_without_password_or_with_placeholders() {
        assert!(!fires(&RULE, "SELECT 'https://example.com/docs', 'postgres://etl@db/prod', 'postgres://u:${PW}@h/d', 'redis://u:***@h';"));
    }
}
