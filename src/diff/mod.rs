//! `pgshift diff` and `pgshift drift` as the library runs them: each side's schema read
//! ([`crate::schema`]) from a database, from a migrations directory built on a throwaway
//! PostgreSQL, or from an empty database; compared; the SQL that turns one into the other.
//! `drift` builds what a database's applied migrations make (in the order they were recorded)
//! and compares it with the database. Nothing here prints.

pub mod drift;
pub mod write;

use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::db::connect::ConnectionSpec;
use crate::ephemeral::{Cluster, ClusterOptions};
use crate::migration::MigrationSet;
use crate::plan::Plan;
use crate::schema::{Scope, Snapshot};

/// Where one side of a diff comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A database URL.
    Url(String),
    /// A migrations directory, built on a throwaway cluster.
    Dir(PathBuf),
    /// A database as `CREATE DATABASE` makes it.
    Empty,
}

impl Source {
    /// `empty`, a URL (`postgres://…`, `postgresql://…`, or `key=value` connection string),
    /// or else a directory.
    pub fn parse(s: &str) -> Source {
        let url = s.starts_with("postgres://")
            || s.starts_with("postgresql://")
            || (s.contains('=') && !Path::new(s).exists());
        if s == "empty" {
            Source::Empty
        } else if url {
            Source::Url(s.to_string())
        } else {
            Source::Dir(PathBuf::from(s))
        }
    }

    /// As messages name it (a URL without its password).
    pub fn describe(&self) -> String {
        match self {
            Source::Url(u) => ConnectionSpec::parse(u)
                .map(|s| s.describe())
                .unwrap_or_else(|_| "a database URL".into()),
            Source::Dir(d) => format!("the migrations in {}", d.display()),
            Source::Empty => "an empty database".into(),
        }
    }
}

/// Why a diff could not be made. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A side could not be read or built.
    #[error("{message}")]
    Failed {
        /// What went wrong.
        message: String,
        /// What to do.
        help: String,
    },
}

impl DiffError {
    /// What to do.
    pub fn help(&self) -> &str {
        match self {
            DiffError::Failed { help, .. } => help,
        }
    }
}

pub(crate) fn failed(message: impl Into<String>, help: impl Into<String>) -> DiffError {
    DiffError::Failed {
        message: message.into(),
        help: help.into(),
    }
}

/// Reads sides: starts one throwaway cluster when a side needs one, and removes it when
/// dropped.
pub struct Builder<'a> {
    /// Everything configured (the tracking table, psql variables).
    pub settings: &'a Settings,
    /// psql variables' values.
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Load the Supabase stub before building a directory.
    pub supabase: bool,
    /// Where initdb and pg_ctl are (`None`: found as `test` finds them).
    pub bin_dir: Option<PathBuf>,
    /// Roles to create (NOLOGIN, nothing else) before building: those of the cluster a built
    /// folder is compared with, whose migrations may grant to them.
    pub roles: Vec<String>,
    cluster: Option<Cluster>,
}

