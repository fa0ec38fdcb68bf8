//! `diff --from DIR --to URL --write NAME`: the declarative workflow. A development database
//! was changed by hand; the difference from what the migrations build is written as
//! migrations, each with its down file (the reverse difference):
//! - `<today>_NAME.sql`: everything, in one transaction; a foreign key or check added to a
//!   table that already exists is added `NOT VALID` (no long lock to check every row);
//! - `<today>_NAME_indexes.sql` (`@no-transaction`): each index on an existing table built
//!   `CONCURRENTLY`;
//! - `<today>_NAME_validate.sql`: `VALIDATE CONSTRAINT` for those added `NOT VALID`.
//!
//! The first file depends on the newest migrations that mention the objects it touches.

use std::path::{Path, PathBuf};

use super::{failed, DiffError};
use crate::migration::MigrationSet;
use crate::schema::compare::{compare, Changes};
use crate::schema::script::{script, Phase, Script};
use crate::schema::{Key, Kind, Snapshot};

/// Writes the migrations that turn `from` (what DIR builds) into `to`; refuses when a
/// statement would lose data and `allow_drop` is off. Returns the paths written.
pub fn migrations(
    set: &MigrationSet,
    from: &Snapshot,
    to: &Snapshot,
    changes: &Changes,
    name: &str,
    today: &str,
    allow_drop: bool,
) -> Result<Vec<PathBuf>, DiffError> {
    let up = script(from, to, changes);
    if !allow_drop {
        refuse_data_loss(&up)?;
    }
    let down = script(to, from, &compare(to, from));
    let stem = crate::migration::filename::suggest_description(name);
    if stem.is_empty() {
        return Err(failed(
            format!("{name:?} cannot be part of a file name"),
            "use letters, digits and spaces",
        ));
    }
    let depends = newest_mentioning(set, &touched(changes, from, to));
    let files = files(
        &format!("{today}_{stem}"),
        name,
        &depends,
        split(&up, from),
        &down,
    );
    write_all(&set.dir, &files)
}

/// Nothing is written when a statement would lose data.
fn refuse_data_loss(up: &Script) -> Result<(), DiffError> {
    let lines: Vec<String> = up
        .statements
        .iter()
        .filter(|s| s.destructive)
        .map(|s| format!("  {}", s.sql.lines().next().unwrap_or("")))
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    Err(failed(
        format!(
            "the migration would lose data ({} statement(s)); nothing was written:\n{}",
            lines.len(),
            lines.join("\n")
        ),
        "run it again with --allow-drop if that is what you want",
    ))
}

/// (version, up file, down file) of each migration: the main one, then the index builds and
/// the validations when there are any.
fn files(
    main: &str,
    name: &str,
    depends: &[String],
    split: Split,
    down: &Script,
) -> Vec<(String, String, String)> {
    let mut files = vec![(
        main.to_string(),
        header(main, name, depends, false) + &body(&split.main),
        header_down(main) + &body(&without(down, &split.index_keys)),
    )];
    let after_main = [main.to_string()];
    if !split.indexes.is_empty() {
        let v = format!("{main}_indexes");
        let drops: Vec<String> = split
            .index_keys
            .iter()
            .map(|k| format!("DROP INDEX CONCURRENTLY IF EXISTS {};", k.name))
            .collect();
        files.push((
            v.clone(),
            header(&v, &format!("{name} (indexes)"), &after_main, true)
                + &split.indexes.join("\n")
                + "\n",
            header_down(&v) + "-- @no-transaction\n" + &drops.join("\n") + "\n",
        ));
    }
    if !split.validate.is_empty() {
        let v = format!("{main}_validate");
        files.push((
            v.clone(),
            header(&v, &format!("{name} (validate constraints)"), &after_main, false)
                + &split.validate.join("\n")
                + "\n",
            header_down(&v)
                + "-- A constraint cannot be made NOT VALID again: it is dropped and added back NOT VALID (no scan).\n"
                + &split.invalidate.join("\n")
                + "\n",
        ));
    }
    files
}

/// Writes every file, or none when one of them exists already.
fn write_all(dir: &Path, files: &[(String, String, String)]) -> Result<Vec<PathBuf>, DiffError> {
    let paths = |version: &str| {
        [
            dir.join(format!("{version}.sql")),
            dir.join(format!("{version}.down.sql")),
        ]
    };
    if let Some(taken) = files
        .iter()
        .flat_map(|(v, _, _)| paths(v))
        .find(|p| crate::files::exists(p))
    {
        return Err(failed(
            format!("{} exists; nothing was written", taken.display()),
            "choose another NAME",
        ));
    }
    let mut written = Vec::new();
    for (version, up, down) in files {
        let [up_path, down_path] = paths(version);
        for (p, text) in [(up_path, up), (down_path, down)] {
            write_file(&p, text)?;
            written.push(p);
        }
    }
    Ok(written)
}

fn write_file(path: &Path, text: &str) -> Result<(), DiffError> {
    use std::io::Write;
    let mut f = crate::files::create_new(path, 0o644).map_err(|e| {
        failed(
            format!("cannot write {}: {e}", path.display()),
            "check the folder's permissions",
        )
    })?;
    f.write_all(text.as_bytes()).map_err(|e| {
        failed(
            format!("cannot write {}: {e}", path.display()),
            "check the disk",
        )
    })
}

