//! Configuration: `pgshift.toml`, the `.env` file, the guide's environment variables and the
//! command-line flags, resolved into one `Settings` value.
//!
//! Precedence: flags > environment variables > `.env` > `pgshift.toml` > defaults. Invalid
//! values are errors that say what is accepted; they never echo the value (it may be secret).

mod environment;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use environment::{Environment, UnknownEnvironment};

/// Default file name of the configuration.
pub const CONFIG_FILE: &str = "pgshift.toml";

/// A rule's level as configured: a finding level, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleLevel {
    /// The rule does not run.
    Off,
    /// Reported, never blocks.
    Info,
    /// Reported; blocks nothing (errors do).
    Warning,
    /// Blocks `migrate` and fails `validate`.
    Error,
}

/// What to do with a pending migration dated before already applied ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutOfOrder {
    /// Run it, quietly.
    Allow,
    #[default]
    /// Run it, with a warning (the default).
    Warn,
    /// Refuse the deploy.
    Deny,
}

/// `--dry-run` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DryRun {
    #[default]
    /// A real run.
    Off,
    /// Print the plan; change nothing.
    Plan,
    /// Execute pending migrations in a transaction that is rolled back.
    Rehearse,
}

/// `pgshift.toml`. Unknown keys are errors, so that a typo never silently falls back to a
/// default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    /// `[migrations]`
    pub migrations: MigrationsSection,
    #[serde(default)]
    /// `[tracking]`
    pub tracking: TrackingSection,
    #[serde(default)]
    /// `[backup]`
    pub backup: BackupSection,
    #[serde(default)]
    /// `[deploy]`
    pub deploy: DeploySection,
    #[serde(default)]
    /// `[log]`
    pub log: LogSection,
    #[serde(default)]
    /// `[supabase]`
    pub supabase: SupabaseSection,
    #[serde(default)]
    /// `[notify]`
    pub notify: NotifySection,
    #[serde(default)]
    /// `[diff]`
    pub diff: DiffSection,
    #[serde(default)]
    /// `[drift]`
    pub drift: DriftSection,
    /// psql variables (`:name`). Prefer environment variables for secrets.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Rule levels for every environment: `"dangerous/drop-table" = "error"`.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleLevel>,
    #[serde(default)]
    /// `[environments.<name>]`: what differs per environment.
    pub environments: BTreeMap<String, EnvironmentSection>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[migrations]`: where the files are and how their order is enforced.
pub struct MigrationsSection {
    /// The migrations directory, relative to the config file.
    pub dir: Option<PathBuf>,
    /// A pending migration dated before applied ones: allow, warn or deny.
    pub out_of_order: Option<OutOfOrder>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[tracking]`: where pgshift keeps its records.
pub struct TrackingSection {
    /// The schema of the tracking tables (default `public`).
    pub schema: Option<String>,
    /// The tracking table's name (default `schema_migrations`).
    pub table: Option<String>,
}

/// `[diff]`: what `pgshift diff` leaves out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffSection {
    /// Schemas never compared.
    #[serde(default)]
    pub ignore_schemas: Vec<String>,
}

/// `[drift]`: what `pgshift drift` leaves out besides a Supabase platform's schemas.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSection {
    /// Schemas never compared.
    #[serde(default)]
    pub ignore_schemas: Vec<String>,
    /// Objects never compared, by qualified name (`*` matches anything): `public.tmp_*`.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Compare the platform's schemas too (auth, storage, …): default false.
    pub include_platform: Option<bool>,
}

/// `[supabase]`: what pgshift keeps in step with a Supabase project.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupabaseSection {
    /// Also record each migration in the Supabase CLI's history
    /// (`supabase_migrations.schema_migrations`), creating it if missing. Default: only where
    /// that table already exists.
    pub history: Option<bool>,
    /// The project is a Supabase project: `pgshift test` loads the Supabase stub (roles,
    /// `auth`, `storage`) as `--supabase` does.
    pub project: Option<bool>,
}

/// `[notify]`: where a deploy's result is posted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    /// Name of the environment variable holding a Slack-compatible webhook URL (the URL holds
    /// a token: it belongs in a CI secret, not in this file).
    pub webhook_env: Option<String>,
}

