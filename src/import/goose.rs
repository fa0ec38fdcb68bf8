//! goose: `<version>_<name>.sql` with `-- +goose Up` and `-- +goose Down` sections,
//! `StatementBegin`/`StatementEnd` around statements with semicolons inside, and
//! `-- +goose NO TRANSACTION`. Go migrations (`.go`) are skipped.

use std::path::Path;

use super::{sectioned, versioned_sql, ImportError, Read, Sections};

/// The up and down sections, and whether the file runs without a transaction.
pub fn sections(text: &str) -> Option<Sections> {
    let (mut up, mut down) = (String::new(), String::new());
    let (mut seen_up, mut seen_down, mut no_tx) = (false, false, false);
    #[derive(PartialEq)]
    enum In {
        None,
        Up,
        Down,
    }
    let mut current = In::None;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if let Some(annotation) = t.strip_prefix("-- +goose") {
            match annotation.trim().to_ascii_uppercase().as_str() {
                "UP" => {
                    seen_up = true;
                    current = In::Up;
                }
                "DOWN" => {
                    seen_down = true;
                    current = In::Down;
                }
                "NO TRANSACTION" => no_tx = true,
                // StatementBegin/End, ENVSUB ON/OFF: goose's parsing aids; plain SQL needs none.
                _ => {}
            }
            continue;
        }
        match current {
            In::Up => up.push_str(line),
            In::Down => down.push_str(line),
            In::None => {}
        }
    }
    seen_up.then_some((up, seen_down.then_some(down), no_tx))
}

pub fn read(source: &Path) -> Result<Read, ImportError> {
    let mut skipped = Vec::new();
    // goose orders by the version as a number.
    let migrations = sectioned(
        versioned_sql(source, &mut skipped)?,
        sections,
        |path| {
            ImportError::Source {
            message: format!("{} has no `-- +goose Up` line", path.display()),
            help: "goose migrations mark their SQL with `-- +goose Up`; add it, or import with --from numbered".into(),
        }
        },
        // goose_db_version.version_id is the number.
        |v| {
            let n = v.trim_start_matches('0');
            if n.is_empty() {
                "0".into()
            } else {
                n.to_string()
            }
        },
    )?;
    Ok(Read::of(migrations, skipped))
}

#[cfg(test)]
mod tests {
    #[test]
    fn annotations_become_sections_and_directives() {
        let (up, down, no_tx) = super::sections(
            "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n-- +goose StatementEnd\n-- +goose Down\nDROP FUNCTION f();\n",
        )
        .unwrap();
        assert_eq!(
            up,
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
        );
        assert_eq!(down.as_deref(), Some("DROP FUNCTION f();\n"));
        assert!(no_tx);
    }
}
