//! The PostgreSQL client programs a backup and a restore run: `pg_dump` and `psql` of the
//! server's major version when installed (Debian keeps one folder per version), else the newest
//! that is not older than the server. An older `pg_dump` refuses to dump a newer server, so it
//! is refused here first, with what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::BackupError;

/// A client program and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub path: PathBuf,
    /// `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
    pub major: u32,
}

/// The major version in `pg_dump --version` output (`… 15.18 …` → 15, `… 9.6.24` → 9).
fn major_of(version: &str) -> Option<u32> {
    version
        .split_whitespace()
        .find(|w| w.contains('.') && w.starts_with(|c: char| c.is_ascii_digit()))?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Runs `path --version`.
pub fn probe(path: &Path) -> Option<Tool> {
    let out = Command::new(path).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Some(Tool {
        path: path.to_path_buf(),
        major: major_of(&version)?,
        version,
    })
}

/// Every place `program` may be, best first: the configured path alone, else Debian's folder of
/// the server's version, the other versions' folders (newest first), `pg_config --bindir`, and
/// PATH. Lazy: `pg_config` runs only when the first places did not do.
fn candidates<'a>(
    program: &'a str,
    configured: Option<&'a Path>,
    server_major: u32,
) -> Box<dyn Iterator<Item = PathBuf> + 'a> {
    if let Some(p) = configured {
        return Box::new(std::iter::once(p.to_path_buf()));
    }
    let versions = move || {
        let mut v: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path().join("bin").join(program))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.reverse();
        v
    };
    let pg_config = move || {
        Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| Path::new(String::from_utf8_lossy(&o.stdout).trim()).join(program))
    };
    let path = move || {
        std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(program))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    Box::new(
        std::iter::once(PathBuf::from(format!(
            "/usr/lib/postgresql/{server_major}/bin/{program}"
        )))
        .chain(std::iter::once_with(versions).flatten())
        .chain(std::iter::once_with(pg_config).flatten())
        .chain(std::iter::once_with(path).flatten()),
    )
}

/// The `program` (`pg_dump` or `psql`) to use with a server of `server_major`: the configured
/// one, else the first of the same major version (looking no further), else the nearest newer
/// one.
pub fn find(
    program: &str,
    configured: Option<&Path>,
    server_major: u32,
) -> Result<Tool, BackupError> {
    let mut found: Vec<Tool> = Vec::new();
    for c in candidates(program, configured, server_major) {
        if !c.is_file() || found.iter().any(|t| t.path == c) {
            continue;
        }
        if let Some(t) = probe(&c) {
            if t.major == server_major {
                return Ok(t);
            }
            found.push(t);
        }
    }
    if let Some(t) = found
        .iter()
        .filter(|t| t.major > server_major)
        .min_by_key(|t| t.major)
    {
        return Ok(t.clone());
    }
    let install = format!(
        "install PostgreSQL {server_major}'s client programs (Debian/Ubuntu: apt-get install -y postgresql-client-{server_major}), or name one with [backup] {program} in pgshift.toml"
    );
    match found.into_iter().max_by_key(|t| t.major) {
        Some(t) => Err(BackupError::Tool {
            message: format!(
                "{} is version {}, older than the server ({server_major}): it cannot {} it",
                t.path.display(),
                t.major,
                if program == "pg_dump" { "dump" } else { "restore into" }
            ),
            help: install,
        }),
        None => Err(BackupError::Tool {
            message: match configured {
                Some(p) => format!("{} is not a working {program}", p.display()),
                None => format!("{program} was not found (looked in /usr/lib/postgresql/*/bin, pg_config --bindir and PATH)"),
            },
            help: install,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_like_pg_dump_prints_them() {
        assert_eq!(
            major_of("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(major_of("pg_dump (PostgreSQL) 17.2"), Some(17));
        assert_eq!(major_of("psql (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(major_of("pg_dump (PostgreSQL) 18devel"), None);
    }

    #[test]
    fn an_older_or_missing_program_is_refused_with_what_to_install() {
        let Err(BackupError::Tool { message, help }) = find("pg_dump", None, 99) else {
            panic!("a pg_dump for PostgreSQL 99 was found");
        };
        assert!(
            message.contains("older than the server (99)") || message.contains("was not found"),
            "{message}"
        );
        assert!(help.contains("postgresql-client-99"), "{help}");
        let Err(BackupError::Tool { message, .. }) =
            find("pg_dump", Some(Path::new("/bin/false")), 15)
        else {
            panic!()
        };
        assert!(
            message.contains("/bin/false is not a working pg_dump"),
            "{message}"
        );
    }
}
