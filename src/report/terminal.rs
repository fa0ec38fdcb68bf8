//! Printing on a terminal (the command line's): colour decisions (TTY, NO_COLOR), findings,
//! errors and JSON. Every byte pgshift prints leaves through `Output`, which masks remembered
//! secrets and makes untrusted text inert (`crate::sanitize`) whatever the caller forgot.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use crate::diagnostic::{render_text, Counts, Finding};
use crate::sanitize::escape;
use crate::sanitize::redact::redact;

/// Where and how to print.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json`: JSON lines on stdout instead of text.
    pub json: bool,
    /// Colour (a terminal, and NO_COLOR unset).
    pub color: bool,
    /// Only errors and failures: the steps of a longer job (the rollback test) that reports
    /// its own summary.
    pub quiet: bool,
    /// Nothing at all, errors included: one target of a fleet, whose result the fleet's table
    /// shows.
    pub silent: bool,
}

/// What a text printed on stdout is, which decides how it is made safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Lines for people (text reports, Markdown): escaped, no line may start a CI command.
    Text,
    /// JSON (one value per line, or pretty): `##[` is encoded.
    Json,
    /// GitHub workflow commands, already encoded by their renderer: only redacted.
    Commands,
}

/// The first error writing to stdout, other than a closed pipe (`pgshift … | head` ends
/// quietly): a full disk, `/dev/full`, a closed descriptor. Checked once, at the end.
static STDOUT_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Writes `bytes` to stdout and notes a failure for [`stdout_error`].
pub fn write_stdout(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if stdout_was_closed() {
        note_stdout_error(&std::io::Error::other(
            "stdout was closed when pgshift started",
        ));
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        note_stdout_error(&e);
    }
}

/// What the binary saw of stdout before Rust's runtime started: 0 unknown, 1 open, 2 closed.
static CLOSED_AT_EXEC: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Called by the binary before Rust's runtime starts (an ELF constructor), which puts
/// /dev/null on a closed standard descriptor: whether descriptor 1 was open then.
pub fn note_stdout_at_exec(open: bool) {
    CLOSED_AT_EXEC.store(
        if open { 1 } else { 2 },
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// Whether pgshift started with stdout closed (`pgshift status >&-`). The binary notes it
/// before Rust's runtime replaces a closed descriptor by /dev/null ([`note_stdout_at_exec`]).
/// Where it could not (another platform, a program using the library), a guess: the runtime
/// opens /dev/null read-write, and a person's `> /dev/null` opens it write-only — but a
/// program may give /dev/null read-write too (Python's `subprocess.DEVNULL`).
fn stdout_was_closed() -> bool {
    match CLOSED_AT_EXEC.load(std::sync::atomic::Ordering::Relaxed) {
        1 => return false,
        2 => return true,
        _ => {}
    }
    static CLOSED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CLOSED.get_or_init(|| {
        // SAFETY: fstat and fcntl on a descriptor number only fill the struct given.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(1, &mut st) != 0 {
                return true;
            }
            let null = (st.st_mode & libc::S_IFMT) == libc::S_IFCHR
                && libc::major(st.st_rdev) == 1
                && libc::minor(st.st_rdev) == 3;
            let flags = libc::fcntl(1, libc::F_GETFL);
            null && flags >= 0 && (flags & libc::O_ACCMODE) == libc::O_RDWR
        }
    })
}

fn note_stdout_error(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return;
    }
    if let Ok(mut first) = STDOUT_ERROR.lock() {
        first.get_or_insert_with(|| e.to_string());
    }
}

/// Flushes stdout; what could not be written to it, if anything.
pub fn stdout_error() -> Option<String> {
    if let Err(e) = std::io::stdout().lock().flush() {
        note_stdout_error(&e);
    }
    STDOUT_ERROR.lock().ok().and_then(|e| e.clone())
}

