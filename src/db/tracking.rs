//! The tracking tables: `schema_migrations` (one row per migration, as in the guide, plus run
//! id, author, environment, tool version, SQLSTATE, position and progress of partial runs),
//! `schema_migrations_events` (append-only: every apply, failure, interruption…), and
//! `schema_migrations_meta` (the layout version, so later releases can upgrade). Created by
//! pgshift with row level security on and nothing granted to PUBLIC, anon or authenticated.

use tokio_postgres::Client;

use crate::sql::variables::{quote_identifier, quote_literal};

/// The layout version written to the meta table.
pub const LAYOUT_VERSION: i32 = 1;

/// Where the tracking tables live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub schema: String,
    pub table: String,
}

/// One row of `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedRow {
    pub version: String,
    pub checksum: String,
    pub normalized_checksum: Option<String>,
    pub executed_at: String,
    pub execution_time_ms: i64,
    pub success: bool,
    pub error_message: Option<String>,
    pub sqlstate: Option<String>,
    pub error_position: Option<String>,
    pub statements_done: Option<i32>,
    pub run_id: String,
    pub applied_by: String,
    pub environment: Option<String>,
    pub tool_version: Option<String>,
}

impl Tracking {
    pub fn new(schema: &str, table: &str) -> Tracking {
        Tracking {
            schema: schema.to_string(),
            table: table.to_string(),
        }
    }

    /// `"schema"."table"` (quoted) with an optional suffix on the table name.
    pub fn name(&self, suffix: &str) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.schema),
            quote_identifier(&format!("{}{suffix}", self.table))
        )
    }

    /// `schema.table` for messages.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// The advisory lock key of this tracking table: every deployer of the same table takes it.
    pub fn lock_key(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("pgshift:{}.{}", self.schema, self.table).as_bytes());
        i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    /// Whether the table exists (without creating anything).
    pub async fn exists(&self, client: &Client) -> Result<bool, tokio_postgres::Error> {
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!(
                    "{}.{}",
                    quote_identifier(&self.schema),
                    quote_identifier(&self.table)
                )],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Creates the tables when missing. Call with the advisory lock held.
    pub async fn ensure(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        let m = self.name("");
        let e = self.name("_events");
        let meta = self.name("_meta");
        let guard = quote_identifier(&format!("{}_events_append_only", self.table));
        let schema = quote_identifier(&self.schema);
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {m} (
  version             text PRIMARY KEY,
  checksum            text NOT NULL,
  normalized_checksum text,
  executed_at         timestamptz NOT NULL DEFAULT now(),
  execution_time_ms   bigint NOT NULL DEFAULT 0,
  success             boolean NOT NULL,
  error_message       text,
  sqlstate            text,
  error_position      text,
  statements_done     integer,
  run_id              text NOT NULL,
  applied_by          text NOT NULL DEFAULT current_user,
  environment         text,
  tool_version        text
);
CREATE TABLE IF NOT EXISTS {e} (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  run_id       text NOT NULL,
  event        text NOT NULL,
  version      text,
  detail       jsonb NOT NULL DEFAULT '{{}}'::jsonb,
  applied_by   text NOT NULL DEFAULT current_user,
  environment  text,
  tool_version text
);
CREATE TABLE IF NOT EXISTS {meta} (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO {meta} (key, value) VALUES ('layout_version', '{LAYOUT_VERSION}') ON CONFLICT (key) DO NOTHING;
CREATE OR REPLACE FUNCTION {schema}.{guard}() RETURNS trigger LANGUAGE plpgsql AS $pgshift$
BEGIN
  RAISE EXCEPTION 'the pgshift event log is append-only';
END
$pgshift$;
DROP TRIGGER IF EXISTS append_only ON {e};
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {e} FOR EACH ROW EXECUTE FUNCTION {schema}.{guard}();
ALTER TABLE {m} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {e} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {meta} ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON {m}, {e}, {meta} FROM PUBLIC;
DO $pgshift$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON %s, %s, %s FROM %I', {ml}, {el}, {metal}, r);
    END IF;
  END LOOP;
END
$pgshift$;",
            ml = quote_literal(&m),
            el = quote_literal(&e),
            metal = quote_literal(&meta),
        );
        client.batch_execute(&sql).await
    }

    /// Every row, oldest first. Empty when the table does not exist.
    pub async fn rows(&self, client: &Client) -> Result<Vec<AppliedRow>, tokio_postgres::Error> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT version, checksum, normalized_checksum, to_char(executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC',
                    execution_time_ms, success, error_message, sqlstate, error_position, statements_done,
                    run_id, applied_by, environment, tool_version
             FROM {} ORDER BY executed_at, version",
            self.name("")
        );
        let rows = client.query(&sql, &[]).await?;
        Ok(rows
            .iter()
            .map(|r| AppliedRow {
                version: r.get(0),
                checksum: r.get(1),
                normalized_checksum: r.get(2),
                executed_at: r.get(3),
                execution_time_ms: r.get(4),
                success: r.get(5),
                error_message: r.get(6),
                sqlstate: r.get(7),
                error_position: r.get(8),
                statements_done: r.get(9),
                run_id: r.get(10),
                applied_by: r.get(11),
                environment: r.get(12),
                tool_version: r.get(13),
            })
            .collect())
    }
}

