//! The index of a migrations directory (`<dir>/.pgshift/index`): the loaded set, kept with the
//! size, times, inode and device of every file it was read from, so that a deploy with nothing
//! to do and `status` need not read and parse thousands of files. Git's index is the model.
//!
//! A changed file must never be missed. The index is used only when all of these hold:
//! - it was written by this very program (its version, size and modification time), for this
//!   directory as given, from the same working directory, for the same environment;
//! - the clock has not gone back since it was written;
//! - the directory lists exactly the same SQL files, and every one of them, and every file a
//!   migration includes, has the same size, modification and change times (nanoseconds),
//!   inode and device. An edit that keeps the size and sets the modification time back still
//!   moves the change time, which no program can set; a file replaced by a rename has another
//!   inode; a copy of the directory (another checkout) has other inodes and change times.
//!
//! And it is written only when every one of those files was last changed more than
//! [`SETTLED`] before the files were read ("racily clean" in git's words): a file written
//! again within the same tick of a coarse clock could otherwise keep its times. Until then,
//! every load reads the files.
//!
//! The folders are not even listed when every folder the index was listed from still has
//! its stamp (taken just before the folder was read; a file added, removed or renamed
//! changes its folder's times, as git's untracked cache relies on): the index's own list of
//! files is stamped. Folders are trusted by the same settled rule; a folder reached twice by
//! links, or a link that leads to no folder, keeps them listed on every load.
//!
//! The index is a cache: a missing, damaged, foreign or unwritable one only costs the reading
//! of the files. `PGSHIFT_INDEX=off` turns it off. It lives in a hidden folder (never loaded
//! as migrations) with a `.gitignore` of its own, so that it is never committed.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Migration, MigrationSet};
use crate::config::Environment;
use crate::diagnostic::{Finding, Level, Location};

/// The folder of the index, under the migrations directory.
pub const INDEX_DIR: &str = ".pgshift";
const INDEX_FILE: &str = "index";
/// Bumped whenever what is stored changes shape.
const FORMAT: u32 = 3;
/// The most SQL an index holds: beyond it, the files' bytes cost the time, not their number.
const MAX_TEXT: usize = 64 << 20;
/// How long before the files were read a file must have last changed to be trusted by its
/// times alone: more than the coarsest file system clock (FAT: 2 s).
pub const SETTLED: Duration = Duration::from_secs(3);

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        fs::metadata(path).ok().map(|m| Stamp::from(&m))
    }

    /// Both times before `before` (seconds, nanoseconds since the epoch).
    fn settled(&self, before: (i64, i64)) -> bool {
        self.mtime < before && self.ctime < before
    }
}

impl From<&fs::Metadata> for Stamp {
    fn from(m: &fs::Metadata) -> Stamp {
        Stamp {
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        }
    }
}

/// Who wrote the index and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    format: u32,
    /// pgshift's version, and its executable's size and modification time: another build
    /// may load files differently.
    program: (String, u64, (i64, i64)),
    dir: PathBuf,
    cwd: PathBuf,
    env: Environment,
}

impl Key {
    fn now(dir: &Path, env: Environment) -> Option<Key> {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| fs::metadata(p).ok())?;
        Some(Key {
            format: FORMAT,
            program: (
                env!("CARGO_PKG_VERSION").to_string(),
                exe.size(),
                (exe.mtime(), exe.mtime_nsec()),
            ),
            dir: dir.to_path_buf(),
            cwd: std::env::current_dir().ok()?,
            env,
        })
    }
}

/// A location as stored: file, line, column, the line's text and what to underline.
type StoredLocation = (
    PathBuf,
    usize,
    usize,
    Option<String>,
    Option<(usize, usize)>,
);

/// A finding as stored: every field, the line's text included.
#[derive(Debug, Serialize, Deserialize)]
struct StoredFinding {
    rule: String,
    level: u8,
    message: String,
    location: Option<StoredLocation>,
    help: Option<String>,
    fix: Option<String>,
    allowed: Option<String>,
    stricter: Option<String>,
}

impl StoredFinding {
    fn from(f: &Finding) -> StoredFinding {
        StoredFinding {
            rule: f.rule.clone(),
            level: match f.level {
                Level::Info => 0,
                Level::Warning => 1,
                Level::Error => 2,
            },
            message: f.message.clone(),
            location: f.location.as_ref().map(|l| {
                (
                    l.file.clone(),
                    l.line,
                    l.column,
                    l.line_text.clone(),
                    l.underline,
                )
            }),
            help: f.help.clone(),
            fix: f.fix.clone(),
            allowed: f.allowed.clone(),
            stricter: f.stricter.clone(),
        }
    }

