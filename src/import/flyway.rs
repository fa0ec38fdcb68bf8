//! Flyway: `V<version>__<description>.sql` (versions like `1`, `1.1`, `2_1`, ordered by their
//! numeric parts), `U<version>__<description>.sql` undo files, and repeatable
//! `R__<description>.sql` files, which become pgshift's repeatables (`repeatable/<name>.sql`,
//! run after every versioned migration when they name no dependency, as Flyway runs them).
//! Folders are searched recursively, as Flyway does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{file_name, Foreign, ImportError, Read, Stamp};

/// Every file under `dir`, recursively, as Flyway searches; a link to a folder is not followed
/// (it may lead outside the source, or back into it forever).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    for p in super::entries(dir)? {
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            walk(&p, out)?;
        } else if p.is_dir() {
            continue;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// `1_2` or `1.2` → [1, 2].
fn parts(version: &str) -> Option<Vec<u64>> {
    version
        .split(['.', '_'])
        .map(|p| p.parse::<u64>().ok())
        .collect()
}

pub fn read(source: &Path) -> Result<Read, ImportError> {
    let mut files = Vec::new();
    walk(source, &mut files)?;
    let mut ups: BTreeMap<Vec<u64>, (String, String, PathBuf)> = BTreeMap::new();
    let mut undos: BTreeMap<Vec<u64>, PathBuf> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut repeatables: BTreeMap<String, PathBuf> = BTreeMap::new();
    for p in files {
        let name = file_name(&p);
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        if let Some(description) = stem.strip_prefix("R__") {
            // Flyway runs its repeatables in the order of their descriptions.
            repeatables.insert(description.to_string(), p.clone());
            continue;
        }
        let Some(first) = stem.chars().next() else {
            continue;
        };
        let (kind, rest) = stem.split_at(first.len_utf8());
        let Some((version, description)) = rest.split_once("__") else {
            skipped.push(format!("{name}: not V<version>__<description>.sql"));
            continue;
        };
        let Some(key) = parts(version) else {
            skipped.push(format!("{name}: `{version}` is not a Flyway version"));
            continue;
        };
        match kind {
            "V" => {
                ups.insert(
                    key,
                    (
                        version.replace('_', "."),
                        description.to_string(),
                        p.clone(),
                    ),
                );
            }
            "U" => {
                undos.insert(key, p.clone());
            }
            _ => skipped.push(format!("{name}: not a V, U or R migration")),
        }
    }
    let mut migrations = Vec::new();
    for (key, (version, description, path)) in ups {
        // flyway_schema_history.version
        migrations.push(Foreign::from_files(
            &path,
            undos.get(&key).map(|u| u.as_path()),
            version,
            Stamp::Sequence,
            description.replace("__", "_"),
        )?);
    }
    let mut names = std::collections::HashSet::new();
    for (description, path) in repeatables {
        let slug = crate::migration::filename::suggest_description(&description.replace("__", "_"));
        if slug.is_empty() || !names.insert(slug.clone()) {
            skipped.push(format!(
                "{}: a repeatable whose name is empty or the same as another's once written as a-z, 0-9 and `_` ({slug:?}): rename it",
                file_name(&path)
            ));
            continue;
        }
        migrations.push(Foreign::from_files(
            &path,
            None,
            format!("R__{description}"),
            Stamp::Repeatable,
            description.replace("__", "_"),
        )?);
    }
    Ok(Read::of(migrations, skipped))
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_order_by_their_numbers() {
        let mut v = ["1.10", "1.2", "2", "1_9"].map(|s| super::parts(s).unwrap());
        v.sort();
        assert_eq!(v, [vec![1, 2], vec![1, 9], vec![1, 10], vec![2]]);
        assert!(super::parts("1.a").is_none());
    }

    #[test]
    fn odd_file_names_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        for f in [".sql", "é__x.sql", "V1__ok.sql", "Vx__bad.sql"] {
            std::fs::write(dir.path().join(f), "SELECT 1;\n").unwrap();
        }
        let read = super::read(dir.path()).unwrap();
        assert_eq!(read.migrations.len(), 1);
        assert_eq!(read.skipped.len(), 2, "{:?}", read.skipped);
    }
}
