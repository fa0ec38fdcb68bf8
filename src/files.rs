//! Writing files without following a symbolic link at the last component of the path. A link
//! planted where pgshift writes (a backup or its manifest, the day's log, the job summary, a
//! new migration, `init`'s files) is refused with an error, never written through: pgshift
//! must not overwrite or create a file somewhere else because someone put a link in its way.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Creates `path`, which must not exist (a link there, even a dangling one, counts as
/// existing: `O_CREAT | O_EXCL` never follows one).
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

/// Opens `path` for appending, created when missing; a link there is an error (`O_NOFOLLOW`).
pub fn append(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| linked(path, e))
}

/// Writes `bytes` as the new content of `path`, whole or not at all: into a fresh hidden file
/// beside it (a stale one is removed first, a link included, never followed), flushed to disk,
/// then renamed over `path`. A link at `path` is refused.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    if is_link(path) {
        return Err(link_error(path));
    }
    let tmp = partial_name(path);
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = create_new(&tmp, mode)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// `dir/.name.partial` for `dir/name`.
fn partial_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// Whether `path` itself is a symbolic link.
pub fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Whether anything is at `path`: a file, a folder, or a link (dangling too).
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn link_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link, and pgshift does not write through links (remove it, or write elsewhere)",
        path.display()
    ))
}

/// `O_NOFOLLOW` on a link fails with ELOOP: say what it means.
fn linked(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) && is_link(path) {
        link_error(path)
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A folder with `victim` (a file someone else owns) and `link` pointing at it, and
    /// `dangling` pointing at a file that does not exist.
    fn planted() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        symlink(&victim, dir.path().join("link")).unwrap();
        symlink(dir.path().join("nowhere"), dir.path().join("dangling")).unwrap();
        (dir, victim)
    }

    #[test]
    fn no_writer_follows_a_link_at_the_last_component() {
        let (dir, victim) = planted();
        let link = dir.path().join("link");
        let dangling = dir.path().join("dangling");
        assert!(create_new(&link, 0o600).is_err());
        assert!(create_new(&dangling, 0o600).is_err());
        let e = append(&link, 0o600).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(append(&dangling, 0o600).is_err());
        let e = replace(&link, b"hostile", 0o600).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        // A link planted at the hidden partial name is removed, not written through.
        symlink(&victim, dir.path().join(".target.partial")).unwrap();
        replace(&dir.path().join("target"), b"mine", 0o600).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("target")).unwrap(),
            "mine"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn writers_write_where_nothing_is_planted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        append(&p, 0o600).unwrap().write_all(b"a").unwrap();
        append(&p, 0o600).unwrap().write_all(b"b").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "ab");
        replace(&p, b"c", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "c");
        assert!(create_new(&p, 0o600).is_err());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
