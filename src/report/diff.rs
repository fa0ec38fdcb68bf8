//! `diff` and `drift` as people and programs read them: grouped by "only in FROM", "only in
//! TO" and "different" (drift names them "made by hand", "dropped by hand", "different"),
//! each object with its schema, a different one with both definitions. What hangs on an
//! object listed (a new table's columns and grants) is counted under it, not listed again.
//! Definitions come from the databases: shown escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::json;

use crate::sanitize::escape::{markdown, markdown_code, untrusted_lines};
use crate::schema::compare::Changes;
use crate::schema::{Key, Snapshot};

/// The names of the three groups.
pub struct Labels {
    /// Objects only on the FROM side.
    pub only_from: String,
    /// Objects only on the TO side.
    pub only_to: String,
    /// Objects on both sides, defined differently.
    pub different: String,
}

impl Labels {
    /// `diff`'s: FROM and TO described.
    pub fn diff(from: &str, to: &str) -> Labels {
        Labels {
            only_from: format!("only in FROM ({from})"),
            only_to: format!("only in TO ({to})"),
            different: "different".into(),
        }
    }

    /// `drift`'s.
    pub fn drift() -> Labels {
        Labels {
            only_from: "in the migrations, not in the database (dropped by hand)".into(),
            only_to: "in the database, not in the migrations (made by hand)".into(),
            different: "different from what the migrations build".into(),
        }
    }
}

/// The keys of `keys` whose parent is not in `keys` too, each with how many of its
/// descendants were folded into it.
fn top<'a>(keys: &'a [Key], snap: &Snapshot) -> Vec<(&'a Key, usize)> {
    let set: std::collections::BTreeSet<&Key> = keys.iter().collect();
    let mut folded: BTreeMap<&Key, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for k in keys {
        let mut p = snap.objects.get(k).and_then(|o| o.parent.as_ref());
        let mut root = None;
        while let Some(parent) = p {
            if let Some(r) = set.get(parent) {
                root = Some(*r);
            }
            p = snap.objects.get(parent).and_then(|o| o.parent.as_ref());
        }
        match root {
            Some(r) => *folded.entry(r).or_default() += 1,
            None => out.push(k),
        }
    }
    out.into_iter()
        .map(|k| (k, folded.get(k).copied().unwrap_or(0)))
        .collect()
}

/// How many objects differ, what hangs on a listed object counted with it (a new table with
/// its columns is one).
pub fn count(changes: &Changes, from: &Snapshot, to: &Snapshot) -> usize {
    top(&changes.only_in_from, from).len()
        + top(&changes.only_in_to, to).len()
        + changes.different.len()
}

fn with(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" (and {n} object(s) on it)")
    }
}

/// Plain text.
pub fn text(changes: &Changes, from: &Snapshot, to: &Snapshot, labels: &Labels) -> String {
    let mut out = String::new();
    if changes.is_empty() {
        out.push_str("No difference.\n");
    }
    let only_from = top(&changes.only_in_from, from);
    if !only_from.is_empty() {
        let _ = writeln!(out, "{}: {}", capital(&labels.only_from), only_from.len());
        for (k, n) in &only_from {
            let _ = writeln!(out, "  - {}{}", untrusted_lines(&k.to_string()), with(*n));
        }
    }
    let only_to = top(&changes.only_in_to, to);
    if !only_to.is_empty() {
        let _ = writeln!(out, "{}: {}", capital(&labels.only_to), only_to.len());
        for (k, n) in &only_to {
            let _ = writeln!(out, "  + {}{}", untrusted_lines(&k.to_string()), with(*n));
        }
    }
    if !changes.different.is_empty() {
        let _ = writeln!(
            out,
            "{}: {}",
            capital(&labels.different),
            changes.different.len()
        );
        for d in &changes.different {
            let _ = writeln!(out, "  ~ {}", untrusted_lines(&d.key.to_string()));
            let _ = writeln!(out, "      was: {}", indent(&untrusted_lines(&d.from)));
            let _ = writeln!(out, "      now: {}", indent(&untrusted_lines(&d.to)));
        }
    }
    out.push_str(&not_compared(changes));
    out
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn indent(s: &str) -> String {
    s.replace('\n', "\n           ")
}

/// "Not compared: …", or nothing.
pub fn not_compared(changes: &Changes) -> String {
    if changes.not_compared.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = changes
        .not_compared
        .iter()
        .map(|(kind, (a, b))| format!("{kind} ({a} / {b})"))
        .collect();
    format!(
        "Not compared (pgshift does not model them; counts FROM / TO): {}\n",
        parts.join(", ")
    )
}

/// Markdown, for a job summary or a pull request.
pub fn markdown_report(
    changes: &Changes,
    from: &Snapshot,
    to: &Snapshot,
    labels: &Labels,
    title: &str,
) -> String {
    let mut out = format!("### {}\n\n", markdown(title));
    if changes.is_empty() {
        out.push_str("No difference.\n");
    }
    for (label, list, snap) in [
        (&labels.only_from, &changes.only_in_from, from),
        (&labels.only_to, &changes.only_in_to, to),
    ] {
        let listed = top(list, snap);
        if listed.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "**{}** ({})\n",
            markdown(&capital(label)),
            listed.len()
        );
        for (k, n) in listed {
            let _ = writeln!(
                out,
                "- {} {}{}",
                k.kind.label(),
                markdown_code(&k.name),
                with(n)
            );
        }
        out.push('\n');
    }
    if !changes.different.is_empty() {
        let _ = writeln!(
            out,
            "**{}** ({})\n",
            markdown(&capital(&labels.different)),
            changes.different.len()
        );
        out.push_str("| object | was | now |\n| --- | --- | --- |\n");
        for d in &changes.different {
            let cell = |s: &str| markdown_code(&s.replace('\n', " ")).replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {} {} | {} | {} |",
                d.key.kind.label(),
                cell(&d.key.name),
                cell(&d.from),
                cell(&d.to)
            );
        }
        out.push('\n');
    }
    let nc = not_compared(changes);
    if !nc.is_empty() {
        let _ = writeln!(out, "{}", markdown(nc.trim_end()));
    }
    out
}