/// What a tracking row records, written as SQL literals so that it can ride in the same
/// round trip as the migration.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub version: &'a str,
    pub checksum: &'a str,
    pub normalized_checksum: Option<&'a str>,
    pub success: bool,
    pub error_message: Option<&'a str>,
    pub sqlstate: Option<&'a str>,
    pub error_position: Option<&'a str>,
    pub statements_done: Option<i32>,
    pub run_id: &'a str,
    pub environment: &'a str,
    /// SQL expression for the execution time in ms.
    pub time_ms: String,
}

fn opt(s: Option<&str>) -> String {
    s.map_or("NULL".to_string(), quote_literal)
}

impl Tracking {
    /// Prepares, for this session, the statement that records a migration: the upsert of its
    /// tracking row and the insert of its event in one statement. It rides along with every
    /// migration, so the server parses and plans it once per deploy, not once per migration.
    pub async fn prepare_record(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        let sql = format!(
            "PREPARE pgshift_record (text, text, text, bigint, boolean, text, text, text, integer, text, text, text, text, jsonb) AS
WITH recorded AS (
INSERT INTO {m} (version, checksum, normalized_checksum, executed_at, execution_time_ms, success, error_message, sqlstate, error_position, statements_done, run_id, applied_by, environment, tool_version)
VALUES ($1, $2, $3, now(), $4, $5, $6, $7, $8, $9, $10, current_user, $11, $12)
ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, normalized_checksum = EXCLUDED.normalized_checksum,
  executed_at = EXCLUDED.executed_at, execution_time_ms = EXCLUDED.execution_time_ms, success = EXCLUDED.success,
  error_message = EXCLUDED.error_message, sqlstate = EXCLUDED.sqlstate, error_position = EXCLUDED.error_position,
  statements_done = EXCLUDED.statements_done, run_id = EXCLUDED.run_id, applied_by = EXCLUDED.applied_by,
  environment = EXCLUDED.environment, tool_version = EXCLUDED.tool_version
RETURNING version)
INSERT INTO {e} (run_id, event, version, detail, environment, tool_version)
SELECT $10, $13, version, $14, $11, $12 FROM recorded",
            m = self.name(""),
            e = self.name("_events"),
        );
        client
            .batch_execute(&format!("DEALLOCATE ALL; {sql}"))
            .await
    }

    /// The execution of the prepared record statement (see `prepare_record`) as SQL text.
    pub fn record_sql(&self, r: &Record, event: &str, detail: &serde_json::Value) -> String {
        format!(
            "EXECUTE pgshift_record({v}, {c}, {nc}, {t}, {s}, {em}, {st}, {ep}, {sd}, {run}, {env}, {tool}, {ev}, {detail});",
            v = quote_literal(r.version),
            c = quote_literal(r.checksum),
            nc = opt(r.normalized_checksum),
            t = r.time_ms,
            s = r.success,
            em = opt(r.error_message),
            st = opt(r.sqlstate),
            ep = opt(r.error_position),
            sd = r.statements_done.map_or("NULL".to_string(), |n| n.to_string()),
            run = quote_literal(r.run_id),
            env = quote_literal(r.environment),
            tool = quote_literal(env!("CARGO_PKG_VERSION")),
            ev = quote_literal(event),
            detail = quote_literal(&detail.to_string()),
        )
    }

    /// `INSERT` of one event, as SQL text.
    pub fn event_sql(
        &self,
        run_id: &str,
        event: &str,
        version: Option<&str>,
        environment: &str,
        detail: &serde_json::Value,
    ) -> String {
        format!(
            "INSERT INTO {e} (run_id, event, version, detail, environment, tool_version) VALUES ({}, {}, {}, {}::jsonb, {}, {});",
            quote_literal(run_id),
            quote_literal(event),
            opt(version),
            quote_literal(&detail.to_string()),
            quote_literal(environment),
            quote_literal(env!("CARGO_PKG_VERSION")),
            e = self.name("_events"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_the_lock_key_is_stable() {
        let t = Tracking::new("public", "schema_migrations");
        assert_eq!(t.name("_events"), "\"public\".\"schema_migrations_events\"");
        assert_eq!(
            t.lock_key(),
            Tracking::new("public", "schema_migrations").lock_key()
        );
        assert_ne!(
            t.lock_key(),
            Tracking::new("ops", "schema_migrations").lock_key()
        );
    }

    #[test]
    fn record_sql_quotes_every_value() {
        let t = Tracking::new("public", "schema_migrations");
        let sql = t.record_sql(
            &Record {
                version: "2026-01-01_a",
                checksum: "abc",
                normalized_checksum: None,
                success: false,
                error_message: Some("relation \"x\" doesn't exist"),
                sqlstate: Some("42P01"),
                error_position: Some("m/a.sql:3:1"),
                statements_done: Some(2),
                run_id: "r1",
                environment: "development",
                time_ms: "12".into(),
            },
            "failed",
            &serde_json::json!({"note": "it's"}),
        );
        assert!(
            sql.starts_with("EXECUTE pgshift_record('2026-01-01_a', 'abc', NULL, 12, false, "),
            "{sql}"
        );
        assert!(sql.contains("'relation \"x\" doesn''t exist'"), "{sql}");
        assert!(sql.ends_with("'failed', '{\"note\":\"it''s\"}');"), "{sql}");
    }
}
