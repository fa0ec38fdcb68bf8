//! `pgshift baseline VERSION`: record every migration up to VERSION as applied without running
//! them, on a database that already has them.

use crate::config::{Settings, VarSource};
use crate::deploy::gate::Operation;

use super::{CliError, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    version: &str,
    out: &Output,
) -> Result<u8, CliError> {
    super::database::run_records(settings, vars, out, Operation::Baseline, version)
}
