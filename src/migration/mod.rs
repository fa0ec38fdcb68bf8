//! Migration files: discovery under the migrations directory, file names, the header block and
//! directives, checksums and down files. Pure: reads files, never touches a database.

pub mod filename;
pub mod header;
pub mod include;
mod index;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::config::Environment;
use crate::diagnostic::{Finding, Location};

pub use filename::{Kind, ParsedName, Version};
pub use header::{Allow, DepRef, Directives, FrontMatter, Header};
pub use include::SourceMap;

/// SHA-256 of a file's bytes, lower-case hex. A large file's is made on another core once
/// the file is read, and waited for where it is first read: a deploy reads it only for the
/// migration's record, so a 100 MB data file's rows are sent while it is made.
#[derive(Clone)]
pub struct Checksum(Digits);

/// A checksum's hex digits: known (nearly all: a set of 20,000 files keeps 20,000 of them), or
/// being made.
#[derive(Clone)]
enum Digits {
    Known(Box<str>),
    Later(crate::parallel::Later<String>),
}

impl Checksum {
    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Checksum {
        Checksum::from_hex(hex(&Sha256::digest(bytes)))
    }

    /// A checksum known already: 64 lower-case hex digits (not checked).
    pub fn from_hex(hex: String) -> Checksum {
        Checksum(Digits::Known(hex.into_boxed_str()))
    }

    /// The SHA-256 of `prefix` then `text`, made on another core from now on.
    fn of_text_later(prefix: &'static [u8], text: std::sync::Arc<String>) -> Checksum {
        Checksum(Digits::Later(crate::parallel::Later::spawn(move || {
            let mut h = Sha256::new();
            h.update(prefix);
            h.update(text.as_bytes());
            hex(&h.finalize())
        })))
    }

    /// The hex digits (waiting for them when they are being made).
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Digits::Known(hex) => hex,
            Digits::Later(later) => later.get(),
        }
    }

    /// The hex digits, made or being made, to be read later (by a migration's record).
    pub fn value(&self) -> crate::parallel::Later<String> {
        match &self.0 {
            Digits::Known(hex) => crate::parallel::Later::ready(hex.to_string()),
            Digits::Later(later) => later.clone(),
        }
    }
}

/// Lower-case hex digits of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    hex
}

impl PartialEq for Checksum {
    fn eq(&self, other: &Checksum) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Checksum {}

impl std::hash::Hash for Checksum {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Checksum, D::Error> {
        String::deserialize(d).map(Checksum::from_hex)
    }
}

/// A down file (`….down.sql`) beside its up file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DownFile {
    /// The down file.
    pub path: PathBuf,
    /// The file's text, with the files it includes (`\i`, `\ir`) read in.
    pub source: std::sync::Arc<String>,
    /// SHA-256 of its bytes (of the text that runs when it includes files).
    pub checksum: Checksum,
    /// Where each part of `source` came from.
    pub includes: SourceMap,
}

impl DownFile {
    /// The location of byte `offset` of `source`, in the file it came from.
    pub fn locate(&self, offset: usize, len: usize) -> Location {
        self.includes.locate(&self.path, &self.source, offset, len)
    }
}

/// One migration: its up file, what its header and directives say, and its down file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Migration {
    /// `2026-01-21_add_user_profiles`: the file name without `.sql`.
    pub version: Version,
    /// The date of its name.
    pub date: NaiveDate,
    /// The description of its name.
    pub description: String,
    /// The up file.
    pub path: PathBuf,
    /// The file's text (UTF-8; a byte order mark removed), with the files it includes
    /// (`\i`, `\ir`) read in: the SQL that runs.
    pub source: std::sync::Arc<String>,
    /// SHA-256 of the file's bytes; of the text that runs when the file includes others, so
    /// that a change to an included file is a change to the migration.
    pub checksum: Checksum,
    /// Where each part of `source` came from.
    pub includes: SourceMap,
    /// What its leading comments say: the header and the directives.
    pub front: FrontMatter,
    /// Header `Dependencies` and `@depends-on`, merged, each version once.
    pub dependencies: Vec<DepRef>,
    /// The down file beside it, if any (boxed: most migrations of a large set have none).
    pub down: Option<Box<DownFile>>,
}

impl Migration {
    /// Whether it is a repeatable migration (`repeatable/…`): run again whenever its SQL
    /// changes.
    pub fn is_repeatable(&self) -> bool {
        self.version.is_repeatable()
    }

    /// Whether this migration runs in `env` (its `@env` directive).
    pub fn runs_in(&self, env: Environment) -> bool {
        self.front
            .directives
            .environments
            .as_ref()
            .is_none_or(|envs| envs.contains(&env))
    }

    /// Whether the file holds SQL after its comments. One that does not is skipped by deploys.
    pub fn has_sql(&self) -> bool {
        self.front.sql_start.is_some()
    }

    /// The location of byte `offset` of `source`, in the file it came from (the migration or
    /// a file it includes).
    pub fn locate(&self, offset: usize, len: usize) -> Location {
        self.includes.locate(&self.path, &self.source, offset, len)
    }

    /// The location of a whole line (1-based) of `source`, in the file it came from.
    pub fn locate_line(&self, line: usize) -> Location {
        self.includes.locate_line(&self.path, &self.source, line)
    }

