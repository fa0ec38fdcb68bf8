//! `secrets/cloud-token`: AWS, GCP, Stripe, GitHub and Slack credentials by their shapes.

use std::sync::LazyLock;

use regex::Regex;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_ERROR};

pub const RULE: Rule = Rule {
    id: "secrets/cloud-token",
    family: Family::Secrets,
    levels: ALWAYS_ERROR,
    summary: "An AWS, GCP, Stripe, GitHub or Slack credential in a migration.",
    help: "remove the credential and revoke it at the provider (it is in git history now); load credentials at run time",
    check,
};

/// Each provider's token, by name.
const TOKENS: [(&str, &str); 6] = [
    ("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("a Stripe live key", r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b"),
    (
        "a GitHub token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b",
    ),
    ("a Slack token", r"\bxox[abposr]-[0-9A-Za-z-]{10,}\b"),
    (
        "a Slack webhook",
        r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}",
    ),
];

/// Every token in one pattern, each its own group: the text (a data file's megabytes too) is
/// read once, not once per provider.
static ANY: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<String> = TOKENS.iter().map(|(_, re)| format!("({re})")).collect();
    Regex::new(&alternatives.join("|")).expect("valid regex")
});

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for c in ANY.captures_iter(ctx.source()) {
        // The group that matched names the provider.
        let Some((i, m)) = (1..=TOKENS.len()).find_map(|i| c.get(i).map(|m| (i, m))) else {
            continue;
        };
        out.push(Violation::in_source(
            m.start(),
            m.len(),
            format!("{} is written in the migration", TOKENS[i - 1].0),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_each_provider() {
        assert_eq!(
            run(&RULE, "-- AKIAIOSFODNN7EXAMPLE\nSELECT 1;"),
            ["AKIAIOSFODNN7EXAMPLE"]
        );
        for token in [
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdefghij",
        ] {
            assert!(
                fires(&RULE, &format!("INSERT INTO s (v) VALUES ('{token}');")),
                "{token}"
            );
        }
    }

    #[test]
    fn stays_quiet_on_test_keys_and_words() {
        assert!(!fires(
            &RULE,
            "INSERT INTO s (v) VALUES ('sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'AKIA is a prefix');"
        ));
    }
}
