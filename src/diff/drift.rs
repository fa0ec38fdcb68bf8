//! `pgshift drift`: a database against what its applied migrations build. The recorded
//! versions are applied in recorded order on a throwaway cluster (of the server's major
//! version when its programs are installed), both schemas are read, and what differs is
//! grouped: made by hand (in the database only), dropped by hand (in the migrations only),
//! different. Supabase's platform schemas are left out by default, and so is what
//! `[drift]` says to ignore.

use serde::Serialize;

use super::{failed, Builder, DiffError};
use crate::db::connect::ConnectionSpec;
use crate::deploy::status::State;
use crate::migration::MigrationSet;
use crate::plan::Plan;
use crate::schema::compare::Changes;
use crate::schema::{Object, Snapshot};

/// The schemas of a Supabase platform (and of pgshift's Supabase stub), never the user's.
pub const PLATFORM_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "_realtime",
    "extensions",
    "graphql",
    "graphql_public",
    "vault",
    "pgbouncer",
    "pgsodium",
    "pgsodium_masks",
    "net",
    "cron",
    "_analytics",
    "supabase_functions",
    "supabase_migrations",
];

/// What `drift` leaves out.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    /// Whole schemas.
    pub schemas: Vec<String>,
    /// Objects whose qualified name matches one of these (`*` matches anything):
    /// `public.tmp_*`, `audit.*`.
    pub patterns: Vec<String>,
    /// Keep the platform's schemas in (`--include-platform`).
    pub platform: bool,
}

impl Ignore {
    /// Every schema left out: the platform's unless asked, and the configured ones.
    pub fn schemas(&self) -> Vec<String> {
        let mut all: Vec<String> = self.schemas.clone();
        if !self.platform {
            all.extend(PLATFORM_SCHEMAS.iter().map(|s| s.to_string()));
        }
        all
    }

    /// What leaves an object out by a pattern (its own name or its parent's, without quotes).
    pub fn matcher(&self) -> impl Fn(&Object) -> bool + '_ {
        let regexes: Vec<regex::Regex> = self
            .patterns
            .iter()
            .filter_map(|p| {
                let body = regex::escape(p).replace(r"\*", ".*");
                regex::Regex::new(&format!("^{body}$")).ok()
            })
            .collect();
        move |o: &Object| {
            let bare = |n: &str| n.replace('"', "");
            let names = std::iter::once(&o.key.name).chain(o.parent.iter().map(|p| &p.name));
            names
                .map(|n| bare(n))
                .any(|n| regexes.iter().any(|r| r.is_match(&n)))
                || self.schemas.iter().any(|s| bare(&o.schema) == *s)
        }
    }
}

/// What drift found on one database.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// The database, as messages name it.
    pub target: String,
    /// The versions built, in the order they were recorded.
    pub built: Vec<String>,
    /// From the migrations (FROM) to the database (TO): `only_in_to` is made by hand,
    /// `only_in_from` dropped by hand.
    pub changes: Changes,
    /// What the reader should know (the cluster's version, records with no file).
    pub notes: Vec<String>,
    /// The SQL that brings the database back to what the migrations build.
    #[serde(skip)]
    pub expected: Snapshot,
    #[serde(skip)]
    pub live: Snapshot,
}

