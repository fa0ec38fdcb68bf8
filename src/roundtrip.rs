//! The step-by-step test (`pgshift test --rollback`, and `test` with data tests or a JUnit or
//! TAP report): every migration in plan order applied on a database made for it, its data
//! tests around it (`crate::datatest`: the before file, up, the after file), and with
//! `--rollback` each down file checked on the way: the schema and every table's rows read, the
//! down file run, both read again and compared with the ones before up, then up again (what
//! follows needs it). Stops at the first migration that cannot be applied or undone. Nothing
//! here prints: each step's result goes to the caller as it is known.

use std::collections::HashSet;
use std::time::Instant;

use crate::backup::schema;
use crate::config::Settings;
use crate::datatest::{DataTests, When};
use crate::db::connect::ConnectionSpec;
use crate::deploy::gate::{self, Ask, Operation, Request};
use crate::deploy::rollback::{self, RollbackOptions, Selection};
use crate::deploy::status::State;
use crate::deploy::DeployError;
use crate::migration::{Migration, MigrationSet};
use crate::pipeline::{Deploy, Observer, Safety};
use crate::plan::Plan;

/// What happened to one migration.
#[derive(Debug, Clone)]
pub struct RoundTrip {
    /// The migration's version.
    pub version: String,
    /// It has a down file, which was checked.
    pub down: bool,
    /// It is applied at the end of its step.
    pub applied: bool,
    /// Why it failed: the step, and the schema difference when there is one.
    pub problem: Option<String>,
    /// SIGINT or SIGTERM stopped it.
    pub interrupted: bool,
    /// Not run: why (it holds no SQL; it was applied in this database before).
    pub skipped: Option<&'static str>,
    /// How long its step took, in milliseconds.
    pub ms: u128,
    /// Its down file was to be checked (`--rollback`).
    pub checking_down: bool,
    /// Its down file says `-- @drops-data`: the rows are not compared.
    pub drops_data: bool,
    /// Its steps (before, up, after, down), each passed or failed: JUnit's and TAP's cases.
    pub cases: Vec<Case>,
}

/// One step of one migration, as a test report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The migration's version.
    pub version: String,
    /// `before`, `up`, `after` or `down`.
    pub step: &'static str,
    /// How long it took, in milliseconds.
    pub ms: u128,
    /// Why it failed.
    pub failure: Option<String>,
}

impl RoundTrip {
    /// Records step `step`, begun at `started`; its failure is the migration's problem too
    /// (the first one is kept).
    fn case(&mut self, step: &'static str, started: Instant, failure: Option<String>) {
        if self.problem.is_none() {
            self.problem.clone_from(&failure);
        }
        self.cases.push(Case {
            version: self.version.clone(),
            step,
            ms: started.elapsed().as_millis(),
            failure,
        });
    }
}

/// The rollback test of a set on one database.
pub struct RoundTrips<'a> {
    /// Everything configured.
    pub settings: &'a Settings,
    /// The database (a throwaway one, or one given).
    pub spec: &'a ConnectionSpec,
    /// The migrations (validated before).
    pub set: &'a MigrationSet,
    /// Their order.
    pub plan: &'a Plan,
    /// psql variables' values.
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Through the environment gate: a database given by URL, not a throwaway one.
    pub gate: bool,
    /// How a person is asked at the gate.
    pub ask: Option<&'a Ask<'a>>,
    /// The server's major version (pg_dump must match it).
    pub major: u32,
    /// Check each down file (`--rollback`); otherwise each migration is applied, with its
    /// data tests.
    pub check_down: bool,
    /// The data tests.
    pub data: &'a DataTests,
}

