//! The deploy log, `logs/migration_YYYYMMDD.log`: every event of every run as a JSON line with
//! its UTC time, readable by its owner only (it names hosts, roles and statements).

use std::io::Write;

use crate::deploy::Event;
use crate::report::terminal::{safe, Kind};

/// The day's log, open for appending.
pub struct EventLog {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl EventLog {
    /// Opens (appending) the day's log in `dir`, 0600. The folder is created private too,
    /// with a `.gitignore`. A link in the log's place is refused (`crate::files::append`).
    pub fn open(dir: &std::path::Path) -> Result<EventLog, String> {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!(
            "migration_{}.log",
            chrono::Utc::now().format("%Y%m%d")
        ));
        crate::backup::private_dir(dir).map_err(|e| e.to_string())?;
        let file = crate::files::append(&path, 0o600)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // A log created by an older pgshift (0644) is closed too.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        Ok(EventLog { file, path })
    }

    /// Appends `e` with the time now; the error says which log could not be written.
    pub fn write(&mut self, e: &Event) -> Result<(), String> {
        let mut v = serde_json::to_value(e).unwrap_or_default();
        v["at"] = serde_json::Value::String(
            chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
        );
        self.file
            .write_all(safe(&format!("{v}\n"), Kind::Json, false).as_bytes())
            .map_err(|err| format!("cannot write the log {}: {err}", self.path.display()))
    }
}