    fn finding(self) -> Finding {
        Finding {
            rule: self.rule,
            level: match self.level {
                0 => Level::Info,
                1 => Level::Warning,
                _ => Level::Error,
            },
            message: self.message,
            location: self
                .location
                .map(|(file, line, column, line_text, underline)| Location {
                    file,
                    line,
                    column,
                    line_text,
                    underline,
                }),
            help: self.help,
            fix: self.fix,
            allowed: self.allowed,
            stricter: self.stricter,
        }
    }
}

/// What is stored first, read before the rest: who wrote it, when, and the files it was read
/// from, so that the files can be stamped while the migrations are read.
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    key: Key,
    /// When the files were read (seconds, nanoseconds since the epoch).
    read_at: (i64, i64),
    /// Every folder listed, with its stamp from before it was read; `None` when the listing
    /// cannot be trusted by the folders' times (one changed too recently, or a folder is
    /// reached twice by links).
    folders: Option<Vec<(PathBuf, Stamp)>>,
    /// The listed SQL files, in order, with their stamps.
    files: Exact<(PathBuf, Stamp)>,
    /// Every file a migration includes, with its stamp.
    included: Vec<(PathBuf, Stamp)>,
}

/// What is stored after the head: the set, owned when read ([`Exact`]), borrowed when written
/// (`&[Migration]`).
#[derive(Debug, Serialize, Deserialize)]
struct Body<M = Exact<Migration>> {
    migrations: M,
    findings: Vec<StoredFinding>,
}

/// What a listing of the migrations folder found: the SQL files, in order, and every folder
/// it read with what `stat` said of it just before reading it (`None`: not to be trusted by
/// their times, as when a folder is reached twice by links).
pub struct Listed {
    /// The SQL files, in order.
    pub sql: Vec<PathBuf>,
    /// Each folder read, with its metadata from just before it was read.
    pub folders: Option<Vec<(PathBuf, fs::Metadata)>>,
}

/// A list read into a vector of its exact length. serde's own `Vec` reserves at most 1 MB
/// ahead and then doubles: 10,000 migrations (700 bytes each) were copied three times over
/// and their pages touched twice, a quarter of reading the index. Written as a `&[T]` is
/// (postcard: the length, then the elements).
#[derive(Debug)]
struct Exact<T>(Vec<T>);

impl<T: Serialize> Serialize for Exact<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Exact<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = Exact<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Exact<T>, A::Error> {
                // The length is the file's word: bounded by what an index can hold (each
                // element takes more than 64 bytes), so a damaged one cannot reserve more.
                let n = seq.size_hint().unwrap_or(0).min(2 * MAX_TEXT / 64);
                let mut out = Vec::with_capacity(n);
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(Exact(out))
            }
        }
        d.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

fn since_epoch(t: SystemTime) -> (i64, i64) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
        Err(_) => (0, 0),
    }
}

/// The set of the SQL files that `list` finds in `dir`: from the index when nothing changed,
/// else from `read` (which reads and parses them), the index then written again when it can
/// be. When no folder changed since the index was written, the folders are not listed again
/// (a file added, removed or renamed changes its folder's times, as git's untracked cache
/// relies on); the files are stamped while the index's migrations are read.
pub fn load<E>(
    dir: &Path,
    env: Environment,
    list: impl FnOnce() -> Result<Listed, E>,
    read: impl FnOnce(Vec<PathBuf>) -> MigrationSet,
) -> Result<MigrationSet, E> {
    let off = std::env::var("PGSHIFT_INDEX").is_ok_and(|v| v.eq_ignore_ascii_case("off"));
    match off {
        true => Ok(read(list()?.sql)),
        false => Ok(load_settled(dir, env, list, read, SETTLED)?.set),
    }
}

/// What [`load_settled`] did (what it did besides the set, for tests).
struct Loaded {
    set: MigrationSet,
    /// The set came from the index.
    #[cfg_attr(not(test), allow(dead_code))]
    indexed: bool,
    /// The folders were listed (not taken from the index).
    #[cfg_attr(not(test), allow(dead_code))]
    listed: bool,
}

