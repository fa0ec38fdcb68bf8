//! Validation's findings written as they come, as text, JSON or GitHub workflow commands,
//! rather than held until the end (20,000 files with two findings each held 21 MB of them).
//! The text lists errors, then warnings, then information, each in file order, and JSON
//! gives the counts before the findings: what cannot go out yet waits in a spill, in
//! memory up to a limit and then in an unnamed temporary file. [`render`] (the report as one
//! string) goes through the same writer, in memory.

use std::io::{Read, Seek, Write};

use super::Format;
use crate::diagnostic::{Counts, Finding, Level};
use crate::validate::Report;

/// Bytes kept in order: in memory up to `limit`, then in an unnamed temporary file (gone when
/// closed). A file that cannot be made or written keeps the rest in memory: nothing is lost,
/// only memory spent.
struct Spill {
    memory: Vec<u8>,
    file: Option<std::fs::File>,
    /// The bytes in the file, each written whole.
    in_file: u64,
    limit: usize,
}

impl Spill {
    fn new(limit: usize) -> Spill {
        Spill {
            memory: Vec::new(),
            file: None,
            in_file: 0,
            limit,
        }
    }

    fn push(&mut self, text: &str) {
        self.memory.extend_from_slice(text.as_bytes());
        if self.memory.len() >= self.limit {
            self.spill();
        }
    }

    fn spill(&mut self) {
        if self.file.is_none() {
            self.file = tempfile::tempfile().ok();
        }
        let written = self.file.as_mut().map(|f| f.write_all(&self.memory));
        match written {
            Some(Ok(())) => {
                self.in_file += self.memory.len() as u64;
                self.memory.clear();
            }
            // Whatever part of this write reached the file is not counted, and is not read.
            _ => self.limit = usize::MAX,
        }
    }

    fn is_empty(&self) -> bool {
        self.in_file == 0 && self.memory.is_empty()
    }

    /// Everything kept, in order, to `out`.
    fn drain(self, out: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
        if let Some(mut file) = self.file.filter(|_| self.in_file > 0) {
            file.rewind()?;
            let mut file = file.take(self.in_file);
            let mut buf = vec![0; 1 << 16];
            let mut read = 0;
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                read += n as u64;
                out(&buf[..n]);
            }
            if read < self.in_file {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the temporary file was cut short",
                ));
            }
        }
        out(&self.memory);
        Ok(())
    }
}

/// How much raw text a part gathers before it is cleaned and kept.
const CLEAN_BATCH: usize = 64 << 10;

/// What a piece of output goes through before it is kept or written (the terminal's masking
/// and escaping; nothing for [`render`]).
pub type Clean<'c> = &'c dyn Fn(&str) -> String;

/// Writes validation's findings in `format` (text, JSON or GitHub) as they come.
pub struct Writer<'c> {
    format: Format,
    color: bool,
    clean: Clean<'c>,
    /// Text: errors, warnings, information, allowed. JSON and GitHub: one.
    parts: Vec<Spill>,
    /// What each part has not cleaned yet: cleaned [`CLEAN_BATCH`] bytes at a time (a piece
    /// at a time cost a tenth more CPU over 40,000 findings).
    raw: Vec<String>,
    counts: Counts,
    allowed: usize,
    /// Findings in JSON's list so far.
    listed: usize,
}

