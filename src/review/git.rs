//! What `review` asks git (the `git` program, as a person would run it): the merge base of
//! HEAD and REF, the migration files changed since it, and a revision's migrations folder
//! written out to be loaded like any other.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::ReviewError;

/// A git checkout and the migrations folder inside it.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The top of the working tree.
    pub root: PathBuf,
    /// The migrations folder, relative to `root` (`.` when it is the root).
    pub dir: PathBuf,
}

/// How a file changed since the merge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Modified => "modified",
            Change::Deleted => "deleted",
        }
    }
}

fn git_missing(e: std::io::Error) -> ReviewError {
    ReviewError::new(
        format!("cannot run git: {e}"),
        "install git (Debian: apt-get install -y git); `review` reads the branches with it",
    )
}

impl Repo {
    /// The checkout holding `migrations`.
    pub fn open(migrations: &Path) -> Result<Repo, ReviewError> {
        let out = Command::new("git")
            .arg("-C")
            .arg(migrations)
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .map_err(git_missing)?;
        if !out.status.success() {
            return Err(ReviewError::new(
                format!(
                    "{} is not in a git checkout: {}",
                    migrations.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                "run `review` in the repository's working tree",
            ));
        }
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let full = migrations.canonicalize().map_err(|e| {
            ReviewError::new(
                format!("cannot read {}: {e}", migrations.display()),
                "check the migrations folder",
            )
        })?;
        let root = root.canonicalize().unwrap_or(root);
        let dir = full
            .strip_prefix(&root)
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d.to_path_buf()
                }
            })
            .unwrap_or_else(|_| PathBuf::from("."));
        Ok(Repo { root, dir })
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>, ReviewError> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(git_missing)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(ReviewError::new(
                format!(
                    "git {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                "fetch the base branch with its history (`git fetch origin main`; in GitHub Actions, actions/checkout with fetch-depth: 0)",
            ))
        }
    }

    /// The commit `rev` names.
    pub fn commit(&self, rev: &str) -> Result<String, ReviewError> {
        let spec = format!("{rev}^{{commit}}");
        let out = self.git(&["rev-parse", "--verify", "--quiet", &spec]).map_err(|_| {
            ReviewError::new(
                format!("git knows no commit named {rev}"),
                "name a branch, tag or commit that is fetched (`git fetch origin main`, then --base origin/main; in GitHub Actions, actions/checkout with fetch-depth: 0)",
            )
        })?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The merge base of HEAD and `rev`.
    pub fn merge_base(&self, rev: &str) -> Result<String, ReviewError> {
        let out = self.git(&["merge-base", "HEAD", rev])?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The files of the migrations folder changed between `base` and the working tree
    /// (untracked ones as added), relative to the folder.
    pub fn changed(&self, base: &str) -> Result<Vec<(PathBuf, Change)>, ReviewError> {
        let dir = self.dir.to_string_lossy().to_string();
        let diff = self.git(&[
            "diff",
            "--name-status",
            "--no-renames",
            "-z",
            base,
            "--",
            &dir,
        ])?;
        let mut out = Vec::new();
        let fields: Vec<&[u8]> = diff.split(|b| *b == 0).filter(|f| !f.is_empty()).collect();
        for pair in fields.chunks(2) {
            let [status, path] = pair else { continue };
            let change = match status.first() {
                Some(b'A') => Change::Added,
                Some(b'D') => Change::Deleted,
                _ => Change::Modified,
            };
            out.push((self.relative(path), change));
        }
        let untracked = self.git(&[
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            &dir,
        ])?;
        for path in untracked.split(|b| *b == 0).filter(|f| !f.is_empty()) {
            out.push((self.relative(path), Change::Added));
        }
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(out)
    }

    /// `path` (from the root) relative to the migrations folder.
    fn relative(&self, path: &[u8]) -> PathBuf {
        let p = PathBuf::from(String::from_utf8_lossy(path).to_string());
        if self.dir == Path::new(".") {
            return p;
        }
        p.strip_prefix(&self.dir)
            .map(Path::to_path_buf)
            .unwrap_or(p)
    }

    /// Writes the migrations folder as it is at `rev` into `into` (which then holds the
    /// folder's files, not its path); an empty folder when `rev` has none.
    pub fn write_tree(&self, rev: &str, into: &Path) -> Result<(), ReviewError> {
        let dir = self.dir.to_string_lossy().to_string();
        let listed = self.git(&["ls-tree", "-r", "--name-only", "-z", rev, "--", &dir])?;
        if listed.iter().all(|b| *b == 0) {
            return Ok(());
        }
        let mut archive = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(["archive", "--format=tar", rev, "--", &dir])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(git_missing)?;
        let strip = if self.dir == Path::new(".") {
            0
        } else {
            self.dir.components().count()
        };
        let tar = Command::new("tar")
            .arg("-x")
            .arg(format!("--strip-components={strip}"))
            .arg("-C")
            .arg(into)
            .stdin(archive.stdout.take().expect("piped above"))
            .output()
            .map_err(|e| ReviewError::new(format!("cannot run tar: {e}"), "install tar"))?;
        let archived = archive.wait_with_output().map_err(git_missing)?;
        if !archived.status.success() {
            return Err(ReviewError::new(
                format!(
                    "git archive {rev} failed: {}",
                    String::from_utf8_lossy(&archived.stderr).trim()
                ),
                "fetch the base branch with its history",
            ));
        }
        if !tar.status.success() {
            return Err(ReviewError::new(
                format!(
                    "writing out {rev}'s migrations failed: {}",
                    String::from_utf8_lossy(&tar.stderr).trim()
                ),
                "check that the temporary directory can be written",
            ));
        }
        Ok(())
    }
}
