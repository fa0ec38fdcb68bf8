//! `failed-migrations`: a migration whose last attempt failed, a no-transaction file that
//! stopped halfway, or a record changed by hand (deploys stop on it).

use super::{Check, Item, Level, Probe, Records};
use crate::deploy::status::State;

pub const CHECK: Check = Check {
    id: "failed-migrations",
    ok: "no failed or partial migration, no damaged record",
    problem: "failed or partial migration(s), or damaged record(s)",
    fix: "read the error with `pgshift history`, fix the file, and run `pgshift migrate` again (a partial one resumes after the statements that ran); a damaged record is mended by `pgshift repair VERSION` or removed by `pgshift forget VERSION`",
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
                State::Damaged { problem } => {
                    format!("damaged record, changed by hand or by another tool: {problem}")
                }
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
