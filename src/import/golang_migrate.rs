//! golang-migrate: `<version>_<name>.up.sql` and `<version>_<name>.down.sql`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{entries, file_name, split_number, stamps, Foreign, ImportError, Read};

/// A migration's name and its up and down files.
type Halves = (String, Option<PathBuf>, Option<PathBuf>);

pub fn read(source: &Path) -> Result<Read, ImportError> {
    // (length, version) → (name, up, down)
    let mut found: BTreeMap<(usize, String), Halves> = BTreeMap::new();
    let mut skipped = Vec::new();
    for p in entries(source)? {
        let name = file_name(&p);
        let (stem, up) = if let Some(s) = name.strip_suffix(".up.sql") {
            (s, true)
        } else if let Some(s) = name.strip_suffix(".down.sql") {
            (s, false)
        } else {
            if p.is_file() {
                skipped.push(format!("{name}: not <version>_<name>.up.sql or .down.sql"));
            }
            continue;
        };
        let Some((version, rest)) = split_number(stem) else {
            skipped.push(format!("{name}: no version number"));
            continue;
        };
        // Ordered by the version as a number (its length first, then its digits).
        let v = version.trim_start_matches('0');
        let entry = found
            .entry((v.len(), v.to_string()))
            .or_insert_with(|| (rest.to_string(), None, None));
        if up {
            entry.1 = Some(p.clone());
        } else {
            entry.2 = Some(p.clone());
        }
    }
    let raw: Vec<(String, String, Option<PathBuf>, Option<PathBuf>)> = found
        .into_iter()
        .map(|((_, v), (n, u, d))| (if v.is_empty() { "0".into() } else { v }, n, u, d))
        .collect();
    let versions: Vec<&str> = raw.iter().map(|r| r.0.as_str()).collect();
    let stamps = stamps(&versions);
    let mut migrations = Vec::new();
    for ((version, name, up, down), stamp) in raw.iter().zip(stamps) {
        let Some(up) = up else {
            skipped.push(format!("{version}_{name}.down.sql: no up file"));
            continue;
        };
        migrations.push(Foreign::from_files(
            up,
            down.as_deref(),
            version.clone(),
            stamp,
            name.clone(),
        )?);
    }
    Ok(Read::of(migrations, skipped))
}
