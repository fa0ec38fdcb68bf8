//! psql variables and meta-commands, lexed as psql does (psqlscan.l): `:name`, `:'name'`,
//! `:"name"` and `:{?name}` are substituted outside string literals, quoted identifiers,
//! dollar-quoted bodies and comments; `::` casts and `:=` are left alone. Backslash
//! meta-commands and backticks are found so they can be reported as unsupported.

/// How a variable is written, which decides how its value is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    /// `:name`: the value as is (SQL text).
    Raw,
    /// `:'name'`: the value as a string literal.
    Literal,
    /// `:"name"`: the value as a quoted identifier.
    Identifier,
    /// `:{?name}`: `TRUE` when the variable is set, else `FALSE`.
    Defined,
}

/// A variable reference in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    pub name: String,
    pub kind: VarKind,
    /// Byte range in the source, `:` included.
    pub start: usize,
    pub end: usize,
    /// A raw `:name` glued to what precedes it (`arr[1:n]`): psql substitutes it only when the
    /// variable is set, and it is no error when it is not.
    pub glued: bool,
    /// The value a `\set` above it in the same file gives it (psql's own rule: the file's
    /// `\set` wins over `-v` for what follows it).
    pub local: Option<String>,
}

/// `\set NAME value` in the file: a psql variable with a literal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSet {
    pub name: String,
    pub value: String,
    /// The whole meta-command line.
    pub start: usize,
    pub end: usize,
}

/// A psql-only construct pgshift does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// `\set`, `\i`, … or "`" for a backtick.
    pub what: String,
    pub start: usize,
    /// End of the construct: a meta-command runs to the end of its line.
    pub end: usize,
}

/// The inline data of a `COPY … FROM stdin;`: the lines after it, up to a line `\.`, as
/// pg_dump writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyData {
    /// The data: from the line after the statement to the start of the `\.` line.
    pub start: usize,
    pub end: usize,
    /// Just past the `\.` line (or the end of the file when it is missing).
    pub block_end: usize,
    /// The `\.` line was found.
    pub terminated: bool,
}

/// Whether a statement's text is `COPY … FROM STDIN` (comments blank or absent).
fn is_copy_from_stdin(statement: &str) -> bool {
    // The first word decides cheaply for every other statement (an INSERT of a data
    // migration is many kilobytes).
    let first = statement
        .lines()
        .map(|l| l.split("--").next().unwrap_or("").trim_start())
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if !first
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("copy"))
    {
        return false;
    }
    // Line comments out (the header above a first statement, say).
    let code: String = statement
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let words: Vec<String> = code
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words.first().is_some_and(|w| w == "copy")
        && words.windows(2).any(|w| w[0] == "from" && w[1] == "stdin")
}

/// What the psql lexer found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PsqlScan {
    pub variables: Vec<VarRef>,
    pub unsupported: Vec<Unsupported>,
    /// `\set NAME value` lines with a literal value (blanked before parsing).
    pub sets: Vec<LocalSet>,
    /// Inline data of `COPY … FROM stdin;` statements (blanked before parsing).
    pub copies: Vec<CopyData>,
    /// Byte ranges of the `/* … */` comments (nested ones inside their outermost).
    pub block_comments: Vec<(usize, usize)>,
}

fn is_var_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

/// The line `\.` (alone, but for trailing `\r`s) that ends `COPY … FROM stdin` data starting
/// at `start` (a line's start): where that line starts and where the next one does. Searched
/// for with SIMD (`memmem`), not line by line: a data file's 100 MB are mostly such data.
fn copy_data_end(b: &[u8], start: usize) -> Option<(usize, usize)> {
    let n = b.len();
    let mut line = start;
    while line < n {
        let at = if b[line..].starts_with(b"\\.") {
            line
        } else {
            line + memchr::memmem::find(&b[line..], b"\n\\.")? + 1
        };
        let line_end = memchr::memchr(b'\n', &b[at..]).map_or(n, |k| at + k);
        if b[at + 2..line_end].iter().all(|&c| c == b'\r') {
            return Some((at, (line_end + 1).min(n)));
        }
        line = line_end + 1;
    }
    None
}