impl<'a> Builder<'a> {
    /// A builder; no cluster is started until a side needs it.
    pub fn new(
        settings: &'a Settings,
        values: &'a (dyn Fn(&str) -> Option<String> + Sync),
        supabase: bool,
    ) -> Builder<'a> {
        Builder {
            settings,
            values,
            supabase,
            bin_dir: None,
            roles: Vec::new(),
            cluster: None,
        }
    }

    /// The throwaway cluster, started on first use.
    pub fn cluster(&mut self) -> Result<&Cluster, DiffError> {
        if self.cluster.is_none() {
            let options = ClusterOptions {
                fast: true,
                bin_dir: self.bin_dir.clone(),
                ..ClusterOptions::default()
            };
            let c = Cluster::start(&options).map_err(|e| failed(e.to_string(), e.help()))?;
            self.cluster = Some(c);
        }
        Ok(self.cluster.as_ref().expect("started above"))
    }

    /// A new database on the throwaway cluster.
    pub fn database(&mut self) -> Result<ConnectionSpec, DiffError> {
        let c = self.cluster()?;
        let db = c
            .create_database("pgshift_diff")
            .map_err(|e| failed(e.to_string(), e.help()))?;
        ConnectionSpec::parse(&c.url(&db)).map_err(|e| failed(e.message, e.help))
    }

    /// The schema of `source`, read with `scope`.
    pub async fn snapshot(
        &mut self,
        source: &Source,
        scope: &Scope,
    ) -> Result<Snapshot, DiffError> {
        let spec = match source {
            Source::Url(u) => ConnectionSpec::parse(u).map_err(|e| failed(e.message, e.help))?,
            Source::Empty => self.database()?,
            Source::Dir(dir) => {
                let (set, plan) = load(self.settings, dir)?;
                let spec = self.database()?;
                self.build(&spec, &set, &plan).await?;
                spec
            }
        };
        read(&spec, scope).await
    }

    /// Both sides of a diff. Databases are read first: a folder built beside one gets that
    /// cluster's roles and its major version (when its programs are installed) (its migrations may grant to them), and the default privileges its
    /// build gives the throwaway superuser are read as the database's role's. `building` hears
    /// of each side that is built ("FROM" or "TO").
    pub async fn sides(
        &mut self,
        from: &Source,
        to: &Source,
        scope: &Scope,
        building: &mut dyn FnMut(&str, &Source),
    ) -> Result<[Snapshot; 2], DiffError> {
        let mut sides: [Option<Snapshot>; 2] = [None, None];
        let order = [(0, "FROM", from), (1, "TO", to)];
        let url = |s: &Source| matches!(s, Source::Url(_));
        for (i, _, source) in order.iter().filter(|(_, _, s)| url(s)) {
            let snap = self.snapshot(source, scope).await?;
            self.roles.extend(snap.roles.iter().cloned());
            // Built on the database's major where installed: two majors deparse a few
            // definitions differently.
            if self.bin_dir.is_none() && self.cluster.is_none() {
                let major = u32::try_from(snap.server_version / 10000).unwrap_or(0);
                self.bin_dir = crate::ephemeral::bin_dir_for_major(major);
            }
            sides[*i] = Some(snap);
        }
        for (i, word, source) in order.iter().filter(|(_, _, s)| !url(s)) {
            building(word, source);
            sides[*i] = Some(self.snapshot(source, scope).await?);
        }
        let [Some(mut a), Some(mut b)] = sides else {
            unreachable!("both sides are read above")
        };
        match (from, to) {
            (Source::Url(_), Source::Dir(_)) => b.as_built_by(&a.user.clone()),
            (Source::Dir(_), Source::Url(_)) => a.as_built_by(&b.user.clone()),
            _ => {}
        }
        Ok([a, b])
    }

    /// Applies `plan`'s migrations of `set` to `spec` (a throwaway database): no gate, no
    /// backup, no health check; the Supabase stub first when asked.
    pub async fn build(
        &self,
        spec: &ConnectionSpec,
        set: &MigrationSet,
        plan: &Plan,
    ) -> Result<(), DiffError> {
        self.build_to(spec, set, plan, None).await
    }

    /// [`Builder::build`], up to `target` (included) when given.
    pub async fn build_to(
        &self,
        spec: &ConnectionSpec,
        set: &MigrationSet,
        plan: &Plan,
        target: Option<crate::migration::Version>,
    ) -> Result<(), DiffError> {
        self.create_roles(spec).await?;
        if self.supabase {
            crate::supabase::load_stub(spec)
                .await
                .map_err(|e| failed(e.to_string(), "the Supabase stub could not be loaded"))?;
        }
        self.deploy(spec, set, plan, target).await
    }

    /// Deploys `plan`'s pending migrations of `set` (up to `target`) to `spec`, a throwaway
    /// database prepared by [`Builder::build_to`]: what is applied there already is not run
    /// again.
    pub async fn deploy(
        &self,
        spec: &ConnectionSpec,
        set: &MigrationSet,
        plan: &Plan,
        target: Option<crate::migration::Version>,
    ) -> Result<(), DiffError> {
        let settings = Settings {
            migrations: crate::config::MigrationsSettings {
                dir: set.dir.clone(),
                ..self.settings.migrations.clone()
            },
            ..self.settings.clone()
        };
        let interrupt = crate::interrupt::subscribe();
        let deploy = crate::pipeline::Deploy {
            settings: &settings,
            spec,
            files: crate::deploy::files::Files::Ready(set, plan),
            values: self.values,
            target,
            safety: crate::pipeline::Safety {
                gate: false,
                backup: false,
                health: false,
                validate: false,
            },
            ask: None,
            interrupt,
        };
        let mut failure = Failure(None);
        let deployed = deploy.run(&mut failure).await.map_err(|e| {
            failed(
                format!("building {} failed: {e}", set.dir.display()),
                "fix the migration named above; `pgshift test` shows the same failure",
            )
        })?;
        if deployed.outcome.failed || deployed.outcome.interrupted {
            return Err(failed(
                failure
                    .0
                    .unwrap_or_else(|| format!("building {} stopped", set.dir.display())),
                "fix the migration named above; `pgshift test` shows the same failure",
            ));
        }
        Ok(())
    }
}

