//! `pgshift repair VERSION`: accept the file's current checksum of an applied migration, or clear a
//! failed record so that the next deploy runs it again.

use crate::config::{Settings, VarSource};
use crate::deploy::gate::Operation;

use super::{CliError, Output};

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    version: &str,
    out: &Output,
) -> Result<u8, CliError> {
    super::database::run_records(settings, vars, out, Operation::Repair, version)
}
