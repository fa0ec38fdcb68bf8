//! Creating things for the user: a new migration file (`pgshift new`) and a project layout
//! (`pgshift init`).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::migration::filename::{format_date, suggest_description};
use crate::migration::Version;

/// Why a scaffold step failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("`{0}` has no letters or digits to make a file name from")]
    EmptyDescription(String),
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("migrations directory {} does not exist", .0.display())]
    MissingDir(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// What `new` should write.
#[derive(Debug, Clone)]
pub struct NewMigration {
    /// Free text; turned into `[a-z0-9_]+`.
    pub description: String,
    pub date: NaiveDate,
    pub author: String,
    pub depends_on: Vec<Version>,
    /// Also write `<version>.down.sql` beside it (what `test --rollback` and `rollback` run).
    pub down: bool,
    /// A repeatable migration (`repeatable/<name>.sql`, no date, no down file).
    pub repeatable: bool,
}

impl NewMigration {
    /// The file stem, e.g. `2026-11-24_add_user_profiles`.
    pub fn version(&self) -> Result<String, ScaffoldError> {
        let d = suggest_description(&self.description);
        if d.is_empty() {
            return Err(ScaffoldError::EmptyDescription(self.description.clone()));
        }
        if self.repeatable {
            return Ok(format!(
                "{}/{d}",
                crate::migration::filename::REPEATABLE_DIR
            ));
        }
        Ok(format!("{}_{d}", format_date(self.date)))
    }

    /// The file's text: the guide's header and a place for the SQL.
    pub fn text(&self) -> String {
        let title = {
            let words = suggest_description(&self.description).replace('_', " ");
            let mut c = words.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        };
        let deps = if self.depends_on.is_empty() {
            "None".to_string()
        } else {
            self.depends_on
                .iter()
                .map(|v| format!("{v}.sql"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (version, guidance) = if self.repeatable {
            (
                "repeatable".to_string(),
                "-- Define views, functions, policies or grants by their whole text (CREATE OR REPLACE …).\n\
                 -- It runs again, in one transaction with its record, whenever its SQL changes (not\n\
                 -- for comments or whitespace); name what it needs in Dependencies.\n",
            )
        } else {
            (
                format_date(self.date),
                "-- Write the SQL here. The whole file runs in one transaction together with its\n\
                 -- tracking row; add `-- @no-transaction` above for CREATE INDEX CONCURRENTLY.\n",
            )
        };
        format!(
            "-- =============================================\n\
             -- MIGRATION: {title}\n\
             -- Version: {version}\n\
             -- Author: {}\n\
             -- Dependencies: {deps}\n\
             -- =============================================\n\
             \n\
             {guidance}",
            self.author
        )
    }

    /// The down file's text: what to write, and what checks it.
    pub fn down_text(&self) -> Result<String, ScaffoldError> {
        Ok(format!(
            "-- Undoes {}.sql: write the statements that reverse it, last change first.\n\
             -- `pgshift test --rollback` checks that it restores the schema exactly; while it holds\n\
             -- no SQL, `pgshift rollback` refuses to use it.\n",
            self.version()?
        ))
    }

    /// Writes the file (and its down file) into `dir`; refuses to overwrite either. Returns
    /// the paths written, the up file first.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
        if !dir.is_dir() {
            return Err(ScaffoldError::MissingDir(dir.to_path_buf()));
        }
        let version = self.version()?;
        let mut files = vec![(dir.join(format!("{version}.sql")), self.text())];
        if self.repeatable {
            let folder = dir.join(crate::migration::filename::REPEATABLE_DIR);
            fs::create_dir_all(&folder).map_err(write_err(&folder))?;
        } else if self.down {
            files.push((dir.join(format!("{version}.down.sql")), self.down_text()?));
        }
        if let Some((taken, _)) = files.iter().find(|(p, _)| crate::files::exists(p)) {
            return Err(ScaffoldError::Exists(taken.clone()));
        }
        let mut written = Vec::new();
        for (path, text) in files {
            let mut f = crate::files::create_new(&path, 0o644).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => ScaffoldError::Exists(path.clone()),
                _ => ScaffoldError::Write {
                    path: path.clone(),
                    source: e,
                },
            })?;
            f.write_all(text.as_bytes()).map_err(write_err(&path))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// The author for a new file: git's `user.name`, else `$USER`, else `unknown`.
pub fn default_author(cwd: &Path) -> String {
    std::process::Command::new("git")
        .args(["config", "user.name"])
        .current_dir(cwd)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// One thing `init` did or left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitAction {
    Created(PathBuf),
    Kept(PathBuf),
    Updated(PathBuf),
}

/// The starting `pgshift.toml`: every setting, commented, with its default.
pub const CONFIG_TEMPLATE: &str = r#"# pgshift configuration. Every setting is optional; the values shown are the defaults.
# Precedence: command-line flags > environment variables > .env > this file > defaults.

[migrations]
# dir = "migrations"
# out_of_order = "warn"        # allow | warn | deny: a new file dated before applied ones

[tracking]
# schema = "public"
# table = "schema_migrations"

[backup]
# dir = "backups/migrations"   # a backup before every deploy with something pending
# keep = 10                    # the newest are kept; the newest always
# compression = 6              # gzip level, 1 (fastest) to 9 (smallest)
# pg_dump = "/usr/lib/postgresql/15/bin/pg_dump"   # default: the server's major version
# psql = "/usr/lib/postgresql/15/bin/psql"         # the one restores run

[deploy]
# timeout = 300                # seconds per migration (TIMEOUT), at most 2147483
# lock_timeout = 60            # seconds to wait for another deployer's lock
# statement_lock_timeout = "5s"  # how long a migration's statement may wait for a table lock
#                              # (seconds, or "500ms", "2min"; 0: no limit); default 5 s in
#                              # staging and production, the server's setting in development
# lock_retries = 3             # tries again after a lock timeout (jittered backoff)
# exposed_schemas = ["public"] # schemas an API (PostgREST) exposes; RLS is checked there
# notify_pgrst = true          # NOTIFY pgrst, 'reload schema' after changes (when PostgREST is there)

[supabase]
# history = true               # also record in supabase_migrations.schema_migrations (default: where it exists)
# project = true               # a Supabase project: `pgshift test` loads the Supabase stub (as --supabase)

[log]
# dir = "logs"                 # logs/migration_YYYYMMDD.log, one JSON line per event

[diff]
# ignore_schemas = []          # schemas `pgshift diff` never compares

[drift]
# ignore_schemas = []          # schemas `pgshift drift` never compares (besides Supabase's platform)
# ignore = ["public.tmp_*"]    # objects by qualified name; * matches anything
# include_platform = false     # compare Supabase's auth, storage, … schemas too

# psql variables for `:name` in migrations. Prefer environment variables for secrets:
# `:app_password` reads APP_PASSWORD.
[variables]

# Rule levels for every environment: "off", "info", "warning" or "error".
[rules]
# "header/missing-field" = "warning"

[environments.development]

[environments.staging]
# database_url_env = "STAGING_DATABASE_URL"

[environments.production]
# database_url_env = "PRODUCTION_DATABASE_URL"
# timeout = 600
"#;

const GITIGNORE_LINES: [&str; 2] = ["backups/", "logs/"];

/// Creates the config, the migrations, backups and logs folders, and `.gitignore` entries for
/// backups and logs, in `root`. Existing files are kept; `.gitignore` only gains missing lines.
pub fn init_project(root: &Path, migrations_dir: &Path) -> Result<Vec<InitAction>, ScaffoldError> {
    let mut actions = Vec::new();
    let config = root.join(crate::config::CONFIG_FILE);
    if crate::files::exists(&config) {
        actions.push(InitAction::Kept(config));
    } else {
        crate::files::create_new(&config, 0o644)
            .and_then(|mut f| f.write_all(CONFIG_TEMPLATE.as_bytes()))
            .map_err(write_err(&config))?;
        actions.push(InitAction::Created(config));
    }
    // Backups hold the data and logs name hosts and roles: only their owner reads them.
    for (dir, mode) in [
        (migrations_dir.to_path_buf(), 0o755),
        (root.join("backups/migrations"), 0o700),
        (root.join("logs"), 0o700),
    ] {
        if dir.is_dir() {
            actions.push(InitAction::Kept(dir));
        } else {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(&dir)
                .map_err(write_err(&dir))?;
            actions.push(InitAction::Created(dir));
        }
    }
    let gitignore = root.join(".gitignore");
    let existing = fs::read_to_string(&gitignore).unwrap_or_default();
    let present: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&str> = GITIGNORE_LINES
        .iter()
        .copied()
        .filter(|l| !present.contains(l) && !present.contains(&l.trim_end_matches('/')))
        .collect();
    if missing.is_empty() {
        actions.push(InitAction::Kept(gitignore));
    } else {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# pgshift: database backups and logs stay out of git\n");
        for l in &missing {
            text.push_str(l);
            text.push('\n');
        }
        crate::files::replace(&gitignore, text.as_bytes(), 0o644).map_err(write_err(&gitignore))?;
        actions.push(if existing.is_empty() {
            InitAction::Created(gitignore)
        } else {
            InitAction::Updated(gitignore)
        });
    }
    Ok(actions)
}

/// The GitHub Actions workflow `init --ci github` writes: the one in `examples/github/`.
pub const GITHUB_WORKFLOW: &str = include_str!("../examples/github/migrations.yml");

/// Writes `.github/workflows/migrations.yml` under `root` (kept when it exists), its paths
/// following the migrations directory.
pub fn init_github_workflow(
    root: &Path,
    migrations_dir: &Path,
) -> Result<InitAction, ScaffoldError> {
    let path = root.join(".github/workflows/migrations.yml");
    if crate::files::exists(&path) {
        return Ok(InitAction::Kept(path));
    }
    let rel = migrations_dir
        .strip_prefix(root)
        .unwrap_or(migrations_dir)
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    let text = if rel.is_empty() || rel == "migrations" {
        GITHUB_WORKFLOW.to_string()
    } else {
        GITHUB_WORKFLOW.replace("\"migrations/**\"", &format!("\"{rel}/**\""))
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(write_err(parent))?;
    }
    crate::files::create_new(&path, 0o644)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(write_err(&path))?;
    Ok(InitAction::Created(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigFile, Environment};

    #[test]
    fn a_new_repeatable_goes_in_its_folder_without_a_down_file() {
        let m = NewMigration {
            description: "Refresh views".into(),
            date: NaiveDate::from_ymd_opt(2026, 1, 21).unwrap(),
            author: "Ada".into(),
            depends_on: vec![],
            down: false,
            repeatable: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let written = m.write(dir.path()).unwrap();
        assert_eq!(
            written,
            vec![dir.path().join("repeatable/refresh_views.sql")]
        );
        let set = crate::migration::load_dir(dir.path(), crate::config::Environment::Development)
            .unwrap();
        assert_eq!(set.migrations.len(), 1);
        assert_eq!(
            set.migrations[0].version.as_str(),
            "repeatable/refresh_views"
        );
        // Only the reminder that it holds no SQL yet: its header is whole.
        let rules: Vec<&str> = set.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["file/empty"], "{:?}", set.findings);
    }

    #[test]
    fn new_migration_text_is_a_valid_header() {
        let m = NewMigration {
            description: "Add user profiles".into(),
            date: NaiveDate::from_ymd_opt(2026, 1, 21).unwrap(),
            author: "Ada".into(),
            depends_on: vec![Version::parse_reference("2026-01-20_create_users_table").unwrap()],
            down: true,
            repeatable: false,
        };
        assert_eq!(m.version().unwrap(), "2026-01-21_add_user_profiles");
        let dir = tempfile::tempdir().unwrap();
        let written = m.write(dir.path()).unwrap();
        let path = &written[0];
        assert_eq!(
            written[1].file_name().unwrap(),
            "2026-01-21_add_user_profiles.down.sql"
        );
        let set = crate::migration::load_dir(dir.path(), Environment::Production).unwrap();
        let got = &set.migrations[0];
        assert!(got.down.is_some(), "the down file is the migration's");
        assert_eq!(
            path.file_name().unwrap(),
            "2026-01-21_add_user_profiles.sql"
        );
        assert_eq!(
            got.front.header.title.as_ref().unwrap().value,
            "Add user profiles"
        );
        assert_eq!(got.front.header.author.as_ref().unwrap().value, "Ada");
        assert_eq!(
            got.dependencies[0].version.as_str(),
            "2026-01-20_create_users_table"
        );
        // Only the "no SQL yet" finding: the header is complete and consistent.
        let rules: Vec<_> = set.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["file/empty"]);
        assert!(matches!(m.write(dir.path()), Err(ScaffoldError::Exists(_))));
    }

    #[test]
    fn init_is_idempotent_and_keeps_gitignore_lines() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".gitignore"), "target/").unwrap();
        let first = init_project(dir.path(), &dir.path().join("migrations")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for private in ["backups", "backups/migrations", "logs"] {
            let mode = fs::metadata(dir.path().join(private))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{private}");
        }
        assert!(
            first
                .iter()
                .filter(|a| matches!(a, InitAction::Created(_)))
                .count()
                == 4
        );
        let gi = fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert!(
            gi.starts_with("target/\n") && gi.contains("backups/\n") && gi.contains("logs/\n"),
            "{gi}"
        );
        let second = init_project(dir.path(), &dir.path().join("migrations")).unwrap();
        assert!(
            second.iter().all(|a| matches!(a, InitAction::Kept(_))),
            "{second:?}"
        );
        ConfigFile::parse(Path::new("pgshift.toml"), CONFIG_TEMPLATE).expect("template parses");
    }
}
