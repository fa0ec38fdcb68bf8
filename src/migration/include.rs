//! psql's `\i FILE` / `\ir FILE` (and their long names `\include`, `\include_relative`): the
//! included file's text takes the place of the line, as psql reads it, so that everything
//! after loading (validation, lint, checksum, apply) sees the SQL that runs. A [`SourceMap`]
//! leads every offset of that text back to the file and line it came from.
//!
//! Where pgshift looks: `\ir` is relative to the file that holds it (psql's rule); `\i` is
//! tried relative to that file, then to the migrations directory, then to the current
//! directory (psql's own base for `\i`). An included file must lie inside the migrations
//! directory: a migration cannot pull in `/etc/passwd` or a file of another project.

use std::path::{Component, Path, PathBuf};

use crate::diagnostic::{line_offset, Finding, Lines, Location};
use crate::sql::variables::scan;

/// psql stops at no depth; pgshift stops a runaway chain of includes here.
const MAX_DEPTH: usize = 16;

/// The meta-commands that include a file, and whether they are relative to the including file.
pub fn include_kind(what: &str) -> Option<bool> {
    match what {
        "\\i" | "\\include" => Some(false),
        "\\ir" | "\\include_relative" => Some(true),
        _ => None,
    }
}

/// A file pulled in by `\i` / `\ir`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IncludedFile {
    /// The file, as resolved.
    pub path: PathBuf,
    /// Its text as read (UTF-8, a byte order mark removed).
    pub source: String,
    /// Places findings in `source`.
    #[serde(skip)]
    lines: Lines,
}

/// One stretch of the expanded text, copied from one file starting at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Segment {
    /// Where the stretch starts in the expanded text.
    out: usize,
    /// `None`: the migration's own file; `Some(i)`: `files[i]`.
    file: Option<usize>,
    /// Where the stretch starts in that file.
    offset: usize,
}

/// How the expanded text of a migration maps back to its files, and where a finding falls
/// in each of them. Empty (the identity) for a file without includes, which is nearly every
/// file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceMap {
    /// The migration's own text, as written (only kept when it includes something).
    own: String,
    files: Vec<IncludedFile>,
    segments: Vec<Segment>,
    /// Places findings in the migration's text: the expanded text when the map is the
    /// identity, `own` otherwise (always the same text for one map).
    #[serde(skip)]
    lines: Lines,
}

impl SourceMap {
    /// Whether the migration includes nothing (the map is the identity).
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The files included, as resolved.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// The included files, in the order they are read (a file included twice, twice).
    pub fn files(&self) -> &[IncludedFile] {
        &self.files
    }

    /// The location of byte `offset` of the expanded text `source` of the file at `path`
    /// (always the same text for one map): in the included file it came from, or in the
    /// migration's own file.
    pub fn locate(&self, path: &Path, source: &str, offset: usize, len: usize) -> Location {
        if self.segments.is_empty() {
            return self.lines.locate(path, source, offset, len);
        }
        let i = self
            .segments
            .partition_point(|s| s.out <= offset)
            .saturating_sub(1);
        let s = self.segments[i];
        let at = s.offset + offset.saturating_sub(s.out);
        match s.file {
            None => self.lines.locate(path, &self.own, at, len),
            Some(f) => {
                let file = &self.files[f];
                file.lines.locate(&file.path, &file.source, at, len)
            }
        }
    }

    /// The location of a whole line (1-based) of the expanded text `source`, in the file it
    /// came from.
    pub fn locate_line(&self, path: &Path, source: &str, line: usize) -> Location {
        if self.segments.is_empty() {
            return self.lines.locate_line(path, source, line);
        }
        let mut l = Location::at_line(path, source, line);
        self.relocate(path, source, &mut l);
        l
    }

    /// A location made against the expanded text (by code that knows only that text), moved
    /// to the file it points into.
    pub fn relocate(&self, path: &Path, source: &str, location: &mut Location) {
        if self.segments.is_empty() || location.file != path || location.line == 0 {
            return;
        }
        let start = line_offset(source, location.line);
        let line = &source[start..];
        let column = line
            .char_indices()
            .nth(location.column.saturating_sub(1))
            .map_or(line.len(), |(i, _)| i);
        let len = location.underline.map_or(1, |(a, b)| b.saturating_sub(a));
        *location = self.locate(path, source, start + column, len);
    }
}