impl Builder<'_> {
    /// The roles of [`Builder::roles`] that the throwaway cluster lacks, each NOLOGIN.
    async fn create_roles(&self, spec: &ConnectionSpec) -> Result<(), DiffError> {
        let roles: Vec<&String> = self
            .roles
            .iter()
            .filter(|r| !r.starts_with("pg_"))
            .collect();
        if roles.is_empty() {
            return Ok(());
        }
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let client = spec
            .connect(tx)
            .await
            .map_err(|e| failed(e.message, e.help))?;
        let sql = "DO $pgshift$ DECLARE r text; BEGIN FOREACH r IN ARRAY $1::text[] LOOP
                     IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN EXECUTE format('CREATE ROLE %I NOLOGIN', r); END IF;
                   END LOOP; END $pgshift$";
        // DO takes no parameters: the list goes through a setting of this session.
        let list: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        client
            .execute(
                "SELECT set_config('pgshift.roles', $1, false)",
                &[&serde_json::to_string(&list).unwrap_or_default()],
            )
            .await
            .map_err(|e| {
                failed(
                    format!("cannot create the roles on the throwaway cluster: {e}"),
                    "report it",
                )
            })?;
        client
            .batch_execute(&sql.replace(
                "$1::text[]",
                "ARRAY(SELECT json_array_elements_text(current_setting('pgshift.roles')::json))",
            ))
            .await
            .map_err(|e| {
                failed(
                    format!("cannot create the roles on the throwaway cluster: {e}"),
                    "report it",
                )
            })
    }
}

impl Drop for Builder<'_> {
    fn drop(&mut self) {
        if let Some(c) = &self.cluster {
            c.stop();
        }
    }
}

/// The first failure of a build, as one line.
struct Failure(Option<String>);

impl crate::pipeline::Observer for Failure {
    fn event(&mut self, event: crate::deploy::Event) {
        if let crate::deploy::Event::Failed {
            version,
            message,
            position,
            ..
        } = event
        {
            if self.0.is_none() {
                let at = position.map(|p| format!(" at {p}")).unwrap_or_default();
                self.0 = Some(format!("migration {version} failed{at}: {message}"));
            }
        }
    }
}

/// A directory's migrations and their order.
pub fn load(settings: &Settings, dir: &Path) -> Result<(MigrationSet, Plan), DiffError> {
    if !dir.is_dir() {
        return Err(failed(
            format!(
                "{} is not a directory, a database URL or `empty`",
                dir.display()
            ),
            "give a migrations folder, postgresql://… or empty",
        ));
    }
    let set = crate::migration::load_dir(dir, settings.environment)
        .map_err(|e| failed(e.to_string(), "check the folder"))?;
    if let Some(f) = set
        .findings
        .iter()
        .find(|f| f.level == crate::diagnostic::Level::Error)
    {
        return Err(failed(
            format!("{}: {}", dir.display(), f.message),
            "run `pgshift validate` on it and fix what it says",
        ));
    }
    let plan = crate::plan::plan(&set).map_err(|errs| {
        failed(
            format!(
                "{}: {}",
                dir.display(),
                errs.first().map(|f| f.message.clone()).unwrap_or_default()
            ),
            "run `pgshift deps` on it and fix what it says",
        )
    })?;
    Ok((set, plan))
}

/// The schema of the database at `spec`.
pub async fn read(spec: &ConnectionSpec, scope: &Scope) -> Result<Snapshot, DiffError> {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let client = spec
        .connect(tx)
        .await
        .map_err(|e| failed(e.message, e.help))?;
    crate::schema::read(&client, scope).await.map_err(|e| {
        failed(
            format!("{} on {}", e, spec.describe()),
            "the role needs to read the catalogs (any role can); check the connection",
        )
    })
}

/// What a snapshot of this project leaves out: pgshift's tracking objects and `ignore`.
pub fn scope(settings: &Settings, ignore: &[String]) -> Scope {
    Scope {
        ignore_schemas: ignore.to_vec(),
        tracking: Some((
            settings.tracking.schema.clone(),
            settings.tracking.table.clone(),
        )),
    }
}
