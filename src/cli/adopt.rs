//! `pgshift adopt --from TOOL`: on a database another tool migrated, the imported migrations it
//! applied are recorded as applied (through the environment gate, under the deploy lock), so
//! that the next `migrate` runs only the rest. The other tool's table is only read.

use crate::config::{Settings, VarSource};
use crate::deploy::gate::Operation;
use crate::deploy::records::{self, RecordOptions};
use crate::import::Tool;

use super::database::{deploy_error, load_ordered, runtime, spec};
use super::{exit, CliError, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    tool: Tool,
    out: &Output,
) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let (set, plan) = load_ordered(settings)?;
    let gate = super::confirm::gate_for(settings, vars, out, &spec);
    let check = |lines: &[String]| gate.check(Operation::Adopt, lines, &[]);
    let opts = RecordOptions {
        environment: settings.environment,
        tracking: settings.tracking.clone(),
        lock_wait: settings.deploy.lock_timeout,
        gate: &check,
    };
    let mut printer = super::events::Printer::new(*out, Some(&settings.log_dir));
    let (changes, warnings) = runtime()?
        .block_on(records::adopt(&set, &plan, &spec, &opts, tool, &mut |e| {
            printer.print(&e)
        }))
        .map_err(deploy_error)?;
    for w in &warnings {
        out.warning(w);
    }
    if !out.json {
        out.line(&format!(
            "Adopted {} migration(s) that {} had applied; `pgshift status` shows the rest as pending, `pgshift migrate` applies them.",
            changes.len(),
            tool.name()
        ));
    }
    Ok(exit::OK)
}