/// `[log]`: where deploy logs go (`logs/migration_YYYYMMDD.log`, as in the guide).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// The folder of the deploy logs, relative to the config file (default `logs`).
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[backup]`: the backups taken before deploys.
pub struct BackupSection {
    /// Where backups go, relative to the config file (default `backups/migrations`).
    pub dir: Option<PathBuf>,
    /// How many backups to keep (default 10).
    pub keep: Option<u32>,
    /// The pg_dump to run (default: the one of the server's major version).
    pub pg_dump: Option<PathBuf>,
    /// The psql a restore runs (default: the one of the server's major version).
    pub psql: Option<PathBuf>,
    /// gzip level, 1 (fastest) to 9 (smallest); default 6, gzip's.
    pub compression: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[deploy]`: how migrations are applied.
pub struct DeploySection {
    /// Seconds per migration.
    pub timeout: Option<u64>,
    /// Seconds to wait for a table lock before a statement fails.
    pub lock_timeout: Option<u64>,
    /// The schemas an API (PostgREST) serves, for the RLS checks.
    pub exposed_schemas: Option<Vec<String>>,
    /// Files checked at once (default: the cores).
    pub parallel_jobs: Option<usize>,
    /// How long a migration's statement may wait for a table lock (`lock_timeout`): seconds,
    /// or a text such as `"500ms"`, `"5s"`, `"1min"`; `0` for no limit. Default: 5 s in staging
    /// and production, the server's setting in development.
    pub statement_lock_timeout: Option<DurationSetting>,
    /// How many times a migration that could not get a lock in time is tried again (default 3).
    pub lock_retries: Option<u32>,
    /// Send `NOTIFY pgrst, 'reload schema'` after changes when PostgREST's role exists.
    pub notify_pgrst: Option<bool>,
}

/// A duration in pgshift.toml: a number of seconds, or a text with its unit (`"500ms"`, `"5s"`,
/// `"2min"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum DurationSetting {
    /// Whole seconds.
    Seconds(u64),
    /// A number and a unit: `ms`, `s`, `min`.
    Text(String),
}

impl DurationSetting {
    /// The duration, or why the text is not one.
    pub fn duration(&self) -> Result<Duration, String> {
        match self {
            DurationSetting::Seconds(s) => Ok(Duration::from_secs(*s)),
            DurationSetting::Text(t) => {
                let t = t.trim();
                let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
                let (number, unit) = t.split_at(split);
                let n: u64 = number
                    .parse()
                    .map_err(|_| "is not a duration: write seconds (5) or a number with ms, s or min (\"500ms\")".to_string())?;
                match unit.trim() {
                    "ms" => Ok(Duration::from_millis(n)),
                    "" | "s" => Ok(Duration::from_secs(n)),
                    "min" => Ok(Duration::from_secs(n * 60)),
                    _ => Err(
                        "has an unknown unit: use ms, s or min (\"500ms\", \"5s\", \"2min\")"
                            .into(),
                    ),
                }
            }
        }
    }
}

/// `[environments.<name>]`: settings for one environment, over the global ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSection {
    /// Name of the environment variable holding this environment's database URL.
    pub database_url_env: Option<String>,
    /// Seconds per migration.
    pub timeout: Option<u64>,
    /// Seconds to wait for another deployer.
    pub lock_timeout: Option<u64>,
    /// Deploy without a backup.
    pub skip_backup: Option<bool>,
    /// Backups to keep.
    pub backup_keep: Option<u32>,
    /// The schemas an API serves in this environment.
    pub exposed_schemas: Option<Vec<String>>,
    #[serde(default)]
    /// Rule levels for this environment, over the global `[rules]`.
    pub rules: BTreeMap<String, RuleLevel>,
}

/// A value that must never be printed (a database URL may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that must never be printed.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The value itself, for the one place that needs it (connecting).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The database URL and where it came from (`--database-url`, `DATABASE_URL`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// The URL (it may hold a password).
    pub url: Secret,
    /// Where it came from, for messages.
    pub source: String,
}

impl DatabaseUrl {
    /// A URL given by a program (the library API).
    pub fn new(url: &str) -> DatabaseUrl {
        DatabaseUrl {
            url: Secret::new(url),
            source: "the program".into(),
        }
    }
}