/// Makes `text` safe to print: secrets masked, then escaped as `kind` needs. Borrowed when
/// nothing needed changing (a `status` of 10,000 lines is not copied again).
pub fn safe(text: &str, kind: Kind, keep_ansi: bool) -> Cow<'_, str> {
    let text = redact(text);
    let escaped = match kind {
        Kind::Text => escape::output(&text, keep_ansi),
        Kind::Json if text.contains(escape::LEGACY_COMMAND) => Cow::Owned(
            text.split_inclusive('\n')
                .map(escape::json_line)
                .collect::<String>(),
        ),
        Kind::Json | Kind::Commands => Cow::Borrowed(&*text),
    };
    match escaped {
        // Unchanged by the escaping: the masked text (itself borrowed when nothing was masked).
        Cow::Borrowed(_) => text,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

impl Output {
    /// Colour on a terminal unless NO_COLOR is set (<https://no-color.org>).
    pub fn detect(json: bool) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json,
            color: !no_color && std::io::stderr().is_terminal(),
            quiet: false,
            silent: false,
        }
    }

    /// An error that ends the command.
    pub fn error(&self, message: &str, help: Option<&str>) {
        if self.json {
            let v = serde_json::json!({ "event": "error", "message": message, "help": help });
            self.stdout(&format!("{v}\n"), Kind::Json);
            return;
        }
        let (red, bold, reset) = if self.color {
            ("\x1b[1;31m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        // The message is composed by pgshift but may carry untrusted pieces: escape it whole
        // before the colours go around it.
        let message = safe(message, Kind::Text, false);
        let mut text = format!("{red}error{reset}{bold}: {message}{reset}\n");
        if let Some(h) = help {
            text.push_str(&format!("  help: {}\n", safe(h, Kind::Text, false)));
        }
        self.stderr(&text);
    }

    /// A warning line on stderr.
    pub fn warning(&self, message: &str) {
        if self.quiet {
            return;
        }
        self.stderr(&format!("warning: {}\n", safe(message, Kind::Text, false)));
    }

    /// Findings on stderr, rustc style, followed by a count.
    pub fn findings(&self, findings: &[Finding]) {
        if findings.is_empty() || self.quiet {
            return;
        }
        let mut text = String::new();
        for f in findings {
            text.push_str(&render_text(f, self.color));
            text.push_str("\n\n");
        }
        text.push_str(&Counts::of(findings).summary());
        text.push('\n');
        self.stderr(&text);
    }

    /// A line on stdout.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        self.stdout(
            &format!("{text}\n"),
            if self.json { Kind::Json } else { Kind::Text },
        );
    }

    /// Text on stdout, made safe as `kind` needs (colours kept on a terminal).
    pub fn stdout(&self, text: &str, kind: Kind) {
        if self.silent {
            return;
        }
        write_stdout(safe(text, kind, self.keeps_ansi()).as_bytes());
    }

    /// Whether colours written to stdout are kept: colour is on and stdout is a terminal.
    pub fn keeps_ansi(&self) -> bool {
        self.color && std::io::stdout().is_terminal()
    }

    /// Bytes on stdout already made safe (with [`safe`], as `kind` needs).
    pub fn stdout_clean(&self, bytes: &[u8]) {
        if !self.silent {
            write_stdout(bytes);
        }
    }

    /// Text on stderr, made safe (colours kept on a terminal).
    pub fn stderr(&self, text: &str) {
        if self.silent {
            return;
        }
        let _ = std::io::stderr()
            .lock()
            .write_all(safe(text, Kind::Text, self.color).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::{safe, Kind};

    #[test]
    fn safe_text_is_the_text_itself_when_nothing_needs_changing() {
        let plain = "  2026-01-01_a  applied   2026-01-01 10:00:00 UTC\n";
        for kind in [Kind::Text, Kind::Json, Kind::Commands] {
            assert!(matches!(safe(plain, kind, false), Cow::Borrowed(t) if t == plain));
        }
        // What needs changing still is.
        assert_eq!(safe("a\u{7}b\n", Kind::Text, false), "a\\u{7}b\n");
        assert_eq!(safe("::error::x\n", Kind::Text, false), "\\::error::x\n");
        assert_eq!(
            safe("{\"m\":\"##[x\"}\nok\n", Kind::Json, false),
            "{\"m\":\"##\\u005bx\"}\nok\n"
        );
        crate::sanitize::redact::remember("s3cr3t-pa55word");
        let masked = safe("pw s3cr3t-pa55word\n", Kind::Commands, false);
        assert!(
            !masked.contains("s3cr3t") && matches!(masked, Cow::Owned(_)),
            "{masked}"
        );
    }
}
