//! Drawing the plan: Graphviz dot, Mermaid, and plain text.

use std::fmt::Write;

use super::Plan;

/// Optional state of each migration (applied, pending…), shown when a database is reachable.
pub type StateOf<'a> = &'a dyn Fn(&str) -> Option<&'static str>;

fn quote_dot(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz: `dot -Tsvg` draws it. Edges point from a dependency to the migration needing it.
pub fn dot(plan: &Plan, state: Option<StateOf>) -> String {
    let mut out = String::from(
        "digraph migrations {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for (i, step) in plan.steps.iter().enumerate() {
        let v = step.version.as_str();
        let mut label = format!("{}. {v}", i + 1);
        let mut style = String::new();
        if let Some(s) = state.and_then(|f| f(v)) {
            label.push_str(&format!("\\n[{s}]"));
            let color = match s {
                "applied" => "palegreen",
                "failed" => "lightcoral",
                _ => "lightyellow",
            };
            style = format!(", style=filled, fillcolor={color}");
        }
        let _ = writeln!(
            out,
            "  {} [label={}{style}];",
            quote_dot(v),
            quote_dot(&label)
        );
    }
    for step in &plan.steps {
        for d in &step.dependencies {
            let _ = writeln!(
                out,
                "  {} -> {};",
                quote_dot(d.as_str()),
                quote_dot(step.version.as_str())
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart, for GitHub markdown and docs.
pub fn mermaid(plan: &Plan, state: Option<StateOf>) -> String {
    let mut out = String::from("flowchart TD\n");
    for (i, step) in plan.steps.iter().enumerate() {
        let v = step.version.as_str();
        let suffix = state
            .and_then(|f| f(v))
            .map_or(String::new(), |s| format!("<br/>{s}"));
        let _ = writeln!(out, "  m{i}[\"{}. {v}{suffix}\"]", i + 1);
    }
    for (i, step) in plan.steps.iter().enumerate() {
        for d in &step.dependencies {
            if let Some(j) = plan.position(d) {
                let _ = writeln!(out, "  m{} --> m{i}", j - 1);
            }
        }
    }
    out
}

/// Text: each migration in order with what it depends on.
pub fn text(plan: &Plan, state: Option<StateOf>) -> String {
    let mut out = String::new();
    let width = plan.steps.len().to_string().len();
    for (i, step) in plan.steps.iter().enumerate() {
        let v = step.version.as_str();
        let mark = state
            .and_then(|f| f(v))
            .map_or(String::new(), |s| format!("  [{s}]"));
        let _ = writeln!(out, "{:>width$}. {v}{mark}", i + 1);
        let n = step.dependencies.len();
        for (k, d) in step.dependencies.iter().enumerate() {
            let branch = if k + 1 == n { "└─" } else { "├─" };
            let pos = plan.position(d).unwrap_or(0);
            let _ = writeln!(out, "{:width$}  {branch} needs #{pos} {d}", "");
        }
    }
    out
}
