//! `pgshift backup list` as people read it: a line per backup, newest first.

use std::path::Path;

use crate::backup::Listed;
use crate::sanitize::escape::untrusted as u;

/// `12.3 MB`.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1048576.0)
}

/// A line per backup in `dir`, and the count.
pub fn list(backups: &[Listed], dir: &Path) -> String {
    let mut text = String::new();
    for b in backups {
        let name = b
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let about = match &b.manifest {
            Some(m) => format!(
                "{}  {}  {} migration(s) applied",
                u(&m.created_at),
                u(&m.target),
                m.applied.len()
            ),
            None => "no manifest".into(),
        };
        text.push_str(&format!("{}  {:>10}  {about}\n", u(&name), mb(b.size)));
    }
    text.push_str(&format!(
        "{} backup(s) in {}, newest first.\n",
        backups.len(),
        u(&dir.display().to_string())
    ));
    text
}
