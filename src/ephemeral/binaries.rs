//! Finding the PostgreSQL server programs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::EphemeralError;

/// Where to look, in order. Split out so tests can point it at fake folders.
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    /// `PGSHIFT_PG_BINDIR`: used alone when set.
    pub explicit: Option<PathBuf>,
    /// The `PATH` variable.
    pub path_var: Option<OsString>,
    /// What `pg_config --bindir` printed.
    pub pg_config_bindir: Option<PathBuf>,
    /// The Debian layout root, `/usr/lib/postgresql` (its `*/bin`, newest version first).
    pub debian_root: PathBuf,
}

const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

fn has_programs(dir: &Path) -> bool {
    PROGRAMS.iter().all(|p| is_executable(&dir.join(p)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds the folder holding initdb, pg_ctl and postgres on this machine.
pub fn find_bin_dir() -> Result<PathBuf, EphemeralError> {
    let pg_config_bindir = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    search_bin_dir(&SearchPaths {
        explicit: std::env::var_os("PGSHIFT_PG_BINDIR").map(PathBuf::from),
        path_var: std::env::var_os("PATH"),
        pg_config_bindir,
        debian_root: PathBuf::from("/usr/lib/postgresql"),
    })
}

/// Searches `paths` in order: the explicit folder; `PATH` (following a symlinked initdb to its
/// real folder, where pg_ctl and postgres live); `pg_config --bindir`; the newest
/// `<debian_root>/<version>/bin`.
pub fn search_bin_dir(paths: &SearchPaths) -> Result<PathBuf, EphemeralError> {
    if let Some(dir) = &paths.explicit {
        return if has_programs(dir) {
            Ok(dir.clone())
        } else {
            Err(EphemeralError::BinariesNotFound {
                searched: dir.display().to_string(),
            })
        };
    }
    let mut searched = Vec::new();
    if let Some(path_var) = &paths.path_var {
        for dir in std::env::split_paths(path_var) {
            let initdb = dir.join("initdb");
            if !is_executable(&initdb) {
                continue;
            }
            let real = std::fs::canonicalize(&initdb)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            for candidate in real.into_iter().chain([dir.clone()]) {
                if has_programs(&candidate) {
                    return Ok(candidate);
                }
            }
        }
        searched.push("PATH".to_string());
    }
    if let Some(dir) = &paths.pg_config_bindir {
        if has_programs(dir) {
            return Ok(dir.clone());
        }
        searched.push(format!("pg_config --bindir ({})", dir.display()));
    } else {
        searched.push("pg_config --bindir (no pg_config)".to_string());
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(&paths.debian_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let key: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            key.map(|k| (k, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.into_iter().rev().find(|(_, d)| has_programs(d)) {
        return Ok(dir);
    }
    searched.push(format!("{}/*/bin", paths.debian_root.display()));
    Err(EphemeralError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

/// The Debian directory of PostgreSQL `major`'s programs, when they are installed
/// (`/usr/lib/postgresql/<major>/bin`).
pub fn bin_dir_for_major(major: u32) -> Option<PathBuf> {
    let dir = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    has_programs(&dir).then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake_bin(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for p in PROGRAMS {
            let f = dir.join(p);
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn prefers_path_then_pg_config_then_newest_debian_version() {
        let t = tempfile::tempdir().unwrap();
        let debian = t.path().join("lib/postgresql");
        fake_bin(&debian.join("9.6/bin"));
        fake_bin(&debian.join("15/bin"));
        fake_bin(&debian.join("16/bin"));
        std::fs::create_dir_all(debian.join("17/bin")).unwrap(); // incomplete: skipped
        let mut paths = SearchPaths {
            debian_root: debian.clone(),
            ..SearchPaths::default()
        };
        assert_eq!(search_bin_dir(&paths).unwrap(), debian.join("16/bin"));

        let pgc = t.path().join("pgconfig/bin");
        fake_bin(&pgc);
        paths.pg_config_bindir = Some(pgc.clone());
        assert_eq!(search_bin_dir(&paths).unwrap(), pgc);

        // PATH has only a symlink to initdb: the real folder is used.
        let on_path = t.path().join("usr/local/bin");
        std::fs::create_dir_all(&on_path).unwrap();
        std::os::unix::fs::symlink(debian.join("15/bin/initdb"), on_path.join("initdb")).unwrap();
        paths.path_var = Some(std::env::join_paths([t.path().join("nothing"), on_path]).unwrap());
        assert_eq!(search_bin_dir(&paths).unwrap(), debian.join("15/bin"));
    }

    #[test]
    fn explains_where_it_looked() {
        let t = tempfile::tempdir().unwrap();
        let paths = SearchPaths {
            path_var: Some(OsString::from("/nonexistent")),
            debian_root: t.path().join("none"),
            ..SearchPaths::default()
        };
        let err = search_bin_dir(&paths).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("PATH, pg_config --bindir (no pg_config)"),
            "{msg}"
        );
        assert!(msg.contains("none/*/bin"), "{msg}");
        assert!(err.help().contains("apt-get install -y postgresql"));

        let explicit = SearchPaths {
            explicit: Some(t.path().to_path_buf()),
            ..paths
        };
        assert!(search_bin_dir(&explicit)
            .unwrap_err()
            .to_string()
            .ends_with(&t.path().display().to_string()));
    }
}
