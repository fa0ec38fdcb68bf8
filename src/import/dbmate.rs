//! dbmate: `db/migrations/<version>_<name>.sql`, each with a `-- migrate:up` and a
//! `-- migrate:down` section; `-- migrate:up transaction:false` runs without a transaction.

use std::path::Path;

use super::{sectioned, versioned_sql, ImportError, Read, Sections};

/// The up and down sections, and whether up runs without a transaction.
pub fn sections(text: &str) -> Option<Sections> {
    let (mut up, mut down) = (None::<String>, None::<String>);
    let mut no_tx = false;
    let mut in_down = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if let Some(opts) = t.strip_prefix("-- migrate:up") {
            no_tx = opts.split_whitespace().any(|o| o == "transaction:false");
            up.get_or_insert_with(String::new);
            in_down = false;
            continue;
        }
        if t.starts_with("-- migrate:down") {
            down.get_or_insert_with(String::new);
            in_down = true;
            continue;
        }
        // Text before `-- migrate:up` is a comment of the file.
        let section = if in_down { down.as_mut() } else { up.as_mut() };
        if let Some(buf) = section {
            buf.push_str(line);
        }
    }
    up.map(|u| (u, down, no_tx))
}

pub fn read(source: &Path) -> Result<Read, ImportError> {
    let nested = source.join("db/migrations");
    let dir = if nested.is_dir() {
        nested
    } else {
        source.to_path_buf()
    };
    let mut skipped = Vec::new();
    let migrations = sectioned(
        versioned_sql(&dir, &mut skipped)?,
        sections,
        |path| {
            ImportError::Source {
            message: format!("{} has no `-- migrate:up` line", path.display()),
            help: "dbmate migrations start their SQL with `-- migrate:up`; add it, or import the folder with --from numbered".into(),
        }
        },
        // schema_migrations.version holds the digits as written.
        str::to_string,
    )?;
    Ok(Read::of(migrations, skipped))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sections_and_the_transaction_option() {
        let (up, down, no_tx) = super::sections(
            "-- a comment\n-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n",
        )
        .unwrap();
        assert_eq!(up, "CREATE INDEX CONCURRENTLY i ON t (a);\n\n");
        assert_eq!(down.as_deref(), Some("DROP INDEX i;\n"));
        assert!(no_tx);
        assert!(super::sections("SELECT 1;\n").is_none());
    }
}