/// Lexes `source` like psql: finds variables, meta-commands and backticks outside quotes and
/// comments. Never fails; unterminated quotes run to the end.
pub fn scan(source: &str) -> PsqlScan {
    let b = source.as_bytes();
    let n = b.len();
    let mut out = PsqlScan::default();
    let mut i = 0;
    // Where the current statement began (after the last top-level `;`), comments skipped.
    let mut statement_start = 0;
    while i < n {
        let c = b[i];
        match c {
            b';' => {
                let statement = &source[statement_start..i];
                let statement = crate::sql::blank_comments(statement);
                if is_copy_from_stdin(&statement) {
                    // The data starts on the next line and runs to a line `\.`.
                    let start = source[i..].find('\n').map_or(n, |k| i + k + 1);
                    let (end, block_end, terminated) = match copy_data_end(b, start) {
                        Some((end, block_end)) => (end, block_end, true),
                        None => (n, n, false),
                    };
                    out.copies.push(CopyData {
                        start,
                        end,
                        block_end,
                        terminated,
                    });
                    i = block_end;
                    statement_start = block_end;
                    continue;
                }
                i += 1;
                statement_start = i;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = source[i..].find('\n').map_or(n, |k| i + k);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = super::block_comment_end(b, i);
                out.block_comments.push((i, end));
                i = end;
            }
            b'\'' => i = string_end(b, i),
            b'"' => i = skip_quoted(b, i + 1, b'"', false),
            b'$' => {
                if let Some(end) = dollar_quote_end(source, i) {
                    i = end;
                } else {
                    i += 1;
                }
            }
            b':' => {
                if b.get(i + 1) == Some(&b':') {
                    i += 2;
                    while b.get(i) == Some(&b':') {
                        i += 1;
                    }
                    continue;
                }
                match variable_at(source, i) {
                    Some(v) => {
                        i = v.end;
                        out.variables.push(v);
                    }
                    None => i += 1,
                }
            }
            b'\\' => {
                let end = source[i..].find('\n').map_or(n, |k| i + k);
                let name_end = (i + 1..end)
                    .find(|&k| !(b[k].is_ascii_alphanumeric() || b"?!_+".contains(&b[k])))
                    .unwrap_or(end);
                let what = if name_end == i + 1 {
                    // `\` followed by one character (possibly multi-byte), or alone.
                    let next = source[i + 1..end].chars().next().map_or(0, char::len_utf8);
                    source[i..i + 1 + next].to_string()
                } else {
                    source[i..name_end].to_string()
                };
                // A meta-command line ends whatever statement text came before it.
                statement_start = end;
                if what == "\\set" {
                    if let Some((name, value)) = set_args(&source[name_end..end]) {
                        out.sets.push(LocalSet {
                            name,
                            value,
                            start: i,
                            end,
                        });
                        i = end;
                        continue;
                    }
                }
                out.unsupported.push(Unsupported {
                    what,
                    start: i,
                    end,
                });
                i = end;
            }
            b'`' => {
                let end = source[i + 1..].find('`').map_or(n, |k| i + 1 + k + 1);
                out.unsupported.push(Unsupported {
                    what: "`".into(),
                    start: i,
                    end,
                });
                i = end;
            }
            _ => i += 1,
        }
    }
    // A variable after a `\set` of its name takes that value.
    for v in &mut out.variables {
        v.local = out
            .sets
            .iter()
            .rev()
            .find(|s| s.name == v.name && s.end <= v.start)
            .map(|s| s.value.clone());
    }
    out
}

