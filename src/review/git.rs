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

    /// The commit `rev` names. A name that starts with `-` is refused: git would read it as
    /// an option.
    pub fn commit(&self, rev: &str) -> Result<String, ReviewError> {
        let spec = format!("{rev}^{{commit}}");
        let found = if rev.starts_with('-') {
            Err(ReviewError::new("", ""))
        } else {
            self.git(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
        };
        let out = found.map_err(|_| {
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
            "--no-color",
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

    /// The files of the migrations folder at `rev`, relative to the folder.
    pub fn files(&self, rev: &str) -> Result<std::collections::HashSet<PathBuf>, ReviewError> {
        let dir = self.dir.to_string_lossy().to_string();
        let listed = self.git(&["ls-tree", "-r", "--name-only", "-z", rev, "--", &dir])?;
        Ok(listed
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|p| self.relative(p))
            .collect())
    }

    /// The files of the migrations folder that differ between `from` and `to`.
    pub fn changed_between(
        &self,
        from: &str,
        to: &str,
    ) -> Result<std::collections::HashSet<PathBuf>, ReviewError> {
        let dir = self.dir.to_string_lossy().to_string();
        let diff = self.git(&[
            "diff",
            "--no-color",
            "--name-only",
            "--no-renames",
            "-z",
            from,
            to,
            "--",
            &dir,
        ])?;
        Ok(diff
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|p| self.relative(p))
            .collect())
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

    /// The SQL files of the migrations folder at `rev`, relative to the folder, with their
    /// bytes: read from git's object store in one `git cat-file --batch`, nothing written.
    /// `squashed/` and `tests/` are left out, as a load of the folder leaves them out.
    pub fn read_tree(&self, rev: &str) -> Result<Vec<(PathBuf, Vec<u8>)>, ReviewError> {
        use std::io::{BufRead, BufReader, Read, Write};
        let dir = self.dir.to_string_lossy().to_string();
        let listed = self.git(&["ls-tree", "-r", "-z", rev, "--", &dir])?;
        let mut wanted: Vec<(PathBuf, String)> = Vec::new();
        for entry in listed.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let Some((meta, path)) = entry.split_once('\t') else {
                continue;
            };
            let mut meta = meta.split(' ');
            let (_, kind, sha) = (meta.next(), meta.next(), meta.next());
            let rel = self.relative(path.as_bytes());
            let skipped = rel.starts_with(crate::migration::SQUASHED_DIR)
                || rel.starts_with(crate::migration::TESTS_DIR)
                || rel
                    .components()
                    .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
            let sql = rel
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("sql"));
            if let (Some("blob"), Some(sha), false, true) = (kind, sha, skipped, sql) {
                wanted.push((rel, sha.to_string()));
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(git_missing)?;
        let mut stdin = child.stdin.take().expect("piped above");
        let names: String = wanted.iter().map(|(_, sha)| format!("{sha}\n")).collect();
        // Written from another thread: git answers while it reads, and a full pipe each way
        // would stop both.
        let writer = std::thread::spawn(move || stdin.write_all(names.as_bytes()));
        let mut out = BufReader::new(child.stdout.take().expect("piped above"));
        let broken = |what: &str| {
            ReviewError::new(
                format!("reading {rev}'s migrations from git failed: {what}"),
                "check the repository (`git fsck`)",
            )
        };
        let mut files = Vec::with_capacity(wanted.len());
        for (rel, _) in wanted {
            let mut header = String::new();
            out.read_line(&mut header)
                .map_err(|e| broken(&e.to_string()))?;
            let size: usize = header
                .split(' ')
                .nth(2)
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| broken(header.trim()))?;
            let mut bytes = vec![0; size + 1];
            out.read_exact(&mut bytes)
                .map_err(|e| broken(&e.to_string()))?;
            bytes.pop();
            files.push((rel, bytes));
        }
        let _ = writer.join();
        let _ = child.wait();
        Ok(files)
    }
}
