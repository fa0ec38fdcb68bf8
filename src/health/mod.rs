//! Health (SPEC §9): is the database what the applied migrations say it is, and is it safe to
//! expose? One file per check, each a [`Check`] registered in [`ALL`]: checks of the records
//! (failed, drifted, unknown, pending migrations) judge the comparison of files and tracking
//! rows; catalog checks are one query each, all sent at once on one connection. Every check
//! says ok, warn or fail, names the objects, and says how to fix them. Nothing here prints.

mod auth_per_row;
mod auth_users_exposed;
mod duplicate_indexes;
mod expected;
mod extension_in_public;
mod failed_migrations;
mod function_search_path;
mod invalid_indexes;
mod missing_tables;
mod modified_migrations;
mod no_primary_key;
mod pending_migrations;
mod policy_without_rls;
mod rls_disabled;
mod rls_without_policy;
mod security_definer_view;
mod unindexed_foreign_keys;
mod unknown_versions;

use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::Environment;
use crate::db::connect::ConnectionSpec;
use crate::db::tracking::Tracking;
use crate::deploy::status::{self, Status};
use crate::deploy::{db_err, DeployError};
use crate::migration::MigrationSet;
use crate::plan::Plan;
use crate::sql::variables::quote_literal;

pub use expected::{tables_left, Table};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Not run here, and why (no API serves this database).
    Skip,
    /// Nothing to do.
    Ok,
    /// Worth a look; the deploy stands.
    Warn,
    /// Something is broken; `health` exits 1.
    Fail,
}

impl Level {
    /// `skip`, `ok`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Skip => "skip",
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }

    fn parse(s: &str) -> Level {
        match s {
            "fail" => Level::Fail,
            "warn" => Level::Warn,
            "skip" => Level::Skip,
            _ => Level::Ok,
        }
    }
}

/// One object a check found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// How serious this object's problem is.
    pub level: Level,
    /// The object: `schema.table`, a policy, a version.
    pub object: String,
    /// What is wrong with it.
    pub detail: String,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Stable id, e.g. `rls-disabled`.
    pub id: &'static str,
    /// The worst level among its items (ok when none).
    pub level: Level,
    /// One line: what was checked and what was found.
    pub summary: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// The objects it found, worst first.
    pub items: Vec<Item>,
    /// What to do about the items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<&'static str>,
}

/// The whole health report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `user@host:port/db`.
    pub target: String,
    /// The server's `server_version`.
    pub server_version: String,
    /// Every check, in the order they are shown.
    pub checks: Vec<CheckResult>,
    /// How long the checks took, in milliseconds.
    pub ms: u128,
}

impl Report {
    /// The worst level of any check.
    pub fn level(&self) -> Level {
        self.checks
            .iter()
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    /// Checks at `level`.
    pub fn count(&self, level: Level) -> usize {
        self.checks.iter().filter(|c| c.level == level).count()
    }
}

/// What the record checks judge.
pub struct Records<'a> {
    /// The files compared with the records.
    pub status: &'a Status,
}

/// How a check looks.
pub enum Probe {
    /// From the comparison of the files with the tracking rows.
    Records(fn(&Records) -> Vec<Item>),
    /// One catalog query returning `(level text, object text, detail text)` rows. Placeholders,
    /// replaced by quoted literals: `{exposed}` (text[] of exposed schemas), `{internal}`
    /// (text[] of schemas that are not the user's), `{skip}` (text[] of `schema.table` names of
    /// pgshift's own tables), `{api}` (boolean: the database has an API role), `{expected}`
    /// (jsonb array of `[schema or null, table, version]`).
    Catalog(&'static str),
}

/// A health check.
pub struct Check {
    /// Stable id, e.g. `rls-disabled`.
    pub id: &'static str,
    /// The summary when nothing is found.
    pub ok: &'static str,
    /// What each item is, for the summary: "exposed table(s) without row level security".
    pub problem: &'static str,
    /// What to do, for every item.
    pub fix: &'static str,
    /// Only meaningful where an API (PostgREST, Supabase) serves the exposed schemas.
    pub needs_api: bool,
    /// How it looks.
    pub probe: Probe,
}

/// Every check, in the order they are shown.
pub const ALL: &[&Check] = &[
    &failed_migrations::CHECK,
    &modified_migrations::CHECK,
    &unknown_versions::CHECK,
    &pending_migrations::CHECK,
    &missing_tables::CHECK,
    &invalid_indexes::CHECK,
    &rls_disabled::CHECK,
    &policy_without_rls::CHECK,
    &rls_without_policy::CHECK,
    &security_definer_view::CHECK,
    &function_search_path::CHECK,
    &auth_per_row::CHECK,
    &auth_users_exposed::CHECK,
    &unindexed_foreign_keys::CHECK,
    &duplicate_indexes::CHECK,
    &no_primary_key::CHECK,
    &extension_in_public::CHECK,
];

/// Schemas that belong to PostgreSQL or to a platform (Supabase), not to the migrations' author:
/// the quality checks leave them alone.
pub const INTERNAL_SCHEMAS: &[&str] = &[
    "pg_catalog",
    "information_schema",
    "pg_toast",
    "auth",
    "storage",
    "extensions",
    "graphql",
    "graphql_public",
    "realtime",
    "_realtime",
    "supabase_functions",
    "supabase_migrations",
    "vault",
    "pgsodium",
    "pgsodium_masks",
    "net",
    "cron",
    "pgbouncer",
    "_analytics",
];

/// What to check against.
pub struct HealthOptions<'a> {
    /// The environment (the levels of some checks).
    pub environment: Environment,
    /// Where the records are kept.
    pub tracking: Tracking,
    /// Schemas an API serves.
    pub exposed_schemas: &'a [String],
    /// The exposed schemas were set in the config: check them even with no API role.
    pub exposed_configured: bool,
}

