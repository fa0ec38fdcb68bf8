//! JSON: the whole report as one object.

use crate::validate::Report;

pub fn render(report: &Report) -> String {
    let order: Vec<&str> = report
        .plan
        .as_ref()
        .map(|p| p.steps.iter().map(|s| s.version.as_str()).collect())
        .unwrap_or_default();
    let v = serde_json::json!({
        "dir": report.dir,
        "environment": report.environment,
        "files": report.files,
        "counts": report.counts(),
        "passed": !report.has_errors(),
        "order": order,
        "findings": report.findings,
    });
    format!("{v}\n")
}
