//! A deploy with nothing to do, told without reading the records: the server digests them
//! ([`Tracking::records_digest`]) and the digest is compared with the one of the rows a fully
//! applied database holds for these files. Equal, the rows are exactly those — one per
//! migration that runs in this environment and holds SQL, a success, with the file's checksum,
//! nothing else — and every migration compares as applied, so nothing is to be done. Any
//! other difference (a row more or less, a failure, a NULL, another checksum) reads the rows,
//! and the deploy goes on as it always did.

use sha2::{Digest, Sha256};

use crate::config::Environment;
use crate::db::tracking::{AppliedRow, RecordsDigest, Tracking};
use crate::migration::{Migration, MigrationSet};

use super::files::Files;

/// The rows of the tracking table: stood in for by the files' own rows when the server's
/// digest shows they are the same, read whole otherwise.
pub(super) async fn records(
    tracking: &Tracking,
    client: &tokio_postgres::Client,
    files: Files<'_>,
    env: Environment,
    digest: Result<RecordsDigest, tokio_postgres::Error>,
) -> Result<Vec<AppliedRow>, tokio_postgres::Error> {
    // The files may fail to load: the deploy says so when it asks for them again.
    if let (Ok(digest), Ok((set, _))) = (digest, files.get()) {
        if digest == applied(set, env) {
            return Ok(stand_ins(set, env));
        }
    }
    tracking.rows_of_existing(client).await
}

/// The migrations a fully applied database has a row for.
fn recorded(set: &MigrationSet, env: Environment) -> impl Iterator<Item = &Migration> {
    set.migrations
        .iter()
        .filter(move |m| m.runs_in(env) && m.has_sql())
}

/// The digest of a fully applied database's rows, as the server makes it.
fn applied(set: &MigrationSet, env: Environment) -> RecordsDigest {
    let mut rows: Vec<(&str, &str)> = recorded(set, env)
        .map(|m| (m.version.as_str(), m.checksum.0.as_str()))
        .collect();
    rows.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut hash = Sha256::new();
    for (i, (version, checksum)) in rows.iter().enumerate() {
        if i > 0 {
            hash.update([0]);
        }
        hash.update(version.as_bytes());
        hash.update([0]);
        hash.update(checksum.as_bytes());
    }
    RecordsDigest {
        rows: rows.len() as i64,
        clean: true,
        sha256: hash.finalize().to_vec(),
    }
}

/// The rows the digest vouches for: what the comparison reads of them (version, checksum,
/// success). A deploy with nothing to do shows no more of them.
fn stand_ins(set: &MigrationSet, env: Environment) -> Vec<AppliedRow> {
    recorded(set, env)
        .map(|m| AppliedRow {
            version: m.version.as_str().to_owned(),
            checksum: m.checksum.0.clone(),
            normalized_checksum: None,
            executed_at: String::new(),
            execution_time_ms: 0,
            success: true,
            error_message: None,
            sqlstate: None,
            error_position: None,
            statements_done: None,
            run_id: String::new(),
            applied_by: String::new(),
            environment: None,
            tool_version: None,
            damage: None,
        })
        .collect()
}
