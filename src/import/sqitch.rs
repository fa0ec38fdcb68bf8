//! Sqitch: `sqitch.plan` lists the changes in order (`name [requires] 2024-01-15T09:30:00Z
//! planner <email> # note`, `@tag` lines between them), with `deploy/<name>.sql` and
//! `revert/<name>.sql` beside it. A change reworked after a tag keeps its earlier script as
//! `deploy/<name>@<tag>.sql`.

use std::path::Path;

use chrono::NaiveDateTime;

use super::{read as read_file, Foreign, ImportError, Read, Stamp};

struct Change {
    name: String,
    requires: Vec<String>,
    stamp: Stamp,
    note: String,
    /// The tag after which this change was reworked (its script is then `name@tag.sql`).
    reworked_at: Option<String>,
}

/// The plan's changes, in order.
fn plan(text: &str, skipped: &mut Vec<String>) -> Vec<Change> {
    let mut changes: Vec<Change> = Vec::new();
    let mut tags: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('%') || t.starts_with('#') {
            continue;
        }
        if let Some(tag) = t.strip_prefix('@') {
            let name = tag.split_whitespace().next().unwrap_or("").to_string();
            tags.push((changes.len(), name));
            continue;
        }
        let (head, note) = t.split_once(" # ").unwrap_or((t, ""));
        let name = head.split_whitespace().next().unwrap_or("").to_string();
        let mut requires = Vec::new();
        if let Some((open, close)) = head.find('[').zip(head.find(']')).filter(|(o, c)| o < c) {
            for dep in head[open + 1..close].split_whitespace() {
                if dep.starts_with('!') {
                    continue;
                }
                if dep.contains(':') {
                    skipped.push(format!("{name}: requires {dep} of another Sqitch project: not imported as a dependency"));
                    continue;
                }
                // `change@tag` names the change as it was at that tag (a reworked change's
                // earlier script); the import resolves it, falling back to the change.
                requires.push(dep.to_string());
            }
        }
        let after = head
            .rfind(']')
            .map_or(&head[name.len()..], |c| &head[c + 1..]);
        let stamp = after
            .split_whitespace()
            .find_map(|w| NaiveDateTime::parse_from_str(w, "%Y-%m-%dT%H:%M:%SZ").ok())
            .map_or(Stamp::Sequence, |dt| {
                Stamp::Timestamp(dt.date(), dt.format("%H%M%S").to_string())
            });
        changes.push(Change {
            name,
            requires,
            stamp,
            note: note.to_string(),
            reworked_at: None,
        });
    }
    // An earlier instance of a reworked change: the first tag after it names its script.
    for i in 0..changes.len() {
        if changes[i + 1..].iter().any(|c| c.name == changes[i].name) {
            changes[i].reworked_at = tags.iter().find(|(at, _)| *at > i).map(|(_, t)| t.clone());
        }
    }
    changes
}

pub fn read(source: &Path) -> Result<Read, ImportError> {
    let plan_path = source.join("sqitch.plan");
    if !plan_path.is_file() {
        return Err(ImportError::Source {
            message: format!("{} has no sqitch.plan", source.display()),
            help:
                "give the Sqitch project's folder (the one with sqitch.plan, deploy/ and revert/)"
                    .into(),
        });
    }
    let mut skipped = Vec::new();
    let changes = plan(&read_file(&plan_path)?, &mut skipped);
    // Timestamps only when every change has one (a plan always does); else positions.
    let dated = changes
        .iter()
        .all(|c| matches!(c.stamp, Stamp::Timestamp(..)));
    let mut migrations = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let script = match &c.reworked_at {
            Some(tag) => format!("{}@{tag}.sql", c.name),
            None => format!("{}.sql", c.name),
        };
        let deploy = source.join("deploy").join(&script);
        if !deploy.is_file() {
            return Err(ImportError::Source {
                message: format!(
                    "sqitch.plan lists {}, but {} does not exist",
                    c.name,
                    deploy.display()
                ),
                help: "check out the whole Sqitch project".into(),
            });
        }
        let revert = source.join("revert").join(&script);
        // A reworked change appears twice: the later one is its own migration.
        let source_version = match &c.reworked_at {
            Some(tag) => format!("{}@{tag}", c.name),
            // A name planned twice with no tag between: keep both apart.
            None if changes[..i]
                .iter()
                .any(|e| e.name == c.name && e.reworked_at.is_none()) =>
            {
                format!("{}#{i}", c.name)
            }
            None => c.name.clone(),
        };
        migrations.push(Foreign {
            original: deploy.clone(),
            source_version,
            stamp: if dated {
                c.stamp.clone()
            } else {
                Stamp::Sequence
            },
            // The file is named after the change; its note goes into the header's title.
            name: c.name.clone(),
            title: (!c.note.is_empty()).then(|| {
                format!("{}: {}", c.name, c.note)
                    .chars()
                    .take(200)
                    .collect()
            }),
            up: read_file(&deploy)?,
            down: if revert.is_file() {
                Some(read_file(&revert)?)
            } else {
                None
            },
            no_transaction: false,
            requires: c.requires.clone(),
        });
    }
    Ok(Read::of(migrations, skipped))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plan_gives_order_requirements_dates_and_reworks() {
        let mut skipped = Vec::new();
        let plan = super::plan(
            "%syntax-version=1.0.0\n%project=flipr\n\nappschema 2013-12-30T23:49:00Z Marge <m@x.org> # Add schema.\nusers [appschema] 2013-12-31T15:19:34Z Marge <m@x.org> # Users.\nflips [appschema users !ducks other:thing] 2014-01-02T09:15:00Z Marge <m@x.org>\n@v1.0 2014-01-03T00:00:00Z Marge <m@x.org> # Release.\nusers [users@v1.0] 2014-01-04T10:00:00Z Marge <m@x.org> # Reworked.\n",
            &mut skipped,
        );
        let names: Vec<&str> = plan.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["appschema", "users", "flips", "users"]);
        assert_eq!(plan[2].requires, ["appschema", "users"]);
        assert_eq!(plan[3].requires, ["users@v1.0"]);
        assert_eq!(plan[1].reworked_at.as_deref(), Some("v1.0"));
        assert_eq!(plan[3].reworked_at, None);
        assert!(
            matches!(&plan[1].stamp, super::Stamp::Timestamp(d, t) if d.to_string() == "2013-12-31" && t == "151934")
        );
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn a_malformed_plan_line_does_not_panic() {
        let mut skipped = Vec::new();
        let plan = super::plan("odd ] [ 2014-01-02T09:15:00Z M <m@x>\n[\n", &mut skipped);
        assert_eq!(plan[0].name, "odd");
        assert!(plan[0].requires.is_empty());
    }
}