/// [`load`], trusting files and folders last changed `settled` before they are read.
fn load_settled<E>(
    dir: &Path,
    env: Environment,
    list: impl FnOnce() -> Result<Listed, E>,
    read: impl FnOnce(Vec<PathBuf>) -> MigrationSet,
    settled: Duration,
) -> Result<Loaded, E> {
    let Some(key) = Key::now(dir, env) else {
        let set = read(list()?.sql);
        return Ok(Loaded {
            set,
            indexed: false,
            listed: true,
        });
    };
    let path = dir.join(INDEX_DIR).join(INDEX_FILE);
    // Made before the folder is stamped and listed: making it changes the folder's times.
    let _ = own_folder(dir);
    let mapped = open_index(&path);
    let seen = see(mapped.as_ref().and_then(|m| read_head(m, &key)), list)?;
    let listed = seen.listed.is_some();
    let now = SystemTime::now();
    let read_at = since_epoch(now);
    let settled_before = since_epoch(now.checked_sub(settled).unwrap_or(SystemTime::UNIX_EPOCH));
    let valid =
        (seen.head.as_ref()).is_some_and(|h| still_valid(h, seen.listed.as_deref(), &seen.stamps));
    let trusted_before = seen.head.as_ref().is_some_and(|h| h.folders.is_some());
    let sql = match (seen.listed, seen.head) {
        (Some(sql), _) => sql,
        (None, Some(h)) => h.files.0.into_iter().map(|(p, _)| p).collect(),
        (None, None) => unreachable!("the listing is skipped only with the index's head"),
    };
    let stamped = (sql, seen.stamps, seen.folders);
    if let (true, Some(body)) = (valid, seen.body) {
        let set = to_set(dir, body);
        // Folders that could not be trusted when the index was written, and can now: written
        // again once, so that the next runs need not list them.
        let newly_trusted = !trusted_before
            && (stamped.2.as_ref())
                .is_some_and(|f| f.iter().all(|(_, s)| s.settled(settled_before)));
        if newly_trusted {
            let _ = write_index(dir, &path, (key, read_at, settled_before), stamped, &set);
        }
        return Ok(Loaded {
            set,
            indexed: true,
            listed,
        });
    }
    drop(mapped);
    let set = read(stamped.0.clone());
    let _ = write_index(dir, &path, (key, read_at, settled_before), stamped, &set);
    Ok(Loaded {
        set,
        indexed: false,
        listed,
    })
}

/// What a load saw: the index's head and migrations (when it was there and whole, written
/// for this folder before the clock's present), the SQL files listed (`None`: no folder
/// changed, the index's listing holds), the files' stamps, and the folders' (`None`: not to
/// be trusted by their times).
struct Seen {
    head: Option<Head>,
    body: Option<Body>,
    listed: Option<Vec<PathBuf>>,
    stamps: Vec<Option<Stamp>>,
    folders: Option<Vec<(PathBuf, Stamp)>>,
}

/// Lists the folders unless the index's head says none changed, and stamps the files, while
/// the index's migrations (megabytes at 10,000) are read on another thread.
fn see<E>(
    head: Option<(Head, &[u8])>,
    list: impl FnOnce() -> Result<Listed, E>,
) -> Result<Seen, E> {
    // A clock set back since the index was written: times can repeat.
    let head = head.filter(|(h, _)| since_epoch(SystemTime::now()) >= h.read_at);
    let unchanged = head.as_ref().is_some_and(|(h, _)| {
        (h.folders.as_ref()).is_some_and(|f| f.iter().all(|(p, s)| Stamp::of(p) == Some(*s)))
    });
    let (body, listed, stamps) = std::thread::scope(|scope| {
        let body = (head.as_ref().map(|(_, bytes)| *bytes))
            .map(|bytes| scope.spawn(move || postcard::from_bytes::<Body>(bytes).ok()));
        let listed = match unchanged {
            true => Ok(None),
            false => list().map(Some),
        };
        let stamps = match (&listed, &head) {
            (Ok(Some(l)), _) => stamp_all(l.sql.iter()),
            (Ok(None), Some((h, _))) => stamp_all(h.files.0.iter().map(|(p, _)| p)),
            _ => Vec::new(),
        };
        (body.and_then(|b| b.join().ok().flatten()), listed, stamps)
    });
    let (listed, folders) = match listed? {
        Some(l) => {
            let folders =
                (l.folders).map(|f| f.iter().map(|(p, m)| (p.clone(), Stamp::from(m))).collect());
            (Some(l.sql), folders)
        }
        None => (None, head.as_ref().and_then(|(h, _)| h.folders.clone())),
    };
    Ok(Seen {
        head: head.map(|(h, _)| h),
        body,
        listed,
        stamps,
        folders,
    })
}