impl HealthOptions<'_> {
    /// The checks as `settings` configure them.
    pub fn from_settings(settings: &crate::config::Settings) -> HealthOptions<'_> {
        HealthOptions {
            environment: settings.environment,
            tracking: settings.tracking.clone(),
            exposed_schemas: &settings.deploy.exposed_schemas,
            exposed_configured: settings.deploy.exposed_configured,
        }
    }
}

fn text_array(items: impl IntoIterator<Item = String>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| quote_literal(&s)).collect();
    format!("ARRAY[{}]::text[]", quoted.join(","))
}

/// Runs every check on the database.
pub async fn check(
    set: &MigrationSet,
    plan: &Plan,
    spec: &ConnectionSpec,
    opts: &HealthOptions<'_>,
) -> Result<Report, DeployError> {
    let started = Instant::now();
    let (client, server_version, evidence, connectivity) = connect(spec, opts, started).await?;
    let mut checks = vec![connectivity];
    let tracked = opts.tracking.exists(&client).await.map_err(db_err)?;
    let rows = if tracked {
        opts.tracking
            .rows_of_existing(&client)
            .await
            .map_err(db_err)?
    } else {
        Vec::new()
    };
    checks.push(tracking_tables(tracked, opts));
    let status = status::compare(set, plan, &rows, opts.environment);
    // The entries come in plan order.
    let applied: Vec<(&str, &std::sync::Arc<String>)> = status
        .entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                status::State::Applied { .. }
                    | status::State::Modified
                    | status::State::Changed
                    | status::State::Covered
            )
        })
        .filter_map(|e| set.get(&crate::migration::Version::parse_reference(&e.version).ok()?))
        .map(|m| (m.version.as_str(), &m.source))
        .collect();
    let scope = Scope {
        exposed: opts.exposed_schemas.to_vec(),
        skip: opts.tracking.own_tables().to_vec(),
        api: evidence.is_some() || opts.exposed_configured,
        expected: tables_left(&applied),
    };
    let records = Records { status: &status };
    // The catalog queries go out together: tokio-postgres pipelines them on the connection.
    let answers = futures_util::future::join_all(ALL.iter().map(|c| scope.run(&client, c))).await;
    for (c, answer) in ALL.iter().zip(answers) {
        checks.push(judged(c, answer, &records, opts));
    }
    Ok(Report {
        target: spec.describe(),
        server_version,
        checks,
        ms: started.elapsed().as_millis(),
    })
}

/// The connection, the server's version, the evidence that an API serves the database, and
/// the `connectivity` check saying how long each took.
async fn connect(
    spec: &ConnectionSpec,
    opts: &HealthOptions<'_>,
    started: Instant,
) -> Result<(tokio_postgres::Client, String, Option<String>, CheckResult), DeployError> {
    let (tx, _rx) = mpsc::unbounded_channel();
    let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
    let connected_ms = started.elapsed().as_millis();
    let probe = Instant::now();
    let rows = spec
        .first_answer(
            started,
            client.query_typed(
                &format!(
                    "SELECT current_setting('server_version'), {}",
                    crate::supabase::API_EVIDENCE
                ),
                &[(
                    &opts.exposed_schemas,
                    tokio_postgres::types::Type::TEXT_ARRAY,
                )],
            ),
        )
        .await
        .map_err(DeployError::Connect)?
        .map_err(db_err)?;
    let round_trip = probe.elapsed();
    let row = rows
        .first()
        .ok_or_else(|| DeployError::Db("the server did not say its version".into()))?;
    let server_version: String = row.try_get(0).map_err(db_err)?;
    let evidence: Option<String> = row.try_get(1).map_err(db_err)?;
    let connectivity = CheckResult {
        id: "connectivity",
        level: Level::Ok,
        summary: format!(
            "connected in {connected_ms} ms, a query answers in {:.1} ms; PostgreSQL {server_version}{}",
            round_trip.as_secs_f64() * 1000.0,
            match &evidence {
                Some(e) => format!("; an API serves this database: {e}"),
                None => String::new(),
            }
        ),
        items: Vec::new(),
        fix: None,
    };
    Ok((client, server_version, evidence, connectivity))
}

