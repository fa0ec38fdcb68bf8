//! `checksum-drift`: an applied migration whose file's SQL changed since it ran.

use super::{Check, Item, Level, Probe, Records};
use crate::deploy::status::State;

pub const CHECK: Check = Check {
    id: "checksum-drift",
    ok: "every applied file is unchanged (or changed only in comments and whitespace)",
    problem: "applied migration(s) whose file changed since",
    fix: "put the file back as it ran and write a new migration for the change; if the change is intended and already in the database, `pgshift repair VERSION` accepts the new checksum",
    needs_api: false,
    probe: Probe::Records(judge),
};

fn judge(r: &Records) -> Vec<Item> {
    r.status
        .entries
        .iter()
        .filter(|e| e.state == State::Modified)
        .map(|e| Item {
            level: Level::Fail,
            object: e.version.clone(),
            detail: "the SQL of the file differs from the SQL that was applied".into(),
        })
        .collect()
}