    /// File name, e.g. `2026-01-21_add_user_profiles.sql` (`repeatable/views.sql`).
    pub fn file_name(&self) -> String {
        self.version.file_name()
    }
}

/// The folder `squash` moves the migrations it replaced to, under the migrations directory:
/// kept for reference, never loaded.
pub const SQUASHED_DIR: &str = "squashed";

/// The folder of data tests (`tests/<version>.before.sql`, `.after.sql`), under the
/// migrations directory: read by `pgshift test`, never loaded as migrations.
pub const TESTS_DIR: &str = "tests";

/// Every migration found under a directory, in version order, and what was wrong with the files.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    /// The migrations directory.
    pub dir: PathBuf,
    /// Every migration, in version order.
    pub migrations: Vec<Migration>,
    /// What is wrong with the files (names, headers, encodings, includes).
    pub findings: Vec<Finding>,
}

impl MigrationSet {
    /// Every version a baseline replaces (`-- @replaces:`), with the baseline's index.
    pub fn replaced(&self) -> HashMap<Version, usize> {
        let mut out = HashMap::new();
        for (i, m) in self.migrations.iter().enumerate() {
            for r in &m.front.directives.replaces {
                if let Ok(v) = Version::parse_reference(r) {
                    out.insert(v, i);
                }
            }
        }
        out
    }

    /// The migration of `version`, if there is one.
    pub fn get(&self, version: &Version) -> Option<&Migration> {
        self.migrations
            .binary_search_by(|m| m.version.cmp(version))
            .ok()
            .map(|i| &self.migrations[i])
    }
}

/// The migrations directory cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("migrations directory {} does not exist", .0.display())]
    /// The directory does not exist.
    MissingDir(PathBuf),
    #[error("{} is not a directory", .0.display())]
    /// The path is a file, not a directory.
    NotADir(PathBuf),
    #[error("cannot list {}: {source}", path.display())]
    /// The directory cannot be listed.
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl LoadError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            LoadError::MissingDir(_) | LoadError::NotADir(_) => {
                "pass the folder with --dir, set [migrations] dir in pgshift.toml, or run `pgshift init`"
            }
            LoadError::ReadDir { .. } => "check the folder's permissions",
        }
    }
}

/// Loads every migration under `dir` (recursively; hidden entries skipped). Bad files become
/// findings; only an unusable directory is an error.
pub fn load_dir(dir: &Path, env: Environment) -> Result<MigrationSet, LoadError> {
    let listing = list(dir)?;
    let mut set = load_files(dir, listing.sql, env);
    listing.links.add_findings(&mut set);
    Ok(set)
}

/// Loads like [`load_dir`], through the index of `dir` (`index.rs`): when no file changed
/// since the index was written, the set comes from it without reading or parsing a file;
/// otherwise the files are read and the index written again. The same set either way.
pub fn load_dir_indexed(dir: &Path, env: Environment) -> Result<MigrationSet, LoadError> {
    let mut links = RepeatedFolders(Vec::new());
    let mut set = index::load(
        dir,
        env,
        || {
            list(dir).map(|listing| {
                let (listed, repeated) = listing.for_index();
                links = repeated;
                listed
            })
        },
        |sql| load_files(dir, sql, env),
    )?;
    links.add_findings(&mut set);
    Ok(set)
}

/// The SQL files under a migrations directory, and the folders reached twice by links.
struct Listing {
    sql: Vec<PathBuf>,
    links: RepeatedFolders,
    /// Every folder read, with what `stat` said of it just before it was read.
    folders: Vec<(PathBuf, fs::Metadata)>,
    /// A symbolic link that leads to no folder (dangling, or to a file) was met.
    loose_links: bool,
}

impl Listing {
    /// What the index is given, and the folders reached twice (whose warnings the caller
    /// adds). A folder reached twice by links, or a link to no folder (what it leads to may
    /// become one while no folder listed changes): the listing is not trusted by the folders'
    /// times.
    fn for_index(self) -> (index::Listed, RepeatedFolders) {
        let trusted = self.links.0.is_empty() && !self.loose_links;
        let listed = index::Listed {
            sql: self.sql,
            folders: trusted.then_some(self.folders),
        };
        (listed, self.links)
    }
}

/// Folders reached a second time through a symbolic link: (the link, the folder's first path).
struct RepeatedFolders(Vec<(PathBuf, PathBuf)>);

impl RepeatedFolders {
    /// A warning for each, the set's findings sorted again.
    fn add_findings(self, set: &mut MigrationSet) {
        for (link, first) in self.0 {
            let looped = link.starts_with(&first);
            let message = if looped {
                format!(
                    "{} leads back to {} (a symbolic link loop); it is not followed",
                    link.display(),
                    first.display()
                )
            } else {
                format!(
                    "{} is the same folder as {}; its files are read once",
                    link.display(),
                    first.display()
                )
            };
            set.findings.push(
                Finding::warning("file/symlink-loop", message)
                    .at(Location::file(&link))
                    .help("remove the symbolic link, or point it outside the migrations tree"),
            );
        }
        set.findings.sort_by(Finding::by_place);
    }
}