/// A migration's text with its includes read in.
#[derive(Debug, Clone, Default)]
pub struct Expanded {
    /// The text that runs.
    pub text: String,
    /// Where each part of it came from.
    pub map: SourceMap,
}

/// Reads the bytes of a file (from memory or from disk).
pub type Reader<'a> = dyn Fn(&Path) -> std::io::Result<Vec<u8>> + 'a;

/// Reads the includes of `source` (the text of the file at `path`), recursively. A file
/// without includes comes back as it is, with an empty map. Problems (a missing file, a file
/// outside `root`, a cycle) become findings at the include line, which is then left out.
pub fn expand(
    path: &Path,
    source: String,
    root: &Path,
    read: &Reader,
    findings: &mut Vec<Finding>,
) -> Expanded {
    // Nearly no file includes anything: a plain search spares them the lexing.
    let has_include = memchr::memmem::find(source.as_bytes(), b"\\i").is_some()
        && scan(&source)
            .unsupported
            .iter()
            .any(|u| include_kind(&u.what).is_some());
    if !has_include {
        return Expanded {
            text: source,
            map: SourceMap::default(),
        };
    }
    let mut x = Expander {
        root: absolute(root),
        read,
        findings,
        map: SourceMap {
            own: source.to_string(),
            ..SourceMap::default()
        },
        text: String::with_capacity(source.len()),
        stack: vec![absolute(path)],
    };
    x.file(path, &source, None);
    Expanded {
        text: x.text,
        map: x.map,
    }
}

struct Expander<'a, 'f> {
    root: PathBuf,
    read: &'a Reader<'a>,
    findings: &'f mut Vec<Finding>,
    map: SourceMap,
    text: String,
    /// The chain of files being read (absolute), to refuse a cycle.
    stack: Vec<PathBuf>,
}

impl Expander<'_, '_> {
    /// Copies `source` (the file `path`, `file` in the map) into the text, reading includes.
    fn file(&mut self, path: &Path, source: &str, file: Option<usize>) {
        let mut pos = 0;
        for u in scan(source).unsupported {
            let Some(relative) = include_kind(&u.what) else {
                continue;
            };
            self.copy(source, file, pos, u.start);
            let arg = source[u.start + u.what.len()..u.end].trim();
            let here = || Location::at_offset(path, source, u.start, u.end - u.start);
            match self.resolve(path, arg, relative) {
                Ok(target) => self.include(&target, here),
                Err((message, help)) => {
                    self.findings.push(
                        Finding::error("sql/include", format!("`{} {arg}`: {message}", u.what))
                            .at(here())
                            .help(help),
                    );
                }
            }
            // The line itself is not SQL: it stays out of the text.
            pos = u.end;
        }
        self.copy(source, file, pos, source.len());
    }

    fn copy(&mut self, source: &str, file: Option<usize>, from: usize, to: usize) {
        if from >= to {
            return;
        }
        self.map.segments.push(Segment {
            out: self.text.len(),
            file,
            offset: from,
        });
        self.text.push_str(&source[from..to]);
    }

