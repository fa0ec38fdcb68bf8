//! The Supabase CLI: `supabase/migrations/<14-digit timestamp>_<name>.sql`, no down files.

use std::path::Path;

use super::{
    entries, file_name, read as read_file, split_number, stamps, Foreign, ImportError, Read,
};

pub fn read_dir(dir: &Path) -> Result<Read, ImportError> {
    let mut found: Vec<(String, String, std::path::PathBuf)> = Vec::new();
    let mut skipped = Vec::new();
    for p in entries(dir)? {
        let name = file_name(&p);
        match name.strip_suffix(".sql").and_then(split_number) {
            Some((version, rest)) if p.is_file() => {
                found.push((version.to_string(), rest.to_string(), p.clone()))
            }
            _ if p.is_file() => skipped.push(format!("{name}: not <timestamp>_<name>.sql")),
            _ => {}
        }
    }
    // The CLI applies them in version order.
    found.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(&b.0)));
    let versions: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    let stamps = stamps(&versions);
    let mut migrations = Vec::new();
    for ((version, name, path), stamp) in found.iter().zip(stamps) {
        migrations.push(Foreign {
            original: path.clone(),
            source_version: version.clone(),
            stamp,
            name: name.clone(),
            up: read_file(path)?,
            down: None,
            no_transaction: false,
            requires: Vec::new(),
        });
    }
    Ok(Read {
        migrations,
        skipped,
    })
}

/// The project folder (with `supabase/migrations`) or the migrations folder itself.
pub fn read(source: &Path) -> Result<Read, ImportError> {
    let nested = source.join("supabase/migrations");
    read_dir(if nested.is_dir() { &nested } else { source })
}
