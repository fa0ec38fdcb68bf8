//! The library API: what the guide's TypeScript `MigrationTracker` and `MigrationValidator`
//! classes offered, as Rust types. A program embeds pgshift's checks and deploys with them (an
//! admin tool, a test harness, a deploy step of its own) without running the command line.
//!
//! - [`MigrationValidator`]: checks a migrations directory for an environment (no database),
//!   gives the execution order, and renders the Markdown report.
//! - [`MigrationTracker`]: one database. Pending migrations, executing them with an event
//!   callback (the same [`Event`]s the command line prints), the history, and the health check.
//!
//! The command line is built on the same functions. Settings come from the same places:
//! `pgshift.toml`, `.env`, and the environment (DATABASE_URL, ENVIRONMENT, FORCE_RUN, …).
//!
//! ```
//! use pgshift::api::MigrationValidator;
//! use pgshift::config::Environment;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("2026-01-01_users.sql"), "CREATE TABLE users (id bigint PRIMARY KEY);")?;
//! std::fs::write(
//!     dir.path().join("2026-01-01_posts.sql"),
//!     "-- @depends-on: 2026-01-01_users\nCREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users);",
//! )?;
//! let validator = MigrationValidator::new(dir.path(), Environment::Development);
//! let report = validator.validate_all()?;
//! assert!(!report.has_errors());
//! let order = validator.execution_order()?;
//! let versions: Vec<_> = order.steps.iter().map(|s| s.version.as_str()).collect();
//! assert_eq!(versions, ["2026-01-01_users", "2026-01-01_posts"]);
//! assert!(validator.markdown_report(&report).contains("# Migration Validation Report"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{Environment, Flags, RuleLevel, Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::db::tracking::{AppliedRow, Tracking};
use crate::deploy::status::{State, Status};
use crate::deploy::{DeployError, Event, Outcome};
use crate::diagnostic::Finding;
use crate::health::{HealthOptions, Report as HealthReport};
use crate::migration::{LoadError, MigrationSet};
use crate::plan::Plan;
use crate::report::{render, Format};
use crate::validate::Report;

/// Why an API call could not do its job. Every message says what to do; none holds a password
/// or a variable's value.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The migrations directory cannot be read.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The files cannot be ordered (a cycle, a missing dependency, bad names): the findings say
    /// where.
    #[error("the migrations cannot be ordered: {}", .0.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; "))]
    Plan(Vec<Finding>),
    /// pgshift.toml, `.env` or a variable is invalid.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// No database was given, or its connection string cannot be used.
    #[error("{message}")]
    Connection {
        /// What is wrong, naming where the URL came from, never its password.
        message: String,
        /// What to do.
        help: String,
    },
    /// Connecting, locking, the gate, or a statement failed.
    #[error("{0}")]
    Deploy(#[from] DeployError),
    /// Validation found errors; nothing was run. The report holds them.
    #[error("validation found {} error(s); nothing was run", .0.counts().errors)]
    Invalid(Box<Report>),
}

/// libpq's variables that name a database by themselves (`psql` with no argument connects
/// with them).
const LIBPQ_TARGET: [&str; 4] = ["PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE"];

/// The database `settings` name, as the command line connects to it: the URL (`--database-url`,
/// DATABASE_URL, the environment's `database_url_env`, SUPABASE_DB_URL) completed by libpq's
/// environment (PGPASSWORD, PGSSLMODE, …), the service file and the password file; or libpq's
/// environment alone when it names a database (PGHOST, PGDATABASE, PGSERVICE); or a Supabase
/// project's URL with its database password. Supabase's transaction pooler is refused (it
/// cannot hold a deploy's lock or session settings). The spec's `warnings` say what was
/// ignored (a password file readable by others, …).
pub fn connection(settings: &Settings, vars: &VarSource) -> Result<ConnectionSpec, ApiError> {
    use crate::supabase::connection::{
        direct_connection, refuse_transaction_pooler, service_key_only,
    };
    let fail = |message: String, help: String| ApiError::Connection { message, help };
    let env = |k: &str| vars.get(k).map(|(v, _)| v.to_string());
    let supabase_direct;
    let (url, source) = match &settings.database_url {
        Some(u) => (Some(u.url.expose()), u.source.clone()),
        None if LIBPQ_TARGET.iter().any(|k| env(k).is_some()) => {
            (None, "libpq's environment (PGHOST, PGDATABASE, PGSERVICE…)".to_string())
        }
        None => match (env("SUPABASE_URL"), env("SUPABASE_DB_PASSWORD")) {
            (Some(project), Some(password)) => {
                crate::sanitize::redact::remember(&password);
                supabase_direct = direct_connection(&project, &password).map_err(|(m, h)| fail(m, h))?;
                (
                    Some(supabase_direct.as_str()),
                    "SUPABASE_URL + SUPABASE_DB_PASSWORD".to_string(),
                )
            }
            (Some(_), None)
                if env("SUPABASE_SERVICE_KEY").is_some()
                    || env("SUPABASE_SERVICE_ROLE_KEY").is_some() =>
            {
                let (m, h) = service_key_only();
                return Err(fail(m, h));
            }
            _ => {
                return Err(fail(
                    "no database given: set DATABASE_URL, or pass --database-url".into(),
                    "e.g. DATABASE_URL=postgresql://user@localhost:5432/app (the password can come from PGPASSWORD or ~/.pgpass); libpq's PGHOST/PGDATABASE/PGSERVICE work too; for Supabase, SUPABASE_DB_URL, or SUPABASE_URL with SUPABASE_DB_PASSWORD; `pgshift test` needs none: it starts its own PostgreSQL".into(),
                ))
            }
        },
    };
    if let Some(u) = url {
        crate::sanitize::redact::remember(u);
    }
    let spec = ConnectionSpec::resolve(url, &env)
        .map_err(|e| fail(format!("{} (from {source})", e.message), e.help))?;
    if let Some((message, help)) = refuse_transaction_pooler(&spec) {
        return Err(fail(format!("{message} (from {source})"), help));
    }
    Ok(spec)
}

