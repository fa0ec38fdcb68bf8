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

/// The tracking table's rows, or the word that they are exactly the files' own.
pub(super) enum Records {
    /// Read whole.
    Read(Vec<AppliedRow>),
    /// Vouched for by the digest: [`super::status::all_applied`] says what
    /// [`super::status::compare`] would.
    Unchanged,
}

/// The records, read only when the server's digest differs from the files'.
pub(super) async fn records(
    tracking: &Tracking,
    client: &tokio_postgres::Client,
    files: Files<'_>,
    env: Environment,
    digest: Result<RecordsDigest, tokio_postgres::Error>,
) -> Result<Records, tokio_postgres::Error> {
    // The files may fail to load: the deploy says so when it asks for them again.
    if let (Ok(digest), Ok((set, _))) = (digest, files.get()) {
        if digest == applied(set, env) {
            return Ok(Records::Unchanged);
        }
    }
    tracking.rows_of_existing(client).await.map(Records::Read)
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