impl<'c> Writer<'c> {
    /// A writer for `format` (`None` for Markdown and SARIF, which are made whole), keeping up
    /// to `limit` bytes of each part in memory. `color` colours text.
    pub fn new(format: Format, color: bool, clean: Clean<'c>, limit: usize) -> Option<Writer<'c>> {
        let parts = match format {
            Format::Text => 4,
            Format::Json | Format::Github => 1,
            Format::Markdown | Format::Sarif => return None,
        };
        Some(Writer {
            format,
            color,
            clean,
            parts: (0..parts).map(|_| Spill::new(limit)).collect(),
            raw: vec![String::new(); parts],
            counts: Counts::default(),
            allowed: 0,
            listed: 0,
        })
    }

    /// The findings' counts so far (allowed ones left out).
    pub fn counts(&self) -> Counts {
        self.counts
    }

    fn keep(&mut self, part: usize, text: &str) {
        self.raw[part].push_str(text);
        if self.raw[part].len() >= CLEAN_BATCH {
            self.clean_part(part);
        }
    }

    /// Cleans what `part` holds raw, whole pieces only, into its spill.
    fn clean_part(&mut self, part: usize) {
        let raw = std::mem::take(&mut self.raw[part]);
        if !raw.is_empty() {
            let clean = self.clean;
            self.parts[part].push(&clean(&raw));
        }
    }

    /// Takes the next finding (they come in file and line order).
    pub fn add(&mut self, f: &Finding) {
        match f.allowed {
            Some(_) => self.allowed += 1,
            None => match f.level {
                Level::Error => self.counts.errors += 1,
                Level::Warning => self.counts.warnings += 1,
                Level::Info => self.counts.infos += 1,
            },
        }
        match self.format {
            Format::Text => {
                let (part, text) = match (&f.allowed, f.level) {
                    (Some(_), _) => (3, super::text::allowed_line(f)),
                    (None, Level::Error) => (0, super::text::shown(f, self.color)),
                    (None, Level::Warning) => (1, super::text::shown(f, self.color)),
                    (None, Level::Info) => (2, super::text::shown(f, self.color)),
                };
                self.keep(part, &text);
            }
            Format::Json => {
                let comma = if self.listed > 0 { "," } else { "" };
                self.listed += 1;
                self.keep(0, &format!("{comma}{}", super::json::finding(f)));
            }
            Format::Github => {
                if f.allowed.is_none() {
                    self.keep(0, &super::github::annotation(f));
                }
            }
            Format::Markdown | Format::Sarif => {}
        }
    }

    /// Writes the whole output to `out`: what waited, then what ends it (`report` gives the
    /// directory, environment, file count and order; its own findings are not read).
    pub fn finish(mut self, report: &Report, out: &mut dyn FnMut(&[u8])) -> std::io::Result<()> {
        for part in 0..self.parts.len() {
            self.clean_part(part);
        }
        let summary = super::summary_of(self.counts, self.allowed);
        let clean = self.clean;
        // What is written here is cleaned as it goes; what waited was cleaned when kept.
        let say = |out: &mut dyn FnMut(&[u8]), text: &str| out(clean(text).as_bytes());
        let mut parts = self.parts.into_iter();
        match self.format {
            Format::Text => {
                for part in parts.by_ref().take(3) {
                    part.drain(out)?;
                }
                if let Some(allowed) = parts.next().filter(|p| !p.is_empty()) {
                    say(out, "allowed by @allow:\n");
                    allowed.drain(out)?;
                    say(out, "\n");
                }
                say(out, &super::text::footer(report, &summary));
            }
            Format::Json => {
                let (head, tail) = super::json::around_findings(report, self.counts);
                say(out, &head);
                if let Some(p) = parts.next() {
                    p.drain(out)?;
                }
                say(out, &tail);
            }
            Format::Github => {
                if let Some(p) = parts.next() {
                    p.drain(out)?;
                }
                say(out, &format!("pgshift: {summary}\n"));
            }
            Format::Markdown | Format::Sarif => {}
        }
        Ok(())
    }
}

/// The report as one string in `format` (text, JSON or GitHub), made as it is streamed.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    let nothing = |s: &str| s.to_string();
    let Some(mut w) = Writer::new(format, color, &nothing, usize::MAX) else {
        return String::new();
    };
    for f in &report.findings {
        w.add(f);
    }
    let mut out = Vec::new();
    // In memory only: nothing to read back, nothing to fail.
    let _ = w.finish(report, &mut |b| out.extend_from_slice(b));
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(s: Spill) -> std::io::Result<String> {
        let mut out = Vec::new();
        s.drain(&mut |b| out.extend_from_slice(b))?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_spill_gives_back_what_it_kept_in_order_from_memory_and_its_file() {
        for limit in [0, 3, 10, usize::MAX] {
            let mut s = Spill::new(limit);
            assert!(s.is_empty());
            for piece in ["one ", "twó ", "three\n", "", "four"] {
                s.push(piece);
            }
            assert!(!s.is_empty());
            assert_eq!(s.file.is_some(), limit <= 10, "{limit}");
            assert_eq!(drained(s).unwrap(), "one twó three\nfour", "{limit}");
        }
    }

    #[test]
    fn a_spill_whose_file_was_cut_short_says_so_and_one_that_cannot_write_keeps_memory() {
        let mut s = Spill::new(0);
        s.push("kept on disk");
        s.file.as_ref().unwrap().set_len(4).unwrap();
        let e = drained(s).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        // A file opened for reading only cannot be written: what comes stays in memory.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "").unwrap();
        let mut s = Spill::new(0);
        s.file = Some(std::fs::File::open(dir.path().join("f")).unwrap());
        s.push("a");
        s.push("b");
        assert_eq!((s.in_file, s.limit), (0, usize::MAX));
        assert_eq!(drained(s).unwrap(), "ab");
    }
}
