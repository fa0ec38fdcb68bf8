//! The Supabase CLI: `supabase/migrations/<14-digit timestamp>_<name>.sql`, no down files.

use std::path::Path;

use super::{versioned_sql, Foreign, ImportError, Read};

pub fn read_dir(dir: &Path) -> Result<Read, ImportError> {
    let mut skipped = Vec::new();
    // The CLI applies them in version order.
    let migrations = versioned_sql(dir, &mut skipped)?
        .into_iter()
        .map(|f| Foreign::from_files(&f.path, None, f.version, f.stamp, f.name))
        .collect::<Result<_, ImportError>>()?;
    Ok(Read::of(migrations, skipped))
}

/// The project folder (with `supabase/migrations`), the `supabase/` folder, or the migrations
/// folder itself.
pub fn read(source: &Path) -> Result<Read, ImportError> {
    let named_supabase = source
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n == "supabase"))
        .unwrap_or(false);
    let nested = source.join("supabase/migrations");
    let dir = if nested.is_dir() {
        nested
    } else if named_supabase && source.join("migrations").is_dir() {
        source.join("migrations")
    } else {
        source.to_path_buf()
    };
    read_dir(&dir)
}