/// Flags from the command line; `None`/`false` when not given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--dir`
    pub dir: Option<PathBuf>,
    /// `--config`
    pub config: Option<PathBuf>,
    /// `--env`
    pub env: Option<String>,
    /// `--database-url`
    pub database_url: Option<String>,
    /// `--json`
    pub json: bool,
    /// `--debug`
    pub debug: bool,
    /// `--dry-run[=rehearse]`
    pub dry_run: Option<DryRun>,
    /// `--force`
    pub force: bool,
    /// `--skip-backup`
    pub skip_backup: bool,
    /// `--timeout`
    pub timeout: Option<u64>,
    /// `--lock-timeout`
    pub lock_timeout: Option<u64>,
    /// `--confirm`
    pub confirm: Option<String>,
    /// `--notify-webhook`
    pub notify_webhook: Option<String>,
    /// `--retry-failed`
    pub retry_failed: bool,
}

/// Everything a command needs to know, resolved once: what this run is (environment, dry run,
/// force…), then one value per section of `pgshift.toml`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file read, if any.
    pub config_path: Option<PathBuf>,
    /// The environment (ENVIRONMENT, `--env`).
    pub environment: Environment,
    /// The database's URL and where it came from.
    pub database_url: Option<DatabaseUrl>,
    /// How this run goes: dry run, force, debug, output, confirmation.
    pub run: RunSettings,
    /// `[migrations]`: where the files are, and the order's rule.
    pub migrations: MigrationsSettings,
    /// `[tracking]`: where the records are kept.
    pub tracking: crate::db::tracking::Tracking,
    /// `[deploy]` (and the environment's section): how migrations are applied.
    pub deploy: DeploySettings,
    /// `[backup]`: the backups taken before deploys.
    pub backup: BackupSettings,
    /// `[log]`: the folder of the deploy logs.
    pub log_dir: PathBuf,
    /// `[supabase] history`: `Some(true)` creates the Supabase CLI's history table, `Some(false)`
    /// never writes it, `None` writes it where it exists.
    pub supabase_history: Option<bool>,
    /// `[supabase] project`: `pgshift test` loads the Supabase stub without `--supabase`.
    pub supabase_project: bool,
    /// `[diff]`
    pub diff: DiffSection,
    /// `[drift]`
    pub drift: DriftSection,
    /// Where the deploy's result is posted: `--notify-webhook`, else the variable
    /// `[notify] webhook_env` names.
    pub notify_webhook: Option<Secret>,
    /// Rule levels: global, then this environment's.
    pub rules: BTreeMap<String, RuleLevel>,
    /// psql variables from `[variables]` (prefer the environment for secrets).
    pub variables: BTreeMap<String, String>,
}

/// How this run goes, from flags and the guide's variables.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Plan only, rehearse, or run (DRY_RUN).
    pub dry_run: DryRun,
    /// Production allowed, dangerous operations let through (FORCE_RUN).
    pub force: bool,
    /// Report every statement with its time (DEBUG).
    pub debug: bool,
    /// Machine-readable output.
    pub json: bool,
    /// The database's name, confirming a deploy without a prompt (CONFIRM).
    pub confirm: Option<String>,
    /// Run a failed repeatable migration again even though its file is unchanged.
    pub retry_failed: bool,
}

/// `[migrations]`.
#[derive(Debug, Clone)]
pub struct MigrationsSettings {
    /// The migrations directory.
    pub dir: PathBuf,
    /// What to do with a pending migration dated before applied ones.
    pub out_of_order: OutOfOrder,
}

/// `[deploy]`, with the environment's section over it and the guide's variables over both.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// No backup before deploying (SKIP_BACKUP).
    pub skip_backup: bool,
    /// How many things at once: files checked, fleet targets (PARALLEL_JOBS).
    pub parallel_jobs: usize,
    /// Each migration's `statement_timeout` (TIMEOUT).
    pub timeout: Duration,
    /// How long to wait for another deployer's lock.
    pub lock_timeout: Duration,
    /// `lock_timeout` for the migrations' statements (`statement_lock_timeout`; 5 s by default
    /// in staging and production).
    pub statement_lock_timeout: Option<Duration>,
    /// How many times a transactional migration that hit its `lock_timeout` is tried again.
    pub lock_retries: u32,
    /// Tell PostgREST to reload its schema cache after changes.
    pub notify_pgrst: bool,
    /// The schemas an API serves, for the RLS checks.
    pub exposed_schemas: Vec<String>,
    /// The exposed schemas come from the config (not the default): health checks them even
    /// where no API is seen.
    pub exposed_configured: bool,
}

