//! Findings: what pgshift reports about migration files, with where and what to do next.
//!
//! A `Finding` is plain data (rule id, level, message, location, help). Rendering lives in
//! `render_text` so that the JSON and other report formats can share the same values.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; never blocks.
    Info,
    /// A likely problem; blocks only where configured so.
    Warning,
    /// Must be fixed: fails `validate` and stops `migrate`.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// A place in a file. `line` and `column` are 1-based; `column` counts characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line; 0 when the finding is about the whole file.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The text of the line (without its line ending), for the snippet under the message.
    #[serde(skip)]
    pub line_text: Option<String>,
    /// Byte range inside `line_text` to underline.
    #[serde(skip)]
    pub underline: Option<(usize, usize)>,
}

impl Location {
    /// A location that names only the file.
    pub fn file(path: &Path) -> Location {
        Location {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            line_text: None,
            underline: None,
        }
    }

    /// The location of byte `offset` in `source`, underlining `len` bytes (at least one
    /// character, clipped to the line). Linear in `offset`: for many locations in one large
    /// text, use a [`TextIndex`].
    pub fn at_offset(path: &Path, source: &str, offset: usize, len: usize) -> Location {
        let offset = floor_char_boundary(source, offset.min(source.len()));
        let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = source[..line_start].matches('\n').count() + 1;
        let column = source[line_start..offset].chars().count() + 1;
        Location::on_line(path, source, offset, len, line_start, line, column)
    }

    /// A location whose line (1-based, starting at byte `line_start`) and column are known.
    /// The text kept for the snippet is a window of the line around the underline, so that a
    /// finding on a line of megabytes costs what one on a short line does.
    fn on_line(
        path: &Path,
        source: &str,
        offset: usize,
        len: usize,
        line_start: usize,
        line: usize,
        column: usize,
    ) -> Location {
        const WINDOW: usize = 120;
        let from = if offset - line_start > WINDOW {
            floor_char_boundary(source, offset - WINDOW)
        } else {
            line_start
        };
        // The end of the line, looked for only as far as the window reaches.
        let reach = floor_char_boundary(
            source,
            (offset + WINDOW + len.min(WINDOW)).min(source.len()),
        );
        let to = source[offset..reach]
            .find('\n')
            .map_or(reach, |i| offset + i);
        let mut text = &source[from..to];
        if let Some(stripped) = text.strip_suffix('\r') {
            text = stripped;
        }
        let col_byte = (offset - from).min(text.len());
        let mut end = floor_char_boundary(text, (col_byte + len.max(1)).min(text.len()));
        if end <= col_byte {
            end = text[col_byte..]
                .chars()
                .next()
                .map_or(col_byte, |c| col_byte + c.len_utf8());
        }
        Location {
            file: path.to_path_buf(),
            line,
            column,
            line_text: Some(text.to_string()),
            underline: Some((col_byte, end)),
        }
    }

    /// The location of a whole line (1-based) of `source`.
    pub fn at_line(path: &Path, source: &str, line: usize) -> Location {
        let offset = line_offset(source, line);
        let line_len = source[offset..].find('\n').unwrap_or(source.len() - offset);
        let trimmed = source[offset..offset + line_len].trim_end_matches('\r');
        Location::at_offset(path, source, offset, trimmed.len())
    }
}

/// Byte offset of the start of 1-based `line` in `source` (end of source if past the end).
pub fn line_offset(source: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    source
        .match_indices('\n')
        .nth(line - 2)
        .map_or(source.len(), |(i, _)| i + 1)
}

/// Where the lines of one text start, and how many characters come before each block of it:
/// built once (linear), it locates any offset in logarithmic time plus one block, so that a
/// file with a hundred thousand findings is reported in linear time.
#[derive(Debug, Clone, Default)]
pub struct TextIndex {
    /// Byte offset of the start of each line after the first.
    line_starts: Vec<usize>,
    /// Characters before byte `i * BLOCK` (on a character boundary at or before it).
    chars_before: Vec<(usize, usize)>,
}

impl TextIndex {
    const BLOCK: usize = 4096;

    /// The index of `source`.
    pub fn new(source: &str) -> TextIndex {
        // (`match_indices` of a char searches with memchr.)
        let line_starts = source.match_indices('\n').map(|(i, _)| i + 1).collect();
        let mut chars_before = Vec::with_capacity(source.len() / Self::BLOCK + 1);
        let (mut at, mut chars) = (0, 0);
        while at < source.len() {
            chars_before.push((at, chars));
            let mut next = (at + Self::BLOCK).min(source.len());
            while !source.is_char_boundary(next) {
                next += 1;
            }
            chars += source[at..next].chars().count();
            at = next;
        }
        TextIndex {
            line_starts,
            chars_before,
        }
    }

