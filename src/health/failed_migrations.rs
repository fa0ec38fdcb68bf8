//! `failed-migrations`: a migration whose last attempt failed, or a no-transaction file that
//! stopped halfway.

use super::{Check, Item, Level, Probe, Records};
use crate::deploy::status::State;

pub const CHECK: Check = Check {
    id: "failed-migrations",
    ok: "no failed or partial migration",
    problem: "failed or partial migration(s)",
    fix: "read the error with `pgshift history`, fix the file, and run `pgshift migrate` again (a partial one resumes after the statements that ran)",
    needs_api: false,
    probe: Probe::Records(judge),
};

fn judge(r: &Records) -> Vec<Item> {
    r.status
        .entries
        .iter()
        .filter_map(|e| {
            let detail = match &e.state {
                State::Failed { message } => format!("failed: {message}"),
                State::Partial {
                    statements_done,
                    message,
                } => format!("partial: {statements_done} statement(s) ran and stay; {message}"),
                _ => return None,
            };
            Some(Item {
                level: Level::Fail,
                object: e.version.clone(),
                detail,
            })
        })
        .collect()
}
