//! Data tests (`pgshift test`): `<migrations>/tests/<version>.before.sql` seeds rows just
//! before that migration, `<migrations>/tests/<version>.after.sql` asserts just after it. Each
//! file runs statement by statement, so that a failure names its line; an after file runs in a
//! transaction that is rolled back (assertions leave nothing behind), and a pgTAP result row
//! that starts with `not ok` fails it as an error would. The rows of every table, a checksum
//! each, are what `test --rollback` compares before up and after down.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::diagnostic::{Finding, Location};
use crate::migration::{MigrationSet, Version};

pub use crate::migration::TESTS_DIR;

/// When a data test file runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum When {
    /// Just before its migration: seeds rows.
    Before,
    /// Just after it: assertions.
    After,
}

impl When {
    /// `before` or `after`, as in the file name.
    pub fn name(self) -> &'static str {
        match self {
            When::Before => "before",
            When::After => "after",
        }
    }
}

/// One data test file.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// Every data test file of a set, by version and moment.
#[derive(Debug, Clone, Default)]
pub struct DataTests {
    files: HashMap<(String, When), DataFile>,
}

impl DataTests {
    /// The files under `<set.dir>/tests/`; a file that names no migration of the set, or is
    /// not named `<version>.before.sql` / `<version>.after.sql`, is an error finding.
    pub fn load(set: &MigrationSet) -> (DataTests, Vec<Finding>) {
        let mut out = DataTests::default();
        let mut findings = Vec::new();
        let dir = set.dir.join(TESTS_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return (out, findings);
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.starts_with('.') || !name.ends_with(".sql") || !path.is_file() {
                continue;
            }
            let (stem, when) = if let Some(s) = name.strip_suffix(".before.sql") {
                (s, When::Before)
            } else if let Some(s) = name.strip_suffix(".after.sql") {
                (s, When::After)
            } else {
                findings.push(
                    Finding::error(
                        "test/name",
                        format!("{name} in {TESTS_DIR}/ is not a data test file's name"),
                    )
                    .at(Location::file(&path))
                    .help("name it <version>.before.sql (seeds rows) or <version>.after.sql (assertions), after the migration it tests"),
                );
                continue;
            };
            let known = Version::parse_reference(stem)
                .ok()
                .and_then(|v| set.get(&v))
                .map(|m| m.version.to_string());
            let Some(version) = known else {
                findings.push(
                    Finding::error(
                        "test/unknown-version",
                        format!("{name} names no migration of the set ({stem})"),
                    )
                    .at(Location::file(&path))
                    .help("rename it after an existing migration's version, or remove it"),
                );
                continue;
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    out.files.insert((version, when), DataFile { path, text });
                }
                Err(e) => findings.push(
                    Finding::error("test/unreadable", format!("cannot read {name}: {e}"))
                        .at(Location::file(&path))
                        .help("check the file's permissions and that it is UTF-8"),
                ),
            }
        }
        (out, findings)
    }

    /// The file run at `when` for `version`, if there is one.
    pub fn get(&self, version: &str, when: When) -> Option<&DataFile> {
        self.files.get(&(version.to_string(), when))
    }

    /// Whether there is no data test file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Why a data test file failed: where, and the server's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The file.
    pub path: PathBuf,
    /// Its line (1-based).
    pub line: usize,
    /// The error, or the pgTAP `not ok` line and its diagnostics.
    pub message: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// Runs `file` on `client`, statement by statement; an after file (`rolled_back`) inside a
