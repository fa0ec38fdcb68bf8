//! Backups (SPEC §7): `pg_dump` (plain SQL, `--clean --if-exists`) streamed through gzip on
//! every core into `backup_before_migration_YYYYMMDD_HHMMSS.sql.gz` (UTC), written under a
//! hidden temporary name, fsynced, renamed, 0600, and read back whole before anything runs;
//! a manifest beside it. `gunzip -c FILE | psql DATABASE_URL` restores it, as the guide says,
//! onto the same database or into an empty one; `restore` does the same with psql in one
//! transaction. Memory stays flat whatever the database's size. Nothing here prints.

pub mod coverage;
pub mod gzip;
pub mod restore;
pub mod schema;
pub mod tools;

#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::db::connect::ConnectionSpec;
use crate::sanitize::redact::redact_string;
pub use gzip::Progress;
pub use restore::{held, not_held, restore, DbObject, RestorePlan, Restored, OBJECTS_SQL};
use tools::Tool;

/// The last line pg_dump writes into a plain dump that it finished.
pub const COMPLETE: &str = "-- PostgreSQL database dump complete";

/// Why a backup or a restore did not happen. Messages never hold a password.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{message}")]
    Tool { message: String, help: String },
    #[error("{message}")]
    Failed { message: String, help: String },
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

impl BackupError {
    pub fn help(&self) -> String {
        match self {
            BackupError::Tool { help, .. } | BackupError::Failed { help, .. } => help.clone(),
            BackupError::Io { .. } => {
                "check that the backup folder exists, is writable, and has room ([backup] dir)"
                    .into()
            }
        }
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// What a backup holds, written beside it as `FILE.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub file: String,
    /// UTC, `2026-11-24T10:02:11.042Z` (older manifests: whole seconds).
    pub created_at: String,
    pub database: String,
    /// `user@host:port/db`.
    pub target: String,
    pub server_version: String,
    pub pg_dump: String,
    /// Bytes of the file.
    pub size: u64,
    /// Bytes of SQL inside.
    pub uncompressed_size: u64,
    pub sha256: String,
    pub run_id: String,
    /// The migrations applied when it was taken.
    pub applied: Vec<String>,
    pub tool_version: String,
    /// The schemas it leaves out, the platform's ([`coverage`]); `None` in backups of
    /// pgshift 0.x before it left any out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<Vec<String>>,
}

/// How to back up.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub dir: PathBuf,
    /// Backups kept (the newest always).
    pub keep: u32,
    /// `[backup] pg_dump`; found by version when `None`.
    pub pg_dump: Option<PathBuf>,
    /// gzip level, 1–9.
    pub level: u32,
    pub threads: usize,
    /// `before_migration` (deploys) or `manual` (`backup create`).
    pub kind: &'static str,
}

impl BackupOptions {
    /// The backups `settings` configure, of `kind` (`before_migration`, `manual`), compressed
    /// on every core.
    pub fn from_settings(settings: &crate::config::Settings, kind: &'static str) -> BackupOptions {
        BackupOptions {
            dir: settings.backup.dir.clone(),
            keep: settings.backup.keep,
            pg_dump: settings.backup.pg_dump.clone(),
            level: settings.backup.compression,
            threads: crate::parallel::cores(),
            kind,
        }
    }
}

/// The server a backup is taken of.
#[derive(Debug, Clone)]
pub struct Server {
    pub version: String,
    pub major: u32,
    /// The schemas a backup leaves out ([`coverage::outside`]).
    pub outside: Vec<String>,
}

/// A backup made, verified and listed with its manifest.
#[derive(Debug, Clone)]
pub struct Created {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// Older backups removed by retention.
    pub pruned: Vec<PathBuf>,
}

/// Creates `dir` (0700) with a `.gitignore` that keeps its files out of git: backups hold the
/// data, logs name hosts, roles and statements.
pub fn private_dir(dir: &Path) -> Result<(), BackupError> {
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(format!("cannot create {}", dir.display())))?;
    }
    let ignore = dir.join(".gitignore");
    if !crate::files::exists(&ignore) {
        crate::files::create_new(&ignore, 0o644)
            .and_then(|mut f| {
                f.write_all(b"# pgshift: backups hold your data; keep them out of git\n*\n")
            })
            .map_err(io_err(format!("cannot write {}", ignore.display())))?;
    }
    Ok(())
}

/// A file name not taken yet: `backup_KIND_YYYYMMDD_HHMMSS.sql.gz` (`_2`, `_3`… within a second).
fn fresh_name(dir: &Path, kind: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d_%H%M%S");
    let base = if kind == "manual" {
        format!("backup_{stamp}")
    } else {
        format!("backup_{kind}_{stamp}")
    };
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{base}.sql.gz")
        } else {
            format!("{base}_{n}.sql.gz")
        };
        let path = dir.join(&name);
        if !crate::files::exists(&path)
            && !crate::files::exists(&dir.join(format!(".{name}.partial")))
        {
            return path;
        }
        n += 1;
    }
}