/// Each file's stamp (on every core: thousands of `stat` calls), `None` for one that cannot
/// be read.
fn stamp_all<'p>(paths: impl Iterator<Item = &'p PathBuf>) -> Vec<Option<Stamp>> {
    crate::parallel::map(
        paths.collect(),
        512,
        crate::parallel::cores(),
        |p: &PathBuf| Stamp::of(p),
    )
}

/// The index mapped, when it is whole: the payload, then its CRC-32 (a file cut short or
/// damaged is not used; not a signature: whoever can write the index can write the folder it
/// describes; SHA-256 cost 4 ms of every no-op at 10,000 migrations).
fn open_index(path: &Path) -> Option<Mapped> {
    let meta = fs::symlink_metadata(path).ok()?;
    // Larger than any index this program writes: not read at all.
    if !meta.is_file() || meta.len() > (2 * MAX_TEXT) as u64 {
        return None;
    }
    let file = fs::File::open(path).ok()?;
    let mapped = Mapped::of(&file)?;
    let (payload, tail) = mapped
        .bytes()
        .split_at_checked(mapped.len.checked_sub(4)?)?;
    (crc32(payload).to_le_bytes() == tail).then_some(mapped)
}

/// The head of a whole index written by this program for this folder, and the bytes of the
/// body after it.
fn read_head<'m>(mapped: &'m Mapped, key: &Key) -> Option<(Head, &'m [u8])> {
    let bytes = mapped.bytes();
    let payload = &bytes[..bytes.len() - 4];
    let (head, body) = postcard::take_from_bytes::<Head>(payload).ok()?;
    (head.key == *key).then_some((head, body))
}

/// A file mapped read-only, its pages mapped at once (`MAP_POPULATE`): the page cache's own
/// pages, neither copied nor faulted in one by one. Reading the 5 MB index of 10,000
/// migrations into a buffer cost 1,300 page faults and a copy.
///
/// The index is replaced by a rename, never rewritten in place, so a mapping of it never
/// changes under pgshift; only a program cutting the very file short while pgshift reads it
/// could fault (as it would for any mapped file).
struct Mapped {
    at: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn of(file: &fs::File) -> Option<Mapped> {
        use std::os::fd::AsRawFd;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        const POPULATE: libc::c_int = libc::MAP_POPULATE;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        const POPULATE: libc::c_int = 0;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: maps `len` bytes of an open file read-only and private; the mapping is
        // unmapped on drop and never written.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | POPULATE,
                file.as_raw_fd(),
                0,
            )
        };
        (at != libc::MAP_FAILED).then_some(Mapped { at, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes at `at`, mapped for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.at.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `of` mapped, once.
        unsafe { libc::munmap(self.at, self.len) };
    }
}

/// Whether every file is still the one the index was read from: the same listing (`sql`;
/// `None` when the folders did not change), the same stamps, the same included files.
fn still_valid(head: &Head, sql: Option<&[PathBuf]>, stamps: &[Option<Stamp>]) -> bool {
    let files = &head.files.0;
    if files.len() != stamps.len() || sql.is_some_and(|sql| sql.len() != files.len()) {
        return false;
    }
    let same_paths = || sql.is_none_or(|sql| files.iter().zip(sql).all(|((p, _), q)| p == q));
    let same_stamps = || (files.iter().zip(stamps)).all(|((_, stamp), now)| Some(*stamp) == *now);
    same_paths()
        && same_stamps()
        && (head.included.iter()).all(|(p, stamp)| Stamp::of(p) == Some(*stamp))
}

fn to_set(dir: &Path, body: Body) -> MigrationSet {
    MigrationSet {
        dir: dir.to_path_buf(),
        migrations: body.migrations.0,
        findings: body
            .findings
            .into_iter()
            .map(StoredFinding::finding)
            .collect(),
    }
}

