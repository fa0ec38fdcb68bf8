//! goose: `<version>_<name>.sql` with `-- +goose Up` and `-- +goose Down` sections,
//! `StatementBegin`/`StatementEnd` around statements with semicolons inside, and
//! `-- +goose NO TRANSACTION`. Go migrations (`.go`) are skipped.

use std::path::Path;

use super::{
    entries, file_name, read as read_file, split_number, stamps, Foreign, ImportError, Read,
};

/// The up and down sections, and whether the file runs without a transaction.
pub fn sections(text: &str) -> Option<(String, Option<String>, bool)> {
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
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for p in entries(source)? {
        let name = file_name(&p);
        if name.ends_with(".go") {
            skipped.push(format!(
                "{name}: a Go migration; write its SQL as a pgshift migration by hand"
            ));
            continue;
        }
        match name.strip_suffix(".sql").and_then(split_number) {
            Some((version, rest)) if p.is_file() => {
                found.push((version.to_string(), rest.to_string(), p.clone()))
            }
            _ if p.is_file() => skipped.push(format!("{name}: not <version>_<name>.sql")),
            _ => {}
        }
    }
    // goose orders by the version as a number.
    found.sort_by(|a, b| {
        a.0.parse::<u128>()
            .unwrap_or(u128::MAX)
            .cmp(&b.0.parse::<u128>().unwrap_or(u128::MAX))
    });
    let versions: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    let stamps = stamps(&versions);
    let mut migrations = Vec::new();
    for ((version, name, path), stamp) in found.iter().zip(stamps) {
        let text = read_file(path)?;
        let Some((up, down, no_transaction)) = sections(&text) else {
            return Err(ImportError::Source {
                message: format!("{} has no `-- +goose Up` line", path.display()),
                help: "goose migrations mark their SQL with `-- +goose Up`; add it, or import with --from numbered".into(),
            });
        };
        migrations.push(Foreign {
            original: path.clone(),
            // goose_db_version.version_id is the number.
            source_version: version.trim_start_matches('0').to_string().max("0".into()),
            stamp,
            name: name.clone(),
            up,
            down,
            no_transaction,
            requires: Vec::new(),
        });
    }
    Ok(Read {
        migrations,
        skipped,
    })
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