/// A password file for a child program (libpq's format), in a private temporary folder that
/// goes away with it.
struct Passfile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn passfile(password: Option<&str>) -> Result<Option<Passfile>, BackupError> {
    let Some(pw) = password else {
        return Ok(None);
    };
    let dir = tempfile::Builder::new()
        .prefix("pgshift-pass-")
        .tempdir()
        .map_err(io_err("cannot create a temporary folder"))?;
    let path = dir.path().join("pgpass");
    let escaped = pw.replace('\\', "\\\\").replace(':', "\\:");
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err("cannot write a temporary password file"))?;
    f.write_all(format!("*:*:*:*:{escaped}\n").as_bytes())
        .map_err(io_err("cannot write a temporary password file"))?;
    Ok(Some(Passfile { _dir: dir, path }))
}

/// A client program with the connection: its key=value string as `--dbname`, the password in
/// a password file, and none of the caller's libpq variables (which would win over nothing
/// here, but a service name would).
fn client(
    tool: &Tool,
    spec: &ConnectionSpec,
    app: &str,
) -> Result<(Command, Option<Passfile>), BackupError> {
    let (conninfo, password) = spec.for_libpq(app);
    let pass = passfile(password.as_deref())?;
    let mut cmd = Command::new(&tool.path);
    cmd.arg(format!("--dbname={conninfo}"));
    for v in [
        "PGPASSWORD",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGDATABASE",
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGOPTIONS",
        "PGSSLMODE",
        "PGPASSFILE",
    ] {
        cmd.env_remove(v);
    }
    if let Some(p) = &pass {
        cmd.env("PGPASSFILE", &p.path);
    }
    Ok((cmd, pass))
}

/// Collects a child's stderr (its last 64 KB) on a thread.
fn collect(stderr: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let mut r = stderr;
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 65536 {
                buf.drain(..buf.len() - 65536);
            }
        }
        redact_string(String::from_utf8_lossy(&buf).trim().to_string())
    })
}

/// `2026-11-24T10:02:11.042Z`: milliseconds, so that backups of the same second still sort.
fn utc_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Takes a backup of `spec`'s database, verifies it, writes its manifest, and prunes old ones.
pub fn create(
    spec: &ConnectionSpec,
    server: &Server,
    applied: Vec<String>,
    run_id: &str,
    opts: &BackupOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Created, BackupError> {
    let tool = tools::find("pg_dump", opts.pg_dump.as_deref(), server.major)?;
    private_dir(&opts.dir)?;
    let path = fresh_name(&opts.dir, opts.kind);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = opts.dir.join(format!(".{name}.partial"));
    let result = dump_into(&tool, spec, &partial, &server.outside, opts, progress);
    let compressed = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
    };
    fs::rename(&partial, &path).map_err(|e| {
        let _ = fs::remove_file(&partial);
        io_err(format!("cannot rename the backup to {}", path.display()))(e)
    })?;
    if let Ok(d) = File::open(&opts.dir) {
        let _ = d.sync_all();
    }
    // Read back whole before anything runs: what is on disk is what was written, every gzip
    // member is intact, and the dump is complete.
    let verified = verify(&path, &mut |_| {})?;
    if verified.sha256 != compressed.sha256 || verified.input_size != compressed.input_size {
        let _ = fs::remove_file(&path);
        return Err(BackupError::Failed {
            message: format!("{} does not read back as written", path.display()),
            help: "check the disk holding the backup folder (free space, permissions)".into(),
        });
    }
    let manifest = Manifest {
        file: name,
        created_at: utc_now(),
        database: spec.database(),
        target: spec.describe(),
        server_version: server.version.clone(),
        pg_dump: tool.version.clone(),
        size: compressed.size,
        uncompressed_size: compressed.input_size,
        sha256: compressed.sha256,
        run_id: run_id.to_string(),
        applied,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        outside: Some(server.outside.clone()),
    };
    write_private(
        &manifest_path(&path),
        serde_json::to_string_pretty(&manifest)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    let pruned = prune(&opts.dir, opts.keep, Some(&path))?;
    Ok(Created {
        path,
        manifest,
        pruned,
    })
}

/// pg_dump → gzip → `partial`, fsynced; checks pg_dump's exit status and completion marker.
fn dump_into(
    tool: &Tool,
    spec: &ConnectionSpec,
    partial: &Path,
    outside: &[String],
    opts: &BackupOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<gzip::Compressed, BackupError> {
    let file = crate::files::create_new(partial, 0o600)
        .map_err(io_err(format!("cannot create {}", partial.display())))?;
    let (mut cmd, _pass) = client(tool, spec, "pgshift backup")?;
    let mut child = cmd
        .args(["--format=plain", "--clean", "--if-exists", "--no-password"])
        .args(coverage::exclude_args(outside))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("cannot run {}", tool.path.display())))?;
    let stderr = collect(child.stderr.take().expect("piped"));
    let stdout = child.stdout.take().expect("piped");
    let mut out = BufWriter::with_capacity(gzip::BLOCK, file);
    let compressed = gzip::compress(stdout, &mut out, opts.level, opts.threads, progress);
    let status = child.wait().map_err(io_err("pg_dump did not finish"))?;
    let said = stderr.join().unwrap_or_default();
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("exit code {c}"),
            None => "killed by a signal".into(),
        };
        return Err(BackupError::Failed {
            message: format!("pg_dump failed ({how}): {}", if said.is_empty() { "no message" } else { &said }),
            help: "fix what pg_dump says (a pg_dump older than the server cannot dump it), or deploy with SKIP_BACKUP=true if you have another backup".into(),
        });
    }
    let compressed = compressed.map_err(io_err("cannot write the backup"))?;
    let file = out
        .into_inner()
        .map_err(|e| io_err("cannot write the backup")(e.into_error()))?;
    file.sync_all()
        .map_err(io_err("cannot flush the backup to disk"))?;
    if !String::from_utf8_lossy(&compressed.tail).contains(COMPLETE) {
        return Err(BackupError::Failed {
            message: "pg_dump ended without its completion line: the dump is incomplete".into(),
            help: "run `pgshift backup create` to see pg_dump's messages".into(),
        });
    }
    Ok(compressed)
}