/// Lists the SQL files under `dir`, in name order, without `squashed/` and `tests/`.
fn list(dir: &Path) -> Result<Listing, LoadError> {
    let top = match fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::MissingDir(dir.to_path_buf()))
        }
        Err(source) => {
            return Err(LoadError::ReadDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        Ok(m) if !m.is_dir() => return Err(LoadError::NotADir(dir.to_path_buf())),
        Ok(m) => m,
    };
    let mut files = Vec::new();
    let mut seen = HashMap::new();
    seen.insert((top.dev(), top.ino()), dir.to_path_buf());
    let mut walk = Walk {
        repeated: Vec::new(),
        folders: vec![(dir.to_path_buf(), top)],
        loose_links: false,
    };
    list_files(dir, &mut files, &mut seen, &mut walk)?;
    // `squash` keeps the files it replaced in `squashed/`: kept, never run.
    // Data tests (`tests/<version>.after.sql`) run around migrations, not as ones.
    // Every path listed is `dir` joined with names, as these two are: a folder's files are
    // under it when their bytes start with its own and a separator.
    let (squashed, tests) = (dir.join(SQUASHED_DIR), dir.join(TESTS_DIR));
    let under = |p: &Path, folder: &Path| {
        p.as_os_str()
            .as_bytes()
            .strip_prefix(folder.as_os_str().as_bytes())
            .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
    };
    // Only SQL files are read; the rest (README.md, …) are not migrations. A file a migration
    // includes under another name is read when it is included.
    let sql: Vec<PathBuf> = files
        .into_iter()
        .filter(|p| {
            !under(p, &squashed)
                && !under(p, &tests)
                && p.file_name().is_some_and(|n| {
                    let n = n.as_bytes();
                    n.len() >= 4 && n[n.len() - 4..].eq_ignore_ascii_case(b".sql")
                })
        })
        .collect();
    Ok(Listing {
        sql,
        links: RepeatedFolders(walk.repeated),
        folders: walk.folders,
        loose_links: walk.loose_links,
    })
}

/// From what size a file is large: read on every core at once, its checksum made on another
/// core once it is read and waited for where it is first read ([`Checksum`]).
const LARGE_FILE: usize = 4 << 20;

/// Reads every file, on as many threads as there are cores (thousands of small files: the
/// time goes to the system calls); the results keep the order of `paths`.
fn read_all(paths: Vec<PathBuf>) -> Vec<FileRead> {
    crate::parallel::map(paths, 64, crate::parallel::cores(), |p| {
        let bytes = read_file(&p);
        (p, bytes)
    })
}

/// A file's path and its bytes, or why they could not be read.
type FileRead = (PathBuf, std::io::Result<Vec<u8>>);

/// A file's bytes, as `fs::read` reads them; a large one says so to the allocator
/// ([`crate::memory::large_input`]) before its buffer is made, and is read in parts, one per
/// core: the kernel's copy and the faults of a fresh buffer are most of a read's time (a
/// 100 MB file from the page cache: 30 ms on two cores, 60 on one).
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let mut file = fs::File::open(path)?;
    let size = (file.metadata().ok()).map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX));
    let mut bytes = Vec::new();
    if let Some(n) = size.filter(|&n| n >= LARGE_FILE) {
        crate::memory::large_input();
        bytes = zeroed(n).ok_or(std::io::ErrorKind::OutOfMemory)?;
        if read_parts(&file, &mut bytes, crate::parallel::cores())? {
            // Grown since its size was read: the rest, as `fs::read` would.
            file.seek(std::io::SeekFrom::Start(n as u64))?;
            file.read_to_end(&mut bytes)?;
            return Ok(bytes);
        }
        // Shrunk since: read again from the start.
        bytes.clear();
        file.rewind()?;
    }
    bytes
        .try_reserve_exact(size.unwrap_or(0))
        .map_err(|_| std::io::ErrorKind::OutOfMemory)?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `n` zero bytes, or `None` when memory is short. Fresh memory from the system is zero
/// already: unlike `resize`, nothing writes it here, so the readers' cores fault its pages in.
fn zeroed(n: usize) -> Option<Vec<u8>> {
    let layout = std::alloc::Layout::array::<u8>(n).ok()?;
    if n == 0 {
        return Some(Vec::new());
    }
    // SAFETY: `layout` is not zero-sized; the pointer, when not null, is `n` zeroed bytes from
    // the global allocator with the alignment and size of a `Vec<u8>` of capacity `n`, whose
    // `n` elements are initialised (0 is a valid `u8`).
    unsafe {
        let p = std::alloc::alloc_zeroed(layout);
        (!p.is_null()).then(|| Vec::from_raw_parts(p, n, n))
    }
}

