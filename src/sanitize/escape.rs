//! Untrusted text made inert. File names, SQL identifiers, server messages and values read
//! back from the database can hold ESC sequences (which retitle or rewrite a terminal), bare CR
//! or LF (which start a new line of a CI log), bidirectional overrides (which make text read
//! differently than it is), and GitHub Actions workflow commands (`::error …` at the start of a
//! line, `##[…]` anywhere in a line, both executed by the runner).
//!
//! - [`untrusted`]: one value inside a line of text: every control character but TAB is shown
//!   as an escape (`\n`, `\u{1b}`), bidirectional controls too, and `##[` is defused.
//! - [`output`]: a whole text pgshift composed, at the moment it is printed: the last line of
//!   defence for values that were not escaped where they were put in.
//! - [`markdown`], [`markdown_code`]: text and code spans for Markdown reports and job
//!   summaries (no HTML, no links, no table breaks).
//! - [`json_line`]: a line of JSON output, where `##[` would still reach the runner.

use std::borrow::Cow;

/// Characters that reorder text on screen (Trojan Source, CVE-2021-42574).
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// The runner's legacy command prefix, matched anywhere in a line.
pub(crate) const LEGACY_COMMAND: &str = "##[";
const LEGACY_DEFUSED: &str = "##\\[";

fn needs_escape(c: char, keep: &dyn Fn(char) -> bool) -> bool {
    (c.is_control() && !keep(c)) || is_bidi(c)
}

fn escape_chars<'a>(s: &'a str, keep: &dyn Fn(char) -> bool) -> Cow<'a, str> {
    // Printable ASCII never needs an escape, and TAB and LF only when not kept: a text of
    // them alone is read byte by byte (10,000 lines of `status`), not char by char.
    let plain =
        |b: u8| (0x20..0x7f).contains(&b) || ((b == b'\t' || b == b'\n') && keep(b as char));
    let clean = s.bytes().all(plain) || !s.chars().any(|c| needs_escape(c, keep));
    if clean && !s.contains(LEGACY_COMMAND) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c, keep) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out.replace(LEGACY_COMMAND, LEGACY_DEFUSED))
}

/// One untrusted value for a line of text output: control characters except TAB, and
/// bidirectional controls, shown as escapes; `##[` defused. The result holds no line break.
pub fn untrusted(s: &str) -> Cow<'_, str> {
    escape_chars(s, &|c| c == '\t')
}

/// Untrusted text for a renderer that encodes line breaks itself (GitHub's `%0A`, Markdown's
/// `<br>`): as [`untrusted`], but LF stays.
pub fn untrusted_lines(s: &str) -> Cow<'_, str> {
    escape_chars(s, &|c| c == '\t' || c == '\n')
}

/// A text pgshift composed, as it is printed: its line breaks stay; every other control
/// character is escaped (ESC stays when `keep_ansi`: our own colours on a terminal); a line that
/// starts with `::` (a GitHub workflow command) gets a `\` in front; `##[` is defused.
pub fn output(text: &str, keep_ansi: bool) -> Cow<'_, str> {
    let keep = |c: char| c == '\n' || c == '\t' || (keep_ansi && c == '\u{1b}');
    let escaped = escape_chars(text, &keep);
    let starts_command = |l: &str| l.trim_start().starts_with("::");
    if !escaped.split('\n').any(starts_command) {
        return escaped;
    }
    let lines: Vec<String> = escaped
        .split('\n')
        .map(|l| {
            if starts_command(l) {
                let indent = l.len() - l.trim_start().len();
                format!("{}\\{}", &l[..indent], &l[indent..])
            } else {
                l.to_string()
            }
        })
        .collect();
    Cow::Owned(lines.join("\n"))
}

/// A line of JSON output: `##[` becomes `##\u005b`, which a JSON reader decodes to the same
/// text but the CI runner does not take for a command.
pub fn json_line(line: &str) -> Cow<'_, str> {
    if line.contains(LEGACY_COMMAND) {
        Cow::Owned(line.replace(LEGACY_COMMAND, "##\\u005b"))
    } else {
        Cow::Borrowed(line)
    }
}

