//! `unknown-versions`: versions recorded in the database with no file in the set.

use super::{Check, Item, Level, Probe, Records};
use crate::deploy::status::State;

pub const CHECK: Check = Check {
    id: "unknown-versions",
    ok: "every recorded version has its file",
    problem: "recorded version(s) with no file",
    fix: "check out the branch that has the file; if the migration was removed on purpose, `pgshift forget VERSION` removes its record",
    needs_api: false,
    probe: Probe::Records(judge),
};

fn judge(r: &Records) -> Vec<Item> {
    r.status
        .entries
        .iter()
        .filter(|e| e.state == State::Unknown)
        .map(|e| Item {
            level: Level::Warn,
            object: e.version.clone(),
            detail: "recorded as applied, but no file of this set has this version".into(),
        })
        .collect()
}
