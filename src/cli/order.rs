//! `pgshift order`: the execution order with the reason for each position.

use crate::config::Settings;
use crate::migration::load_dir;

use super::database::load_plan;
use super::{exit, CliError, Output};

pub fn run(settings: &Settings, out: &Output) -> Result<u8, CliError> {
    let (set, plan, findings) = load_plan(settings, out)?;
    if out.json {
        let steps: Vec<_> = plan
            .as_ref()
            .map(|p| {
                p.steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        serde_json::json!({
                            "position": i + 1,
                            "version": s.version,
                            "dependencies": s.dependencies,
                            "reason": s.reason,
                            "explanation": p.explain(s),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let v = serde_json::json!({ "dir": set.dir, "order": steps, "findings": findings });
        out.line(&v.to_string());
        return Ok(if plan.is_some() {
            exit::OK
        } else {
            exit::FINDINGS
        });
    }
    let Some(plan) = plan else {
        out.error(
            &format!("cannot order the migrations in {}", set.dir.display()),
            Some("fix the errors above, then run `pgshift order` again"),
        );
        return Ok(exit::FINDINGS);
    };
    if plan.steps.is_empty() {
        out.line(&format!(
            "No migrations in {}. Create one with `pgshift new <description>`.",
            set.dir.display()
        ));
        return Ok(exit::OK);
    }
    let width = plan
        .steps
        .iter()
        .map(|s| s.version.as_str().len())
        .max()
        .unwrap_or(0);
    let num = plan.steps.len().to_string().len();
    out.line(&format!(
        "Execution order of {} migrations in {}:\n",
        plan.steps.len(),
        set.dir.display()
    ));
    for (i, step) in plan.steps.iter().enumerate() {
        out.line(&format!(
            "{:>num$}  {:<width$}  {}",
            i + 1,
            step.version.as_str(),
            plan.explain(step)
        ));
    }
    Ok(exit::OK)
}

/// `pgshift deps`: the dependency checks, a summary of the graph, then the order.
pub fn deps(settings: &Settings, out: &Output) -> Result<u8, CliError> {
    if !out.json {
        let set = load_dir(&settings.migrations.dir, settings.environment)?;
        let edges: usize = set.migrations.iter().map(|m| m.dependencies.len()).sum();
        let roots = set
            .migrations
            .iter()
            .filter(|m| m.dependencies.is_empty())
            .count();
        out.line(&format!(
            "Dependencies: {} migrations, {edges} declared dependencies, {roots} without any.",
            set.migrations.len()
        ));
    }
    run(settings, out)
}
