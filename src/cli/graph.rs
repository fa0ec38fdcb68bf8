//! `pgshift graph`: the dependency graph as dot, Mermaid or text.

use crate::config::Settings;
use crate::plan::render;

use super::order::load_plan;
use super::{exit, CliError, GraphArgs, GraphFormat, Output};

pub fn run(settings: &Settings, args: &GraphArgs, out: &Output) -> Result<u8, CliError> {
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
    let text = match args.format {
        GraphFormat::Dot => render::dot(&plan, None),
        GraphFormat::Mermaid => render::mermaid(&plan, None),
        GraphFormat::Text => render::text(&plan, None),
    };
    out.stdout(&text, super::output::Kind::Text);
    Ok(exit::OK)
}