/// Fills `buf` from the start of `file`, in `parts` read at once; whether every part was
/// filled (not, when the file is shorter than `buf`).
fn read_parts(file: &fs::File, buf: &mut [u8], parts: usize) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let part = buf.len().div_ceil(parts.max(1)).max(1);
    let fill = |(i, chunk): (usize, &mut [u8])| -> std::io::Result<bool> {
        let at = (i * part) as u64;
        let mut got = 0;
        while got < chunk.len() {
            match file.read_at(&mut chunk[got..], at + got as u64) {
                Ok(0) => return Ok(false),
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    };
    std::thread::scope(|scope| {
        let mut chunks = buf.chunks_mut(part).enumerate();
        let first = chunks.next();
        let others: Vec<_> = chunks.map(|c| scope.spawn(move || fill(c))).collect();
        let mut whole = first.map_or(Ok(true), fill)?;
        for o in others {
            let filled = o
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            whole &= filled;
        }
        Ok(whole)
    })
}

/// The set of the migrations in `paths` (see [`from_files`]), read from disk.
fn load_files(dir: &Path, paths: Vec<PathBuf>, env: Environment) -> MigrationSet {
    crate::memory::many_files();
    from_read(dir, read_all(paths), env)
}

/// Builds a set from file paths and their contents (or the error reading them). `load_dir`
/// uses it with files from disk; tests and library users can pass files made in memory.
pub fn from_files(
    dir: &Path,
    files: impl IntoIterator<Item = (PathBuf, std::io::Result<Vec<u8>>)>,
    env: Environment,
) -> MigrationSet {
    from_read(dir, files.into_iter().collect(), env)
}

/// [`from_files`] of files read already.
fn from_read(dir: &Path, mut files: Vec<FileRead>, env: Environment) -> MigrationSet {
    // `load_dir` lists in this order already: checking costs one comparison per file.
    if !files.is_sorted_by(|a, b| a.0 <= b.0) {
        files.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let Named {
        mut contents,
        others,
        misnamed,
        ups,
        downs,
        mut findings,
    } = by_name(dir, files);
    // An included file is read from what was given, else from disk.
    let read = |p: &Path| match others.get(&include::absolute(p)) {
        Some(b) => Ok(b.clone()),
        None => fs::read(p),
    };
    // Each migration is read on its own (its text, includes, header): on every core.
    let jobs: Vec<_> = ups
        .into_iter()
        .map(|(version, (path, parsed))| {
            let up = contents.remove(&path);
            let down = downs.get(&version).map(|d| (d.clone(), contents.remove(d)));
            (version, path, parsed, up, down)
        })
        .collect();
    let loaded = crate::parallel::map(
        jobs,
        256,
        crate::parallel::cores(),
        |(version, path, parsed, up, down)| {
            load_migration(dir, &read, env, version, path, parsed, up, down)
        },
    );
    // Every included file (absolute) and the first file that includes it.
    let mut included: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut migrations = Vec::with_capacity(loaded.len());
    for l in loaded {
        for (file, by) in l.included {
            included.entry(file).or_insert(by);
        }
        findings.extend(l.findings);
        migrations.push(l.migration);
    }
    for (path, finding) in misnamed {
        if !included.contains_key(&include::absolute(&path)) {
            findings.push(finding);
        }
    }
    included_twice(&migrations, &included, &mut findings);
    findings.sort_by(Finding::by_place);
    MigrationSet {
        dir: dir.to_path_buf(),
        migrations,
        findings,
    }
}

/// The files sorted by their names: migrations (up and down) by version, with their bytes;
/// the others (which a migration may include); the misnamed, with their findings.
struct Named {
    contents: HashMap<PathBuf, std::io::Result<Vec<u8>>>,
    /// Files that are not migrations, by absolute path: a migration may include them.
    others: HashMap<PathBuf, Vec<u8>>,
    /// Bad names: errors, unless a migration includes the file.
    misnamed: Vec<(PathBuf, Finding)>,
    ups: BTreeMap<Version, (PathBuf, ParsedName)>,
    downs: BTreeMap<Version, PathBuf>,
    /// Versions defined twice, down files without their up file.
    findings: Vec<Finding>,
}

/// Sorts the files by their names (see [`Named`]).
fn by_name(dir: &Path, files: Vec<(PathBuf, std::io::Result<Vec<u8>>)>) -> Named {
    let repeatables = dir.join(filename::REPEATABLE_DIR);
    let mut contents: HashMap<PathBuf, std::io::Result<Vec<u8>>> = HashMap::new();
    let mut others: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let mut misnamed: Vec<(PathBuf, Finding)> = Vec::new();
    let mut findings = Vec::new();
    let mut ups: BTreeMap<Version, (PathBuf, ParsedName)> = BTreeMap::new();
    let mut downs: BTreeMap<Version, PathBuf> = BTreeMap::new();
    for (path, bytes) in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // A `.sql` file anywhere under `repeatable/` is a repeatable migration.
        let named = if path.starts_with(&repeatables) && name.to_ascii_lowercase().ends_with(".sql")
        {
            Some(filename::parse_repeatable(name))
        } else {
            filename::parse_file_name(name)
        };
        let parsed = match named {
            None => {
                if let Ok(b) = bytes {
                    others.insert(include::absolute(&path), b);
                }
                continue;
            }
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                let rule = match e {
                    filename::NameError::Format { .. } => "filename/invalid",
                    filename::NameError::ImpossibleDate { .. } => "filename/impossible-date",
                };
                let finding = Finding::error(rule, e.to_string())
                    .at(Location::file(&path))
                    .help(e.help());
                if let Ok(b) = bytes {
                    others.insert(include::absolute(&path), b);
                }
                misnamed.push((path, finding));
                continue;
            }
        };
        let slot = match parsed.kind {
            Kind::Up => ups.get(&parsed.version).map(|(p, _)| p.clone()),
            Kind::Down => downs.get(&parsed.version).cloned(),
        };
        if let Some(first) = slot {
            findings.push(
                Finding::error(
                    "filename/duplicate-version",
                    format!(
                        "version {} is defined twice: {} and {}",
                        parsed.version,
                        first.display(),
                        path.display()
                    ),
                )
                .at(Location::file(&path))
                .help("versions must be unique in the whole migrations tree; rename or remove one of the files"),
            );
            continue;
        }
        contents.insert(path.clone(), bytes);
        match parsed.kind {
            Kind::Up => {
                ups.insert(parsed.version.clone(), (path, parsed));
            }
            Kind::Down => {
                downs.insert(parsed.version.clone(), path);
            }
        }
    }

    for (version, path) in &downs {
        if !ups.contains_key(version) {
            findings.push(
                Finding::error(
                    "filename/orphan-down",
                    format!("down file has no up file {version}.sql beside it"),
                )
                .at(Location::file(path))
                .help("add the up migration, or rename or delete this down file"),
            );
        }
    }

    Named {
        contents,
        others,
        misnamed,
        ups,
        downs,
        findings,
    }
}