/// `[backup]`.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// Where backups go.
    pub dir: PathBuf,
    /// How many backups to keep.
    pub keep: u32,
    /// The pg_dump to run (default: the one of the server's major version).
    pub pg_dump: Option<PathBuf>,
    /// The psql a restore runs (default: the one of the server's major version).
    pub psql: Option<PathBuf>,
    /// gzip level of backups, 1 to 9.
    pub compression: u32,
}

/// A configuration problem. Messages name the setting and its source, never its value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    /// The config file cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    #[error("invalid {}: {message}", path.display())]
    /// The config file is not valid TOML, or has an unknown key.
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error, with its line.
        message: String,
    },
    #[error("{name} ({origin}) {problem}")]
    /// A setting has a value pgshift does not accept.
    Invalid {
        /// The setting (`timeout`, `ENVIRONMENT`, …).
        name: String,
        /// Where it was set (`[deploy] in pgshift.toml`, `the environment`, …).
        origin: String,
        /// What is wrong with it (never the value).
        problem: String,
    },
}

/// Where variables come from: the process environment, then the `.env` file.
#[derive(Debug, Clone, Default)]
pub struct VarSource {
    process: HashMap<String, String>,
    dotenv: HashMap<String, String>,
    dotenv_path: Option<PathBuf>,
}

impl VarSource {
    /// The real environment and `.env` in `dir` (if present).
    pub fn from_process(dir: &Path) -> Result<VarSource, ConfigError> {
        VarSource::new(std::env::vars().collect(), dir)
    }

    /// `process` as the environment, and `.env` in `dir` (if present).
    pub fn new(process: HashMap<String, String>, dir: &Path) -> Result<VarSource, ConfigError> {
        let path = dir.join(".env");
        let mut dotenv = HashMap::new();
        let mut dotenv_path = None;
        if path.is_file() {
            let iter = dotenvy::from_path_iter(&path).map_err(|e| dotenv_error(&path, e))?;
            for item in iter {
                let (k, v) = item.map_err(|e| dotenv_error(&path, e))?;
                dotenv.insert(k, v);
            }
            dotenv_path = Some(path);
        }
        Ok(VarSource {
            process,
            dotenv,
            dotenv_path,
        })
    }

    /// The value of `name` and a description of where it was found.
    pub fn get(&self, name: &str) -> Option<(&str, String)> {
        if let Some(v) = self.process.get(name) {
            return Some((v, "environment variable".into()));
        }
        let v = self.dotenv.get(name)?;
        let path = self.dotenv_path.as_deref().unwrap_or(Path::new(".env"));
        Some((v, format!("in {}", path.display())))
    }
}

fn dotenv_error(path: &Path, e: dotenvy::Error) -> ConfigError {
    let message = match e {
        // The line's text may hold a secret: give its number only.
        dotenvy::Error::LineParse(line, index) => {
            let number = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.lines().position(|l| l.trim_end() == line.trim_end()))
                .map_or(String::new(), |n| format!("line {}, ", n + 1));
            format!("cannot parse {number}character {}: write NAME=value, quoting values with spaces (the line is not shown)", index + 1)
        }
        dotenvy::Error::Io(e) => e.to_string(),
        other => other
            .to_string()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string(),
    };
    ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    }
}

const BOOLEANS: &str = "accepted: true, false, 1, 0, yes, no";

/// Parses the guide's booleans.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn invalid(name: &str, origin: String, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_string(),
        origin,
        problem: problem.into(),
    }
}

fn env_bool(vars: &VarSource, name: &str) -> Result<Option<bool>, ConfigError> {
    match vars.get(name) {
        None => Ok(None),
        Some((v, src)) => parse_bool(v)
            .map(Some)
            .ok_or_else(|| invalid(name, src, format!("is not a boolean; {BOOLEANS}"))),
    }
}

/// The most seconds a server timeout takes: PostgreSQL's settings hold at most 2147483647 ms.
pub const MAX_SECONDS: u64 = 2_147_483;

/// Checks a number of seconds from any source against the same bounds.
fn seconds(name: &str, origin: String, value: u64, min: u64) -> Result<u64, ConfigError> {
    if (min..=MAX_SECONDS).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            name,
            origin,
            format!("must be a whole number of seconds from {min} to {MAX_SECONDS} (PostgreSQL's limit for timeouts)"),
        ))
    }
}

