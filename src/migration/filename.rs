//! File names: `YYYY-MM-DD_description.sql` and `YYYY-MM-DD_description.down.sql`.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A migration's identity: the file stem, e.g. `2026-01-21_add_user_profiles`. Ordered by
/// (date, description), which is the same as ordering file names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    /// The version as text: `2026-01-21_add_user_profiles`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `YYYY-MM-DD` part.
    pub fn date_str(&self) -> &str {
        &self.0[..10]
    }

    /// Parses a version as written in a dependency (`2026-01-20_x` or `2026-01-20_x.sql`),
    /// or a repeatable's (`repeatable/refresh_views`, or its stem alone: `refresh_views`).
    pub fn parse_reference(s: &str) -> Result<Version, NameError> {
        let stem = s.strip_suffix(".sql").unwrap_or(s);
        let repeatable = stem.strip_prefix(REPEATABLE_PREFIX).unwrap_or(stem);
        if repeatable != stem || !stem.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            if let Ok(p) = parse_repeatable(&format!("{repeatable}.sql")) {
                return Ok(p.version);
            }
        }
        let parsed = parse_stem(stem)?;
        Ok(parsed.version)
    }

    /// Whether this is a repeatable migration's version (`repeatable/<stem>`).
    pub fn is_repeatable(&self) -> bool {
        self.0.starts_with(REPEATABLE_PREFIX)
    }

    /// The name of the file the version is read from, relative to the migrations directory:
    /// `2026-01-21_x.sql`, `repeatable/refresh_views.sql`.
    pub fn file_name(&self) -> String {
        format!("{}.sql", self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The folder of repeatable migrations, under the migrations directory, and the prefix of
/// their versions.
pub const REPEATABLE_DIR: &str = "repeatable";
const REPEATABLE_PREFIX: &str = "repeatable/";

/// A repeatable migration's file name (`refresh_views.sql` in `repeatable/`): its version is
/// `repeatable/refresh_views`. It has no date (it sorts after every dated version) and no down
/// file (a rollback runs its previous recorded text).
pub fn parse_repeatable(name: &str) -> Result<ParsedName, NameError> {
    let format = |help: String| NameError::Format {
        name: name.to_string(),
        help,
    };
    if name.ends_with(".down.sql") {
        return Err(format(
            "a repeatable migration has no down file: `pgshift rollback --version repeatable/NAME` runs the text it had before; delete this file".into(),
        ));
    }
    let Some(stem) = name.strip_suffix(".sql") else {
        return Err(format("the extension must be lower-case `.sql`".into()));
    };
    if stem.is_empty()
        || stem
            .chars()
            .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    {
        let suggestion = suggest_description(stem);
        let mut help = "a repeatable's name may contain only a-z, 0-9 and `_`".to_string();
        if !suggestion.is_empty() {
            help.push_str(&format!("; rename it to {suggestion}.sql"));
        }
        return Err(format(help));
    }
    Ok(ParsedName {
        version: Version(format!("{REPEATABLE_PREFIX}{stem}")),
        date: NaiveDate::MAX,
        description: stem.to_string(),
        kind: Kind::Up,
    })
}

/// Whether a file is the up or the down half of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `….sql`: applies the change.
    Up,
    /// `….down.sql`: undoes it.
    Down,
}

/// A well-formed migration file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    /// The version: the file name without `.sql` (or `.down.sql`).
    pub version: Version,
    /// The date at the start of the name.
    pub date: NaiveDate,
    /// The description after the date.
    pub description: String,
    /// Up or down.
    pub kind: Kind,
}

/// Why a file name is not a migration name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("file name `{name}` does not follow YYYY-MM-DD_description.sql")]
    /// The name does not follow `YYYY-MM-DD_description.sql`.
    Format {
        /// The file's name.
        name: String,
        /// What a valid name looks like, from this one.
        help: String,
    },
    #[error("file name `{name}` has the date {date}, which is not a calendar date{why}")]
    /// The date is not in the calendar (`2026-02-30`).
    ImpossibleDate {
        /// The file's name.
        name: String,
        /// The date as written.
        date: String,
        /// Why it is not a date.
        why: String,
    },
}

impl NameError {
    /// How to fix the name.
    pub fn help(&self) -> String {
        match self {
            NameError::Format { help, .. } => help.clone(),
            NameError::ImpossibleDate { .. } => {
                "rename the file with a real date (YYYY-MM-DD); the date orders migrations".into()
            }
        }
    }
}

/// Parses a file name (not a path). Returns `Ok(None)` for files that are not SQL at all
/// (README.md, editor backups) so that discovery can skip them.
pub fn parse_file_name(name: &str) -> Option<Result<ParsedName, NameError>> {
    let (stem, kind) = if let Some(stem) = name.strip_suffix(".down.sql") {
        (stem, Kind::Down)
    } else if let Some(stem) = name.strip_suffix(".sql") {
        (stem, Kind::Up)
    } else if name.to_ascii_lowercase().ends_with(".sql") {
        return Some(Err(NameError::Format {
            name: name.to_string(),
            help: "the extension must be lower-case `.sql` (or `.down.sql`)".into(),
        }));
    } else {
        return None;
    };
    Some(
        parse_stem(stem)
            .map(|p| ParsedName { kind, ..p })
            .map_err(|e| with_name(e, name)),
    )
}

fn with_name(e: NameError, name: &str) -> NameError {
    match e {
        NameError::Format { help, .. } => NameError::Format {
            name: name.to_string(),
            help,
        },
        NameError::ImpossibleDate { date, why, .. } => NameError::ImpossibleDate {
            name: name.to_string(),
            date,
            why,
        },
    }
}