/// Writes a manifest whole, 0600, never through a link (`crate::files::replace`).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    crate::files::replace(path, bytes, 0o600)
        .map_err(io_err(format!("cannot write {}", path.display())))
}

/// `FILE.json` beside `FILE`.
pub fn manifest_path(backup: &Path) -> PathBuf {
    let mut p = backup.as_os_str().to_owned();
    p.push(".json");
    PathBuf::from(p)
}

/// The manifest of a backup, when it has one: a regular file beside it that names it.
pub fn manifest(backup: &Path) -> Option<Manifest> {
    let path = manifest_path(backup);
    if crate::files::is_link(&path) {
        return None;
    }
    let m: Manifest = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    let name = backup.file_name()?.to_string_lossy();
    (m.file == name).then_some(m)
}

/// A backup in the folder.
#[derive(Debug, Clone)]
pub struct Listed {
    pub path: PathBuf,
    pub size: u64,
    pub manifest: Option<Manifest>,
}

/// The backups in `dir`: regular files named `backup_*.sql.gz` (links and folders are not
/// backups), those with a manifest first, newest first by the time their manifest records,
/// then those without one by name. A file's name says nothing certain about its age: a stray
/// file, a link or a skewed clock could name any time.
pub fn list(dir: &Path) -> Result<Vec<Listed>, BackupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(format!("cannot list {}", dir.display()))(e)),
    };
    let mut out: Vec<Listed> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("backup_")
                && n.ends_with(".sql.gz")
                && fs::symlink_metadata(e.path()).is_ok_and(|m| m.file_type().is_file())
        })
        .map(|e| Listed {
            size: e.metadata().map_or(0, |m| m.len()),
            manifest: manifest(&e.path()),
            path: e.path(),
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |l: &Listed| {
            (
                l.manifest.is_some(),
                l.manifest.as_ref().map(|m| m.created_at.clone()),
                l.path.file_name().map(|n| n.to_os_string()),
            )
        };
        key(b).cmp(&key(a))
    });
    Ok(out)
}

/// Removes all but the `keep` newest backups (at least one) with their manifests, by the time
/// their manifests record. `protect` (the backup a deploy just took) is never removed and
/// counts among those kept. Files without a manifest are not pgshift's to judge: left alone.
pub fn prune(dir: &Path, keep: u32, protect: Option<&Path>) -> Result<Vec<PathBuf>, BackupError> {
    let keep = keep.max(1) as usize;
    let managed: Vec<Listed> = list(dir)?
        .into_iter()
        .filter(|l| l.manifest.is_some())
        .collect();
    let protected = |l: &Listed| protect.is_some_and(|p| l.path == p);
    let mut kept = usize::from(managed.iter().any(protected));
    let mut removed = Vec::new();
    for l in managed {
        if protected(&l) {
            continue;
        }
        if kept < keep {
            kept += 1;
            continue;
        }
        fs::remove_file(&l.path).map_err(io_err(format!("cannot remove {}", l.path.display())))?;
        let _ = fs::remove_file(manifest_path(&l.path));
        removed.push(l.path);
    }
    Ok(removed)
}

/// Reads a backup whole: gzip integrity (every member's CRC and length), the dump's
/// completion line, and, when the manifest is there, its size and SHA-256.
pub fn verify(
    path: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<gzip::Verified, BackupError> {
    let file = File::open(path).map_err(io_err(format!("cannot open {}", path.display())))?;
    let bad = |what: String| BackupError::Failed {
        message: format!("{} is not a sound backup: {what}", path.display()),
        help: "use another backup (`pgshift backup list`); this one cannot be trusted".into(),
    };
    let v = gzip::verify(file, progress).map_err(|e| bad(format!("gzip: {e}")))?;
    if v.size == 0 {
        return Err(bad("it is empty".into()));
    }
    if !String::from_utf8_lossy(&v.tail).contains(COMPLETE) {
        return Err(bad(
            "the dump inside is incomplete (no completion line)".into()
        ));
    }
    if let Some(m) = manifest(path) {
        if m.sha256 != v.sha256 || m.size != v.size {
            return Err(bad("it differs from its manifest (SHA-256 or size)".into()));
        }
    }
    Ok(v)
}
