//! `pgshift status`: every migration's state in the database (applied, pending, failed,
//! partial, modified, unknown, out of order), and the deploy running right now, if any.

use crate::config::{Settings, VarSource};
use crate::deploy;

use super::database::{deploy_error, runtime, spec};
use super::{exit, CliError, Output};

pub fn run(settings: &Settings, vars: &VarSource, out: &Output) -> Result<u8, CliError> {
    let spec = spec(settings, vars, out)?;
    let report = super::database::while_loading(
        || super::database::load_ordered(settings),
        |files| {
            runtime()?
                .block_on(deploy::read_status(
                    files,
                    &spec,
                    &settings.tracking,
                    settings.environment,
                ))
                .map_err(deploy_error)
        },
    )?;
    if out.json {
        out.line(&serde_json::to_string(&report).unwrap_or_default());
    } else {
        out.line(&crate::report::status::text(&report));
    }
    // The process ends next, and its memory goes back whole: 10,000 entries are not freed
    // one by one.
    std::mem::forget(report);
    Ok(exit::OK)
}