/// Checks a migrations directory for an environment, without a database: the guide's
/// `MigrationValidator`.
#[derive(Debug, Clone)]
pub struct MigrationValidator {
    dir: PathBuf,
    environment: Environment,
    exposed_schemas: Vec<String>,
    rules: BTreeMap<String, RuleLevel>,
    parallel_jobs: usize,
    variables: BTreeMap<String, String>,
    only: Vec<crate::validate::Check>,
    families: Vec<crate::lint::Family>,
    lock_timeout_configured: bool,
    exposed_configured: bool,
}

impl MigrationValidator {
    /// A validator of `dir` with the default rules of `environment` (stricter in staging and
    /// production), `public` as the exposed schema when the set shows an API (grants to
    /// `anon`, `auth.uid()`…) and every core used.
    pub fn new(dir: impl AsRef<Path>, environment: Environment) -> MigrationValidator {
        MigrationValidator {
            dir: dir.as_ref().to_path_buf(),
            environment,
            exposed_schemas: vec!["public".into()],
            rules: BTreeMap::new(),
            parallel_jobs: crate::parallel::cores(),
            variables: BTreeMap::new(),
            only: Vec::new(),
            families: Vec::new(),
            // Without a configuration, staging and production deploys set 5 s.
            lock_timeout_configured: true,
            exposed_configured: false,
        }
    }

    /// A validator as the command line would make it from `settings` (pgshift.toml's rule
    /// levels, exposed schemas and `[variables]`).
    pub fn from_settings(settings: &Settings) -> MigrationValidator {
        MigrationValidator {
            dir: settings.migrations.dir.clone(),
            environment: settings.environment,
            exposed_schemas: settings.deploy.exposed_schemas.clone(),
            rules: settings.rules.clone(),
            parallel_jobs: settings.deploy.parallel_jobs,
            variables: settings.variables.clone(),
            only: Vec::new(),
            families: Vec::new(),
            lock_timeout_configured: settings.traffic_has_lock_timeout(),
            exposed_configured: settings.deploy.exposed_configured,
        }
    }

    /// Reports only these checks (file names, headers, syntax, dependencies, lint), as
    /// `validate --only` does.
    pub fn only(mut self, checks: &[crate::validate::Check]) -> MigrationValidator {
        self.only = checks.to_vec();
        self
    }

    /// Runs only these lint families (`scan` runs secrets and dangerous operations).
    pub fn families(mut self, families: &[crate::lint::Family]) -> MigrationValidator {
        self.families = families.to_vec();
        self
    }

    /// Sets a rule's level (`"dangerous/drop-table"`, [`RuleLevel::Error`]), as `[rules]` does.
    pub fn rule(mut self, id: &str, level: RuleLevel) -> MigrationValidator {
        self.rules.insert(id.to_string(), level);
        self
    }

    /// Gives a psql variable (`:name`) a value, as `--var` does. Validation only checks that
    /// a value exists; it never prints one.
    pub fn variable(mut self, name: &str, value: &str) -> MigrationValidator {
        self.variables.insert(name.to_string(), value.to_string());
        self
    }

    /// Every check: file names, headers, SQL syntax (PostgreSQL's parser), psql variables,
    /// dependencies and the lint rules. The report holds every finding, in file and line order.
    pub fn validate_all(&self) -> Result<Report, ApiError> {
        self.validate_with(&|name: &str| self.variables.get(name).cloned())
    }

