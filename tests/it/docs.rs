//! The documentation is tested: every `pgshift …` command written in a code block of the README
//! and docs/ parses against the command line's definition, and the quick start runs, command by
//! command, on the throwaway cluster.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::common::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The lines of the fenced code blocks of `text` whose info string is one of `kinds` (any
/// block when empty), with their line numbers.
fn code_lines(text: &str, kinds: &[&str]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut inside: Option<bool> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            inside = match inside {
                Some(_) => None,
                None => Some(kinds.is_empty() || kinds.contains(&info.trim())),
            };
            continue;
        }
        if inside == Some(true) {
            out.push((i + 1, line.to_string()));
        }
    }
    out
}

/// `pgshift …` in a shell line: leading `$ `, variable assignments and `export` dropped, cut at
/// a pipe, a redirection, `&&`, `;` or a comment; `<placeholder>` kept as one word.
fn command(line: &str) -> Option<Vec<String>> {
    let mut rest = line.trim().trim_start_matches("$ ");
    loop {
        let word = rest.split_whitespace().next()?;
        if word.contains('=') && !word.starts_with('-') && !word.starts_with("pgshift") {
            rest = rest[rest.find(word)? + word.len()..].trim_start();
            continue;
        }
        break;
    }
    if !rest.starts_with("pgshift ") && rest != "pgshift" {
        return None;
    }
    // `<description>` is a placeholder: any one word stands for it.
    let placeholders = regex::Regex::new(r"<[^>]*>")
        .unwrap()
        .replace_all(rest, "X");
    let rest: &str = &placeholders;
    // Cut where the shell would end the command (outside quotes).
    let mut cut = rest.len();
    let (mut single, mut double) = (false, false);
    let b = rest.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'|' | b';' | b'>' if !single && !double => {
                cut = i;
                break;
            }
            b'&' if !single && !double && b.get(i + 1) == Some(&b'&') => {
                cut = i;
                break;
            }
            b'#' if !single && !double && i > 0 && b[i - 1] == b' ' => {
                cut = i;
                break;
            }
            _ => {}
        }
    }
    shell_words::split(rest[..cut].trim()).ok()
}

#[test]
fn every_documented_command_parses() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, code) in code_lines(&text, &["", "sh", "bash", "shell", "console", "text"]) {
            let Some(words) = command(&code) else {
                continue;
            };
            checked += 1;
            if let Err(e) = pgshift::cli::Cli::try_parse_from(&words) {
                if matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) {
                    continue;
                }
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                broken.push(format!(
                    "{}:{line}: `{}`: {first}",
                    path.strip_prefix(root()).unwrap().display(),
                    code.trim()
                ));
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} commands found: is the extraction broken?"
    );
    assert!(
        broken.is_empty(),
        "commands in the docs that do not parse:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_extraction_finds_commands_and_rejects_broken_ones() {
    assert_eq!(
        command("FORCE_RUN=true pgshift --env production migrate --confirm \"$DB\" # later")
            .unwrap(),
        [
            "pgshift",
            "--env",
            "production",
            "migrate",
            "--confirm",
            "$DB"
        ]
    );
    assert_eq!(
        command("pgshift graph --format dot | dot -Tsvg > m.svg").unwrap(),
        ["pgshift", "graph", "--format", "dot"]
    );
    assert_eq!(
        command("pgshift new <description>").unwrap(),
        ["pgshift", "new", "X"]
    );
    assert!(command("psql -c 'select 1'").is_none());
    let bad = command("pgshift migrate --no-such-flag").unwrap();
    assert!(pgshift::cli::Cli::try_parse_from(&bad).is_err());
}

#[test]
fn the_quick_start_runs_command_by_command() {
    let text = std::fs::read_to_string(root().join("docs/quickstart.md")).unwrap();
    let script: Vec<String> = code_lines(&text, &["sh"])
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert!(script.iter().any(|l| l.contains("pgshift test --rollback")));
    // The quick start's world: the repository's examples beside a new project.
    let world = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(world.path().join("examples/eneas-os")).unwrap();
    std::os::unix::fs::symlink(
        root().join("examples/eneas-os/migrations"),
        world.path().join("examples/eneas-os/migrations"),
    )
    .unwrap();
    // The repository's root, as the quick start assumes.
    let work = world.path().to_path_buf();
    let db = cluster().create_database("quickstart").unwrap();
    let bin = assert_cmd::cargo::cargo_bin("pgshift");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = std::process::Command::new("bash");
    for v in HERMETIC {
        c.env_remove(v);
    }
    c.current_dir(&work)
        .arg("-c")
        .arg(format!("set -euxo pipefail\n{}", script.join("\n")))
        .env("PATH", path)
        .env("DATABASE_URL", cluster().url(&db))
        .env("DB_NAME", &db)
        .env("NO_COLOR", "1")
        .env("CI", "true");
    let out = c.output().unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the quick start failed:\n{log}");
    assert!(log.contains("Test passed"), "{log}");
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "17"
    );
    // The deploy took its backup, in the new project's folder.
    let backups = std::fs::read_dir(work.join("shop/backups/migrations"))
        .unwrap()
        .count();
    assert!(backups >= 1, "{log}");
}