/// Writes the index of `set`, read at `read_at` from the files `sql` stamped `stamps` before,
/// listed from `folders`, trusting files and folders last changed before `settled_before`:
/// not when a file (or a file included) changed too recently to be trusted by its times, nor
/// when a file could not be read or included (it may appear without any listed file
/// changing). Folders changed too recently are written as not to be trusted (listed again
/// by every run until they are written again).
fn write_index(
    dir: &Path,
    path: &Path,
    (key, read_at, settled_before): (Key, (i64, i64), (i64, i64)),
    (sql, stamps, folders): Stamped,
    set: &MigrationSet,
) -> Option<()> {
    if set
        .findings
        .iter()
        .any(|f| f.rule == "sql/include" || f.rule == "file/unreadable")
    {
        return None;
    }
    // Large data files: reading the index would cost what reading them does.
    let text: usize = set.migrations.iter().map(|m| m.source.len()).sum();
    if text > MAX_TEXT {
        return None;
    }
    let mut files = Vec::with_capacity(sql.len());
    for (p, s) in sql.into_iter().zip(stamps) {
        let s = s.filter(|s| s.settled(settled_before))?;
        files.push((p, s));
    }
    let mut included = Vec::new();
    for m in &set.migrations {
        let maps = std::iter::once(&m.includes).chain(m.down.as_ref().map(|d| &d.includes));
        for f in maps.flat_map(|map| map.files()) {
            let s = Stamp::of(&f.path).filter(|s| s.settled(settled_before))?;
            included.push((f.path.clone(), s));
        }
    }
    let folders = folders.filter(|f| f.iter().all(|(_, s)| s.settled(settled_before)));
    let head = Head {
        key,
        read_at,
        folders,
        files: Exact(files),
        included,
    };
    let body = Body {
        migrations: &set.migrations,
        findings: set.findings.iter().map(StoredFinding::from).collect(),
    };
    let folder = own_folder(dir)?;
    // A fresh file beside it, renamed over it: a reader sees the old index or the new one.
    // Written as it is serialized, its CRC-32 last: no copy of the set in memory.
    let tmp = tempfile::Builder::new()
        .prefix(".index")
        .tempfile_in(&folder)
        .ok()?;
    let mut out = Hashing {
        inner: std::io::BufWriter::new(tmp),
        crc: crc32fast::Hasher::new(),
    };
    postcard::to_io(&head, &mut out).ok()?;
    postcard::to_io(&body, &mut out).ok()?;
    let digest = out.crc.finalize().to_le_bytes();
    let mut w = out.inner;
    w.write_all(&digest).ok()?;
    w.into_inner().ok()?.persist(path).ok()?;
    Some(())
}

/// The SQL files as listed, their stamps, and the folders listed with theirs.
type Stamped = (
    Vec<PathBuf>,
    Vec<Option<Stamp>>,
    Option<Vec<(PathBuf, Stamp)>>,
);

