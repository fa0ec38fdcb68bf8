//! `pgshift forget VERSION`: remove a migration's record without running anything (the guide's
//! partial rollback); the schema stays as it is.

use crate::config::{Settings, VarSource};
use crate::deploy::gate::Operation;

use super::{CliError, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    version: &str,
    out: &Output,
) -> Result<u8, CliError> {
    super::database::run_records(settings, vars, out, Operation::Forget, version)
}