/// A number of seconds from an environment variable, checked as `seconds` does.
fn env_seconds(vars: &VarSource, name: &str, min: u64) -> Result<Option<u64>, ConfigError> {
    match vars.get(name) {
        None => Ok(None),
        Some((v, src)) => match v.trim().parse::<u64>() {
            Ok(n) => seconds(name, src, n, min).map(Some),
            Err(_) => Err(invalid(
                name,
                src,
                format!("is not a number of seconds; accepted: a whole number from {min} to {MAX_SECONDS}, e.g. 300"),
            )),
        },
    }
}

/// The first value given, checked with its origin: a flag, then an environment section of the
/// config, then its global section.
fn first_seconds(
    candidates: [(Option<u64>, &str, String); 3],
    min: u64,
) -> Result<Option<u64>, ConfigError> {
    for (value, name, origin) in candidates {
        if let Some(v) = value {
            return seconds(name, origin, v, min).map(Some);
        }
    }
    Ok(None)
}

/// A PostgreSQL identifier pgshift builds names from (`<table>_events_append_only` must fit
/// the server's 63 bytes, or it would be cut and no longer found).
fn identifier(name: &str, origin: String, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.is_empty() || value.len() > max || value.contains('\0') {
        return Err(invalid(
            name,
            origin,
            format!("must be a name of 1 to {max} bytes"),
        ));
    }
    Ok(())
}

/// A TOML error as `line N: what`, naming settings but never quoting the file: a line may hold
/// a password or a psql variable's value (toml's own message shows the line, and serde's
/// quotes the rejected value).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let key = line
        .and_then(|n| text.lines().nth(n - 1))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-./\" ".contains(c))
        });
    let message = e.message();
    let expected = message
        .split_once(", expected ")
        .map(|(_, x)| {
            x.trim_end_matches('.')
                .replace("u64", "a whole number")
                .replace("u32", "a whole number")
                .replace("usize", "a whole number")
                .replace("a sequence", "a list")
        })
        .unwrap_or_else(|| "another value".into());
    let what = if let Some((field, _)) = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split_once('`'))
    {
        format!("unknown setting `{field}`; accepted: {expected}")
    } else if message.starts_with("missing field") || message.starts_with("duplicate key") {
        message.lines().next().unwrap_or("").to_string()
    } else if [
        "invalid type",
        "invalid value",
        "unknown variant",
        "invalid length",
    ]
    .iter()
    .any(|p| message.starts_with(p))
    {
        match key {
            Some(k) => {
                format!("the value of {k} is not accepted (it is not shown); expected {expected}")
            }
            None => format!("a value is not accepted (it is not shown); expected {expected}"),
        }
    } else {
        "the line is not valid TOML (it is not shown): write `key = value`, with text in double quotes".to_string()
    };
    match line {
        Some(n) => format!("line {n}: {what}"),
        None => what,
    }
}

