//! Prisma Migrate: `prisma/migrations/<timestamp>_<name>/migration.sql` (and
//! `migration_lock.toml`); no down files.

use std::path::Path;

use super::{entries, file_name, split_number, stamps, Foreign, ImportError, Read};

pub fn read(source: &Path) -> Result<Read, ImportError> {
    let nested = source.join("prisma/migrations");
    let dir = if nested.is_dir() {
        nested
    } else {
        source.to_path_buf()
    };
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for p in entries(&dir)? {
        let name = file_name(&p);
        if !p.is_dir() {
            if name != "migration_lock.toml" {
                skipped.push(format!("{name}: not a migration folder"));
            }
            continue;
        }
        let sql = p.join("migration.sql");
        match split_number(&name) {
            Some((version, rest)) if sql.is_file() => {
                found.push((version.to_string(), rest.to_string(), name.clone(), sql))
            }
            _ => skipped.push(format!("{name}/: no <timestamp>_<name>/migration.sql")),
        }
    }
    // Prisma applies the folders in name order.
    found.sort_by(|a, b| a.2.cmp(&b.2));
    let versions: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    let stamps = stamps(&versions);
    let mut migrations = Vec::new();
    for ((_, name, folder, sql), stamp) in found.iter().zip(stamps) {
        // `_prisma_migrations.migration_name` holds the folder's name.
        migrations.push(Foreign::from_files(
            sql,
            None,
            folder.clone(),
            stamp,
            name.clone(),
        )?);
    }
    Ok(Read::of(migrations, skipped))
}