/// `NAME value…` of a `\set`: psql joins the value's words with nothing between them and
/// unquotes '…' words. `None` when it is not a plain literal (no name, a backtick command, a
/// variable): that stays unsupported.
fn set_args(args: &str) -> Option<(String, String)> {
    let args = args.trim();
    let (name, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if name.is_empty() || !name.bytes().all(is_var_char) {
        return None;
    }
    let mut value = String::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Any whitespace separates words (a multi-byte one too: step over all of it).
        let ch = rest[i..].chars().next().unwrap_or(' ');
        if ch.is_whitespace() {
            i += ch.len_utf8();
            continue;
        }
        match b[i] {
            b'`' | b':' | b'\\' | b'"' => return None,
            b'\'' => {
                let end = skip_quoted(b, i + 1, b'\'', false);
                // Unterminated: the closing quote must be past the opening one.
                if end > b.len() || end < i + 2 || b[end - 1] != b'\'' {
                    return None;
                }
                value.push_str(&rest[i + 1..end - 1].replace("''", "'"));
                i = end;
            }
            _ => {
                let end = rest[i..]
                    .find(|c: char| c.is_whitespace() || c == '\'')
                    .map_or(rest.len(), |k| i + k);
                value.push_str(&rest[i..end]);
                i = end;
            }
        }
    }
    Some((name.to_string(), value))
}