    fn include(&mut self, target: &Path, here: impl Fn() -> Location) {
        let key = absolute(target);
        if self.stack.contains(&key) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&key))
                .map(|p| shown(p))
                .collect();
            self.findings.push(
                Finding::error(
                    "sql/include",
                    format!("includes form a cycle: {}", chain.join(" → ")),
                )
                .at(here())
                .help(
                    "a file cannot include itself, directly or through others; remove one include",
                ),
            );
            return;
        }
        if self.stack.len() > MAX_DEPTH {
            self.findings.push(
                Finding::error(
                    "sql/include",
                    format!("includes nest more than {MAX_DEPTH} deep"),
                )
                .at(here())
                .help(
                    "include the files from the migration itself rather than through a long chain",
                ),
            );
            return;
        }
        let text = match (self.read)(target) {
            Ok(bytes) => {
                let bytes = bytes
                    .strip_prefix(b"\xEF\xBB\xBF")
                    .map(<[u8]>::to_vec)
                    .unwrap_or(bytes);
                match String::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(_) => {
                        self.findings.push(
                            Finding::error(
                                "sql/include",
                                format!("{} is not valid UTF-8", target.display()),
                            )
                            .at(here())
                            .help("convert it, e.g. `iconv -f LATIN1 -t UTF-8 FILE`; included files must be UTF-8 like migrations"),
                        );
                        return;
                    }
                }
            }
            Err(e) => {
                self.findings.push(
                    Finding::error(
                        "sql/include",
                        format!("cannot read {}: {e}", target.display()),
                    )
                    .at(here())
                    .help("check that the file exists and that its permissions let you read it"),
                );
                return;
            }
        };
        let index = self.map.files.len();
        self.map.files.push(IncludedFile {
            path: target.to_path_buf(),
            source: text.clone(),
            lines: Lines::default(),
        });
        self.stack.push(key);
        self.file(target, &text, Some(index));
        self.stack.pop();
    }

    /// The file `arg` names, seen from `path`.
    fn resolve(
        &self,
        path: &Path,
        arg: &str,
        relative: bool,
    ) -> Result<PathBuf, (String, &'static str)> {
        let name = unquote(arg).map_err(|m| {
            (
                m.to_string(),
                "write the file's name as it is (`\\ir functions/update_timestamp.sql`), relative to the migration",
            )
        })?;
        let name = Path::new(&name);
        let here = path.parent().unwrap_or(Path::new(""));
        let candidates = if name.is_absolute() {
            vec![name.to_path_buf()]
        } else if relative {
            vec![here.join(name)]
        } else {
            vec![here.join(name), self.root.join(name), name.to_path_buf()]
        };
        // Only places inside the migrations directory are looked at: a file outside is never
        // opened, not even to see whether it exists.
        let inside: Vec<PathBuf> = dedup(&candidates)
            .into_iter()
            .filter(|c| absolute(c).starts_with(&self.root))
            .collect();
        if inside.is_empty() {
            return Err((
                format!(
                    "{} is outside the migrations directory {}",
                    shown(&candidates[0]),
                    shown(&self.root)
                ),
                "keep included files inside the migrations directory (e.g. in an `include/` folder beside the migrations): a migration may only read files of its own set",
            ));
        }
        match inside.iter().find(|c| exists(c, self.read)) {
            Some(found) => Ok(normalize(found)),
            None => {
                let looked: Vec<String> = inside.iter().map(|c| shown(c)).collect();
                Err((
                    format!("no such file (looked for {})", looked.join(", ")),
                    "`\\ir` is relative to the file that holds it; `\\i` is tried relative to that file, then to the migrations directory, then to the current directory",
                ))
            }
        }
    }
}

/// psql's reading of the argument: a bare word, or a '…' quoted name. Variables and
/// backticks would be computed at run time, which pgshift refuses.
fn unquote(arg: &str) -> Result<String, &'static str> {
    if arg.is_empty() {
        return Err("no file name after the meta-command");
    }
    if arg.contains('`') || arg.contains(':') {
        return Err("the file name must be written out: a variable or a backtick is not read");
    }
    if let Some(inner) = arg.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or("the quoted file name has no closing quote")?;
        return Ok(inner.replace("''", "'"));
    }
    if arg.split_whitespace().count() > 1 {
        return Err(
            "more than one word after the meta-command: quote a name with spaces ('my file.sql')",
        );
    }
    Ok(arg.to_string())
}

fn exists(path: &Path, read: &Reader) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file()) || read(path).is_ok()
}

fn dedup(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        let key = absolute(p);
        if !seen.contains(&key) {
            seen.push(key);
            out.push(p.clone());
        }
    }
    out
}

/// A path as the user would write it: relative to the current directory when it is inside it.
fn shown(path: &Path) -> String {
    let abs = absolute(path);
    let cwd = absolute(Path::new("."));
    match abs.strip_prefix(&cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => abs.display().to_string(),
    }
}

/// `path` made absolute against the current directory and normalised.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        normalize(&cwd.join(path))
    }
}

