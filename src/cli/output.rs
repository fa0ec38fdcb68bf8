//! Printing: colour decisions (TTY, NO_COLOR), findings, errors and JSON.

use std::io::{IsTerminal, Write};

use crate::diagnostic::{render_text, Counts, Finding};

/// Where and how to print.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub color: bool,
}

impl Output {
    /// Colour on a terminal unless NO_COLOR is set (https://no-color.org).
    pub fn detect(json: bool) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json,
            color: !no_color && std::io::stderr().is_terminal(),
        }
    }

    /// An error that ends the command.
    pub fn error(&self, message: &str, help: Option<&str>) {
        if self.json {
            let v = serde_json::json!({ "event": "error", "message": message, "help": help });
            println!("{v}");
            return;
        }
        let mut err = std::io::stderr().lock();
        let (red, bold, reset) = if self.color {
            ("\x1b[1;31m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        let _ = writeln!(err, "{red}error{reset}{bold}: {message}{reset}");
        if let Some(h) = help {
            let _ = writeln!(err, "  help: {h}");
        }
    }

    /// Findings on stderr, rustc style, followed by a count.
    pub fn findings(&self, findings: &[Finding]) {
        if findings.is_empty() {
            return;
        }
        let mut err = std::io::stderr().lock();
        for f in findings {
            let _ = writeln!(err, "{}\n", render_text(f, self.color));
        }
        let c = Counts::of(findings);
        let _ = writeln!(err, "{}", c.summary());
    }

    /// A line on stdout.
    pub fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }
}