/// One JSON document.
pub fn json_report(changes: &Changes, sql: Option<&str>) -> String {
    let mut v = json!({
        "differences": changes.count(),
        "only_in_from": changes.only_in_from,
        "only_in_to": changes.only_in_to,
        "different": changes.different,
        "not_compared": changes.not_compared.iter().map(|(k, (a, b))| (k.clone(), json!({"from": a, "to": b}))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(s) = sql {
        v["sql"] = json!(s);
    }
    format!("{v}\n")
}

/// Drift entries, one each: (group, object, detail); what hangs on a listed object goes with it.
pub fn drift_entries(
    changes: &Changes,
    expected: &Snapshot,
    live: &Snapshot,
) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for (k, _) in top(&changes.only_in_to, live) {
        out.push((
            "made-by-hand",
            k.to_string(),
            format!("{k} is in the database but no applied migration makes it"),
        ));
    }
    for (k, _) in top(&changes.only_in_from, expected) {
        out.push((
            "dropped-by-hand",
            k.to_string(),
            format!("{k} is made by the applied migrations but is not in the database"),
        ));
    }
    for d in &changes.different {
        out.push((
            "different",
            d.key.to_string(),
            format!(
                "{} differs: the migrations build `{}`, the database has `{}`",
                d.key,
                d.from.replace('\n', " "),
                d.to.replace('\n', " ")
            ),
        ));
    }
    out
}

/// GitHub workflow commands: one `::error` per drifted object.
pub fn github(changes: &Changes, (expected, live): (&Snapshot, &Snapshot), target: &str) -> String {
    use super::github::data;
    let mut out = String::new();
    let entries = drift_entries(changes, expected, live);
    for (rule, _, message) in &entries {
        let _ = writeln!(
            out,
            "::error title=drift/{rule}::{}",
            data(&untrusted_lines(&format!("{target}: {message}")))
        );
    }
    let _ = writeln!(
        out,
        "pgshift drift: {} object(s) drifted on {target}",
        changes.count()
    );
    out
}

/// SARIF 2.1.0 (GitHub code scanning): one result per drifted object.
pub fn sarif(changes: &Changes, (expected, live): (&Snapshot, &Snapshot), target: &str) -> String {
    let results: Vec<serde_json::Value> = drift_entries(changes, expected, live)
        .into_iter()
        .map(|(rule, object, message)| {
            json!({
                "ruleId": format!("drift/{rule}"),
                "level": "error",
                "message": { "text": format!("{target}: {message}") },
                "partialFingerprints": { "object": object },
            })
        })
        .collect();
    let rules: Vec<serde_json::Value> = ["made-by-hand", "dropped-by-hand", "different"]
        .iter()
        .map(|r| json!({ "id": format!("drift/{r}"), "shortDescription": { "text": format!("schema drift: {}", r.replace('-', " ")) } }))
        .collect();
    let doc = json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": { "name": "pgshift", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}