    /// As [`MigrationValidator::validate_all`], with psql variables' values from `value_of`
    /// (the command line looks in the environment, `.env` and `[variables]`).
    pub fn validate_with(
        &self,
        value_of: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Report, ApiError> {
        self.check_rules()?;
        Ok(crate::validate::validate(&self.options(value_of))?)
    }

    /// As [`MigrationValidator::validate_with`], each finding handed to `emit` as soon as it
    /// is known to be the next in file and line order, rather than kept: the report returned
    /// holds none (a set of thousands of files with findings in each is checked in the memory
    /// of a few).
    pub fn validate_each(
        &self,
        value_of: &(dyn Fn(&str) -> Option<String> + Sync),
        emit: &mut dyn FnMut(crate::diagnostic::Finding),
    ) -> Result<Report, ApiError> {
        self.check_rules()?;
        Ok(crate::validate::validate_each(
            &self.options(value_of),
            emit,
        )?)
    }

    /// As [`MigrationValidator::validate_with`], on a set already loaded (the one a deploy is
    /// about to apply: the files are not read again).
    pub fn validate_loaded(
        &self,
        set: &crate::migration::MigrationSet,
        value_of: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Report, ApiError> {
        self.check_rules()?;
        Ok(crate::validate::validate_set(set, &self.options(value_of)))
    }

    fn check_rules(&self) -> Result<(), ApiError> {
        crate::validate::check_rule_config(&self.rules).map_err(|message| {
            ApiError::Config(crate::config::ConfigError::Invalid {
                name: "[rules]".into(),
                origin: "pgshift.toml".into(),
                problem: message,
            })
        })
    }

    fn options<'a>(
        &self,
        value_of: &'a (dyn Fn(&str) -> Option<String> + Sync),
    ) -> crate::validate::Options<'a> {
        crate::validate::Options {
            dir: self.dir.clone(),
            environment: self.environment,
            parallel_jobs: self.parallel_jobs,
            exposed_schemas: self.exposed_schemas.clone(),
            rules: self.rules.clone(),
            only: self.only.clone(),
            families: self.families.clone(),
            value_of,
            lock_timeout_configured: self.lock_timeout_configured,
            exposed_configured: self.exposed_configured,
        }
    }

    /// The execution order: dependencies first, then dates; each step says why it is where it
    /// is.
    pub fn execution_order(&self) -> Result<Plan, ApiError> {
        let set = crate::migration::load_dir(&self.dir, self.environment)?;
        crate::plan::plan(&set).map_err(ApiError::Plan)
    }

    /// The guide's validation report, in Markdown (GitHub's job summary renders it).
    pub fn markdown_report(&self, report: &Report) -> String {
        render(report, Format::Markdown, false)
    }
}

/// A pending migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// `2026-01-21_add_user_profiles`.
    pub version: String,
    /// The file.
    pub path: PathBuf,
}

/// One database and the migrations meant for it: the guide's `MigrationTracker`.
///
/// ```
/// use pgshift::api::MigrationTracker;
/// use pgshift::config::{Environment, Settings};
/// use pgshift::ephemeral::{Cluster, ClusterOptions};
///
/// // A throwaway PostgreSQL for the example; yours comes from DATABASE_URL.
/// let cluster = Cluster::start(&ClusterOptions::default())?;
/// let db = cluster.create_database("example")?;
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("2026-01-01_users.sql"), "CREATE TABLE users (id bigint PRIMARY KEY);")?;
///
/// let mut settings = Settings::defaults(dir.path(), Environment::Development);
/// settings.database_url = Some(pgshift::config::DatabaseUrl::new(&cluster.url(&db)));
/// settings.deploy.skip_backup = true;
/// let tracker = MigrationTracker::with_settings(settings)?;
///
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// rt.block_on(async {
///     assert_eq!(tracker.pending().await?.len(), 1);
///     let mut events = Vec::new();
///     let outcome = tracker.execute_pending(|e| events.push(e.clone())).await?;
///     assert_eq!(outcome.applied, 1);
///     assert!(tracker.pending().await?.is_empty());
///     assert_eq!(tracker.history().await?[0].version, "2026-01-01_users");
///     let health = tracker.health().await?;
///     assert_eq!(health.level(), pgshift::health::Level::Ok, "{health:?}");
///     Ok::<_, pgshift::api::ApiError>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MigrationTracker {
    settings: Settings,
    spec: ConnectionSpec,
    set: MigrationSet,
    plan: Plan,
}

impl MigrationTracker {
    /// The tracker for `environment`, with the settings the command line would use in the
    /// current directory: pgshift.toml, `.env`, and the environment (DATABASE_URL, FORCE_RUN,
    /// CONFIRM, …).
    pub fn connect(environment: Environment) -> Result<MigrationTracker, ApiError> {
        let cwd = std::env::current_dir().map_err(|e| {
            ApiError::Load(LoadError::ReadDir {
                path: PathBuf::from("."),
                source: e,
            })
        })?;
        let vars = VarSource::from_process(&cwd)?;
        let flags = Flags {
            env: Some(environment.to_string()),
            ..Flags::default()
        };
        MigrationTracker::with_settings(Settings::resolve(&flags, &vars, &cwd)?)
    }