    /// Characters before byte `offset` (a character boundary).
    fn chars_to(&self, source: &str, offset: usize) -> usize {
        let i = self.chars_before.partition_point(|(at, _)| *at <= offset);
        match i.checked_sub(1).map(|i| self.chars_before[i]) {
            Some((at, chars)) => chars + source[at..offset].chars().count(),
            None => source[..offset].chars().count(),
        }
    }

    /// [`Location::at_offset`] of `source`, the text this index was built from.
    pub fn locate(&self, path: &Path, source: &str, offset: usize, len: usize) -> Location {
        let offset = floor_char_boundary(source, offset.min(source.len()));
        let lines_before = self.line_starts.partition_point(|s| *s <= offset);
        let line_start = lines_before
            .checked_sub(1)
            .map_or(0, |i| self.line_starts[i]);
        let column = self.chars_to(source, offset) - self.chars_to(source, line_start) + 1;
        Location::on_line(
            path,
            source,
            offset,
            len,
            line_start,
            lines_before + 1,
            column,
        )
    }

    /// [`Location::at_line`] of `source`, the text this index was built from.
    pub fn locate_line(&self, path: &Path, source: &str, line: usize) -> Location {
        let offset = match line {
            0 | 1 => 0,
            l => self.line_starts.get(l - 2).copied().unwrap_or(source.len()),
        };
        let line_len = source[offset..].find('\n').unwrap_or(source.len() - offset);
        let trimmed = source[offset..offset + line_len].trim_end_matches('\r');
        self.locate(path, source, offset, trimmed.len())
    }
}

/// Locations in one text: scanned for each finding while the text is small, through a
/// [`TextIndex`] built on the first finding once it is large. Keep one beside the text.
/// It is a cache: any two are equal, so that it does not change what its owner equals.
#[derive(Debug, Clone, Default)]
pub struct Lines(std::sync::OnceLock<TextIndex>);

impl PartialEq for Lines {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Lines {}

impl Lines {
    /// Texts smaller than this are scanned for each finding: an index costs more. In a larger
    /// text, so is a finding before this offset, until the index exists (a scan bounded by
    /// it: the line's text is a window around the finding).
    const LARGE: usize = 16 << 10;

    /// [`Location::at_offset`], for `source`, always the same text. A finding near the top of
    /// a large file (the CREATE TABLE before a data file's rows) is found by scanning up to it:
    /// the index would read, and keep, the whole text for it.
    pub fn locate(&self, path: &Path, source: &str, offset: usize, len: usize) -> Location {
        if source.len() < Self::LARGE || (offset < Self::LARGE && self.0.get().is_none()) {
            return Location::at_offset(path, source, offset, len);
        }
        self.0
            .get_or_init(|| TextIndex::new(source))
            .locate(path, source, offset, len)
    }

    /// [`Location::at_line`], for `source`, always the same text.
    pub fn locate_line(&self, path: &Path, source: &str, line: usize) -> Location {
        if source.len() < Self::LARGE {
            return Location::at_line(path, source, line);
        }
        self.0
            .get_or_init(|| TextIndex::new(source))
            .locate_line(path, source, line)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// One thing pgshift found: a broken file name, a missing dependency, a lint violation…
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier, e.g. `filename/impossible-date`. Used by `@allow` and the config.
    pub rule: String,
    /// How serious it is.
    pub level: Level,
    /// What is wrong.
    pub message: String,
    /// Where: the file, line and column.
    pub location: Option<Location>,
    /// What to do about it.
    pub help: Option<String>,
    /// A safe rewrite, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Accepted by an `@allow` directive, with its reason (empty when none was given). Allowed
    /// findings are reported but never counted or blocking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<String>,
    /// Where the same finding blocks when it does not here: `an error in staging and
    /// production` for a warning while developing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stricter: Option<String>,
}

impl Finding {
    /// A finding of `rule` at `level`.
    pub fn new(rule: &str, level: Level, message: impl Into<String>) -> Finding {
        Finding {
            rule: rule.to_string(),
            level,
            message: message.into(),
            location: None,
            help: None,
            fix: None,
            allowed: None,
            stricter: None,
        }
    }

