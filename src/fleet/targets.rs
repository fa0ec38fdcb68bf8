//! The targets of a fleet: a file of connection URLs or variable names (one per line, or a
//! TOML list), and the shard of it one CI job deploys.

use std::collections::HashSet;
use std::path::Path;

use crate::config::{Secret, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::sanitize::escape::untrusted as u;
use crate::sanitize::redact::remember;

use super::FleetError;

/// One line of the targets file.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is shown: `user@host:port/db`, or the variable's name. Never a password.
    pub label: String,
    /// The URL, or why there is none (a variable that is not set, a URL that does not parse).
    pub url: Result<Secret, String>,
}

/// Reads the targets: one URL or environment variable name per line (`#` comments, blank lines
/// skipped), or, for a `.toml` file, `targets = ["…", …]`.
pub fn read_targets(path: &Path, vars: &VarSource) -> Result<Vec<Target>, FleetError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        FleetError::new(
            format!("cannot read the targets file {}: {e}", path.display()),
            Some(
                "pass the file with --targets FILE: one database URL or variable name per line"
                    .into(),
            ),
        )
    })?;
    let entries: Vec<(usize, String)> = if path.extension().is_some_and(|e| e == "toml") {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            targets: Vec<String>,
        }
        let f: File = toml::from_str(&text).map_err(|e| {
            FleetError::new(
                format!("invalid {}: {}", path.display(), e.message()),
                Some("write `targets = [\"TENANT_A_URL\", \"postgresql://…\"]`".into()),
            )
        })?;
        f.targets
            .into_iter()
            .enumerate()
            .map(|(i, t)| (i + 1, t))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, without_comment(l).trim().to_string()))
            .filter(|(_, l)| !l.is_empty())
            .collect()
    };
    let mut targets = Vec::with_capacity(entries.len());
    let mut seen = HashSet::new();
    for (line, entry) in entries {
        let is_name = entry
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let target = if is_name {
            Target {
                label: entry.clone(),
                url: vars
                    .get(&entry)
                    .map(|(v, _)| Secret::new(v))
                    .ok_or_else(|| format!("the variable {entry} is not set")),
            }
        } else {
            remember(&entry);
            match ConnectionSpec::parse(&entry) {
                Ok(spec) => Target {
                    label: spec.describe(),
                    url: Ok(Secret::new(entry.clone())),
                },
                // The parser's reason names an option or a position, never a piece of the
                // password.
                Err(e) => Target {
                    label: format!("line {line}"),
                    url: Err(format!(
                        "line {line} of {} is neither a connection URL nor a variable name: {}",
                        path.display(),
                        e.message
                    )),
                },
            }
        };
        if !seen.insert(target.label.clone()) {
            return Err(FleetError::new(
                format!(
                    "{} lists {} twice (line {line})",
                    path.display(),
                    u(&target.label)
                ),
                Some("each database once: two deploys of one database would wait for each other's lock".into()),
            ));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// A line without its comment: `#` starts one at the start of the line or after whitespace
/// only, so that a `#` inside a URL (a password's) is kept.
fn without_comment(line: &str) -> &str {
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_blank {
            return &line[..i];
        }
        prev_blank = c.is_whitespace();
    }
    line
}

/// `I/N`: the I-th of N shards (1-based).
pub fn parse_shard(s: &str) -> Result<(usize, usize), FleetError> {
    let bad = || {
        FleetError::new(
            format!("--shard {s}: expected I/N with 1 ≤ I ≤ N, e.g. 2/4"),
            Some("a CI matrix of N jobs passes --shard ${{ matrix.shard }}/N".into()),
        )
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The targets of shard `i` of `n`: every n-th, starting with the i-th.
pub fn shard<T>(targets: Vec<T>, (i, n): (usize, usize)) -> Vec<T> {
    targets
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % n == i - 1)
        .map(|(_, t)| t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_list_without_overlap_or_gap() {
        let all: Vec<usize> = (0..10).collect();
        let mut seen = Vec::new();
        for i in 1..=3 {
            seen.extend(shard(all.clone(), (i, 3)));
        }
        seen.sort();
        assert_eq!(seen, all);
        assert_eq!(shard(all, (2, 3)), [1, 4, 7]);
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_are_urls_or_variable_names_and_never_show_a_password() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tenants.txt");
        std::fs::write(
            &f,
            "# tenants\npostgresql://app:hunter2@db1:5432/t1\n\nTENANT_B   # from the environment\nMISSING\nnot a url\n",
        )
        .unwrap();
        let vars = VarSource::new(
            [("TENANT_B".to_string(), "postgresql://b@db2/t2".to_string())].into(),
            dir.path(),
        )
        .unwrap();
        let t = read_targets(&f, &vars).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].label, "app@db1:5432/t1");
        assert!(t[0].url.is_ok());
        assert_eq!(t[1].label, "TENANT_B");
        assert_eq!(t[1].url.as_ref().unwrap().expose(), "postgresql://b@db2/t2");
        assert_eq!(
            t[2].url.as_ref().unwrap_err(),
            "the variable MISSING is not set"
        );
        assert!(t[3].url.as_ref().unwrap_err().contains("line 6"));
        assert!(t.iter().all(|t| !t.label.contains("hunter2")));

        std::fs::write(&f, "TENANT_B\nTENANT_B\n").unwrap();
        assert!(read_targets(&f, &vars)
            .unwrap_err()
            .message
            .contains("twice"));

        // `#` starts a comment only at the start of a line or after whitespace: a password's
        // `#` stays in its URL.
        std::fs::write(
            &f,
            "postgresql://app:pa#ss@db4/t4 # tenant four\n  # indented comment\npostgresql://app:x@db5/t5#frag\n",
        )
        .unwrap();
        let t = read_targets(&f, &vars).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].url.as_ref().unwrap().expose(),
            "postgresql://app:pa#ss@db4/t4"
        );
        assert_eq!(t[0].label, "app@db4:5432/t4");
        assert_eq!(without_comment("a # b"), "a ");
        assert_eq!(without_comment("#all"), "");
        assert_eq!(without_comment("x#y"), "x#y");

        let toml = dir.path().join("fleet.toml");
        std::fs::write(
            &toml,
            "targets = [\"TENANT_B\", \"postgresql://c@db3/t3\"]\n",
        )
        .unwrap();
        let t = read_targets(&toml, &vars).unwrap();
        assert_eq!(t[1].label, "c@db3:5432/t3");
    }
}
