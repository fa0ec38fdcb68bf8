//! JSON: the whole report as one object, its keys in order (`counts`, `dir`, `environment`,
//! `files`, `findings`, `order`, `passed`). The writer in `stream` writes what comes before
//! and after the list of findings around the findings as they come.

use crate::diagnostic::{Counts, Finding};
use crate::validate::Report;

/// One finding, as it appears in the list (its keys in order, as in the whole object).
pub(super) fn finding(f: &Finding) -> String {
    serde_json::to_value(f).map_or_else(|_| "null".into(), |v| v.to_string())
}

/// The object's text before its list of findings and after it, for findings that counted
/// `counts`.
pub(super) fn around_findings(report: &Report, counts: Counts) -> (String, String) {
    let order: Vec<&str> = report
        .plan
        .as_ref()
        .map(|p| p.steps.iter().map(|s| s.version.as_str()).collect())
        .unwrap_or_default();
    let v = serde_json::json!({
        "dir": report.dir,
        "environment": report.environment,
        "files": report.files,
        "counts": counts,
        "passed": counts.errors == 0,
        "order": order,
        "findings": [],
    });
    let whole = format!("{v}\n");
    // The key is the object's own: a string value holds its quotes escaped.
    const EMPTY: &str = "\"findings\":[]";
    match whole.find(EMPTY) {
        Some(at) => {
            let split = at + EMPTY.len() - 1;
            (whole[..split].to_string(), whole[split..].to_string())
        }
        None => (whole, String::new()),
    }
}