impl ConfigFile {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Parses and checks the text of a config file (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: toml_error(text, &e),
        })?;
        for name in file.environments.keys() {
            if name.parse::<Environment>().is_err() {
                return Err(ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: format!(
                        "[environments.{name}] is not a known environment; accepted: {}",
                        Environment::ACCEPTED
                    ),
                });
            }
        }
        Ok(file)
    }

    fn section(&self, env: Environment) -> EnvironmentSection {
        self.environments
            .iter()
            .find(|(k, _)| k.parse::<Environment>() == Ok(env))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

impl Settings {
    /// Paths under `cwd` made relative to it (`.` for `cwd` itself): shorter in messages, and
    /// the same files.
    pub fn relative_to(&mut self, cwd: &Path) {
        for p in [
            &mut self.migrations.dir,
            &mut self.backup.dir,
            &mut self.log_dir,
        ] {
            if let Ok(rel) = p.strip_prefix(cwd) {
                *p = if rel.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    rel.to_path_buf()
                };
            }
        }
    }

    /// Whether the deploys that meet traffic (staging and production) run every migration
    /// under a `lock_timeout`: always, unless `[deploy] statement_lock_timeout = 0` turns it
    /// off (the setting is the same in every environment; development sets none by default,
    /// having no traffic to stall).
    pub fn traffic_has_lock_timeout(&self) -> bool {
        self.deploy
            .statement_lock_timeout
            .is_none_or(|t| !t.is_zero())
    }

    /// The value of psql variable `name` (`:name` in a migration): from `fixed` (`--var`), the
    /// environment or `.env` (its name in capitals), then `[variables]`. Every value found is
    /// remembered as a secret: it is never printed.
    pub fn variable(
        &self,
        vars: &VarSource,
        fixed: &BTreeMap<String, String>,
        name: &str,
    ) -> Option<String> {
        let value = fixed
            .get(name)
            .cloned()
            .or_else(|| vars.get(&name.to_uppercase()).map(|(v, _)| v.to_string()))
            .or_else(|| self.variables.get(name).cloned());
        if let Some(v) = &value {
            crate::sanitize::redact::remember(v);
        }
        value
    }

    /// The defaults for the migrations in `dir` and `environment`, with nothing read from the
    /// environment, `.env` or a config file: for programs that set what they need (the library
    /// API). Backups and logs go beside `dir`.
    pub fn defaults(dir: &Path, environment: Environment) -> Settings {
        let flags = Flags {
            dir: Some(dir.to_path_buf()),
            env: Some(environment.to_string()),
            ..Flags::default()
        };
        let base = dir.parent().unwrap_or(dir);
        // A folder that holds no pgshift.toml: nothing is read from a config file.
        let nowhere = dir.join(".pgshift-defaults");
        let mut s = Settings::resolve(&flags, &VarSource::default(), &nowhere)
            .unwrap_or_else(|_| unreachable!("the defaults are valid"));
        s.config_path = None;
        s.backup.dir = base.join("backups/migrations");
        s.log_dir = base.join("logs");
        s
    }

    /// Resolves settings from flags, the variables, the config file and defaults. `cwd` is where
    /// `pgshift.toml` is looked for when `--config` is not given. One resolver per section.
    pub fn resolve(flags: &Flags, vars: &VarSource, cwd: &Path) -> Result<Settings, ConfigError> {
        let (config_path, file) = match &flags.config {
            Some(p) => (Some(p.clone()), ConfigFile::load(p)?),
            None => {
                let p = cwd.join(CONFIG_FILE);
                if p.is_file() {
                    let file = ConfigFile::load(&p)?;
                    (Some(p), file)
                } else {
                    (None, ConfigFile::default())
                }
            }
        };
        // Relative paths in the config are relative to the config file.
        let base = config_path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.to_path_buf());
        let environment = match (&flags.env, vars.get("ENVIRONMENT")) {
            (Some(e), _) => e
                .parse()
                .map_err(|e: UnknownEnvironment| invalid("--env", "flag".into(), e.to_string()))?,
            (None, Some((v, src))) => v
                .parse()
                .map_err(|e: UnknownEnvironment| invalid("ENVIRONMENT", src, e.to_string()))?,
            (None, None) => Environment::Development,
        };
        let ctx = Sources {
            flags,
            vars,
            file: &file,
            section: file.section(environment),
            environment,
            config_path: config_path.as_deref(),
        };
        let mut rules = file.rules.clone();
        rules.extend(ctx.section.rules.clone());
        Ok(Settings {
            environment,
            database_url: resolve_database_url(flags, vars, &ctx.section),
            run: ctx.run()?,
            migrations: MigrationsSettings {
                dir: flags
                    .dir
                    .clone()
                    .or_else(|| file.migrations.dir.as_ref().map(|d| base.join(d)))
                    .unwrap_or_else(|| cwd.join("migrations")),
                out_of_order: file.migrations.out_of_order.unwrap_or_default(),
            },
            tracking: ctx.tracking()?,
            deploy: ctx.deploy()?,
            backup: ctx.backup(&base)?,
            log_dir: base.join(
                file.log
                    .dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("logs")),
            ),
            supabase_history: file.supabase.history,
            supabase_project: file.supabase.project.unwrap_or(false),
            diff: file.diff.clone(),
            drift: file.drift.clone(),
            notify_webhook: ctx.notify_webhook(),
            rules,
            variables: file.variables.clone(),
            config_path,
        })
    }
}

/// What every section's resolver reads: the flags, the variables, the file and this
/// environment's section of it.
struct Sources<'a> {
    flags: &'a Flags,
    vars: &'a VarSource,
    file: &'a ConfigFile,
    section: EnvironmentSection,
    environment: Environment,
    config_path: Option<&'a Path>,
}