/// A migration that another one also includes: its SQL would run twice.
fn included_twice(
    migrations: &[Migration],
    included: &HashMap<PathBuf, PathBuf>,
    findings: &mut Vec<Finding>,
) {
    for m in migrations.iter().filter(|_| !included.is_empty()) {
        let files = std::iter::once(&m.path).chain(m.down.as_ref().map(|d| &d.path));
        for path in files {
            if let Some(by) = included.get(&include::absolute(path)) {
                findings.push(
                    Finding::error(
                        "sql/include",
                        format!(
                            "{} is a migration and is also included by {}: its SQL would run twice",
                            path.display(),
                            by.display()
                        ),
                    )
                    .at(Location::file(path))
                    .help("move the shared SQL to a file whose name is not a migration's (e.g. `include/…sql`) and include that"),
                );
            }
        }
    }
}

/// One migration read from its bytes: the migration, what was wrong with it, and the files it
/// includes (absolute) with the file that includes them.
struct Loaded {
    migration: Migration,
    findings: Vec<Finding>,
    included: Vec<(PathBuf, PathBuf)>,
}

type FileBytes = Option<std::io::Result<Vec<u8>>>;

#[allow(clippy::too_many_arguments)]
fn load_migration(
    dir: &Path,
    read: &include::Reader,
    env: Environment,
    version: Version,
    path: PathBuf,
    parsed: ParsedName,
    up: FileBytes,
    down: Option<(PathBuf, FileBytes)>,
) -> Loaded {
    let mut findings = Vec::new();
    let mut included = Vec::new();
    let mut file = |path: &Path, bytes, findings: &mut Vec<Finding>| {
        let (source, hashed) = read_source(path, bytes, findings);
        let x = include::expand(path, source, dir, read, findings);
        for f in x.map.files() {
            included.push((include::absolute(&f.path), path.to_path_buf()));
        }
        let text = std::sync::Arc::new(x.text);
        let checksum = match hashed {
            _ if !x.map.is_empty() && text.len() >= LARGE_FILE => {
                Checksum::of_text_later(b"", text.clone())
            }
            _ if !x.map.is_empty() => Checksum::of(text.as_bytes()),
            Hashed::Made(c) => c,
            Hashed::OfText { bom } => {
                Checksum::of_text_later(if bom { BOM } else { b"" }, text.clone())
            }
        };
        (text, checksum, x.map)
    };
    let (source, checksum, includes) = file(&path, up, &mut findings);
    let down = down.map(|(down_path, bytes)| {
        let (source, checksum, includes) = file(&down_path, bytes, &mut findings);
        DownFile {
            path: down_path,
            source,
            checksum,
            includes,
        }
    });
    // The header and directives are read from the text that runs; what is found in an
    // included part is reported in its own file.
    let mut found = Vec::new();
    let front = header::parse_front_matter(&path, &source, &mut found);
    if front.sql_start.is_none() && !source.trim().is_empty() {
        found.push(
            Finding::warning(
                "file/empty",
                "the file holds only comments, no SQL statement: deploys skip it (it is not run and not recorded) until it holds SQL",
            )
            .at(Location::file(&path))
            .help("add the migration's SQL, or delete the file"),
        );
    }
    check_header(&path, &source, &version, &front, env, &mut found);
    let dependencies = merge_dependencies(&path, &source, &front, &mut found);
    for f in &mut found {
        if let Some(l) = &mut f.location {
            includes.relocate(&path, &source, l);
        }
    }
    findings.extend(found);
    Loaded {
        migration: Migration {
            version,
            date: parsed.date,
            description: parsed.description,
            path,
            source,
            checksum,
            includes,
            front,
            dependencies,
            down: down.map(Box::new),
        },
        findings,
        included,
    }
}

/// What a listing meets besides files: folders reached again by links (the link, the
/// folder's first path), every folder read with its metadata from before it was read, and
/// whether a link led to no folder.
struct Walk {
    repeated: Vec<(PathBuf, PathBuf)>,
    folders: Vec<(PathBuf, fs::Metadata)>,
    /// A symbolic link that leads to no folder was met.
    loose_links: bool,
}