/// The CRC-32 of `bytes` (crc32fast: the processor's carry-less multiply when it has one, 10
/// times the table's speed; 1.7 ms of a no-op's CPU at 10,000 migrations with the table).
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Passes bytes on, hashing them.
struct Hashing<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `<dir>/.pgshift`, made when missing with a `.gitignore` that ignores it whole; `None` when
/// something else (a link, a file) is in its place.
fn own_folder(dir: &Path) -> Option<PathBuf> {
    let folder = dir.join(INDEX_DIR);
    match fs::symlink_metadata(&folder) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return None,
        Err(_) => {
            fs::create_dir(&folder).ok()?;
            let mut ignore = crate::files::create_new(&folder.join(".gitignore"), 0o644).ok()?;
            ignore
                .write_all(b"# pgshift's index of this folder: a cache, never committed.\n*\n")
                .ok()?;
        }
    }
    Some(folder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ENV: Environment = Environment::Development;
    /// Short, for tests: files are written, then the test waits longer than this.
    const QUICK: Duration = Duration::from_millis(50);

    fn loaded(dir: &Path, settled: Duration) -> Loaded {
        load_settled(
            dir,
            ENV,
            || super::super::list(dir).map(|l| l.for_index().0),
            |sql| super::super::load_files(dir, sql, ENV),
            settled,
        )
        .unwrap()
    }

    fn load_with(dir: &Path, settled: Duration) -> (MigrationSet, bool) {
        let loaded = loaded(dir, settled);
        (loaded.set, loaded.indexed)
    }

    fn load(dir: &Path) -> (MigrationSet, bool) {
        load_with(dir, QUICK)
    }

    fn settle() {
        std::thread::sleep(QUICK * 3);
    }

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(dir.path().join(name), text).unwrap();
        }
        settle();
        dir
    }

    fn two() -> tempfile::TempDir {
        project(&[
            (
                "2026-01-01_a.sql",
                "-- @depends-on: none\nCREATE TABLE a (id int);\n",
            ),
            ("2026-01-02_b.sql", "CREATE TABLE b (id int);\n"),
        ])
    }

    /// What a set holds, as bytes: equal sets, equal bytes.
    fn bytes(set: &MigrationSet) -> Vec<u8> {
        let findings: Vec<StoredFinding> = set.findings.iter().map(StoredFinding::from).collect();
        postcard::to_stdvec(&(&set.migrations, &findings)).unwrap()
    }

    fn checksum(set: &MigrationSet, i: usize) -> String {
        set.migrations[i].checksum.as_str().to_string()
    }

    /// Rewrites `path` with `text` and gives it back its modification time.
    fn edit_keeping_mtime(path: &Path, text: &str) {
        let mtime = fs::metadata(path).unwrap().modified().unwrap();
        fs::write(path, text).unwrap();
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }

    #[test]
    fn an_unchanged_directory_comes_from_the_index_and_equals_the_files() {
        let dir = two();
        let (first, indexed) = load(dir.path());
        assert!(!indexed);
        crate::memory::said_here();
        let (second, indexed) = load(dir.path());
        assert!(indexed, "the second load should use the index");
        // Nothing read from disk: the allocator is not told of files by the hundred.
        assert_eq!(crate::memory::said_here(), []);
        assert_eq!(bytes(&first), bytes(&second));
        assert_eq!(second.migrations.len(), 2);
        // Findings too, with every field.
        let dir = project(&[(
            "2026-01-01_a.sql",
            "-- @frobnicate\nCREATE TABLE a (id int);\r\n",
        )]);
        let (first, _) = load(dir.path());
        assert!(!first.findings.is_empty());
        let (second, indexed) = load(dir.path());
        assert!(indexed);
        assert_eq!(bytes(&first), bytes(&second));
    }

    #[test]
    fn an_edit_that_keeps_the_size_and_the_modification_time_is_seen() {
        let dir = two();
        let (before, _) = load(dir.path());
        assert!(load(dir.path()).1);
        let path = dir.path().join("2026-01-02_b.sql");
        edit_keeping_mtime(&path, "CREATE TABLE c (id int);\n");
        let (after, indexed) = load(dir.path());
        assert!(!indexed, "a changed file must be read again");
        assert_ne!(checksum(&before, 1), checksum(&after, 1));
        assert!(after.migrations[1].source.contains("TABLE c"));
    }

    #[test]
    fn a_file_replaced_by_a_rename_is_seen() {
        let dir = two();
        load(dir.path());
        assert!(load(dir.path()).1);
        let path = dir.path().join("2026-01-02_b.sql");
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        let tmp = dir.path().join(".b.tmp");
        fs::write(&tmp, "CREATE TABLE d (id int);\n").unwrap();
        fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        fs::rename(&tmp, &path).unwrap();
        let (after, indexed) = load(dir.path());
        assert!(!indexed);
        assert!(after.migrations[1].source.contains("TABLE d"));
    }

    #[test]
    fn files_added_or_removed_are_seen() {
        let dir = two();
        load(dir.path());
        fs::write(dir.path().join("2026-01-03_c.sql"), "SELECT 1;\n").unwrap();
        let (set, indexed) = load(dir.path());
        assert!(!indexed);
        assert_eq!(set.migrations.len(), 3);
        settle();
        load(dir.path());
        fs::remove_file(dir.path().join("2026-01-01_a.sql")).unwrap();
        let (set, indexed) = load(dir.path());
        assert!(!indexed);
        assert_eq!(set.migrations.len(), 2);
    }

    /// Loads until the index trusts the folders (the first load makes the index's folder,
    /// a change of the migrations folder's times; a later one writes the folders trusted).
    fn load_until_not_listed(dir: &Path) -> MigrationSet {
        for _ in 0..4 {
            let loaded = loaded(dir, QUICK);
            if !loaded.listed {
                assert!(loaded.indexed);
                return loaded.set;
            }
            settle();
        }
        panic!("the folders were listed on every load");
    }

    #[test]
    fn unchanged_folders_are_not_listed_again_and_any_file_added_removed_or_renamed_is_seen() {
        let dir = two();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/2026-01-03_c.sql"), "SELECT 3;\n").unwrap();
        settle();
        let set = load_until_not_listed(dir.path());
        assert_eq!(set.migrations.len(), 3);
        // Not written again by the loads that trust it.
        let index = dir.path().join(INDEX_DIR).join(INDEX_FILE);
        let written = Stamp::of(&index);
        assert!(!loaded(dir.path(), QUICK).listed, "still trusted");
        assert!(!loaded(dir.path(), QUICK).listed);
        assert_eq!(Stamp::of(&index), written);
        // Added in a subfolder, without waiting: listed, found, and not trusted at once.
        fs::write(dir.path().join("sub/2026-01-04_d.sql"), "SELECT 4;\n").unwrap();
        let after = loaded(dir.path(), QUICK);
        assert!(after.listed && !after.indexed);
        assert_eq!(after.set.migrations.len(), 4);
        assert!(
            loaded(dir.path(), QUICK).listed,
            "a folder changed just now"
        );
        settle();
        load_until_not_listed(dir.path());
        // Renamed in the top folder.
        fs::rename(
            dir.path().join("2026-01-02_b.sql"),
            dir.path().join("2026-01-05_b.sql"),
        )
        .unwrap();
        let after = loaded(dir.path(), QUICK);
        assert!(after.listed);
        let versions: Vec<String> = (after.set.migrations.iter())
            .map(|m| m.version.to_string())
            .collect();
        assert!(
            versions.iter().any(|v| v.starts_with("2026-01-05")),
            "{versions:?}"
        );
        settle();
        load_until_not_listed(dir.path());
        // Removed from the subfolder; then the subfolder removed.
        fs::remove_file(dir.path().join("sub/2026-01-03_c.sql")).unwrap();
        assert_eq!(loaded(dir.path(), QUICK).set.migrations.len(), 3);
        settle();
        load_until_not_listed(dir.path());
        fs::remove_file(dir.path().join("sub/2026-01-04_d.sql")).unwrap();
        fs::remove_dir(dir.path().join("sub")).unwrap();
        assert_eq!(loaded(dir.path(), QUICK).set.migrations.len(), 2);
    }

    #[test]
    fn a_folder_reached_by_a_link_is_watched_through_it_and_a_repeated_one_always_listed() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("2026-02-01_x.sql"), "SELECT 1;\n").unwrap();
        let dir = two();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("shared")).unwrap();
        settle();
        assert_eq!(load_until_not_listed(dir.path()).migrations.len(), 3);
        // A file added where the link leads: the migrations folder itself did not change.
        fs::write(outside.path().join("2026-02-02_y.sql"), "SELECT 2;\n").unwrap();
        let after = loaded(dir.path(), QUICK);
        assert!(after.listed);
        assert_eq!(after.set.migrations.len(), 4);
        // The link pointed elsewhere: another folder behind the same name.
        let elsewhere = tempfile::tempdir().unwrap();
        settle();
        load_until_not_listed(dir.path());
        fs::remove_file(dir.path().join("shared")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("shared")).unwrap();
        assert_eq!(loaded(dir.path(), QUICK).set.migrations.len(), 2);
        // A link to a folder not there yet: when it appears, nothing listed changed.
        fs::remove_file(dir.path().join("shared")).unwrap();
        let later = outside.path().join("later");
        std::os::unix::fs::symlink(&later, dir.path().join("shared")).unwrap();
        settle();
        for _ in 0..3 {
            assert!(
                loaded(dir.path(), QUICK).listed,
                "a dangling link is trusted"
            );
            settle();
        }
        fs::create_dir(&later).unwrap();
        fs::write(later.join("2026-02-03_z.sql"), "SELECT 3;\n").unwrap();
        assert_eq!(loaded(dir.path(), QUICK).set.migrations.len(), 3);
        // A link back into the tree: its warning comes from the listing, made every time.
        fs::remove_file(dir.path().join("shared")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("again")).unwrap();
        settle();
        for _ in 0..3 {
            assert!(loaded(dir.path(), QUICK).listed);
            settle();
        }
    }

    #[test]
    fn a_clock_set_back_since_the_index_was_written_is_not_trusted() {
        let dir = two();
        load(dir.path());
        assert!(load(dir.path()).1);
        // The index says it was written an hour from now: the clock has gone back since.
        let path = dir.path().join(INDEX_DIR).join(INDEX_FILE);
        let raw = fs::read(&path).unwrap();
        let (mut head, body) = postcard::take_from_bytes::<Head>(&raw[..raw.len() - 4]).unwrap();
        head.read_at.0 += 3600;
        let mut bytes = postcard::to_stdvec(&head).unwrap();
        bytes.extend_from_slice(body);
        let digest = crc32(&bytes).to_le_bytes();
        bytes.extend_from_slice(&digest);
        fs::write(&path, bytes).unwrap();
        assert!(!load(dir.path()).1);
    }

    #[test]
    fn an_index_from_another_checkout_is_not_trusted() {
        let parent = tempfile::tempdir().unwrap();
        let a = parent.path().join("project");
        fs::create_dir(&a).unwrap();
        let files = [("2026-01-01_a.sql", "CREATE TABLE a (id int);\n")];
        for (n, t) in files {
            fs::write(a.join(n), t).unwrap();
        }
        settle();
        load(&a);
        assert!(load(&a).1);
        // Another checkout in the same place: same names, sizes and times, other content,
        // and the first checkout's index.
        let mtime = fs::metadata(a.join(files[0].0))
            .unwrap()
            .modified()
            .unwrap();
        let old = parent.path().join("old");
        fs::rename(&a, &old).unwrap();
        fs::create_dir_all(a.join(INDEX_DIR)).unwrap();
        fs::copy(
            old.join(INDEX_DIR).join(INDEX_FILE),
            a.join(INDEX_DIR).join(INDEX_FILE),
        )
        .unwrap();
        fs::write(a.join(files[0].0), "CREATE TABLE z (id int);\n").unwrap();
        fs::File::options()
            .write(true)
            .open(a.join(files[0].0))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        settle();
        let (set, indexed) = load(&a);
        assert!(!indexed);
        assert!(set.migrations[0].source.contains("TABLE z"));
    }

    #[test]
    fn files_changed_just_before_they_were_read_are_never_trusted_by_their_times() {
        let dir = two();
        // Everything changed within the last hour: no index is written.
        let (_, indexed) = load_with(dir.path(), Duration::from_secs(3600));
        assert!(!indexed);
        assert!(!dir.path().join(INDEX_DIR).join(INDEX_FILE).exists());
        assert!(!load_with(dir.path(), Duration::from_secs(3600)).1);
    }

    #[test]
    fn a_damaged_index_is_read_as_none_and_replaced() {
        let dir = two();
        load(dir.path());
        let path = dir.path().join(INDEX_DIR).join(INDEX_FILE);
        let mut raw = fs::read(&path).unwrap();
        raw[10] ^= 0xff;
        fs::write(&path, &raw).unwrap();
        assert!(!load(dir.path()).1);
        assert!(load(dir.path()).1, "rewritten");
        let raw = fs::read(&path).unwrap();
        fs::write(&path, &raw[..raw.len() / 2]).unwrap();
        assert!(!load(dir.path()).1);
        fs::write(&path, b"").unwrap();
        assert!(!load(dir.path()).1);
    }

    #[test]
    fn a_link_in_the_place_of_the_index_folder_is_never_written_through() {
        let dir = two();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(INDEX_DIR)).unwrap();
        let (set, _) = load(dir.path());
        assert_eq!(set.migrations.len(), 2);
        assert!(!load(dir.path()).1);
        assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_index_folder_ignores_itself_in_git_and_is_never_loaded() {
        let dir = two();
        load(dir.path());
        let ignore = fs::read_to_string(dir.path().join(INDEX_DIR).join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "*"));
        let (set, _) = load(dir.path());
        assert_eq!(set.migrations.len(), 2);
        let about_index = |f: &Finding| {
            f.location
                .as_ref()
                .is_some_and(|l| l.file.starts_with(dir.path().join(INDEX_DIR)))
        };
        assert!(!set.findings.iter().any(about_index), "{:?}", set.findings);
    }

    #[test]
    fn a_change_to_an_included_file_is_seen() {
        let dir = project(&[
            ("2026-01-01_a.sql", "\\ir part.psql\n"),
            ("part.psql", "CREATE TABLE p1 (id int);\n"),
        ]);
        load(dir.path());
        assert!(load(dir.path()).1);
        edit_keeping_mtime(&dir.path().join("part.psql"), "CREATE TABLE p2 (id int);\n");
        let (set, indexed) = load(dir.path());
        assert!(!indexed);
        assert!(set.migrations[0].source.contains("p2"));
    }

    #[test]
    fn a_missing_included_file_keeps_the_set_out_of_the_index() {
        let dir = project(&[("2026-01-01_a.sql", "\\ir part.psql\n")]);
        let (set, _) = load(dir.path());
        assert!(set.findings.iter().any(|f| f.rule == "sql/include"));
        // It may appear without any listed file changing.
        fs::write(dir.path().join("part.psql"), "SELECT 1;\n").unwrap();
        let (set, indexed) = load(dir.path());
        assert!(!indexed);
        assert!(set.findings.iter().all(|f| f.rule != "sql/include"));
    }
}