impl Drift {
    /// Nothing differs.
    pub fn clean(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The drift of the database at `spec` from the migrations of `set` it has applied.
pub async fn drift(
    builder: &mut Builder<'_>,
    spec: &ConnectionSpec,
    (set, plan): (&MigrationSet, &Plan),
    ignore: &Ignore,
) -> Result<Drift, DiffError> {
    let settings = builder.settings;
    let read = crate::deploy::read_status(
        crate::deploy::files::Files::Ready(set, plan),
        spec,
        &settings.tracking,
        settings.environment,
    )
    .await
    .map_err(|e| {
        failed(
            format!("cannot read the records of {}: {e}", spec.describe()),
            "check the connection and [tracking] in pgshift.toml",
        )
    })?;
    let mut notes = Vec::new();
    let mut applied: Vec<(String, String)> = Vec::new();
    for e in &read.status.entries {
        match &e.state {
            State::Applied { .. } | State::Modified => {
                if matches!(e.state, State::Modified) {
                    notes.push(format!(
                        "{} changed since it was applied: built from the file as it is now",
                        e.version
                    ));
                }
                applied.push((e.executed_at.clone().unwrap_or_default(), e.version.clone()))
            }
            State::Unknown => notes.push(format!(
                "{} is recorded but has no file: what it made shows as made by hand",
                e.version
            )),
            _ => {}
        }
    }
    // Recorded order; the plan's order among those recorded at the same instant.
    let position = |v: &str| plan.steps.iter().position(|s| s.version.as_str() == v);
    applied.sort_by(|a, b| a.0.cmp(&b.0).then(position(&a.1).cmp(&position(&b.1))));
    let steps: Vec<_> = applied
        .iter()
        .filter_map(|(_, v)| plan.steps.iter().find(|s| s.version.as_str() == v).cloned())
        .collect();
    let built: Vec<String> = steps
        .iter()
        .map(|s| s.version.as_str().to_string())
        .collect();
    if built.is_empty() {
        notes.push(format!(
            "{} records no applied migration: everything in it shows as made by hand",
            spec.describe()
        ));
    }
    let scope = super::scope(settings, &ignore.schemas());
    let mut live = super::read(spec, &scope).await?;
    // Built on the server's major where installed: two majors deparse a few definitions
    // differently.
    let major = live.server_version / 10000;
    if builder.bin_dir.is_none() {
        match crate::ephemeral::bin_dir_for_major(u32::try_from(major).unwrap_or(0)) {
            Some(dir) => builder.bin_dir = Some(dir),
            None => notes.push(format!(
                "PostgreSQL {major}'s programs are not installed here: the migrations were built on the local PostgreSQL, whose text of some definitions may differ (apt-get install -y postgresql-{major})"
            )),
        }
    }
    // The migrations may grant to the server's roles: the throwaway cluster has them too.
    builder.roles = live.roles.iter().cloned().collect();
    let expected_spec = builder.database()?;
    builder
        .build(&expected_spec, set, &Plan::new(steps))
        .await?;
    let mut expected = super::read(&expected_spec, &scope).await?;
    expected.as_built_by(&live.user.clone());
    let ignored = ignore.matcher();
    expected.retain(|o| !ignored(o));
    live.retain(|o| !ignored(o));
    let changes = crate::schema::compare::compare(&expected, &live);
    Ok(Drift {
        target: spec.describe(),
        built,
        changes,
        notes,
        expected,
        live,
    })
}

/// Drift as one check of `pgshift health --drift`: failed when anything drifted.
pub fn as_check(d: &Drift) -> crate::health::CheckResult {
    use crate::health::{CheckResult, Item, Level};
    let items: Vec<Item> = crate::report::diff::drift_entries(&d.changes, &d.expected, &d.live)
        .into_iter()
        .map(|(rule, object, detail)| Item {
            level: Level::Fail,
            object: format!("{rule}: {object}"),
            detail,
        })
        .collect();
    CheckResult {
        id: "schema-drift",
        level: if items.is_empty() { Level::Ok } else { Level::Fail },
        summary: if items.is_empty() {
            format!("the schema is what the {} applied migration(s) build", d.built.len())
        } else {
            format!("{} object(s) differ from what the applied migrations build", items.len())
        },
        items,
        fix: Some("make the change a migration (pgshift diff --from <migrations> --to \"$DATABASE_URL\" --write NAME), or undo it by hand; `pgshift drift` shows both definitions"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Detail, Key, Kind};

    fn object(name: &str, parent: Option<&str>) -> Object {
        Object {
            key: Key {
                kind: Kind::Index,
                name: name.into(),
            },
            schema: "public".into(),
            parent: parent.map(|p| Key {
                kind: Kind::Table,
                name: p.into(),
            }),
            definition: String::new(),
            detail: Detail::None,
            create: vec![],
            drop: None,
            destructive: false,
            refs: vec![],
            roles: vec![],
        }
    }

    #[test]
    fn patterns_match_an_object_or_its_parent() {
        let ignore = Ignore {
            patterns: vec!["public.tmp_*".into()],
            ..Ignore::default()
        };
        let matches = ignore.matcher();
        assert!(matches(&object("public.tmp_x", None)));
        assert!(matches(&object("public.i", Some("public.tmp_load"))));
        assert!(!matches(&object("public.users_pkey", Some("public.users"))));
    }

    #[test]
    fn platform_schemas_are_left_out_unless_asked() {
        assert!(Ignore::default().schemas().contains(&"auth".to_string()));
        let keep = Ignore {
            platform: true,
            ..Ignore::default()
        };
        assert!(!keep.schemas().contains(&"auth".to_string()));
    }
}
