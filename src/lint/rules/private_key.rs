//! `secrets/private-key`: a private key block anywhere in the file (comments included).

use std::sync::LazyLock;

use regex::Regex;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_ERROR};

pub const RULE: Rule = Rule {
    id: "secrets/private-key",
    family: Family::Secrets,
    levels: ALWAYS_ERROR,
    summary: "A private key in a migration is a leaked key.",
    help: "remove the key, rotate it (it is in git history now), and load keys at run time from a secret store",
    check,
};

static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----")
        .expect("valid regex")
});

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for m in KEY.find_iter(ctx.source()) {
        out.push(Violation::in_source(
            m.start(),
            m.len(),
            "a private key is written in the migration",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_even_in_comments() {
        let sql = "-- -----BEGIN RSA PRIVATE KEY-----\nSELECT 1;";
        assert_eq!(run(&RULE, sql), ["-----BEGIN RSA PRIVATE KEY-----"]);
        assert!(fires(
            &RULE,
            "INSERT INTO k VALUES ('-----BEGIN OPENSSH PRIVATE KEY-----\nabc');"
        ));
    }

    #[test]
    fn stays_quiet_on_public_keys() {
        assert!(!fires(
            &RULE,
            "INSERT INTO k VALUES ('-----BEGIN PUBLIC KEY-----');"
        ));
    }
}