    /// An error-level finding.
    pub fn error(rule: &str, message: impl Into<String>) -> Finding {
        Finding::new(rule, Level::Error, message)
    }

    /// A warning-level finding.
    pub fn warning(rule: &str, message: impl Into<String>) -> Finding {
        Finding::new(rule, Level::Warning, message)
    }

    /// Sets where it is.
    pub fn at(mut self, location: Location) -> Finding {
        self.location = Some(location);
        self
    }

    /// Sets what to do about it.
    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    /// The order of a stable, file-ordered report: by file, line, column, then rule; a
    /// finding without a place first. Compares in place: a key cloned for each comparison
    /// cost more than the sort itself at 40,000 findings.
    pub fn by_place(a: &Finding, b: &Finding) -> std::cmp::Ordering {
        a.place().cmp(&b.place())
    }

    /// Where it is, as [`Finding::by_place`] orders findings: no place first.
    pub(crate) fn place(&self) -> (&Path, usize, usize, &str) {
        match &self.location {
            Some(l) => (&l.file, l.line, l.column, &self.rule),
            None => (Path::new(""), 0, 0, &self.rule),
        }
    }
}

/// Renders a finding rustc-style: `error[rule]: message`, `--> file:line:col`, the source line
/// with a caret under the place, and `= help:`. File names, messages (which quote SQL names)
/// and source lines are untrusted: their control characters are shown escaped.
pub fn render_text(finding: &Finding, color: bool) -> String {
    use crate::sanitize::escape::untrusted;
    use annotate_snippets::{AnnotationKind, Group, Level as L, Renderer, Snippet};

    let message = untrusted(&finding.message);
    let rule = untrusted(&finding.rule);
    let help = finding.help.as_deref().map(untrusted);

    let level = match finding.level {
        Level::Error => L::ERROR,
        Level::Warning => L::WARNING,
        Level::Info => L::INFO,
    };
    let named;
    let level = match &finding.stricter {
        Some(s) => {
            named = format!("{} ({s})", finding.level);
            level.with_name(named.as_str())
        }
        None => level,
    };
    let title = level.primary_title(message.as_ref()).id(rule.as_ref());
    let origin;
    let line_text;
    let mut group = Group::with_title(title);
    if let Some(loc) = &finding.location {
        origin = untrusted(&loc.file.display().to_string()).into_owned();
        match (&loc.line_text, loc.underline) {
            (Some(text), Some((start, end))) => {
                // Escaping lengthens the line: move the underline with it.
                let escaped = |upto: usize| untrusted(&text[..upto]).len();
                let (start, end) = (escaped(start), escaped(end));
                line_text = untrusted(text).into_owned();
                group = group.element(
                    Snippet::source(line_text.as_str())
                        .line_start(loc.line)
                        .path(origin.as_str())
                        .annotation(AnnotationKind::Primary.span(start..end)),
                );
            }
            _ => {
                group = group.element(annotate_snippets::Origin::path(origin.as_str()));
            }
        }
    }
    if let Some(help) = &help {
        group = group.element(L::HELP.message(help.as_ref()));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    renderer.render(&[group]).to_string()
}

/// Counts of findings per level, for summaries and exit codes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Error-level findings.
    pub errors: usize,
    /// Warning-level findings.
    pub warnings: usize,
    /// Info-level findings.
    pub infos: usize,
}

impl Counts {
    /// `2 errors, 1 warning, 0 info`.
    pub fn summary(&self) -> String {
        let plural = |n: usize, one: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {one}s")
            }
        };
        format!(
            "{}, {}, {} info",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            self.infos
        )
    }