fn parse_stem(stem: &str) -> Result<ParsedName, NameError> {
    let format = |help: String| NameError::Format {
        name: stem.to_string(),
        help,
    };
    let bytes = stem.as_bytes();
    let date_shape = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let supabase_cli =
        bytes.len() > 15 && bytes[..14].iter().all(u8::is_ascii_digit) && bytes[14] == b'_';
    if supabase_cli {
        return Err(format(
            "this is a Supabase CLI file name (YYYYMMDDHHMMSS_name.sql): `pgshift import --from supabase` \
             converts a Supabase project's migrations (with headers, in pgshift's names) into this folder; \
             keep the originals in supabase/migrations"
                .into(),
        ));
    }
    if !date_shape {
        return Err(format(
            "start the name with the date as YYYY-MM-DD, e.g. 2026-01-21_add_user_profiles.sql \
             (`pgshift new add_user_profiles` creates one)"
                .into(),
        ));
    }
    let date_str = &stem[..10];
    let rest = &stem[10..];
    let Some(description) = rest.strip_prefix('_') else {
        return Err(format(format!(
            "separate the date and the description with `_`: {date_str}_description.sql"
        )));
    };
    if description.is_empty() {
        return Err(format(format!(
            "add a description after the date: {date_str}_what_it_does.sql"
        )));
    }
    if let Some(bad) = description
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        let suggestion = suggest_description(description);
        let mut help = format!("the description may contain only a-z, 0-9 and `_` (found {bad:?})");
        if !suggestion.is_empty() {
            help.push_str(&format!("; rename it to {date_str}_{suggestion}.sql"));
        }
        return Err(format(help));
    }
    let date = parse_date(date_str).map_err(|why| NameError::ImpossibleDate {
        name: stem.to_string(),
        date: date_str.to_string(),
        why,
    })?;
    Ok(ParsedName {
        version: Version(stem.to_string()),
        date,
        description: description.to_string(),
        kind: Kind::Up,
    })
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let year: i32 = s[0..4].parse().map_err(|_| String::new())?;
    let month: u32 = s[5..7].parse().map_err(|_| String::new())?;
    let day: u32 = s[8..10].parse().map_err(|_| String::new())?;
    if !(1..=12).contains(&month) {
        return Err(format!(" (there is no month {month:02})"));
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        let first = NaiveDate::from_ymd_opt(year, month, 1);
        let days = first
            .and_then(|f| {
                let next = if month == 12 {
                    NaiveDate::from_ymd_opt(year + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(year, month + 1, 1)
                };
                next.map(|n| (n - f).num_days())
            })
            .unwrap_or(0);
        let month_name = first
            .map(|f| f.format("%B %Y").to_string())
            .unwrap_or_default();
        if days > 0 {
            format!(" ({month_name} has {days} days)")
        } else {
            String::new()
        }
    })
}

/// `Add User-Profiles!` → `add_user_profiles`. Used by `pgshift new` and in help texts.
pub fn suggest_description(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The date as `YYYY-MM-DD`, zero-padded (chrono's `%F` pads years too).
pub fn format_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> Result<ParsedName, NameError> {
        parse_file_name(name).expect("is sql")
    }

    #[test]
    fn accepts_up_and_down_names() {
        let up = parse("2026-01-21_add_user_profiles.sql").unwrap();
        assert_eq!(up.version.as_str(), "2026-01-21_add_user_profiles");
        assert_eq!(up.kind, Kind::Up);
        assert_eq!(up.description, "add_user_profiles");
        let down = parse("2026-01-21_add_user_profiles.down.sql").unwrap();
        assert_eq!(down.version, up.version);
        assert_eq!(down.kind, Kind::Down);
    }

    #[test]
    fn skips_files_that_are_not_sql() {
        assert!(parse_file_name("README.md").is_none());
        assert!(parse_file_name("2026-01-21_x.sql~").is_none());
    }

    #[test]
    fn rejects_bad_shapes_with_help() {
        for (name, help_part) in [
            ("add_users.sql", "start the name with the date"),
            ("2026-1-05_x.sql", "start the name with the date"),
            ("2026-01-05-x.sql", "separate the date and the description"),
            ("2026-01-05_.sql", "add a description"),
            (
                "2026-01-05_Add-Users.sql",
                "rename it to 2026-01-05_add_users.sql",
            ),
            ("2026-01-05_x.SQL", "lower-case"),
            (
                "20240101120000_create_profiles.sql",
                "pgshift import --from supabase",
            ),
        ] {
            let err = parse(name).unwrap_err();
            assert!(matches!(err, NameError::Format { .. }), "{name}");
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert!(err.help().contains(help_part), "{name}: {}", err.help());
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        let err = parse("2026-02-30_x.sql").unwrap_err();
        assert_eq!(
            err.to_string(),
            "file name `2026-02-30_x.sql` has the date 2026-02-30, which is not a calendar date \
             (February 2026 has 28 days)"
        );
        let err = parse("2026-13-01_x.sql").unwrap_err();
        assert!(err.to_string().contains("no month 13"), "{err}");
        assert!(parse("2024-02-29_leap.sql").is_ok());
        assert!(parse("2025-02-29_not_leap.sql").is_err());
    }

    #[test]
    fn versions_order_like_file_names() {
        let a = Version::parse_reference("2026-01-20_a").unwrap();
        let ab = Version::parse_reference("2026-01-20_a_b.sql").unwrap();
        let b = Version::parse_reference("2026-01-19_z").unwrap();
        assert!(b < a && a < ab);
        assert!("2026-01-20_a.sql" < "2026-01-20_a_b.sql");
    }

    #[test]
    fn suggests_descriptions() {
        assert_eq!(
            suggest_description("Add User-Profiles!"),
            "add_user_profiles"
        );
        assert_eq!(suggest_description("  spaces  "), "spaces");
    }
}