fn header(version: &str, title: &str, depends: &[String], no_transaction: bool) -> String {
    // The title is a comment line: no line break or other control character in it.
    let title: String = title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let deps = if depends.is_empty() {
        "None".to_string()
    } else {
        depends
            .iter()
            .map(|d| format!("{d}.sql"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let date = version.get(..10).unwrap_or(version);
    let mut h = format!(
        "-- =============================================\n-- MIGRATION: {title}\n-- Version: {date}\n-- Author: pgshift diff\n-- Dependencies: {deps}\n-- =============================================\n"
    );
    if no_transaction {
        h.push_str("-- @no-transaction\n");
    }
    h.push('\n');
    h
}

fn header_down(version: &str) -> String {
    format!("-- Undoes {version}.sql (written by pgshift diff: the reverse difference).\n\n")
}

fn body(s: &Script) -> String {
    s.render(true)
        .lines()
        .filter(|l| {
            !l.starts_with("SET check_function_bodies") && !l.starts_with("SET client_min_messages")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
        + "\n"
}

/// `s` without the statements about `keys`.
fn without(s: &Script, keys: &[Key]) -> Script {
    Script {
        statements: s
            .statements
            .iter()
            .filter(|st| !keys.contains(&st.object))
            .cloned()
            .collect(),
        warnings: s.warnings.clone(),
    }
}

struct Split {
    main: Script,
    indexes: Vec<String>,
    index_keys: Vec<Key>,
    validate: Vec<String>,
    /// The down of each VALIDATE: back to NOT VALID.
    invalidate: Vec<String>,
}

/// The traffic-safe forms where the table exists already: indexes moved out and built
/// CONCURRENTLY, foreign keys and checks added NOT VALID and validated in a later file.
fn split(up: &Script, from: &Snapshot) -> Split {
    let mut out = Split {
        main: Script {
            statements: vec![],
            warnings: up.warnings.clone(),
        },
        indexes: vec![],
        index_keys: vec![],
        validate: vec![],
        invalidate: vec![],
    };
    let existing = |table: &str| {
        from.objects.contains_key(&Key {
            kind: Kind::Table,
            name: table.to_string(),
        })
    };
    for s in &up.statements {
        let table = s.object.name.rsplit_once('.').map(|(t, _)| t).unwrap_or("");
        let on_existing = |sql: &str| {
            sql.split(" ON ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .is_some_and(existing)
        };
        if s.phase == Phase::Create
            && s.object.kind == Kind::Index
            && s.sql.starts_with("CREATE")
            && on_existing(&s.sql)
        {
            let sql = s
                .sql
                .replacen(
                    "CREATE UNIQUE INDEX ",
                    "CREATE UNIQUE INDEX CONCURRENTLY ",
                    1,
                )
                .replacen("CREATE INDEX ", "CREATE INDEX CONCURRENTLY ", 1);
            out.indexes.push(sql);
            if !out.index_keys.contains(&s.object) {
                out.index_keys.push(s.object.clone());
            }
            continue;
        }
        let checkable = matches!(s.object.kind, Kind::ForeignKey | Kind::Constraint)
            && (s.sql.contains(" FOREIGN KEY ") || s.sql.contains(" CHECK "))
            && !s.sql.contains(" NOT VALID")
            && s.sql.contains(" ADD CONSTRAINT ");
        let table_of = s
            .sql
            .strip_prefix("ALTER TABLE ")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or(table);
        if s.phase == Phase::Create && checkable && existing(table_of) {
            let mut st = s.clone();
            st.sql = format!("{} NOT VALID;", s.sql.trim_end_matches(';'));
            let cname = s
                .object
                .name
                .rsplit_once('.')
                .map(|(_, c)| c)
                .unwrap_or(&s.object.name);
            out.validate.push(format!(
                "ALTER TABLE {table_of} VALIDATE CONSTRAINT {cname};"
            ));
            out.invalidate.push(format!(
                "ALTER TABLE {table_of} DROP CONSTRAINT {cname};\n{}",
                st.sql
            ));
            out.main.statements.push(st);
            continue;
        }
        out.main.statements.push(s.clone());
    }
    out
}

/// The bare names (without schema or quotes) of the tables, views, functions and types a
/// change touches.
fn touched(changes: &Changes, from: &Snapshot, to: &Snapshot) -> Vec<String> {
    let mut names = Vec::new();
    let keys = changes
        .only_in_from
        .iter()
        .chain(&changes.only_in_to)
        .chain(changes.different.iter().map(|d| &d.key));
    for k in keys {
        let o = from.objects.get(k).or_else(|| to.objects.get(k));
        let mut key = k;
        let mut parent = o.and_then(|o| o.parent.as_ref());
        while let Some(p) = parent {
            key = p;
            parent = from
                .objects
                .get(p)
                .or_else(|| to.objects.get(p))
                .and_then(|o| o.parent.as_ref());
        }
        let bare = key.name.split('(').next().unwrap_or(&key.name);
        let bare = bare
            .rsplit('.')
            .next()
            .unwrap_or(bare)
            .trim_matches('"')
            .to_lowercase();
        if !names.contains(&bare) {
            names.push(bare);
        }
    }
    names
}

/// For each name, the newest migration (in version order) whose SQL mentions it as a word.
fn newest_mentioning(set: &MigrationSet, names: &[String]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for name in names {
        let Ok(word) = regex::Regex::new(&format!(r"(?i)\b{}\b", regex::escape(name))) else {
            continue;
        };
        let newest = set
            .migrations
            .iter()
            .rev()
            .find(|m| word.is_match(&m.source))
            .map(|m| m.version.as_str().to_string());
        if let Some(v) = newest {
            if !found.contains(&v) {
                found.push(v);
            }
        }
    }
    found.sort();
    found
}
