//! `secrets/jwt`: a JSON Web Token (such as a Supabase anon or service_role key).

use std::sync::LazyLock;

use regex::Regex;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_ERROR};

pub const RULE: Rule = Rule {
    id: "secrets/jwt",
    family: Family::Secrets,
    levels: ALWAYS_ERROR,
    summary: "A JWT in a migration: Supabase service keys are JWTs that bypass row level security.",
    help: "remove the token and rotate it (Supabase: Settings → API → roll the JWT secret); pass keys at run time",
    check,
};

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
        .expect("valid regex")
});

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for m in JWT.find_iter(ctx.source()) {
        out.push(Violation::in_source(
            m.start(),
            m.len(),
            "a JSON Web Token is written in the migration",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_a_token() {
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.dGhpc2lzbm90YXJlYWxzaWc";
        assert_eq!(
            run(
                &RULE,
                &format!("SELECT set_config('app.key', '{token}', false);")
            ),
            [token]
        );
    }

    #[test]
    fn stays_quiet_on_ordinary_text() {
        assert!(!fires(
            &RULE,
            "INSERT INTO notes (body) VALUES ('eyJ is how base64 JSON starts');"
        ));
    }
}