impl RoundTrips<'_> {
    /// Every migration in plan order, its down file checked when it has one; `each` hears
    /// every step as it ends, `observer` the deploys and rollbacks inside them.
    pub async fn run(
        &self,
        observer: &mut dyn Observer,
        each: &mut dyn FnMut(&RoundTrip),
    ) -> Result<Vec<RoundTrip>, DeployError> {
        // A database given by URL may have migrations applied already: they are not run
        // again, so their down files cannot be checked.
        let applied: HashSet<String> = crate::deploy::read_status(
            crate::deploy::files::Files::Ready(self.set, self.plan),
            self.spec,
            &self.settings.tracking,
            self.settings.environment,
        )
        .await?
        .status
        .entries
        .into_iter()
        .filter(|e| matches!(e.state, State::Applied { .. }))
        .map(|e| e.version)
        .collect();
        let mut results = Vec::new();
        for step in &self.plan.steps {
            let Some(m) = self.set.get(&step.version) else {
                continue;
            };
            if !m.runs_in(self.settings.environment) {
                continue;
            }
            let r = if !m.has_sql() {
                skipped(
                    m,
                    "holds no SQL: skipped, as deploys skip it",
                    self.check_down,
                )
            } else if applied.contains(m.version.as_str()) {
                skipped(
                    m,
                    "applied in this database before: not run again, not checked",
                    self.check_down,
                )
            } else {
                self.round_trip(m, observer).await?
            };
            each(&r);
            let stop = r.skipped.is_none() && (!r.applied || r.interrupted);
            results.push(r);
            if stop {
                break;
            }
        }
        Ok(results)
    }

    /// One migration: its before file, up, its after file, and with a down file checked:
    /// schema and rows, down, both compared, up again.
    async fn round_trip(
        &self,
        m: &Migration,
        observer: &mut dyn Observer,
    ) -> Result<RoundTrip, DeployError> {
        let started = Instant::now();
        let version = m.version.to_string();
        let mut r = RoundTrip {
            version: version.clone(),
            down: self.check_down && m.down.is_some(),
            checking_down: self.check_down,
            drops_data: m
                .down
                .as_ref()
                .is_some_and(|d| crate::datatest::drops_data(&d.source)),
            applied: false,
            problem: None,
            interrupted: false,
            skipped: None,
            ms: 0,
            cases: Vec::new(),
        };
        if !self.data_test(&mut r, When::Before).await? {
            r.ms = started.elapsed().as_millis();
            return Ok(r);
        }
        // A repeatable has no down file: a rollback runs its earlier recorded text, of which
        // a fresh database has none. Applied here, not undone.
        let before = if r.down {
            let rows = if r.drops_data {
                None
            } else {
                Some(self.rows().await?)
            };
            Some((self.schema().await?, rows))
        } else {
            None
        };
        let begun = Instant::now();
        let up = self.up(m, observer).await?;
        r.applied = !up.failed && !up.interrupted;
        r.interrupted = up.interrupted;
        let failure = (!r.applied).then(|| {
            if r.interrupted {
                "interrupted while it was applied (rolled back)".to_string()
            } else {
                "up failed (see above)".to_string()
            }
        });
        r.case("up", begun, failure);
        if r.applied {
            // A failed assertion leaves the migration applied: its down file is still checked.
            self.data_test(&mut r, When::After).await?;
            if let Some(before) = before {
                self.down_and_up(m, &before, &mut r, observer).await?;
            }
        }
        r.ms = started.elapsed().as_millis();
        Ok(r)
    }

    /// The data test file run at `when` for `r`'s migration, if it has one, as a case of `r`;
    /// whether it passed (or there is none).
    async fn data_test(&self, r: &mut RoundTrip, when: When) -> Result<bool, DeployError> {
        let Some(file) = self.data.get(&r.version, when) else {
            return Ok(true);
        };
        let begun = Instant::now();
        let client = self.client().await?;
        let failure = crate::datatest::run(&client, file, when == When::After)
            .await
            .err()
            .map(|f| format!("{} test failed at {f}", when.name()));
        let passed = failure.is_none();
        r.case(when.name(), begun, failure);
        Ok(passed)
    }

    /// The down file, the schema and rows compared with `before`'s, and up again.
    async fn down_and_up(
        &self,
        m: &Migration,
        (schema_before, rows_before): &(String, Option<Rows>),
        r: &mut RoundTrip,
        observer: &mut dyn Observer,
    ) -> Result<(), DeployError> {
        let version = m.version.to_string();
        let begun = Instant::now();
        let undone = self.down(&version, observer).await?;
        if undone.interrupted || undone.failed {
            r.applied = false;
            r.interrupted = undone.interrupted;
            let failure = if r.interrupted {
                "interrupted while its down file ran (rolled back)"
            } else {
                "down failed (see above)"
            };
            r.case("down", begun, Some(failure.into()));
            return Ok(());
        }
        let after = self.schema().await?;
        let mut failure = schema::diff(
            schema_before,
            &after,
            &format!("schema before {version}"),
            "schema after its down file",
        )
        .map(|d| format!("the schema after the down file differs from the one before up:\n{d}"));
        if let (None, Some(rows_before)) = (&failure, rows_before) {
            let lost = crate::datatest::rows_changed(rows_before, &self.rows().await?);
            if !lost.is_empty() {
                failure = Some(format!(
                    "the rows after the down file differ from the ones before up (write `-- @drops-data` in the down file if it loses them on purpose):\n  {}",
                    lost.join("\n  ")
                ));
            }
        }
        r.case("down", begun, failure);
        let again = self.up(m, observer).await?;
        // What follows needs this migration applied.
        r.applied = !again.failed && !again.interrupted;
        r.interrupted = again.interrupted;
        if r.problem.is_none() && !r.applied {
            r.problem = Some(if r.interrupted {
                "interrupted while it was applied again".into()
            } else {
                "up again, after down, failed (see above)".into()
            });
        }
        Ok(())
    }

    /// A session on the database tested.
    async fn client(&self) -> Result<tokio_postgres::Client, DeployError> {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        self.spec.connect(tx).await.map_err(DeployError::Connect)
    }

    /// Every table's row count and checksum, pgshift's own tables left out.
    async fn rows(&self) -> Result<Rows, DeployError> {
        let skip = self.settings.tracking.own_tables();
        crate::datatest::rows(&self.client().await?, &skip, None)
            .await
            .map_err(DeployError::Db)
    }

    /// Applies `m` (and anything before it still pending), without the checks the test did
    /// once for all: validation, the backup, the health check.
    async fn up(
        &self,
        m: &Migration,
        observer: &mut dyn Observer,
    ) -> Result<crate::deploy::Outcome, DeployError> {
        let deploy = Deploy {
            settings: self.settings,
            spec: self.spec,
            files: crate::deploy::files::Files::Ready(self.set, self.plan),
            values: self.values,
            target: Some(m.version.clone()),
            safety: Safety {
                gate: self.gate,
                backup: false,
                health: false,
                validate: false,
            },
            ask: self.ask,
            interrupt: crate::interrupt::subscribe(),
        };
        Ok(deploy.run(observer).await?.outcome)
    }

    /// Runs the down file of `version`, through the gate when the database was given.
    async fn down(
        &self,
        version: &str,
        observer: &mut dyn Observer,
    ) -> Result<rollback::RollbackOutcome, DeployError> {
        let s = self.settings;
        let (target, database) = (self.spec.describe(), self.spec.database());
        let check = |lines: &[String]| {
            if !self.gate {
                return Ok(());
            }
            let request = Request {
                operation: Operation::Rollback,
                environment: s.environment,
                force: s.run.force,
                confirm: s.run.confirm.as_deref(),
                interactive: self.ask.is_some(),
                target: &target,
                database: &database,
                changes: lines,
                dangerous: &[],
            };
            gate::check(&request, self.ask)
        };
        let opts = RollbackOptions::from_settings(s, self.values, &check);
        let selection = Selection::Version(version.to_string());
        rollback::rollback(
            self.set,
            self.plan,
            self.spec,
            &opts,
            &selection,
            &mut |e| observer.event(e),
        )
        .await
    }

    /// The schema as pg_dump writes it, pgshift's own tables left out.
    async fn schema(&self) -> Result<String, DeployError> {
        let (spec, major) = (self.spec.clone(), self.major);
        let pg_dump = self.settings.backup.pg_dump.clone();
        let tracking = self.settings.tracking.clone();
        tokio::task::spawn_blocking(move || {
            schema::schema(&spec, major, pg_dump.as_deref(), &tracking)
        })
        .await
        .map_err(|e| DeployError::Db(format!("the schema dump stopped: {e}")))?
        .map_err(|e| DeployError::Settings {
            message: e.to_string(),
            help: e.help(),
        })
    }
}

/// The server's major version (`server_version_num / 10000`), which pg_dump must match.
pub async fn server_major(spec: &ConnectionSpec) -> Result<u32, DeployError> {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|e| {
            DeployError::Db(format!(
                "cannot read the server's version: {}",
                crate::deploy::error_text(&e)
            ))
        })?;
    Ok((row.try_get::<_, i32>(0).unwrap_or(0) / 10000) as u32)
}

/// Each table's row count and checksum.
type Rows = std::collections::BTreeMap<String, (i64, String)>;

fn skipped(m: &Migration, why: &'static str, checking_down: bool) -> RoundTrip {
    RoundTrip {
        version: m.version.to_string(),
        down: false,
        checking_down,
        drops_data: false,
        applied: false,
        problem: None,
        interrupted: false,
        skipped: Some(why),
        ms: 0,
        cases: Vec::new(),
    }
}