/// The offset just past the last `;` of `sql` that is outside quotes, dollar quotes and
/// comments, read from the start of a statement: a place where the text may be cut between
/// statements (a `;` inside parentheses or a `BEGIN ATOMIC` body is not one; the parser says
/// so). `None` when there is none.
pub fn last_semicolon(sql: &str) -> Option<usize> {
    let b = sql.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut last = None;
    while i < n {
        match b[i] {
            b';' => {
                i += 1;
                last = Some(i);
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(n, |k| i + k);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => i = super::block_comment_end(b, i),
            b'\'' => i = string_end(b, i),
            b'"' => i = skip_quoted(b, i + 1, b'"', false),
            b'$' => i = dollar_quote_end(sql, i).unwrap_or(i + 1),
            _ => i += 1,
        }
    }
    last
}

/// Index just past the string literal whose opening quote is at `i`: `E'…'` strings take
/// backslash escapes, standard strings do not.
fn string_end(b: &[u8], i: usize) -> usize {
    let escapes =
        i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e') && (i < 2 || !is_var_char(b[i - 2]));
    skip_quoted(b, i + 1, b'\'', escapes)
}

/// Index just past the closing quote (a doubled quote is part of the text).
fn skip_quoted(b: &[u8], mut i: usize, quote: u8, backslash: bool) -> usize {
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// If a dollar quote (`$$` or `$tag$`) opens at `i`, the index just past its closing delimiter.
fn dollar_quote_end(source: &str, i: usize) -> Option<usize> {
    let b = source.as_bytes();
    // `$1` is a parameter, and `a$b` part of an identifier: neither opens a quote.
    if i > 0 && is_var_char(b[i - 1]) {
        return None;
    }
    let mut j = i + 1;
    if j < b.len() && b[j] != b'$' {
        if !is_ident_start(b[j]) {
            return None;
        }
        while j < b.len() && (is_var_char(b[j]) && b[j] != b'$') {
            j += 1;
        }
        if b.get(j) != Some(&b'$') {
            return None;
        }
    }
    if j >= b.len() {
        return None;
    }
    let tag = &source[i..=j];
    let body = j + 1;
    Some(
        source[body..]
            .find(tag)
            .map_or(b.len(), |k| body + k + tag.len()),
    )
}

fn variable_at(source: &str, i: usize) -> Option<VarRef> {
    let b = source.as_bytes();
    let glued = i > 0 && (is_var_char(b[i - 1]) || b[i - 1] == b']' || b[i - 1] == b')');
    let make = |name: &str, kind, end| {
        Some(VarRef {
            name: name.to_string(),
            kind,
            start: i,
            end,
            glued: glued && kind == VarKind::Raw,
            local: None,
        })
    };
    match b.get(i + 1)? {
        q @ (b'\'' | b'"') => {
            let close = source[i + 2..].find(*q as char)? + i + 2;
            let name = &source[i + 2..close];
            if name.is_empty() || !name.bytes().all(is_var_char) {
                return None;
            }
            let kind = if *q == b'\'' {
                VarKind::Literal
            } else {
                VarKind::Identifier
            };
            make(name, kind, close + 1)
        }
        b'{' if b.get(i + 2) == Some(&b'?') => {
            let close = source[i + 3..].find('}')? + i + 3;
            let name = &source[i + 3..close];
            if name.is_empty() || !name.bytes().all(is_var_char) {
                return None;
            }
            make(name, VarKind::Defined, close + 1)
        }
        c if is_var_char(*c) => {
            let end = (i + 1..b.len())
                .find(|&k| !is_var_char(b[k]))
                .unwrap_or(b.len());
            make(&source[i + 1..end], VarKind::Raw, end)
        }
        _ => None,
    }
}

/// psql's quoting of a value as a literal (`PQescapeLiteral`): quotes doubled, and an `E`
/// prefix with doubled backslashes when the value has a backslash.
pub fn quote_literal(value: &str) -> String {
    let body = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// psql's quoting of a value as an identifier.
pub fn quote_identifier(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// An identifier as a person would type it: bare when it is a plain lower-case name
/// (`deployer`), quoted otherwise (`"Deploy Role"`). For messages; SQL pgshift runs always
/// quotes ([`quote_identifier`]).
pub fn display_identifier(value: &str) -> String {
    let plain = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        value.to_string()
    } else {
        quote_identifier(value)
    }
}

/// One replaced range: `source[src.0..src.1]` became `text[out.0..out.1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replacement {
    pub src: (usize, usize),
    pub out: (usize, usize),
}

/// Text after substitution, with the way back to source offsets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Substituted {
    /// The text the parser and the server get: the source itself, shared, when nothing
    /// changes (a data migration is not copied).
    pub text: std::sync::Arc<String>,
    pub replacements: Vec<Replacement>,
}

impl Substituted {
    /// The source offset of byte `offset` of the substituted text. Inside a replacement it
    /// maps to the start of the variable.
    pub fn to_source(&self, offset: usize) -> usize {
        let mut delta: isize = 0;
        for r in &self.replacements {
            if offset < r.out.0 {
                break;
            }
            if offset < r.out.1 {
                return r.src.0;
            }
            delta = r.src.1 as isize - r.out.1 as isize;
        }
        (offset as isize + delta).max(0) as usize
    }

    /// Whether byte `offset` of the substituted text came from a variable's value.
    pub fn is_substituted(&self, offset: usize) -> bool {
        self.replacements
            .iter()
            .any(|r| r.out.0 <= offset && offset < r.out.1)
    }
}

/// Replaces every variable with `value_of(reference)`; `None` leaves the reference as written.
/// Unsupported constructs are blanked (same length, newlines kept) so the SQL around them
/// still parses; the data of each `COPY … FROM stdin` is taken out.
pub fn substitute(
    source: &std::sync::Arc<String>,
    scan: &PsqlScan,
    mut value_of: impl FnMut(&VarRef) -> Option<String>,
) -> Substituted {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for v in &scan.variables {
        let text = match (&v.local, v.kind) {
            (Some(value), VarKind::Raw) => Some(value.clone()),
            (Some(value), VarKind::Literal) => Some(quote_literal(value)),
            (Some(value), VarKind::Identifier) => Some(quote_identifier(value)),
            (Some(_), VarKind::Defined) => Some("TRUE".into()),
            (None, _) => value_of(v),
        };
        if let Some(text) = text {
            edits.push((v.start, v.end, text));
        }
    }
    let blanks = scan
        .unsupported
        .iter()
        .map(|u| (u.start, u.end))
        .chain(scan.sets.iter().map(|s| (s.start, s.end)));
    for (start, end) in blanks {
        let blank: String = source[start..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        edits.push((start, end, blank));
    }
    // COPY data is taken out: it may be gigabytes, and the parser has nothing to see in it.
    for c in &scan.copies {
        edits.push((c.start, c.block_end, String::new()));
    }
    edits.sort_by_key(|e| e.0);
    if edits.is_empty() {
        return Substituted {
            text: source.clone(),
            replacements: Vec::new(),
        };
    }
    // Exactly what is written: a COPY's data (gigabytes, perhaps) is taken out.
    let mut size = source.len();
    let mut pos = 0;
    for (start, end, edit) in &edits {
        if *start >= pos {
            size = size - (end - start) + edit.len();
            pos = *end;
        }
    }
    let mut text = String::with_capacity(size);
    let mut replacements = Vec::with_capacity(edits.len());
    let mut pos = 0;
    for (start, end, edit) in edits {
        if start < pos {
            continue;
        }
        text.push_str(&source[pos..start]);
        let out_start = text.len();
        text.push_str(&edit);
        replacements.push(Replacement {
            src: (start, end),
            out: (out_start, text.len()),
        });
        pos = end;
    }
    text.push_str(&source[pos..]);
    debug_assert_eq!(text.len(), size);
    Substituted {
        text: std::sync::Arc::new(text),
        replacements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<(String, VarKind)> {
        scan(sql)
            .variables
            .into_iter()
            .map(|v| (v.name, v.kind))
            .collect()
    }

    #[test]
    fn finds_the_three_forms_and_the_test_form() {
        assert_eq!(
            names("ALTER ROLE a PASSWORD :pw; SELECT :'lit', :\"ident\", :{?flag};"),
            [
                ("pw".into(), VarKind::Raw),
                ("lit".into(), VarKind::Literal),
                ("ident".into(), VarKind::Identifier),
                ("flag".into(), VarKind::Defined)
            ]
        );
    }

    #[test]
    fn leaves_casts_assignments_strings_comments_and_dollar_bodies_alone() {
        let sql = "SELECT 1::int, x::text::varchar, ':no', E'\\':no', \":no\";\n\
                   -- :no\n/* :no /* nested :no */ :no */\n\
                   DO $$ BEGIN v := :no; END $$; DO $body$ :no $body$;\n\
                   SELECT f(a := 1), $1, a$b;";
        assert_eq!(names(sql), []);
    }

    #[test]
    fn glued_references_are_marked() {
        let v = scan("SELECT arr[1:n], x[a:b], (f):c, :d").variables;
        let glued: Vec<_> = v.iter().map(|v| (v.name.as_str(), v.glued)).collect();
        assert_eq!(glued, [("n", true), ("b", true), ("c", true), ("d", false)]);
    }

    #[test]
    fn finds_meta_commands_and_backticks_with_positions() {
        let sql = "SELECT 1;\n\\set x `hostname`\nSELECT '\\i no';\n\\i other.sql\nSELECT `date`;";
        let u = scan(sql).unsupported;
        let what: Vec<_> = u.iter().map(|u| u.what.as_str()).collect();
        assert_eq!(what, ["\\set", "\\i", "`"]);
        assert_eq!(&sql[u[0].start..u[0].end], "\\set x `hostname`");
    }

    #[test]
    fn quotes_like_psql() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(quote_identifier("My \"T\""), "\"My \"\"T\"\"\"");
    }

    #[test]
    fn substitution_maps_offsets_back() {
        let src = "SELECT :'v' AS a, :w + 1";
        let s = scan(src);
        let sub = substitute(&std::sync::Arc::new(src.to_string()), &s, |v| {
            Some(match v.kind {
                VarKind::Literal => quote_literal("hello"),
                _ => "42".to_string(),
            })
        });
        assert_eq!(*sub.text, "SELECT 'hello' AS a, 42 + 1");
        let plus = sub.text.find('+').unwrap();
        assert_eq!(&src[sub.to_source(plus)..sub.to_source(plus) + 1], "+");
        assert_eq!(sub.to_source(sub.text.find("hello").unwrap()), 7);
        assert!(sub.is_substituted(8) && !sub.is_substituted(2));
    }

    #[test]
    fn unsupported_lines_are_blanked_keeping_offsets() {
        let src = "SELECT 1;\n\\set x 1\nSELECT 2;";
        let sub = substitute(&std::sync::Arc::new(src.to_string()), &scan(src), |_| None);
        assert_eq!(sub.text.len(), src.len());
        assert_eq!(*sub.text, "SELECT 1;\n        \nSELECT 2;");
    }

    #[test]
    fn a_set_gives_the_variables_after_it_its_literal_value() {
        let src = ":'v' \\set v 'a''b' c\nSELECT :'v', :v;\n\\set w `date`\n";
        let s = scan(src);
        assert_eq!(s.sets.len(), 1);
        assert_eq!(s.sets[0].value, "a'bc");
        // Before the \set: the outside value; after it: the file's.
        assert_eq!(s.variables[0].local, None);
        assert_eq!(s.variables[1].local.as_deref(), Some("a'bc"));
        // A computed value stays unsupported.
        assert_eq!(s.unsupported.len(), 1);
        let out = substitute(&std::sync::Arc::new(src.to_string()), &s, |_| {
            Some("'outside'".into())
        });
        assert!(out.text.starts_with("'outside' "), "{}", out.text);
        assert!(out.text.contains("SELECT 'a''bc', a'bc;"), "{}", out.text);
        assert!(!out.text.contains("\\set"), "{}", out.text);
    }

    #[test]
    fn copy_data_is_found_blanked_and_never_taken_for_meta_commands() {
        let src = "-- header\nCOPY t (a) FROM stdin;\n1\\N\n\\N :x\n\\.\nSELECT :'v';\nCOPY t FROM stdin;\nno end\n";
        let s = scan(src);
        assert_eq!(s.copies.len(), 2);
        assert_eq!(&src[s.copies[0].start..s.copies[0].end], "1\\N\n\\N :x\n");
        assert!(s.copies[0].terminated && !s.copies[1].terminated);
        // Inside the data: no meta-command, no variable.
        assert!(s.unsupported.is_empty(), "{:?}", s.unsupported);
        let names: Vec<&str> = s.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["v"]);
        let out = substitute(&std::sync::Arc::new(src.to_string()), &s, |_| {
            Some("'x'".into())
        });
        assert!(
            out.text.contains("COPY t (a) FROM stdin;\n"),
            "{}",
            out.text
        );
        assert!(!out.text.contains("\\N"), "{}", out.text);
        // The data is taken out; offsets after it still lead back to the file.
        let select = out.text.find("SELECT").unwrap();
        assert_eq!(out.to_source(select), src.find("SELECT").unwrap());
    }

    #[test]
    fn a_set_with_unicode_whitespace_ends_and_splits_words() {
        let s = scan("\\set x a\u{a0}b\u{2003}'c d'\u{a0}\nSELECT :'x';\n");
        assert_eq!(s.sets.len(), 1);
        assert_eq!(s.sets[0].value, "abc d");
    }

    #[test]
    fn copy_data_ends_at_the_first_line_that_is_only_backslash_dot() {
        // What psql does, line by line: the reference the SIMD search must agree with.
        fn by_lines(b: &[u8], start: usize) -> Option<(usize, usize)> {
            let mut line = start;
            while line < b.len() {
                let end = b[line..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |k| line + k);
                let mut text = &b[line..end];
                while let [rest @ .., b'\r'] = text {
                    text = rest;
                }
                if text == b"\\." {
                    return Some((line, (end + 1).min(b.len())));
                }
                line = end + 1;
            }
            None
        }
        for data in [
            "\\.\nSELECT 1;\n",
            "1\n\\.\n",
            "1\n\\.",
            "1\n\\.\r\r\nx",
            "1\n\\.x\n\\.y\n2\\.\n\\.\nafter\n",
            "a\\.\n\\. \n\\.\\.\n",
            "no end\n",
            "\n\n\\.\n",
            "",
        ] {
            let b = data.as_bytes();
            assert_eq!(copy_data_end(b, 0), by_lines(b, 0), "{data:?}");
        }
        let s = scan("COPY t FROM stdin;\n1\n\\.x\n2\n\\.\r\nSELECT :v;\n");
        assert_eq!(s.copies.len(), 1);
        assert!(s.copies[0].terminated);
        assert_eq!(s.variables.len(), 1, "the SELECT after the data is read");
    }
}
