//! `review --stats-from URL`: the tables' sizes, read from a live database in a read-only
//! transaction (a replica is enough), and from them a rough duration for each rewrite, scan
//! and index build. The paces below are a cloud disk's, cold cache; they say which statement
//! takes seconds and which takes an hour, not the minute: rehearse on a copy for that.

use std::collections::HashMap;

use super::ReviewError;
use crate::db::connect::ConnectionSpec;
use crate::lint::QualName;

/// Reading a table whole (a validation, a `SET NOT NULL`), in bytes per millisecond (100 MB/s).
pub const SCAN_PACE: f64 = 100_000.0;
/// Writing a table anew (read, write, WAL) and rebuilding its indexes, in bytes per
/// millisecond (25 MB/s of table and index).
pub const REWRITE_PACE: f64 = 25_000.0;
/// Building an index (read and sort), in bytes per millisecond of the table (40 MB/s).
pub const INDEX_PACE: f64 = 40_000.0;

/// One table's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// The table's own bytes (`pg_table_size`: heap and TOAST).
    pub table: i64,
    /// Its indexes' bytes.
    pub indexes: i64,
}

/// Every table's size on the database `spec` points to.
pub async fn read(spec: &ConnectionSpec) -> Result<HashMap<QualName, Size>, ReviewError> {
    let client = super::rehearse::session(spec).await?;
    let fail = |e: tokio_postgres::Error| {
        ReviewError::new(
            format!(
                "reading table sizes from {} failed: {}",
                spec.describe(),
                crate::deploy::error_text(&e)
            ),
            "--stats-from needs a role that can read pg_class (any role can); a read replica is enough",
        )
    };
    client
        .batch_execute("BEGIN READ ONLY")
        .await
        .map_err(fail)?;
    let rows = client
        .query(
            "SELECT n.nspname, c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await
        .map_err(fail)?;
    let _ = client.batch_execute("ROLLBACK").await;
    Ok(rows
        .iter()
        .map(|r| {
            (
                QualName {
                    schema: r.get(0),
                    name: r.get(1),
                },
                Size {
                    table: r.get(2),
                    indexes: r.get(3),
                },
            )
        })
        .collect())
}

/// The estimated milliseconds of a lock's work on a table of `size`: a rewrite writes the
/// table and its indexes; an index build reads and sorts the table; a scan reads it. `None`
/// when it does none of them.
pub fn estimate(size: Size, rewrite: bool, scan: bool, index_build: bool) -> Option<u64> {
    let ms = if rewrite {
        (size.table + size.indexes) as f64 / REWRITE_PACE
    } else if index_build {
        size.table as f64 / INDEX_PACE
    } else if scan {
        size.table as f64 / SCAN_PACE
    } else {
        return None;
    };
    Some(ms.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_costs_more_than_a_build_more_than_a_scan() {
        let size = Size {
            table: 10_000_000_000,
            indexes: 2_000_000_000,
        };
        let rewrite = estimate(size, true, true, false).unwrap();
        let build = estimate(size, false, true, true).unwrap();
        let scan = estimate(size, false, true, false).unwrap();
        assert_eq!(scan, 100_000);
        assert!(rewrite > build && build > scan, "{rewrite} {build} {scan}");
        assert_eq!(estimate(size, false, false, false), None);
    }
}
