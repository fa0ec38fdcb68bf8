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
        // Counted first: a migration to apply is told without its checksum, which a large
        // data file's is still being made (it is read only for its record).
        let rows = usize::try_from(digest.rows).ok();
        if rows == Some(recorded(set, env).count())
            && applied(set, env).is_some_and(|files| files == digest)
        {
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

/// The digest of a fully applied database's rows, as the server makes it; `None` when a
/// version or checksum holds anything but printable ASCII. Only then is the digest
/// unambiguous whatever the server's encoding: ASCII sorts the same in UTF-8 and in the `C`
/// collation of every server encoding, and no value of the files holds the separator, so a
/// row whose value does (or holds any other byte) changes the digest.
fn applied(set: &MigrationSet, env: Environment) -> Option<RecordsDigest> {
    let mut rows: Vec<(&str, &str)> = recorded(set, env)
        .map(|m| (m.version.as_str(), m.checksum.as_str()))
        .collect();
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
    if !rows.iter().all(|(v, c)| plain(v) && plain(c)) {
        return None;
    }
    rows.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut hash = Sha256::new();
    for (i, (version, checksum)) in rows.iter().enumerate() {
        if i > 0 {
            hash.update(b"\n");
        }
        hash.update(version.as_bytes());
        hash.update(b"\n");
        hash.update(checksum.as_bytes());
    }
    Some(RecordsDigest {
        rows: rows.len() as i64,
        clean: true,
        sha256: hash.finalize().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn set(files: &[(&str, &str)]) -> MigrationSet {
        let files = files.iter().map(|(n, t)| {
            (
                PathBuf::from(format!("m/{n}.sql")),
                Ok(t.as_bytes().to_vec()),
            )
        });
        crate::migration::from_files(Path::new("m"), files, Environment::Development)
    }

    #[test]
    fn the_files_digest_is_their_rows_joined_by_line_breaks_in_byte_order() {
        let set = set(&[
            ("2026-01-02_b", "SELECT 2;\n"),
            ("2026-01-01_a", "SELECT 1;\n"),
            ("2026-01-03_prod", "-- @env: production\nSELECT 3;\n"),
        ]);
        let checksum = |v: &str| {
            let m = set.migrations.iter().find(|m| m.version.as_str() == v);
            m.unwrap().checksum.as_str().to_string()
        };
        let text = format!(
            "2026-01-01_a\n{}\n2026-01-02_b\n{}",
            checksum("2026-01-01_a"),
            checksum("2026-01-02_b")
        );
        let digest = applied(&set, Environment::Development).expect("plain ASCII");
        assert_eq!(digest.rows, 2);
        assert!(digest.clean);
        assert_eq!(digest.sha256, Sha256::digest(text.as_bytes()).to_vec());
    }

    #[test]
    fn a_value_with_a_line_break_or_beyond_ascii_gives_no_digest() {
        for odd in ["x\ny", "é", "a b"] {
            let mut set = set(&[("2026-01-01_a", "SELECT 1;\n")]);
            set.migrations[0].checksum = crate::migration::Checksum::from_hex(odd.to_string());
            assert_eq!(applied(&set, Environment::Development), None, "{odd:?}");
        }
    }
}