impl Sources<'_> {
    /// `[section] in pgshift.toml`, for messages.
    fn in_file(&self, section: &str) -> String {
        match self.config_path {
            Some(p) => format!("[{section}] in {}", p.display()),
            None => format!("[{section}]"),
        }
    }

    /// The environment's own section, for messages.
    fn in_env_section(&self) -> String {
        self.in_file(&format!("environments.{}", self.environment))
    }

    fn run(&self) -> Result<RunSettings, ConfigError> {
        let (flags, vars) = (self.flags, self.vars);
        let dry_run = match flags.dry_run {
            Some(d) => d,
            None => match vars.get("DRY_RUN") {
                None => DryRun::Off,
                Some((v, _)) if v.trim().eq_ignore_ascii_case("rehearse") => DryRun::Rehearse,
                Some((v, src)) => match parse_bool(v) {
                    Some(true) => DryRun::Plan,
                    Some(false) => DryRun::Off,
                    None => {
                        return Err(invalid(
                            "DRY_RUN",
                            src,
                            format!("is not a boolean; {BOOLEANS}, rehearse"),
                        ))
                    }
                },
            },
        };
        Ok(RunSettings {
            dry_run,
            force: flags.force || env_bool(vars, "FORCE_RUN")?.unwrap_or(false),
            debug: flags.debug || env_bool(vars, "DEBUG")?.unwrap_or(false),
            json: flags.json,
            confirm: flags
                .confirm
                .clone()
                .or_else(|| vars.get("CONFIRM").map(|(v, _)| v.to_string())),
            retry_failed: flags.retry_failed,
        })
    }

    fn tracking(&self) -> Result<crate::db::tracking::Tracking, ConfigError> {
        let t = &self.file.tracking;
        let schema = t.schema.clone().unwrap_or_else(|| "public".into());
        identifier("schema", self.in_file("tracking"), &schema, 63)?;
        let table = t
            .table
            .clone()
            .unwrap_or_else(|| "schema_migrations".into());
        identifier(
            "table",
            self.in_file("tracking"),
            &table,
            63 - "_events_append_only".len(),
        )?;
        Ok(crate::db::tracking::Tracking::new(&schema, &table))
    }

    fn deploy(&self) -> Result<DeploySettings, ConfigError> {
        let (flags, vars, deploy, section) =
            (self.flags, self.vars, &self.file.deploy, &self.section);
        let skip_backup = flags.skip_backup
            || env_bool(vars, "SKIP_BACKUP")?
                .or(section.skip_backup)
                .unwrap_or(false);
        let parallel_jobs = match vars.get("PARALLEL_JOBS") {
            Some((v, src)) => (v.trim().parse::<usize>().ok(), "PARALLEL_JOBS", src),
            None => (
                deploy.parallel_jobs,
                "parallel_jobs",
                self.in_file("deploy"),
            ),
        };
        let parallel_jobs = match parallel_jobs {
            (Some(n), _, _) if (1..=1024).contains(&n) => n,
            (None, "parallel_jobs", _) => default_jobs(),
            (_, name, origin) => {
                return Err(invalid(
                    name,
                    origin,
                    "is not a number of jobs; accepted: a whole number from 1 to 1024",
                ))
            }
        };
        let timeout = match (flags.timeout, env_seconds(vars, "TIMEOUT", 1)?) {
            (Some(t), _) => seconds("--timeout", "flag".into(), t, 1)?,
            (None, Some(t)) => t,
            (None, None) => first_seconds(
                [
                    (section.timeout, "timeout", self.in_env_section()),
                    (deploy.timeout, "timeout", self.in_file("deploy")),
                    (None, "", String::new()),
                ],
                1,
            )?
            .unwrap_or(300),
        };
        let lock_timeout = first_seconds(
            [
                (flags.lock_timeout, "--lock-timeout", "flag".into()),
                (section.lock_timeout, "lock_timeout", self.in_env_section()),
                (deploy.lock_timeout, "lock_timeout", self.in_file("deploy")),
            ],
            0,
        )?
        .unwrap_or(60);
        let lock_retries = deploy.lock_retries.unwrap_or(3);
        if lock_retries > 100 {
            return Err(invalid(
                "lock_retries",
                self.in_file("deploy"),
                "must be 100 or fewer",
            ));
        }
        let (exposed_schemas, exposed_from) =
            match (&section.exposed_schemas, &deploy.exposed_schemas) {
                (Some(s), _) => (s.clone(), self.in_env_section()),
                (None, Some(s)) => (s.clone(), self.in_file("deploy")),
                (None, None) => (vec!["public".into()], String::new()),
            };
        for s in &exposed_schemas {
            identifier("exposed_schemas", exposed_from.clone(), s, 63)?;
        }
        Ok(DeploySettings {
            skip_backup,
            parallel_jobs,
            timeout: Duration::from_secs(timeout),
            lock_timeout: Duration::from_secs(lock_timeout),
            statement_lock_timeout: self.statement_lock_timeout()?,
            lock_retries,
            notify_pgrst: deploy.notify_pgrst.unwrap_or(true),
            exposed_configured: !exposed_from.is_empty(),
            exposed_schemas,
        })
    }

    /// Traffic-safe by default where traffic is: a DDL that waits for a busy table gives up
    /// after 5 s (and is tried again) instead of queueing every query behind it. 0: no limit,
    /// PostgreSQL's own meaning of lock_timeout = 0.
    fn statement_lock_timeout(&self) -> Result<Option<Duration>, ConfigError> {
        Ok(match &self.file.deploy.statement_lock_timeout {
            Some(d) => {
                let t = d.duration().map_err(|problem| {
                    invalid("statement_lock_timeout", self.in_file("deploy"), problem)
                })?;
                // PostgreSQL's lock_timeout is an int of milliseconds.
                if t.as_millis() > i32::MAX as u128 {
                    return Err(invalid(
                        "statement_lock_timeout",
                        self.in_file("deploy"),
                        "must be at most 2147483 s (PostgreSQL's limit), or 0 for none",
                    ));
                }
                Some(t)
            }
            None if self.environment == Environment::Development => None,
            None => Some(Duration::from_secs(5)),
        })
    }

    fn backup(&self, base: &Path) -> Result<BackupSettings, ConfigError> {
        let backup = &self.file.backup;
        let keep = match (self.section.backup_keep, backup.keep) {
            (Some(0), _) => {
                return Err(invalid(
                    "backup_keep",
                    self.in_env_section(),
                    "must be at least 1 (the newest backup is always kept)",
                ))
            }
            (None, Some(0)) => {
                return Err(invalid(
                    "keep",
                    self.in_file("backup"),
                    "must be at least 1 (the newest backup is always kept)",
                ))
            }
            (k, g) => k.or(g).unwrap_or(10),
        };
        let compression = match backup.compression {
            Some(c) if !(1..=9).contains(&c) => {
                return Err(invalid(
                    "compression",
                    self.in_file("backup"),
                    "must be a gzip level from 1 (fastest) to 9 (smallest)",
                ))
            }
            c => c.unwrap_or(6),
        };
        Ok(BackupSettings {
            dir: base.join(
                backup
                    .dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("backups/migrations")),
            ),
            keep,
            pg_dump: backup.pg_dump.as_ref().map(|p| base.join(p)),
            psql: backup.psql.as_ref().map(|p| base.join(p)),
            compression,
        })
    }

    /// `--notify-webhook`, else the variable `[notify] webhook_env` names; a CI secret that
    /// is not set for this run (a fork's pull request) is no webhook, and no message.
    fn notify_webhook(&self) -> Option<Secret> {
        match (&self.flags.notify_webhook, &self.file.notify.webhook_env) {
            (Some(url), _) => Some(Secret::new(url.clone())),
            (None, Some(name)) => match self.vars.get(name) {
                Some((v, _)) if !v.trim().is_empty() => Some(Secret::new(v)),
                _ => None,
            },
            (None, None) => None,
        }
    }
}

fn default_jobs() -> usize {
    crate::parallel::cores()
}

/// `--database-url`, else the variable the environment's config names (default
/// `DATABASE_URL`), else `SUPABASE_DB_URL`.
fn resolve_database_url(
    flags: &Flags,
    vars: &VarSource,
    section: &EnvironmentSection,
) -> Option<DatabaseUrl> {
    if let Some(url) = &flags.database_url {
        return Some(DatabaseUrl {
            url: Secret::new(url.clone()),
            source: "--database-url".into(),
        });
    }
    let names = match &section.database_url_env {
        Some(name) => vec![name.as_str()],
        None => vec!["DATABASE_URL", "SUPABASE_DB_URL"],
    };
    names.into_iter().find_map(|name| {
        vars.get(name).map(|(v, src)| DatabaseUrl {
            url: Secret::new(v),
            source: format!("{name} ({src})"),
        })
    })
}

#[cfg(test)]
mod tests;