/// Lists files under `dir`, following symbolic links but entering each folder once: `seen`
/// holds every folder entered (by device and inode); `walk` gathers each link that led to one
/// again (a loop, or a second way into the same folder), each folder read, and links that
/// led to no folder.
fn list_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut HashMap<(u64, u64), PathBuf>,
    walk: &mut Walk,
) -> Result<(), LoadError> {
    // Each entry's name (copied once) and type; the entries themselves are let go.
    let mut entries = fs::read_dir(dir)
        .and_then(|d| {
            d.map(|e| e.map(|e| (e.file_name(), e.file_type())))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|source| LoadError::ReadDir {
            path: dir.to_path_buf(),
            source,
        })?;
    // In name order: which link counts as the repeat does not depend on the file system.
    entries.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    out.reserve(entries.len());
    for (name, file_type) in entries {
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        let path = dir.join(name);
        // Follow symbolic links; a dangling one is kept so that reading it reports the error.
        // The entry's type comes with the listing: only a link costs a `stat`.
        let link = file_type.as_ref().is_ok_and(|t| t.is_symlink());
        let metadata = match file_type {
            Ok(t) if t.is_file() => {
                out.push(path);
                continue;
            }
            _ => fs::metadata(&path),
        };
        walk.loose_links |= link && !metadata.as_ref().is_ok_and(|m| m.is_dir());
        match metadata {
            Ok(m) if m.is_dir() => match seen.get(&(m.dev(), m.ino())) {
                Some(first) => walk.repeated.push((path, first.clone())),
                None => {
                    seen.insert((m.dev(), m.ino()), path.clone());
                    walk.folders.push((path.clone(), m));
                    list_files(&path, out, seen, walk)?;
                }
            },
            _ => out.push(path),
        }
    }
    Ok(())
}

/// A file's checksum, as [`read_source`] leaves it.
enum Hashed {
    Made(Checksum),
    /// To be made from its text (a large file, valid UTF-8): the text is the file's bytes,
    /// a byte order mark removed.
    OfText {
        bom: bool,
    },
}

/// A UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads a file as text. Encoding problems become findings; the text is still returned (lossy)
/// so that the rest of the file can be checked.
fn read_source(
    path: &Path,
    bytes: Option<std::io::Result<Vec<u8>>>,
    findings: &mut Vec<Finding>,
) -> (String, Hashed) {
    let bytes = match bytes.unwrap_or_else(|| Err(std::io::ErrorKind::NotFound.into())) {
        Ok(b) => b,
        Err(e) => {
            findings.push(
                Finding::error("file/unreadable", format!("cannot read the file: {e}"))
                    .at(Location::file(path))
                    .help("check that the file exists and that its permissions let you read it"),
            );
            return (String::new(), Hashed::Made(Checksum::of(&[])));
        }
    };
    let mut hashed = match bytes.len() >= LARGE_FILE {
        true => Hashed::OfText { bom: false },
        false => Hashed::Made(Checksum::of(&bytes)),
    };
    let bom = bytes.starts_with(BOM);
    if bom {
        findings.push(
            Finding::error("file/bom", "the file starts with a UTF-8 byte order mark (BOM)")
                .at(Location::file(path))
                .help("PostgreSQL rejects the BOM as part of the first statement; save the file as UTF-8 without BOM"),
        );
    }
    // The bytes become the text without a copy: a data migration can be as large as memory.
    let source = match String::from_utf8(bytes) {
        Ok(mut s) => {
            if bom {
                s.drain(..BOM.len());
                if let Hashed::OfText { bom } = &mut hashed {
                    *bom = true;
                }
            }
            s
        }
        Err(e) => {
            let bytes = e.into_bytes();
            if let Hashed::OfText { .. } = hashed {
                hashed = Hashed::Made(Checksum::of(&bytes));
            }
            let text = if bom { &bytes[BOM.len()..] } else { &bytes[..] };
            let lossy = String::from_utf8_lossy(text).into_owned();
            let at = std::str::from_utf8(text)
                .err()
                .map_or(0, |e| e.valid_up_to());
            findings.push(
                Finding::error("file/not-utf8", "the file is not valid UTF-8")
                    .at(Location::at_offset(path, &lossy, at, 1))
                    .help("convert it, e.g. `iconv -f LATIN1 -t UTF-8 FILE`; migrations must be UTF-8"),
            );
            lossy
        }
    };
    if source.trim().is_empty() {
        findings.push(
            Finding::warning(
                "file/empty",
                "the file is empty: deploys skip it (it is not run and not recorded) until it holds SQL",
            )
            .at(Location::file(path))
            .help("add the migration's SQL, or delete the file"),
        );
    }
    // `memmem`, not `str::find`: a 100 MB data file is searched in 3 ms rather than 30.
    if let Some(i) = memchr::memmem::find(source.as_bytes(), b"\r\n") {
        findings.push(
            Finding::warning("file/crlf", "the file has Windows (CRLF) line endings")
                .at(Location::at_offset(path, &source, i, 1))
                .help("convert to LF (`dos2unix FILE`) and add `*.sql text eol=lf` to .gitattributes, so that the checksum does not change between checkouts"),
        );
    }
    (source, hashed)
}

fn check_header(
    path: &Path,
    source: &str,
    version: &Version,
    front: &FrontMatter,
    env: Environment,
    findings: &mut Vec<Finding>,
) {
    let h = &front.header;
    let missing: Vec<&str> = [
        ("MIGRATION", h.title.is_none()),
        ("Version", h.version.is_none()),
        ("Author", h.author.is_none()),
        ("Dependencies", h.dependencies.is_none()),
    ]
    .iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() && !source.is_empty() {
        findings.push(
            Finding::new(
                "header/missing-field",
                header::missing_field_level(env),
                format!("the header has no {} field", missing.join(", ")),
            )
            .at(Location::file(path))
            .help(format!(
                "start the file with these four lines: `-- MIGRATION: <what it does>`, `-- Version: {}`, `-- Author: <name>`, `-- Dependencies: <file.sql, …>` (or `None`)",
                if version.is_repeatable() { version.as_str() } else { version.date_str() }
            )),
        );
    }
    if let Some(v) = h.version.as_ref().filter(|_| !version.is_repeatable()) {
        if v.value != version.date_str() && v.value != version.as_str() {
            findings.push(
                Finding::error(
                    "header/version-mismatch",
                    format!(
                        "the header says Version: {}, but the file name says {}",
                        v.value,
                        version.date_str()
                    ),
                )
                .at(Location::at_line(path, source, v.line))
                .help(format!(
                    "write `-- Version: {}`, or rename the file if its date is wrong",
                    version.date_str()
                )),
            );
        }
    }
}

fn merge_dependencies(
    path: &Path,
    source: &str,
    front: &FrontMatter,
    findings: &mut Vec<Finding>,
) -> Vec<DepRef> {
    let directive = &front.directives.depends_on;
    let mut merged: Vec<DepRef> = Vec::new();
    let header = front.header.dependencies.as_deref().unwrap_or(&[]);
    // Sets, not scans: a file may name thousands of dependencies.
    let mut seen = std::collections::HashSet::new();
    for d in header.iter().chain(directive) {
        if seen.insert(&d.version) {
            merged.push(d.clone());
        }
    }
    // Two forms of one thing: merged silently. Only a contradiction is worth a word: the
    // header says `None` and a directive names a migration.
    if front
        .header
        .dependencies
        .as_ref()
        .is_some_and(|h| h.is_empty())
        && !directive.is_empty()
    {
        let named: Vec<&str> = directive.iter().map(|d| d.version.as_str()).collect();
        let line = source
            .lines()
            .position(|l| l.trim_start().starts_with("-- Dependencies:"))
            .map(|i| i + 1);
        findings.push(
            Finding::warning(
                "header/dependencies-mismatch",
                format!(
                    "the header says `Dependencies: None`, but @depends-on names {}",
                    named.join(", ")
                ),
            )
            .at(match line {
                Some(l) => Location::at_line(path, source, l),
                None => Location::file(path),
            })
            .help("the @depends-on lines are used; write them in the header's Dependencies too (or remove them) so that the header is true"),
        );
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_sha256_hex() {
        assert_eq!(
            Checksum::of(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_read_has_its_bytes_and_a_large_one_is_a_large_input_from_its_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.sql");
        for len in [0, 1, 4096, LARGE_FILE - 1, LARGE_FILE, LARGE_FILE + 7] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            crate::memory::said_here();
            let read = read_file(&path).unwrap();
            assert!(read == bytes, "{len} bytes");
            let said = crate::memory::said_here();
            let large = len >= LARGE_FILE;
            assert_eq!(
                said == [crate::memory::Work::LargeInput],
                large,
                "{len} bytes"
            );
        }
    }

    #[test]
    fn a_file_read_in_parts_is_its_bytes_and_a_shorter_file_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.sql");
        let bytes: Vec<u8> = (0..100_003).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = fs::File::open(&path).unwrap();
        for parts in [1, 2, 3, 7] {
            let mut buf = zeroed(bytes.len()).unwrap();
            assert!(read_parts(&file, &mut buf, parts).unwrap(), "{parts} parts");
            assert!(buf == bytes, "{parts} parts");
            // Shrunk since its size was read: not filled.
            let mut buf = zeroed(bytes.len() + 10).unwrap();
            assert!(
                !read_parts(&file, &mut buf, parts).unwrap(),
                "{parts} parts"
            );
            // Grown since: the first bytes, filled.
            let mut buf = zeroed(bytes.len() - 10).unwrap();
            assert!(read_parts(&file, &mut buf, parts).unwrap(), "{parts} parts");
            assert!(buf[..] == bytes[..bytes.len() - 10], "{parts} parts");
        }
        assert!(zeroed(0).unwrap().is_empty());
        assert!(zeroed(5).unwrap() == [0; 5]);
    }

    /// An empty migrations folder in a temporary directory (removed when the first is dropped).
    fn migrations_folder() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("migrations");
        std::fs::create_dir_all(&m).unwrap();
        (dir, m)
    }

    #[test]
    fn files_read_from_disk_are_said_to_be_many() {
        let (_dir, m) = migrations_folder();
        std::fs::write(m.join("2026-01-01_a.sql"), "CREATE TABLE a (id int);\n").unwrap();
        crate::memory::said_here();
        load_dir(&m, Environment::Development).unwrap();
        assert_eq!(crate::memory::said_here(), [crate::memory::Work::ManyFiles]);
    }

    /// A data migration of at least [`LARGE_FILE`] bytes: `head`, then rows.
    fn large(head: &[u8]) -> Vec<u8> {
        let mut text = head.to_vec();
        text.extend_from_slice(b"-- MIGRATION: data\nCOPY t FROM stdin;\n");
        while text.len() < LARGE_FILE + 10 {
            text.extend_from_slice(b"1\tsome row of data\n");
        }
        text.extend_from_slice(b"\\.\n");
        text
    }

    #[test]
    fn a_large_migration_has_the_checksum_of_its_bytes_bom_and_all() {
        let (_dir, m) = migrations_folder();
        // Made from the text, later: with the byte order mark the text lost, or without one.
        for head in [&b"\xEF\xBB\xBF"[..], b""] {
            let text = large(head);
            std::fs::write(m.join("2026-01-01_data.sql"), &text).unwrap();
            let set = load_dir(&m, Environment::Development).unwrap();
            assert_eq!(set.migrations[0].checksum, Checksum::of(&text));
            assert!(!set.migrations[0].source.starts_with('\u{feff}'));
            let bom = set.findings.iter().any(|f| f.rule == "file/bom");
            assert_eq!(bom, !head.is_empty());
        }
        // Of bytes that are not UTF-8 (the text is not the bytes): the bytes' own.
        let mut text = large(b"");
        text.extend_from_slice(b"-- \xFF\n");
        std::fs::write(m.join("2026-01-01_data.sql"), &text).unwrap();
        let set = load_dir(&m, Environment::Development).unwrap();
        assert_eq!(set.migrations[0].checksum, Checksum::of(&text));
        assert!(set.findings.iter().any(|f| f.rule == "file/not-utf8"));
    }

    #[test]
    fn a_large_migration_that_includes_a_file_has_the_checksum_of_the_text_that_runs() {
        let (_dir, m) = migrations_folder();
        std::fs::write(m.join("part.psql"), "SELECT 1;\n").unwrap();
        let mut text = b"\\ir part.psql\n".to_vec();
        text.extend(large(b""));
        std::fs::write(m.join("2026-01-01_data.sql"), &text).unwrap();
        let set = load_dir(&m, Environment::Development).unwrap();
        let run = &set.migrations[0].source;
        assert!(run.starts_with("SELECT 1;"), "{:?}", &run[..40]);
        assert_eq!(set.migrations[0].checksum, Checksum::of(run.as_bytes()));
        assert_ne!(set.migrations[0].checksum, Checksum::of(&text));
    }

    #[test]
    fn the_listing_keeps_sql_files_by_name_without_hidden_squashed_or_test_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("migrations");
        for f in [
            "b.sql",
            "A.SQL",
            "c.Sql",
            "readme.md",
            "x.sqlx",
            ".hidden.sql",
            "squashed/old.sql",
            "squashed_note.sql",
            "squashedx/kept.sql",
            "tests/2026-01-01_a.after.sql",
            "testsuite/y.sql",
            "sub/d.sql",
            ".pgshift/index.sql",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "SELECT 1;\n").unwrap();
        }
        // A file whose name begins with a left-out folder's is kept.
        std::fs::write(d.join("tests.sql"), "SELECT 1;\n").unwrap();
        for given in [d.clone(), PathBuf::from(format!("{}/", d.display()))] {
            let listed: Vec<String> = list(&given)
                .unwrap()
                .sql
                .iter()
                .map(|p| p.strip_prefix(&given).unwrap().display().to_string())
                .collect();
            assert_eq!(
                listed,
                [
                    "A.SQL",
                    "b.sql",
                    "c.Sql",
                    "squashed_note.sql",
                    "squashedx/kept.sql",
                    "sub/d.sql",
                    "tests.sql",
                    "testsuite/y.sql"
                ],
                "{}",
                given.display()
            );
        }
    }

    #[test]
    fn a_symlink_loop_is_reported_once_and_files_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("migrations");
        std::fs::create_dir_all(m.join("sub")).unwrap();
        std::fs::write(m.join("2026-01-01_a.sql"), "SELECT 1;").unwrap();
        std::fs::write(m.join("sub/2026-01-02_b.sql"), "SELECT 2;").unwrap();
        std::os::unix::fs::symlink(&m, m.join("sub/back")).unwrap();
        std::os::unix::fs::symlink(m.join("sub"), m.join("again")).unwrap();
        let set = load_dir(&m, Environment::Development).unwrap();
        assert_eq!(set.migrations.len(), 2);
        let rules: Vec<&str> = set.findings.iter().map(|f| f.rule.as_str()).collect();
        assert!(!rules.contains(&"filename/duplicate-version"), "{rules:?}");
        let loops: Vec<_> = set
            .findings
            .iter()
            .filter(|f| f.rule == "file/symlink-loop")
            .collect();
        assert_eq!(loops.len(), 2, "{loops:?}");
        // `again` comes first in name order: the loop is found through it.
        assert!(loops
            .iter()
            .any(|f| f.message.contains("again/back leads back to")));
        assert!(loops
            .iter()
            .any(|f| f.message.contains("is the same folder as")));
    }
}
