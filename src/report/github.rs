//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` line per finding, so
//! findings appear on the pull request's diff.

use crate::diagnostic::Level;
use crate::sanitize::escape::{untrusted, untrusted_lines};

/// A workflow command's message: `%`, CR and LF encoded as the runner expects.
pub(crate) fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

pub(crate) fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One finding as a workflow command, at its file, line and column, with its help.
pub(crate) fn annotation(f: &crate::diagnostic::Finding) -> String {
    let command = match f.level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Info => "notice",
    };
    let mut props = Vec::new();
    if let Some(l) = &f.location {
        props.push(format!(
            "file={}",
            property(&untrusted(&l.file.display().to_string()))
        ));
        if l.line > 0 {
            props.push(format!("line={},col={}", l.line, l.column));
        }
    }
    props.push(format!("title={}", property(&f.rule)));
    // ESC and other controls would reach the log viewer: shown escaped. Line breaks are
    // encoded by `data` (%0A), as the runner expects.
    let mut message = untrusted_lines(&f.message).into_owned();
    if let Some(h) = &f.help {
        message.push_str("\nhelp: ");
        message.push_str(&untrusted_lines(h));
    }
    format!("::{command} {}::{}\n", props.join(","), data(&message))
}