/// Whether the tracking tables are there.
fn tracking_tables(tracked: bool, opts: &HealthOptions<'_>) -> CheckResult {
    CheckResult {
        id: "tracking-tables",
        level: if tracked { Level::Ok } else { Level::Fail },
        summary: if tracked {
            format!("{} is there", opts.tracking.display())
        } else {
            format!(
                "{} does not exist: no migration was deployed here with pgshift",
                opts.tracking.display()
            )
        },
        items: Vec::new(),
        fix: (!tracked).then_some(
            "run `pgshift migrate` (or `pgshift baseline VERSION` for a database migrated by hand); check [tracking] schema/table if it lives elsewhere",
        ),
    }
}

/// One check from its answer: what it found; `warn` when the role could not run it (one
/// catalog it cannot read does not hide the others); `skip` when no API serves the schemas
/// it looks at.
fn judged(
    c: &Check,
    answer: Result<Option<Vec<Item>>, tokio_postgres::Error>,
    records: &Records<'_>,
    opts: &HealthOptions<'_>,
) -> CheckResult {
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            return CheckResult {
                id: c.id,
                level: Level::Warn,
                summary: format!(
                    "could not run: {}",
                    crate::sanitize::redact::redact_string(db_err(e).to_string())
                ),
                items: Vec::new(),
                fix: Some("run `pgshift health` as the role that owns the schema"),
            }
        }
    };
    let items = match (&c.probe, answer) {
        (Probe::Records(judge), _) => judge(records),
        (Probe::Catalog(_), Some(items)) => items,
        (Probe::Catalog(_), None) => {
            return CheckResult {
                id: c.id,
                level: Level::Skip,
                summary: format!(
                    "not checked: nothing in this database grants the API roles (anon, authenticated, authenticator, service_role) anything on {} (roles are shared by every database of the server, so that they exist proves nothing); set [deploy] exposed_schemas to check anyway",
                    opts.exposed_schemas.join(", ")
                ),
                items: Vec::new(),
                fix: None,
            }
        }
    };
    result(c, items)
}

/// What the catalog queries' placeholders stand for.
pub struct Scope {
    /// The schemas an API serves.
    pub exposed: Vec<String>,
    /// pgshift's own tables, `schema.table`.
    pub skip: Vec<String>,
    /// An API serves the exposed schemas (its roles exist, or the config says so).
    pub api: bool,
    /// The tables the applied migrations should have left.
    pub expected: Vec<Table>,
}

impl Scope {
    fn fill(&self, sql: &str) -> String {
        let expected: Vec<serde_json::Value> = self
            .expected
            .iter()
            .map(|t| serde_json::json!([t.schema, t.name, t.created_by]))
            .collect();
        sql.replace("{exposed}", &text_array(self.exposed.iter().cloned()))
            .replace(
                "{internal}",
                &text_array(INTERNAL_SCHEMAS.iter().map(|s| s.to_string())),
            )
            .replace("{skip}", &text_array(self.skip.iter().cloned()))
            .replace("{api}", if self.api { "true" } else { "false" })
            .replace(
                "{expected}",
                &format!(
                    "{}::jsonb",
                    quote_literal(&serde_json::Value::Array(expected).to_string())
                ),
            )
    }

    /// A catalog check's items; `None` for a record check, or one that needs an API where
    /// there is none.
    pub async fn run(
        &self,
        client: &tokio_postgres::Client,
        check: &Check,
    ) -> Result<Option<Vec<Item>>, tokio_postgres::Error> {
        let Probe::Catalog(sql) = &check.probe else {
            return Ok(None);
        };
        if check.needs_api && !self.api {
            return Ok(None);
        }
        let rows = client.query(&self.fill(sql), &[]).await?;
        Ok(Some(
            rows.iter()
                // A name the catalog leaves NULL (a dropped role's grant…) is said, not a panic.
                .map(|r| {
                    let text = |i: usize| {
                        r.try_get::<_, Option<String>>(i)
                            .ok()
                            .flatten()
                            .unwrap_or_else(|| "(unknown)".into())
                    };
                    Item {
                        level: Level::parse(&text(0)),
                        object: text(1),
                        detail: text(2),
                    }
                })
                .collect(),
        ))
    }
}

fn result(c: &Check, items: Vec<Item>) -> CheckResult {
    let level = items.iter().map(|i| i.level).max().unwrap_or(Level::Ok);
    CheckResult {
        id: c.id,
        level,
        summary: if items.is_empty() {
            c.ok.to_string()
        } else {
            format!("{} {}", items.len(), c.problem)
        },
        fix: (!items.is_empty()).then_some(c.fix),
        items,
    }
}

#[cfg(test)]
mod tests;
