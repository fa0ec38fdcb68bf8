//! `pgshift graph`: the dependency graph as dot, Mermaid or text. When a database is given and
//! reachable, each migration is marked applied, pending, failed or modified there.

use std::collections::HashMap;

use crate::config::{Settings, VarSource};
use crate::deploy::status::State;
use crate::plan::render;

use super::database::load_plan;
use super::{exit, CliError, GraphArgs, GraphFormat, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &GraphArgs,
    out: &Output,
) -> Result<u8, CliError> {
    let quiet = Output {
        json: false,
        ..*out
    };
    let (set, plan, _) = load_plan(settings, &quiet)?;
    let Some(plan) = plan else {
        out.error(
            &format!("cannot draw the graph of {}", set.dir.display()),
            Some("fix the errors above, then run `pgshift graph` again"),
        );
        return Ok(exit::FINDINGS);
    };
    let states = database_states(settings, vars, &set, &plan, out);
    let lookup = |v: &str| states.as_ref().and_then(|s| s.get(v).copied());
    let state: Option<render::StateOf> = states.as_ref().map(|_| &lookup as render::StateOf);
    let text = match args.format {
        GraphFormat::Dot => render::dot(&plan, state),
        GraphFormat::Mermaid => render::mermaid(&plan, state),
        GraphFormat::Text => render::text(&plan, state),
    };
    out.stdout(&text, super::output::Kind::Text);
    Ok(exit::OK)
}

/// Each migration's state in the database, when one is given (a URL, libpq's environment…) and
/// answers; `None` otherwise, with a warning when it was given but could not be read.
fn database_states(
    settings: &Settings,
    vars: &VarSource,
    set: &crate::migration::MigrationSet,
    plan: &crate::plan::Plan,
    out: &Output,
) -> Option<HashMap<String, &'static str>> {
    let spec = crate::api::connection(settings, vars).ok()?;
    let tracking = settings.tracking.clone();
    let read = super::database::runtime()
        .ok()?
        .block_on(crate::deploy::read_status(
            crate::deploy::files::Files::Ready(set, plan),
            &spec,
            &tracking,
            settings.environment,
        ));
    let status = match read {
        Ok(r) => r.status,
        Err(e) => {
            out.warning(&format!(
                "the graph shows no state: {} could not be read ({e})",
                spec.describe()
            ));
            return None;
        }
    };
    Some(
        status
            .entries
            .into_iter()
            .map(|e| {
                let label = match e.state {
                    State::Applied { .. } => "applied",
                    State::Pending { .. } => "pending",
                    State::Changed => "changed (runs again)",
                    State::Covered => "applied (squashed)",
                    State::PartlyCovered { .. } => "partly applied baseline",
                    State::Failed { .. } | State::Partial { .. } => "failed",
                    State::Modified => "modified",
                    State::Damaged { .. } => "damaged record",
                    State::Unknown => "unknown",
                    State::NotForEnvironment => "not in this environment",
                    State::NoSql => "skipped",
                };
                (e.version, label)
            })
            .collect(),
    )
}
