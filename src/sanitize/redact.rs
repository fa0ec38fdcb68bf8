//! Secrets never leave pgshift: every password and psql variable value pgshift learns is
//! remembered here, and every text that goes to the terminal, a log, a report or the tracking
//! tables passes through [`redact`], which replaces each of them by `***`.
//!
//! The set is process-wide on purpose: a secret learnt anywhere (the connection string, a
//! password file, a migration's variables) is hidden everywhere, including on paths that did
//! not know about it. It only grows.

use std::borrow::Cow;
use std::sync::RwLock;

/// Shorter values (`1`, `on`) would blank out ordinary words of every message.
pub const MIN_LEN: usize = 3;

/// What replaces a secret.
pub const MASK: &str = "***";

/// Every form of every secret, longest first (so that a secret containing another is masked
/// whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The forms a secret takes in text: as written, quoted as an SQL literal or identifier (a
/// server message can quote the statement), percent-encoded (in a URL) and JSON-escaped.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![
        secret.to_string(),
        secret.replace('\'', "''"),
        secret.replace('"', "\"\""),
        secret.replace('\\', "\\\\"),
    ];
    let percent: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    out.push(percent);
    if let Ok(json) = serde_json::to_string(secret) {
        out.push(json[1..json.len() - 1].to_string());
    }
    out.sort();
    out.dedup();
    out
}

/// Remembers a secret: from now on [`redact`] hides it. Values shorter than [`MIN_LEN`]
/// characters are not secrets worth masking (they would mask ordinary words).
pub fn remember(secret: &str) {
    if secret.chars().count() < MIN_LEN {
        return;
    }
    let Ok(mut all) = SECRETS.write() else {
        return;
    };
    let mut changed = false;
    for f in forms(secret) {
        if !all.contains(&f) {
            all.push(f);
            changed = true;
        }
    }
    if changed {
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Whether no secret is known yet (nothing to mask).
pub fn nothing_to_hide() -> bool {
    SECRETS.read().is_ok_and(|all| all.is_empty())
}

/// Whether `text` holds a remembered secret.
pub fn holds_secret(text: &str) -> bool {
    !nothing_to_hide() && matches!(redact(text), Cow::Owned(_))
}

/// `PASSWORD 'literal'` in SQL (CREATE/ALTER ROLE|USER, also `ENCRYPTED PASSWORD` and
/// E-strings): the literal is a secret whoever wrote it.
fn password_literal() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"(?i)(\bPASSWORD\s+[E]?)'(?:[^'\\]|''|\\.)*'").expect("a valid pattern")
    })
}

/// `text` with every remembered secret, and every SQL `PASSWORD '…'` literal, replaced by
/// `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let Ok(all) = SECRETS.read() else {
        // A poisoned lock means a panic elsewhere; print nothing that may hold a secret.
        return Cow::Borrowed(MASK);
    };
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), MASK));
        }
    }
    if let Cow::Owned(masked) = password_literal().replace_all(&out, "$1'***'") {
        out = Cow::Owned(masked);
    }
    out
}

/// [`redact`] for an owned string.
pub fn redact_string(text: String) -> String {
    match redact(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => s,
    }
}

/// [`redact`] inside every string of a JSON value (keys included).
pub fn redact_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_json),
        Value::Object(o) => {
            let entries = std::mem::take(o);
            for (k, mut val) in entries {
                redact_json(&mut val);
                o.insert(redact_string(k), val);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_secrets_are_masked_in_every_form() {
        remember("s3cr'et\"pw@x");
        assert_eq!(redact("password s3cr'et\"pw@x here"), "password *** here");
        assert_eq!(redact("near 's3cr''et\"pw@x'"), "near '***'");
        assert_eq!(redact("\"s3cr'et\"\"pw@x\""), "\"***\"");
        assert_eq!(redact("u:s3cr%27et%22pw%40x@h"), "u:***@h");
        assert_eq!(redact(r#"{"m":"s3cr'et\"pw@x"}"#), r#"{"m":"***"}"#);
    }

    #[test]
    fn short_values_are_not_secrets_and_other_text_is_borrowed() {
        remember("on");
        assert_eq!(redact("turned on"), "turned on");
        assert!(matches!(redact("nothing to hide"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_holding_another_is_masked_whole() {
        remember("abcd");
        remember("abcdefgh-long");
        assert_eq!(redact("x abcdefgh-long y abcd"), "x *** y ***");
    }

    #[test]
    fn password_literals_in_sql_are_masked() {
        assert_eq!(
            redact("CREATE ROLE app LOGIN PASSWORD 'p@ss''word';"),
            "CREATE ROLE app LOGIN PASSWORD '***';"
        );
        assert_eq!(
            redact("alter user x with encrypted password E'a\\'b' valid until 'x'"),
            "alter user x with encrypted password E'***' valid until 'x'"
        );
        assert_eq!(
            redact("password authentication failed"),
            "password authentication failed"
        );
        assert_eq!(
            redact("ALTER ROLE x PASSWORD NULL"),
            "ALTER ROLE x PASSWORD NULL"
        );
    }

    #[test]
    fn json_values_are_redacted_in_place() {
        remember("json-secret-9");
        let mut v = serde_json::json!({"a": ["json-secret-9 x"], "json-secret-9": 1});
        redact_json(&mut v);
        assert_eq!(v, serde_json::json!({"a": ["*** x"], "***": 1}));
    }
}