/// `s` as one word a person can paste into a shell (bash, zsh): bare when plain
/// (`2026-01-21_add_users`), in single quotes when it has spaces or punctuation, in `$'…'`
/// with escapes when it has quotes, control or invisible characters. Never a raw control
/// character, so it is also inert on a terminal.
pub fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,/:+@=%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_string();
    }
    if !s
        .chars()
        .any(|c| c == '\'' || c == '\\' || c.is_control() || is_bidi(c))
    {
        return format!("'{s}'");
    }
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_bidi(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Untrusted text inside Markdown (a paragraph or a table cell): escaped as [`untrusted`], HTML
/// and Markdown punctuation made literal, so it renders as the characters it holds.
pub fn markdown(s: &str) -> String {
    let plain = untrusted_lines(s);
    let mut out = String::with_capacity(plain.len() + 8);
    for c in plain.chars() {
        match c {
            '\n' => out.push_str("<br>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Untrusted text as a Markdown code span (usable in a table cell): a fence longer than any run
/// of backticks inside, `|` escaped for tables.
pub fn markdown_code(s: &str) -> String {
    let plain = untrusted(s).replace('|', "\\|");
    let longest = plain.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if plain.starts_with('`') || plain.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{plain}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_words_are_pasteable_and_inert() {
        assert_eq!(
            super::shell_word("2026-01-21_add_users"),
            "2026-01-21_add_users"
        );
        assert_eq!(super::shell_word("my version"), "'my version'");
        assert_eq!(super::shell_word(""), "''");
        assert_eq!(super::shell_word("2026\n_x"), "$'2026\\n_x'");
        assert_eq!(super::shell_word("it's"), "$'it\\'s'");
        assert_eq!(
            super::shell_word("a\u{1b}[2J\u{202e}"),
            "$'a\\u001b[2J\\u202e'"
        );
        assert!(!super::shell_word("\u{7}x").chars().any(|c| c.is_control()));
    }

    use super::*;

    #[test]
    fn untrusted_values_lose_their_power() {
        assert_eq!(untrusted("a\x1b]0;owned\x07b"), "a\\u{1b}]0;owned\\u{7}b");
        assert_eq!(
            untrusted("x\n::error file=a::boom"),
            "x\\n::error file=a::boom"
        );
        assert_eq!(untrusted("a\rb\u{9b}c"), "a\\rb\\u{9b}c");
        assert_eq!(
            untrusted("say ##[add-mask]Failed"),
            "say ##\\[add-mask]Failed"
        );
        assert_eq!(untrusted("abc\u{202E}def"), "abc\\u{202e}def");
        assert_eq!(untrusted("tab\tstays"), "tab\tstays");
        assert!(matches!(untrusted("plain – ünïcode"), Cow::Borrowed(_)));
        // Plain ASCII (read byte by byte) is kept whole; DEL and the ASCII controls are not.
        assert!(matches!(
            untrusted("2026-01-01_a  applied\t~"),
            Cow::Borrowed(_)
        ));
        assert_eq!(untrusted("a\x7fb\x00c\x1fd"), "a\\u{7f}b\\u{0}c\\u{1f}d");
        assert_eq!(untrusted("plain\nlines"), "plain\\nlines");
        assert!(matches!(output("plain\nlines\n", false), Cow::Borrowed(_)));
        assert_eq!(output("##[x]\n", false), "##\\[x]\n");
    }

    #[test]
    fn printed_text_keeps_its_lines_but_no_command_starts_one() {
        let t = "ok line\n  ::error::injected\n##[warning]x\n";
        assert_eq!(
            output(t, false),
            "ok line\n  \\::error::injected\n##\\[warning]x\n"
        );
        assert_eq!(output("\x1b[1mbold\x1b[0m", true), "\x1b[1mbold\x1b[0m");
        assert_eq!(output("\x1b[1mbold", false), "\\u{1b}[1mbold");
        assert_eq!(output("a\rb\n", false), "a\\rb\n");
    }

    #[test]
    fn json_lines_defuse_legacy_commands() {
        let line = serde_json::json!({"m": "##[error]x"}).to_string();
        let safe = json_line(&line);
        assert!(!safe.contains("##["));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["m"], "##[error]x");
    }

    #[test]
    fn markdown_renders_text_not_markup() {
        assert_eq!(
            markdown("<img src=x> [a](http://e) *b* | c"),
            "&lt;img src=x&gt; \\[a\\](http://e) \\*b\\* \\| c"
        );
        assert_eq!(markdown("two\nlines\x1b"), "two<br>lines\\\\u{1b}");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x|"), "`` `x\\| ``");
        assert_eq!(markdown_code("m/\x1b[31m.sql"), "`m/\\u{1b}[31m.sql`");
    }
}