    /// The tracker for `settings` (made with [`Settings::resolve`] or
    /// [`Settings::defaults`]). Reads and orders the migrations; connects only when asked.
    pub fn with_settings(settings: Settings) -> Result<MigrationTracker, ApiError> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let vars = VarSource::from_process(&cwd)?;
        MigrationTracker::with_settings_and_vars(settings, &vars)
    }

    /// As [`MigrationTracker::with_settings`], with the variables (libpq's `PG*`, Supabase's)
    /// taken from `vars` rather than the process environment.
    pub fn with_settings_and_vars(
        settings: Settings,
        vars: &VarSource,
    ) -> Result<MigrationTracker, ApiError> {
        let spec = connection(&settings, vars)?;
        let set = crate::migration::load_dir(&settings.migrations.dir, settings.environment)?;
        let plan = crate::plan::plan(&set).map_err(ApiError::Plan)?;
        Ok(MigrationTracker {
            settings,
            spec,
            set,
            plan,
        })
    }

    /// The database, as `user@host:port/name` (never a password).
    pub fn target(&self) -> String {
        self.spec.describe()
    }

    fn tracking(&self) -> Tracking {
        self.settings.tracking.clone()
    }

    /// Every migration compared with the database: applied, pending, failed, modified, unknown.
    pub async fn status(&self) -> Result<Status, ApiError> {
        let read = crate::deploy::read_status(
            crate::deploy::files::Files::Ready(&self.set, &self.plan),
            &self.spec,
            &self.tracking(),
            self.settings.environment,
        )
        .await?;
        Ok(read.status)
    }

    /// The migrations a deploy would apply, in order.
    pub async fn pending(&self) -> Result<Vec<Pending>, ApiError> {
        let status = self.status().await?;
        Ok(status
            .entries
            .iter()
            .filter(|e| {
                matches!(
                    e.state,
                    State::Pending { .. }
                        | State::Failed { .. }
                        | State::Partial { .. }
                        | State::Changed
                )
            })
            .map(|e| Pending {
                version: e.version.clone(),
                path: self
                    .set
                    .migrations
                    .iter()
                    .find(|m| m.version.as_str() == e.version)
                    .map(|m| m.path.clone())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Validates, then applies the pending migrations in order, each atomically with its
    /// record, under the deploy lock, after a backup (unless `skip_backup`), through the
    /// environment gate (staging and production need `confirm` set to the database's name;
    /// production also `force`). `on_event` sees every step as it happens.
    pub async fn execute_pending(
        &self,
        on_event: impl FnMut(&Event) + Send,
    ) -> Result<Outcome, ApiError> {
        let s = &self.settings;
        let value_of = |name: &str| {
            s.variables
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name.to_uppercase()).ok())
        };
        // A program's own reason to stop would come here; nothing interrupts it otherwise.
        let (_tx, interrupt) = tokio::sync::watch::channel(false);
        let deploy = crate::pipeline::Deploy {
            settings: s,
            spec: &self.spec,
            files: crate::deploy::files::Files::Ready(&self.set, &self.plan),
            values: &value_of,
            target: None,
            // The health check is the caller's to ask for (`health()`).
            safety: crate::pipeline::Safety {
                health: false,
                ..crate::pipeline::Safety::of(s)
            },
            // A library has nobody to ask: staging and production need `confirm` set.
            ask: None,
            interrupt,
        };
        struct Events<F>(F);
        impl<F: FnMut(&Event) + Send> crate::pipeline::Observer for Events<F> {
            fn event(&mut self, e: Event) {
                (self.0)(&e)
            }
        }
        match deploy.run(&mut Events(on_event)).await {
            Ok(deployed) => Ok(deployed.outcome),
            Err(DeployError::Invalid { report, .. }) => Err(ApiError::Invalid(report)),
            Err(e) => Err(e.into()),
        }
    }

    /// The tracking table's rows, oldest first.
    pub async fn history(&self) -> Result<Vec<AppliedRow>, ApiError> {
        Ok(crate::deploy::history(&self.spec, &self.tracking()).await?)
    }

    /// The health check: records, tables, indexes, and the security of the exposed schemas.
    pub async fn health(&self) -> Result<HealthReport, ApiError> {
        let s = &self.settings;
        Ok(crate::health::check(
            &self.set,
            &self.plan,
            &self.spec,
            &HealthOptions {
                environment: s.environment,
                tracking: self.tracking(),
                exposed_schemas: &s.deploy.exposed_schemas,
                exposed_configured: s.deploy.exposed_configured,
            },
        )
        .await?)
    }
}
