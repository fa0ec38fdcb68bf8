//! SARIF 2.1.0, the format GitHub code scanning uploads.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::diagnostic::Level;
use crate::lint::rules;
use crate::validate::Report;

fn level(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Info => "note",
    }
}

pub fn render(report: &Report) -> String {
    let mut used: BTreeMap<&str, (Level, Option<&str>)> = BTreeMap::new();
    for f in &report.findings {
        used.entry(f.rule.as_str())
            .or_insert((f.level, f.help.as_deref()));
    }
    let ids: Vec<&str> = used.keys().copied().collect();
    let driver_rules: Vec<Value> = used
        .iter()
        .map(|(id, (lvl, help))| {
            let (summary, help) = match rules::find(id) {
                Some(r) => (r.summary, r.help),
                None => (*id, help.unwrap_or("")),
            };
            json!({
                "id": id,
                "name": id.replace(['/', '-'], "_"),
                "shortDescription": { "text": summary },
                "help": { "text": help },
                "defaultConfiguration": { "level": level(*lvl) },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.rule,
                "ruleIndex": ids.iter().position(|i| *i == f.rule).unwrap_or(0),
                "level": level(f.level),
                "message": { "text": match &f.help { Some(h) => format!("{}\nhelp: {h}", f.message), None => f.message.clone() } },
            });
            if let Some(l) = &f.location {
                r["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": { "uri": l.file.to_string_lossy().replace('\\', "/") },
                        "region": { "startLine": l.line.max(1), "startColumn": l.column.max(1) },
                    }
                }]);
            }
            if let Some(reason) = &f.allowed {
                r["suppressions"] = json!([{ "kind": "inSource", "justification": reason }]);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "pgshift",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": driver_rules,
            }},
            "results": results,
        }],
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}