/// `.` and `..` resolved by name (the files may exist only in memory).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(files: &[(&str, &str)], main: &str) -> (Expanded, Vec<Finding>) {
        let root = PathBuf::from("/m");
        let map: HashMap<PathBuf, Vec<u8>> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.as_bytes().to_vec()))
            .collect();
        let read = move |p: &Path| {
            map.get(&normalize(p))
                .cloned()
                .ok_or_else(|| std::io::ErrorKind::NotFound.into())
        };
        let mut findings = Vec::new();
        let source = files.iter().find(|(p, _)| *p == main).unwrap().1;
        let x = expand(
            Path::new(main),
            source.to_string(),
            &root,
            &read,
            &mut findings,
        );
        (x, findings)
    }

    #[test]
    fn a_file_without_includes_is_left_as_it_is() {
        let (x, f) = run(&[("/m/a.sql", "SELECT 1;\n")], "/m/a.sql");
        assert_eq!(x.text, "SELECT 1;\n");
        assert!(x.map.is_empty() && f.is_empty());
    }

    #[test]
    fn includes_are_read_in_place_and_locations_lead_back_to_their_file() {
        let (x, f) = run(
            &[
                ("/m/a.sql", "SELECT 1;\n\\ir inc/b.sql\nSELECT 3;\n"),
                ("/m/inc/b.sql", "SELECT 2;\n\\ir 'c.sql'\n"),
                ("/m/inc/c.sql", "SELECT bad;\n"),
            ],
            "/m/a.sql",
        );
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(x.text, "SELECT 1;\nSELECT 2;\nSELECT bad;\n\n\nSELECT 3;\n");
        let at = |needle: &str| {
            let o = x.text.find(needle).unwrap();
            let l = x.map.locate(Path::new("/m/a.sql"), &x.text, o, 1);
            format!("{}:{}:{}", l.file.display(), l.line, l.column)
        };
        assert_eq!(at("SELECT 1"), "/m/a.sql:1:1");
        assert_eq!(at("SELECT 2"), "/m/inc/b.sql:1:1");
        assert_eq!(at("bad"), "/m/inc/c.sql:1:8");
        assert_eq!(at("SELECT 3"), "/m/a.sql:3:1");
        assert_eq!(x.map.files().len(), 2);
    }

    #[test]
    fn i_falls_back_to_the_migrations_directory() {
        let (x, f) = run(
            &[
                ("/m/sub/a.sql", "\\i shared/f.sql\n"),
                ("/m/shared/f.sql", "SELECT 2;\n"),
            ],
            "/m/sub/a.sql",
        );
        assert!(f.is_empty(), "{f:?}");
        assert!(x.text.contains("SELECT 2;"));
        // `\ir` is relative to the file only.
        let (_, f) = run(
            &[
                ("/m/sub/a.sql", "\\ir shared/f.sql\n"),
                ("/m/shared/f.sql", "SELECT 2;\n"),
            ],
            "/m/sub/a.sql",
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("no such file"), "{}", f[0].message);
    }

    #[test]
    fn cycles_escapes_and_computed_names_are_refused_at_the_line() {
        let (_, f) = run(
            &[
                ("/m/a.sql", "\\ir b.sql\n"),
                ("/m/b.sql", "SELECT 1;\n\\ir a.sql\n"),
            ],
            "/m/a.sql",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("cycle"), "{}", f[0].message);
        assert_eq!(f[0].location.as_ref().unwrap().file, Path::new("/m/b.sql"));
        assert_eq!(f[0].location.as_ref().unwrap().line, 2);

        let (x, f) = run(
            &[
                ("/m/a.sql", "\\i /etc/hostname\nSELECT 1;\n"),
                ("/etc/hostname", "x"),
            ],
            "/m/a.sql",
        );
        assert!(
            f[0].message.contains("outside the migrations directory"),
            "{}",
            f[0].message
        );
        assert!(!x.text.contains('x'), "{}", x.text);

        let (_, f) = run(
            &[("/m/a.sql", "\\ir ../up.sql\n"), ("/up.sql", "")],
            "/m/a.sql",
        );
        assert!(f[0].message.contains("outside"), "{}", f[0].message);

        for line in ["\\i :file", "\\i `ls`", "\\i", "\\i a b"] {
            let (_, f) = run(&[("/m/a.sql", line)], "/m/a.sql");
            assert_eq!(f.len(), 1, "{line}: {f:?}");
            assert_eq!(f[0].rule, "sql/include");
        }
    }

    #[test]
    fn relocate_moves_a_location_made_on_the_expanded_text() {
        let (x, _) = run(
            &[
                ("/m/a.sql", "\\ir b.sql\nSELECT 9;\n"),
                ("/m/b.sql", "SELECT 1;\nSELECT 2;\n"),
            ],
            "/m/a.sql",
        );
        let o = x.text.find("SELECT 2").unwrap();
        let mut l = Location::at_offset(Path::new("/m/a.sql"), &x.text, o, 6);
        x.map.relocate(Path::new("/m/a.sql"), &x.text, &mut l);
        assert_eq!(
            (l.file.as_path(), l.line, l.column),
            (Path::new("/m/b.sql"), 2, 1)
        );
    }
}
