//! `pending-migrations`: files not applied yet (in this environment).

use super::{Check, Item, Level, Probe, Records};
use crate::deploy::status::State;

pub const CHECK: Check = Check {
    id: "pending-migrations",
    ok: "nothing pending: the database is at the newest migration",
    problem: "pending migration(s)",
    fix: "`pgshift migrate --dry-run` shows what would run; `pgshift migrate` applies them",
    needs_api: false,
    probe: Probe::Records(judge),
};

fn judge(r: &Records) -> Vec<Item> {
    r.status
        .entries
        .iter()
        .filter_map(|e| match e.state {
            State::Pending { out_of_order } => Some(Item {
                level: Level::Warn,
                object: e.version.clone(),
                detail: if out_of_order {
                    "pending, and dated before applied migrations (out of order)".into()
                } else {
                    "pending".into()
                },
            }),
            State::Changed => Some(Item {
                level: Level::Warn,
                object: e.version.clone(),
                detail: "repeatable: its SQL changed since it ran; the next deploy runs it".into(),
            }),
            State::PartlyCovered { ref missing } => Some(Item {
                level: Level::Fail,
                object: e.version.clone(),
                detail: format!(
                    "a baseline of which this database has only some versions; it lacks {}",
                    missing.join(", ")
                ),
            }),
            _ => None,
        })
        .collect()
}
