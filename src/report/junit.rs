//! The step-by-step test's cases (before, up, after, down of each migration, and the health
//! check) as JUnit XML (`test --junit FILE`) and as TAP version 13 (`test --tap`): the two
//! formats CI systems show natively.

use crate::roundtrip::Case;

/// JUnit XML: one `<testsuite>` named `suite`, one `<testcase>` per case, a `<failure>` in
/// each failed one.
pub fn junit(cases: &[Case], suite: &str) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let seconds = |ms: u128| format!("{:.3}", ms as f64 / 1000.0);
    let total: u128 = cases.iter().map(|c| c.ms).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"pgshift\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" time=\"{t}\">\n  <testsuite name=\"{s}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{t}\">\n",
        n = cases.len(),
        t = seconds(total),
        s = xml(suite),
    ));
    for c in cases {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
            xml(if c.version.is_empty() {
                "pgshift"
            } else {
                &c.version
            }),
            xml(&name(c)),
            seconds(c.ms)
        ));
        match &c.failure {
            None => out.push_str("/>\n"),
            Some(f) => out.push_str(&format!(
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                xml(f.lines().next().unwrap_or_default()),
                c.step,
                xml(f)
            )),
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// TAP version 13: the plan, a line per case, a YAML block under each failure.
pub fn tap(cases: &[Case]) -> String {
    let mut out = format!("TAP version 13\n1..{}\n", cases.len());
    for (i, c) in cases.iter().enumerate() {
        // `#` starts a directive in TAP: the name must not hold one.
        let n = name(c).replace('#', "\\#");
        match &c.failure {
            None => out.push_str(&format!("ok {} - {n}\n", i + 1)),
            Some(f) => {
                out.push_str(&format!("not ok {} - {n}\n  ---\n  message: |\n", i + 1));
                for l in f.lines() {
                    out.push_str(&format!("    {l}\n"));
                }
                out.push_str(&format!("  duration_ms: {}\n  ...\n", c.ms));
            }
        }
    }
    out
}

/// A case's name: `2026-01-21_add_users up`.
fn name(c: &Case) -> String {
    if c.version.is_empty() {
        c.step.to_string()
    } else {
        format!("{} {}", c.version, c.step)
    }
}

/// `text` made safe for XML 1.0: the five markup characters escaped, characters XML cannot
/// hold (most control characters) replaced.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases() -> Vec<Case> {
        vec![
            Case {
                version: "2026-01-01_a".into(),
                step: "up",
                ms: 12,
                failure: None,
            },
            Case {
                version: "2026-01-01_a".into(),
                step: "after",
                ms: 3,
                failure: Some("tests/a.after.sql:4: <bad> & \"x\"\u{1}\nsecond line # here".into()),
            },
        ]
    }

    #[test]
    fn junit_escapes_markup_and_counts_failures() {
        let x = junit(&cases(), "pgshift test");
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(
            x.contains("message=\"tests/a.after.sql:4: &lt;bad&gt; &amp; &quot;x&quot;\u{FFFD}\""),
            "{x}"
        );
        assert!(
            x.contains(
                "<testcase classname=\"2026-01-01_a\" name=\"2026-01-01_a up\" time=\"0.012\"/>"
            ),
            "{x}"
        );
        assert!(!x.contains('\u{1}'));
    }

    #[test]
    fn tap_numbers_cases_and_explains_failures() {
        let t = tap(&cases());
        assert_eq!(
            t,
            "TAP version 13\n1..2\nok 1 - 2026-01-01_a up\nnot ok 2 - 2026-01-01_a after\n  ---\n  message: |\n    tests/a.after.sql:4: <bad> & \"x\"\u{1}\n    second line # here\n  duration_ms: 3\n  ...\n"
        );
    }
}