/// transaction that is rolled back whatever happens.
pub async fn run(
    client: &tokio_postgres::Client,
    file: &DataFile,
    rolled_back: bool,
) -> Result<(), Failed> {
    let fail = |offset: usize, message: String| Failed {
        path: file.path.clone(),
        line: file.text[..offset.min(file.text.len())]
            .matches('\n')
            .count()
            + 1,
        message,
    };
    let statements = crate::sql::parse(&file.text)
        .map_err(|e| fail(e.offset, format!("syntax error: {}", e.message)))?;
    if rolled_back {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| fail(0, crate::deploy::error_text(&e)))?;
    }
    let mut result = Ok(());
    for s in &statements {
        match client.simple_query(s.text(&file.text)).await {
            Ok(messages) => {
                if let Some(message) = not_ok(&messages) {
                    result = Err(fail(s.start, message));
                    break;
                }
            }
            Err(e) => {
                let at = match e.as_db_error().and_then(|d| d.position()) {
                    Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
                        s.start + char_offset(s.text(&file.text), *p as usize)
                    }
                    _ => s.start,
                };
                result = Err(fail(at, crate::deploy::error_text(&e)));
                break;
            }
        }
    }
    // A failed statement aborts the transaction the file may have opened itself.
    if result.is_err() || rolled_back {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

/// The byte offset of the 1-based character `position` of `text` (PostgreSQL counts
/// characters).
fn char_offset(text: &str, position: usize) -> usize {
    text.char_indices()
        .nth(position.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i)
}

/// A pgTAP `not ok …` row among a statement's results, with the `#` diagnostics after it.
fn not_ok(messages: &[tokio_postgres::SimpleQueryMessage]) -> Option<String> {
    let mut lines = messages.iter().filter_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) if r.len() == 1 => r.get(0).map(str::to_string),
        _ => None,
    });
    let first = lines.find(|l| l.starts_with("not ok"))?;
    let diagnostics: Vec<String> = lines.take_while(|l| l.starts_with('#')).collect();
    Some(
        std::iter::once(first)
            .chain(diagnostics)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Each table's row count and a checksum of its rows (as text, sorted), keyed
/// `schema.table`; `skip` names schemas or `schema.table`s left out, and a column whose
/// default matches `leave_out` (a regular expression) is left out of the checksum.
pub async fn rows(
    client: &tokio_postgres::Client,
    skip: &[String],
    leave_out: Option<&str>,
) -> Result<BTreeMap<String, (i64, String)>, String> {
    let tables = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname),
                    (SELECT coalesce(string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), '')
                       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND ($2::text IS NULL OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') !~* $2))
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname !~ '^pg_' AND NOT n.nspname = ANY($1) AND NOT (n.nspname || '.' || c.relname) = ANY($1)
              ORDER BY 1",
            &[&skip, &leave_out],
        )
        .await
        .map_err(|e| format!("reading the tables failed: {}", crate::deploy::error_text(&e)))?;
    let mut out = BTreeMap::new();
    for t in &tables {
        let name: String = t.get(0);
        let columns: String = t.get(1);
        let sql = format!(
            "SELECT count(*), md5(coalesce(string_agg(r.x, E'\\n' ORDER BY r.x), '')) FROM (SELECT ROW({columns})::text AS x FROM {name}) r"
        );
        let row = client.query_one(&sql, &[]).await.map_err(|e| {
            format!(
                "reading the rows of {name} failed: {}",
                crate::deploy::error_text(&e)
            )
        })?;
        out.insert(name, (row.get(0), row.get(1)));
    }
    Ok(out)
}

/// The tables whose rows differ between `before` and `after`, said for people: `public.t:
/// 3 rows before, 2 after`, or `the same count, other values`.
pub fn rows_changed(
    before: &BTreeMap<String, (i64, String)>,
    after: &BTreeMap<String, (i64, String)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (table, (n, sum)) in before {
        match after.get(table) {
            None => out.push(format!("{table}: {n} row(s) before, the table is gone")),
            Some((m, _)) if m != n => out.push(format!("{table}: {n} row(s) before, {m} after")),
            Some((_, other)) if other != sum => out.push(format!(
                "{table}: {n} row(s) before and after, but their values differ"
            )),
            Some(_) => {}
        }
    }
    out
}

/// Whether a down file says it loses rows on purpose: a comment line `-- @drops-data`
/// (a reason may follow).
pub fn drops_data(down: &str) -> bool {
    down.lines().any(|l| {
        l.trim_start()
            .strip_prefix("--")
            .map(str::trim_start)
            .is_some_and(|d| {
                d.strip_prefix("@drops-data").is_some_and(|rest| {
                    rest.is_empty()
                        || !rest.starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_')
                })
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_data_is_a_comment_line_of_its_own() {
        assert!(drops_data("-- @drops-data\nDROP TABLE t;"));
        assert!(drops_data(
            "DROP TABLE t;\n  --   @drops-data: the column's values are derived"
        ));
        assert!(!drops_data("-- @drops-database\nDROP TABLE t;"));
        assert!(!drops_data("DROP TABLE t; -- not @drops-data"));
        assert!(!drops_data("DROP TABLE t;"));
    }

    #[test]
    fn rows_changed_names_lost_and_altered_rows() {
        let before: BTreeMap<String, (i64, String)> = [
            ("public.a".to_string(), (3, "x".to_string())),
            ("public.b".to_string(), (2, "y".to_string())),
            ("public.c".to_string(), (1, "z".to_string())),
            ("public.d".to_string(), (1, "w".to_string())),
        ]
        .into();
        let after: BTreeMap<String, (i64, String)> = [
            ("public.a".to_string(), (2, "x".to_string())),
            ("public.b".to_string(), (2, "q".to_string())),
            ("public.d".to_string(), (1, "w".to_string())),
        ]
        .into();
        assert_eq!(
            rows_changed(&before, &after),
            [
                "public.a: 3 row(s) before, 2 after",
                "public.b: 2 row(s) before and after, but their values differ",
                "public.c: 1 row(s) before, the table is gone",
            ]
        );
    }

    #[test]
    fn a_character_position_becomes_a_byte_offset() {
        assert_eq!(char_offset("SELECT 'é', x", 13), 13);
        assert_eq!(char_offset("abc", 1), 0);
        assert_eq!(char_offset("abc", 9), 3);
    }
}
