//! Any `<number>[-_]<name>.sql` (with `.down.sql` / `.up.sql` halves where a set has them),
//! ordered by the number.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{entries, file_name, split_number, stamps, Foreign, ImportError, Read};

/// A migration's up and down files.
type Halves = (Option<PathBuf>, Option<PathBuf>);

pub fn read(source: &Path) -> Result<Read, ImportError> {
    let mut found: BTreeMap<(usize, String, String), Halves> = BTreeMap::new();
    let mut skipped = Vec::new();
    for p in entries(source)? {
        let name = file_name(&p);
        let Some(stem) = name.strip_suffix(".sql") else {
            if p.is_file() {
                skipped.push(format!("{name}: not an .sql file"));
            }
            continue;
        };
        let (stem, down) = if let Some(s) = stem.strip_suffix(".down") {
            (s, true)
        } else {
            (stem.strip_suffix(".up").unwrap_or(stem), false)
        };
        let Some((number, rest)) = split_number(stem) else {
            skipped.push(format!("{name}: does not start with a number"));
            continue;
        };
        let n = number.trim_start_matches('0');
        let slot = found
            .entry((n.len(), n.to_string(), rest.to_string()))
            .or_default();
        if down {
            slot.1 = Some(p.clone());
        } else {
            slot.0 = Some(p.clone());
        }
    }
    let mut raw = Vec::new();
    for ((_, n, name), (up, down)) in found {
        let number = if n.is_empty() { "0".to_string() } else { n };
        match up {
            Some(up) => raw.push((number, name, up, down)),
            None => skipped.push(format!("{number}_{name}.down.sql: no up file")),
        }
    }
    let versions: Vec<&str> = raw.iter().map(|r| r.0.as_str()).collect();
    let stamps = stamps(&versions);
    let mut migrations = Vec::new();
    for ((number, name, up, down), stamp) in raw.iter().zip(stamps) {
        migrations.push(Foreign::from_files(
            up,
            down.as_deref(),
            number.clone(),
            stamp,
            name.clone(),
        )?);
    }
    Ok(Read::of(migrations, skipped))
}