    /// Counts the findings that are not allowed.
    pub fn of(findings: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for f in findings.iter().filter(|f| f.allowed.is_none()) {
            match f.level {
                Level::Error => c.errors += 1,
                Level::Warning => c.warnings += 1,
                Level::Info => c.infos += 1,
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_near_the_top_of_a_large_text_builds_no_index_and_a_deep_one_does() {
        let rows = "1\tname\t2.50\tnote ✓\n".repeat(50_000);
        let text = format!("CREATE TABLE d (id int);\nCOPY d FROM stdin;\n{rows}\\.\n");
        let path = Path::new("data.sql");
        let lines = Lines::default();
        let top = lines.locate(path, &text, 7, 5);
        assert_eq!(top, Location::at_offset(path, &text, 7, 5));
        assert!(
            lines.0.get().is_none(),
            "the whole text was indexed for the first lines"
        );
        let deep = text.len() - 10;
        assert_eq!(
            lines.locate(path, &text, deep, 3),
            Location::at_offset(path, &text, deep, 3)
        );
        assert!(lines.0.get().is_some());
        // Once built, the index answers near the top too, the same way.
        assert_eq!(lines.locate(path, &text, 7, 5), top);
    }

    #[test]
    fn the_index_places_every_offset_where_a_scan_does() {
        // Blocks of 4 KiB cut through multi-byte characters; lines of every length; CRLF.
        let long = "é✓😀x".repeat(3000);
        let text = format!("a\r\n\nSELECT 'é';\n{long}\n\n😀 end\r\nlast");
        let index = TextIndex::new(&text);
        let path = Path::new("f.sql");
        for offset in (0..=text.len() + 3).step_by(7).chain([text.len()]) {
            for len in [0, 1, 5, 400] {
                let scanned = Location::at_offset(path, &text, offset, len);
                let indexed = index.locate(path, &text, offset, len);
                assert_eq!(scanned, indexed, "offset {offset}, len {len}");
            }
        }
        for line in 0..9 {
            assert_eq!(
                Location::at_line(path, &text, line),
                index.locate_line(path, &text, line),
                "line {line}"
            );
        }
    }

    #[test]
    fn a_snippet_is_a_window_of_a_long_line() {
        let text = format!("{}:v{}", "x ".repeat(100_000), " y".repeat(100_000));
        let at = text.find(":v").unwrap();
        let l = Location::at_offset(Path::new("f.sql"), &text, at, 2);
        assert_eq!((l.line, l.column), (1, at + 1));
        let shown = l.line_text.unwrap();
        assert!(shown.len() <= 2 * 120 + 2, "{}", shown.len());
        let (a, b) = l.underline.unwrap();
        assert_eq!(&shown[a..b], ":v");
    }

    #[test]
    fn offset_maps_to_line_and_character_column() {
        let src = "select 1;\n-- héllo wörld\nselect x;\n";
        let off = src.find("wörld").unwrap();
        let loc = Location::at_offset(Path::new("f.sql"), src, off, 6);
        assert_eq!((loc.line, loc.column), (2, 10));
        assert_eq!(loc.line_text.as_deref(), Some("-- héllo wörld"));
        assert_eq!(loc.to_string(), "f.sql:2:10");
    }

    #[test]
    fn offset_at_end_of_file_is_clamped() {
        let src = "select 1;";
        let loc = Location::at_offset(Path::new("f.sql"), src, 999, 1);
        assert_eq!((loc.line, loc.column), (1, 10));
    }

    #[test]
    fn whole_line_location_strips_crlf() {
        let src = "a\r\nbcd\r\n";
        let loc = Location::at_line(Path::new("f.sql"), src, 2);
        assert_eq!(loc.line_text.as_deref(), Some("bcd"));
        assert_eq!(loc.underline, Some((0, 3)));
    }

    #[test]
    fn text_rendering_shows_rule_place_caret_and_help() {
        let src = "-- header\nSELEC 1;\n";
        let f = Finding::error("sql/syntax", "syntax error at or near \"SELEC\"")
            .at(Location::at_offset(Path::new("m/x.sql"), src, 10, 5))
            .help("check the statement");
        let out = render_text(&f, false);
        assert!(out.contains("error[sql/syntax]: syntax error"), "{out}");
        assert!(out.contains("m/x.sql:2:1"), "{out}");
        assert!(out.contains("SELEC 1;"), "{out}");
        assert!(out.contains("^^^^^"), "{out}");
        assert!(out.contains("help: check the statement"), "{out}");
    }

    #[test]
    fn text_rendering_escapes_what_files_and_names_carry() {
        let src = "CREATE TABLE \"a\x1b]0;x\x07\" (id int);\n";
        let f = Finding::warning(
            "rls/table-without-rls",
            "table \"a\x1b]0;x\x07\" has no RLS\n::error::boom",
        )
        .at(Location::at_offset(
            Path::new("m/\x1b[2Jx.sql"),
            src,
            13,
            10,
        ))
        .help("enable it ##[add-mask]x");
        let out = render_text(&f, false);
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(out.contains("\\u{1b}]0;x\\u{7}"), "{out}");
        assert!(
            !out.lines().any(|l| l.trim_start().starts_with("::")),
            "{out}"
        );
        assert!(!out.contains("##["), "{out}");
    }
}
