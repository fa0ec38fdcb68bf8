//! The tracking tables: `schema_migrations` (one row per migration, as in the guide, plus run
//! id, author, environment, tool version, SQLSTATE, position and progress of partial runs),
//! `schema_migrations_events` (append-only: every apply, failure, interruption…), and
//! `schema_migrations_meta` (the layout version, so later releases can upgrade). Created by
//! pgshift with row level security on and nothing granted to PUBLIC, anon or authenticated.

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::sql::variables::{quote_identifier, quote_literal};

/// The layout version, written to the meta table and to the tracking table's comment (which one
/// query reads without failing when the table is missing). 2: TRUNCATE of the event log is
/// blocked, every privilege but the owner's is revoked, the trigger function has a fixed
/// search_path.
pub const LAYOUT_VERSION: i32 = 2;

const LAYOUT_COMMENT: &str = "pgshift tracking table, layout ";

/// The `sqlstate` of a [`TrackingError`] about a table of another tool (not a server code).
const FOREIGN_TABLE: &str = "pgshift-foreign-table";

/// What the database holds of pgshift's layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayoutState {
    pub schema_exists: bool,
    /// The layout version of the tracking table; `None` when it is missing (or predates
    /// layout 2).
    pub layout: Option<i32>,
    /// Privileges others hold on pgshift's objects, described (`USAGE, SELECT on sequence
    /// public.schema_migrations_events_id_seq to anon`).
    pub foreign_privileges: Vec<String>,
    /// The table exists but is not pgshift's (no `checksum` column): its columns.
    pub foreign_table: Option<Vec<String>>,
    /// pgshift's table exists (with its `checksum` column): what [`Tracking::exists`] says.
    pub tracked: bool,
    /// The table exists without its primary key on version (dropped by hand).
    pub lost_primary_key: bool,
}

/// Which tool a table named like pgshift's belongs to, from its columns.
pub fn looks_like(columns: &[String]) -> &'static str {
    let has = |c: &str| columns.iter().any(|x| x == c);
    if has("dirty") {
        "golang-migrate's"
    } else if has("statements") && has("name") {
        "the Supabase CLI's"
    } else if columns.len() == 1 && has("version") {
        "dbmate's (or Rails')"
    } else if has("installed_rank") {
        "Flyway's"
    } else if has("version_id") {
        "goose's"
    } else {
        "another tool's"
    }
}

/// What `ensure` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ensured {
    /// The tables were created (or upgraded from an older layout).
    pub created: bool,
    /// Privileges found on existing tables and revoked.
    pub revoked: Vec<String>,
    /// The primary key on version was gone and is back.
    pub primary_key_restored: bool,
}

/// A statement of the layout failed; `statement` names it.
#[derive(Debug, thiserror::Error)]
#[error("{statement} failed: {message}")]
pub struct TrackingError {
    pub statement: String,
    pub message: String,
    pub sqlstate: Option<String>,
}

impl TrackingError {
    fn of(statement: &str) -> impl Fn(tokio_postgres::Error) -> TrackingError + '_ {
        move |e| TrackingError {
            statement: statement.to_string(),
            message: e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string()),
            sqlstate: e.code().map(|c| c.code().to_string()),
        }
    }

    /// What to do about it.
    pub fn help(&self, tracking: &Tracking) -> String {
        match self.sqlstate.as_deref() {
            Some(FOREIGN_TABLE) => format!(
                "keep pgshift's records apart: set `[tracking] table = \"pgshift_migrations\"` (or `schema = \"pgshift\"`) in pgshift.toml; {} stays as it is, and `pgshift adopt --from TOOL` records what that tool applied",
                tracking.display()
            ),
            Some("42501") => format!(
                "the deploying role may not do this: grant it CREATE on schema {s} (GRANT CREATE ON SCHEMA {s} TO <role>), or set [tracking] schema in pgshift.toml to a schema it owns",
                s = quote_identifier(&tracking.schema)
            ),
            _ => "check the database's logs and the deploying role's privileges".into(),
        }
    }
}

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
    /// What makes this row untrustworthy, when it was changed by hand or by another tool: a
    /// NULL where pgshift always writes a value, or its version recorded more than once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
}

/// What [`Tracking::records_digest`] reads: the rows' number, whether every one is a clean
/// success, and the digest of their versions and checksums.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordsDigest {
    pub rows: i64,
    pub clean: bool,
    pub sha256: Vec<u8>,
}

/// How a row whose version is NULL is named (`pgshift forget '<NULL>'` removes it).
pub const NULL_VERSION: &str = "<NULL>";

/// `WHERE` for the rows of `version` ([`NULL_VERSION`]: the rows without one).
fn version_is(version: &str) -> String {
    if version == NULL_VERSION {
        "version IS NULL".to_string()
    } else {
        format!("version = {}", quote_literal(version))
    }
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

    /// `schema.table_suffix` for messages (`_meta`, `_events`).
    pub fn display_with(&self, suffix: &str) -> String {
        format!("{}.{}{suffix}", self.schema, self.table)
    }

    /// pgshift's three tables as `schema.table` (unquoted): the tracking table, its events and
    /// its meta row; what a comparison of rows or schemas leaves out.
    pub fn own_tables(&self) -> [String; 3] {
        ["", "_events", "_meta"].map(|s| self.display_with(s))
    }

    /// The advisory lock key of this tracking table: every deployer of the same table takes it.
    pub fn lock_key(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("pgshift:{}.{}", self.schema, self.table).as_bytes());
        i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    /// Whether pgshift's table exists (without creating anything); a table of that name that
    /// is another tool's (no `checksum` column) does not count.
    pub async fn exists(&self, client: &Client) -> Result<bool, tokio_postgres::Error> {
        let name = format!(
            "{}.{}",
            quote_identifier(&self.schema),
            quote_identifier(&self.table)
        );
        // `query_typed`: no prepare, one round trip.
        let rows = client
            .query_typed(
                "SELECT to_regclass($1) IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'checksum' AND NOT attisdropped)",
                &[(&name, Type::TEXT)],
            )
            .await?;
        Ok(rows.first().is_some_and(|r| r.get(0)))
    }

    /// The name of the trigger function that keeps the event log append-only.
    fn guard(&self) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.schema),
            quote_identifier(&format!("{}_events_append_only", self.table))
        )
    }

    /// A query listing every privilege on pgshift's objects (the three tables, the events'
    /// identity sequence, their row types, the trigger function) held by anyone but the
    /// object's owner: `kind, object, grantee, privileges`. A missing ACL means the default
    /// one (`acldefault`), which for functions and types includes PUBLIC. Every catalog is
    /// reached through its index (`pg_depend` by its referenced object, the row types by
    /// `reltype`): the cost does not grow with the database's size. Schemas are named by
    /// `regnamespace` (quoted as `%I` quotes), not joined: fewer catalogs to plan with, 2.3 ms
    /// in a fresh session against 2.9, and 0.6 ms against 1.0 in the lockdown each migration
    /// runs. `lockdown_sql` runs it in PL/pgSQL, whose loop variable is `r`: no alias here may
    /// be named `r`.
    fn foreign_privileges_sql(&self) -> String {
        let (m, e, meta) = (
            quote_literal(&self.name("")),
            quote_literal(&self.name("_events")),
            quote_literal(&self.name("_meta")),
        );
        format!(
            "WITH ours AS (
  SELECT ARRAY[to_regclass({m}), to_regclass({e}), to_regclass({meta})]::oid[] AS t
), rels AS MATERIALIZED (
  SELECT c.relkind, c.relnamespace, c.relname, c.relacl, c.relowner, c.reltype FROM pg_class c, ours
  WHERE c.oid = ANY (ours.t || ARRAY(SELECT d.objid FROM pg_depend d
                                     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY (ours.t)
                                       AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
    AND (c.oid = ANY (ours.t) OR c.relkind = 'S')
), objects AS (
  SELECT CASE relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, format('%s.%I', relnamespace::regnamespace, relname) AS obj,
         coalesce(relacl, acldefault(CASE relkind WHEN 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END, relowner)) AS acl, relowner AS owner
  FROM rels
  UNION ALL
  SELECT 'TYPE', format('%s.%I', t.typnamespace::regnamespace, t.typname), coalesce(t.typacl, acldefault('T', t.typowner)), t.typowner
  FROM pg_type t WHERE t.oid IN (SELECT reltype FROM rels)
  UNION ALL
  SELECT 'FUNCTION', format('%s.%I()', p.pronamespace::regnamespace, p.proname), coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
  FROM pg_proc p WHERE p.oid = to_regprocedure({guard})
)
SELECT o.kind, o.obj,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee,
       string_agg(DISTINCT a.privilege_type, ', ') AS privileges
FROM objects o, aclexplode(o.acl) a
WHERE a.grantee <> o.owner
GROUP BY 1, 2, 3",
            guard = quote_literal(&format!("{}()", self.guard())),
        )
    }

    /// Whether [`Tracking::foreign_privileges_sql`] would return a row: the same objects, the
    /// same rule, as one boolean. A table's or a sequence's missing ACL is its owner's alone; a
    /// type's or a function's gives PUBLIC its use. In a fresh session this costs the server
    /// 0.7 to 1.6 ms less than the query that names each privilege (its `format`, grouping
    /// and union are planned there), which `state` then reads only when there is one to name.
    fn foreign_privileges_exist_sql(&self) -> String {
        let (m, e, meta) = (
            quote_literal(&self.name("")),
            quote_literal(&self.name("_events")),
            quote_literal(&self.name("_meta")),
        );
        format!(
            "(WITH ours AS (
  SELECT ARRAY[to_regclass({m}), to_regclass({e}), to_regclass({meta})]::oid[] AS t
)
SELECT EXISTS (
  SELECT FROM pg_class c LEFT JOIN pg_type y ON y.oid = c.reltype
  WHERE c.oid = ANY (ours.t || ARRAY(SELECT d.objid FROM pg_depend d
                                     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY (ours.t)
                                       AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
    AND (c.oid = ANY (ours.t) OR c.relkind = 'S')
    AND (EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner)
         OR (y.oid IS NOT NULL
             AND (y.typacl IS NULL OR EXISTS (SELECT FROM aclexplode(y.typacl) a WHERE a.grantee <> y.typowner))))
) OR EXISTS (
  SELECT FROM pg_proc p WHERE p.oid = to_regprocedure({guard})
    AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner))
) FROM ours)",
            guard = quote_literal(&format!("{}()", self.guard())),
        )
    }

    /// Every privilege [`Tracking::foreign_privileges_sql`] finds, as `status` and a deploy
    /// name it: `SELECT on table public.schema_migrations to anon`.
    fn foreign_privileges_named_sql(&self) -> String {
        format!(
            "ARRAY(SELECT format('%s on %s %s to %s', privileges, lower(kind), obj, grantee) FROM ({}) f ORDER BY 1)",
            self.foreign_privileges_sql()
        )
    }

    /// A statement that revokes every privilege anyone but the owner holds on pgshift's
    /// objects, whatever granted it (default privileges, `GRANT … ON ALL TABLES IN SCHEMA`, a
    /// hand-made grant). Cheap when there is nothing to revoke; runs inside a migration's
    /// transaction too, so that a migration's grant never outlives its commit.
    pub fn lockdown_sql(&self) -> String {
        format!(
            "DO $pgshift$
DECLARE r record;
BEGIN
  FOR r IN {} LOOP
    EXECUTE format('REVOKE ALL ON %s %s FROM %s CASCADE', r.kind, r.obj, r.grantee);
  END LOOP;
END
$pgshift$;",
            self.foreign_privileges_sql()
        )
    }

    /// What the database holds of pgshift's layout, in one read-only query; a second one
    /// names the privileges others hold on pgshift's objects when there are any.
    pub async fn state(&self, client: &Client) -> Result<LayoutState, tokio_postgres::Error> {
        let sql = format!(
            "SELECT to_regnamespace($1) IS NOT NULL,
                    (SELECT description FROM pg_description WHERE objoid = to_regclass($2) AND classoid = 'pg_class'::regclass AND objsubid = 0),
                    {},
                    ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($2) AND attnum > 0 AND NOT attisdropped ORDER BY attnum),
                    to_regclass($2) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass($2) AND indisprimary)",
            self.foreign_privileges_exist_sql()
        );
        // `query_typed`: no prepare, one round trip. A SELECT without FROM returns one row.
        let rows = client
            .query_typed(
                &sql,
                // to_regnamespace reads an identifier, as typed in SQL: quoted, so that
                // "Deploy Records" and "Records" are found as they are.
                &[
                    (&quote_identifier(&self.schema), Type::TEXT),
                    (&self.name(""), Type::TEXT),
                ],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(LayoutState::default());
        };
        let comment: Option<String> = row.get(1);
        let columns: Vec<String> = row.get(3);
        let foreign_privileges = match row.get(2) {
            true => {
                let sql = format!("SELECT {}", self.foreign_privileges_named_sql());
                let named = client.query_typed(&sql, &[]).await?;
                named.first().map(|r| r.get(0)).unwrap_or_default()
            }
            false => Vec::new(),
        };
        Ok(LayoutState {
            tracked: columns.iter().any(|c| c == "checksum"),
            foreign_table: (!columns.is_empty() && !columns.iter().any(|c| c == "checksum"))
                .then_some(columns),
            schema_exists: row.get(0),
            layout: comment
                .as_deref()
                .and_then(|c| c.strip_prefix(LAYOUT_COMMENT))
                .and_then(|v| v.trim().parse().ok()),
            foreign_privileges,
            lost_primary_key: row.get(4),
        })
    }

    /// Creates the tables when missing, upgrades an older layout, and revokes privileges
    /// others were given on them. Call with the advisory lock held. On an up-to-date database
    /// with nothing to revoke this is one read-only query: no DDL, no WAL.
    pub async fn ensure(&self, client: &Client) -> Result<Ensured, TrackingError> {
        let state = self
            .state(client)
            .await
            .map_err(TrackingError::of("reading the tracking layout"))?;
        self.ensure_from(client, state).await
    }

    /// [`Tracking::ensure`] from a state read already in this session, under the same lock
    /// (read beside the records: one round trip fewer).
    pub async fn ensure_from(
        &self,
        client: &Client,
        state: LayoutState,
    ) -> Result<Ensured, TrackingError> {
        if let Some(columns) = &state.foreign_table {
            return Err(TrackingError {
                statement: format!("using {} as pgshift's tracking table", self.display()),
                message: format!(
                    "it belongs to another tool (columns {}: it looks like {} history table), and pgshift never alters it",
                    columns.join(", "),
                    looks_like(columns)
                ),
                sqlstate: Some(FOREIGN_TABLE.into()),
            });
        }
        let mut done = Ensured::default();
        if state.lost_primary_key && state.layout.is_some() {
            // Put back when no row stands in its way; otherwise the rows that do (a version
            // twice, a NULL version) stop the deploy, and `repair` or `forget` fixes them.
            client
                .batch_execute(&self.primary_key_sql())
                .await
                .map_err(TrackingError::of(&format!(
                    "putting back the primary key on version of {}",
                    self.display()
                )))?;
            done.primary_key_restored = !self
                .state(client)
                .await
                .map_err(TrackingError::of("reading the tracking layout"))?
                .lost_primary_key;
        }
        if state.layout != Some(LAYOUT_VERSION) {
            done.created = state.layout.is_none();
            self.create(client, state.schema_exists).await?;
        } else if !state.foreign_privileges.is_empty() {
            client
                .batch_execute(&self.lockdown_sql())
                .await
                .map_err(TrackingError::of(&format!(
                    "revoking privileges on {}",
                    self.display()
                )))?;
            done.revoked = state.foreign_privileges;
        }
        Ok(done)
    }

    /// The layout's DDL, one labelled step at a time in one transaction, so that a refusal
    /// names the statement (`CREATE TABLE public.schema_migrations: permission denied for
    /// schema public`). Everything is idempotent: it also upgrades an older layout. The steps
    /// go out together (one round trip): after a refusal the server refuses the rest of the
    /// transaction, and its COMMIT rolls it back; the first refusal is the one named.
    async fn create(&self, client: &Client, schema_exists: bool) -> Result<(), TrackingError> {
        let mut steps: Vec<(String, String)> = vec![("BEGIN".into(), "BEGIN".into())];
        if !schema_exists {
            steps.push(self.schema_step());
        }
        steps.extend(self.table_steps());
        steps.extend(self.guard_steps());
        steps.push(("COMMIT".into(), "COMMIT".into()));
        let answers =
            futures_util::future::join_all(steps.iter().map(|(_, sql)| client.batch_execute(sql)))
                .await;
        match steps
            .iter()
            .zip(answers)
            .find_map(|((label, _), a)| a.err().map(|e| (label, e)))
        {
            None => Ok(()),
            // Rolled back by its COMMIT (or, when the connection broke, by the server).
            Some((label, e)) => Err(TrackingError::of(label)(e)),
        }
    }

    /// Creates the schema, closed to everybody but its owner. Only when missing: CREATE
    /// SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists. A schema
    /// pgshift creates is its own: nobody else's.
    fn schema_step(&self) -> (String, String) {
        let schema = quote_identifier(&self.schema);
        (
            format!("CREATE SCHEMA {schema}"),
            format!(
                "CREATE SCHEMA {schema};
DO $pgshift$
DECLARE r record;
BEGIN
  FOR r IN SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee
           FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
           WHERE n.nspname = {name} AND a.grantee <> n.nspowner LOOP
    EXECUTE format('REVOKE ALL ON SCHEMA %s FROM %s CASCADE', {schema_lit}, r.grantee);
  END LOOP;
END
$pgshift$;",
                name = quote_literal(&self.schema),
                schema_lit = quote_literal(&schema),
            ),
        )
    }

    /// The three tables: the records, the event log, the layout's version.
    fn table_steps(&self) -> Vec<(String, String)> {
        let (m, e, meta) = (self.name(""), self.name("_events"), self.name("_meta"));
        let mut steps = Vec::new();
        steps.push((
            format!("CREATE TABLE {m}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {m} (
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
);"
            ),
        ));
        steps.push((
            format!("CREATE TABLE {e}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {e} (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  run_id       text NOT NULL,
  event        text NOT NULL,
  version      text,
  detail       jsonb NOT NULL DEFAULT '{{}}'::jsonb,
  applied_by   text NOT NULL DEFAULT current_user,
  environment  text,
  tool_version text
);"
            ),
        ));
        steps.push((
            format!("CREATE TABLE {meta}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {meta} (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO {meta} (key, value) VALUES ('layout_version', '{LAYOUT_VERSION}')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;"
            ),
        ));
        steps
    }

    /// The event log's guard (append-only), row level security, the privileges, the comment
    /// that names the layout.
    fn guard_steps(&self) -> Vec<(String, String)> {
        let (m, e, meta) = (self.name(""), self.name("_events"), self.name("_meta"));
        let guard = self.guard();
        let mut steps = Vec::new();
        steps.push((
            format!("CREATE FUNCTION {guard}()"),
            format!(
                "CREATE OR REPLACE FUNCTION {guard}() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $pgshift$
BEGIN
  RAISE EXCEPTION 'the pgshift event log is append-only: % is refused', TG_OP;
END
$pgshift$;"
            ),
        ));
        steps.push((
            format!("CREATE TRIGGER append_only ON {e}"),
            format!(
                "DROP TRIGGER IF EXISTS append_only ON {e};
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {e} FOR EACH ROW EXECUTE FUNCTION {guard}();
DROP TRIGGER IF EXISTS append_only_truncate ON {e};
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {e} FOR EACH STATEMENT EXECUTE FUNCTION {guard}();"
            ),
        ));
        steps.push((
            format!("ALTER TABLE {m} ENABLE ROW LEVEL SECURITY"),
            format!(
                "ALTER TABLE {m} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {e} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {meta} ENABLE ROW LEVEL SECURITY;"
            ),
        ));
        steps.push((
            format!("REVOKE ALL ON {m}, {e}, {meta} (and their sequence, types, trigger function)"),
            self.lockdown_sql(),
        ));
        steps.push((
            format!("COMMENT ON TABLE {m}"),
            format!("COMMENT ON TABLE {m} IS '{LAYOUT_COMMENT}{LAYOUT_VERSION}';"),
        ));
        steps
    }

    /// Every row, oldest first. Empty when the table does not exist.
    pub async fn rows(&self, client: &Client) -> Result<Vec<AppliedRow>, tokio_postgres::Error> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        self.rows_of_existing(client).await
    }

    /// All the rows in one answer of a few bytes: how many there are, whether each is a
    /// success with every value pgshift always writes, and the SHA-256 of their versions and
    /// checksums (`version LF checksum`, joined by LF, in the `C` collation's order of
    /// version, as UTF-8). A deploy compares it with what its files say a fully applied
    /// database holds, and reads the rows themselves only when they differ (10,000 rows:
    /// 3.3 ms of the server's time against 15, and none of their 2.8 MB sent). The rows are
    /// joined as text and converted once: converting each row to bytes cost twice that.
    /// Needs the table to exist.
    pub async fn records_digest(
        &self,
        client: &Client,
    ) -> Result<RecordsDigest, tokio_postgres::Error> {
        let sql = format!(
            "SELECT count(*)::int8,
                    coalesce(bool_and(version IS NOT NULL AND checksum IS NOT NULL AND success::boolean IS TRUE
                                      AND run_id IS NOT NULL AND executed_at IS NOT NULL), true),
                    sha256(convert_to(coalesce(string_agg(version::text || E'\\n' || checksum::text, E'\\n'
                                                          ORDER BY version::text COLLATE \"C\"), ''), 'UTF8'))
             FROM {}",
            self.name("")
        );
        let rows = client.query_typed(&sql, &[]).await?;
        let Some(row) = rows.first() else {
            return Ok(RecordsDigest::default());
        };
        Ok(RecordsDigest {
            rows: row.try_get(0)?,
            clean: row.try_get(1)?,
            sha256: row.try_get(2)?,
        })
    }

    /// What `status` shows of every row, oldest first; empty when the table does not exist.
    /// The columns it never shows are not sent: `normalized_checksum`, `error_position`,
    /// `applied_by`, `environment` and `tool_version` are `None` or empty, `run_id` is empty
    /// (a NULL one is still named in `damage`). At 10,000 rows that is a third of the bytes.
    /// [`Tracking::normalized_checksums`] reads the one column `status` may need, for the rows
    /// whose checksum differs from their file's.
    pub async fn rows_for_status(
        &self,
        client: &Client,
    ) -> Result<Vec<AppliedRow>, tokio_postgres::Error> {
        if !self.exists(client).await? {
            return Ok(Vec::new());
        }
        self.read_rows(client, Columns::Status).await
    }

    /// The `normalized_checksum` of each row of `versions` (a NULL one left out).
    pub async fn normalized_checksums(
        &self,
        client: &Client,
        versions: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, tokio_postgres::Error> {
        let sql = format!(
            "SELECT version::text, normalized_checksum::text FROM {} WHERE version::text = ANY ($1) AND normalized_checksum IS NOT NULL",
            self.name("")
        );
        let rows = client
            .query_typed(&sql, &[(&versions, Type::TEXT_ARRAY)])
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// [`Tracking::rows`] of a table known to exist (`exists` was asked already).
    pub async fn rows_of_existing(
        &self,
        client: &Client,
    ) -> Result<Vec<AppliedRow>, tokio_postgres::Error> {
        self.read_rows(client, Columns::Every).await
    }

    /// The rows of a table known to exist, with `columns`.
    async fn read_rows(
        &self,
        client: &Client,
        columns: Columns,
    ) -> Result<Vec<AppliedRow>, tokio_postgres::Error> {
        // Every column is read as optional, cast to the type pgshift made it: a table its
        // owner changed (NOT NULL dropped, a type altered) gives rows pgshift names, not a
        // panic. Rows are marked damaged here; `status` lists them and a deploy stops on them.
        // Sorted here, not by the server: sorting the projected rows cost it 6 ms at 10,000
        // rows, three times the rest of the query. `date_part` (float8, ±Infinity for an
        // infinite time) keeps the microseconds the order needs; `extract` would be numeric.
        let sql = match columns {
            Columns::Every => format!(
                "SELECT version::text, checksum::text, normalized_checksum::text,
                        date_part('epoch', executed_at),
                        execution_time_ms::int8, success::boolean, error_message::text, sqlstate::text,
                        error_position::text, statements_done::int4, run_id::text, applied_by::text,
                        environment::text, tool_version::text, executed_at IS NULL
                 FROM {}",
                self.name("")
            ),
            Columns::Status => format!(
                "SELECT version::text, checksum::text, NULL::text,
                        date_part('epoch', executed_at),
                        execution_time_ms::int8, success::boolean, error_message::text, sqlstate::text,
                        NULL::text, statements_done::int4, CASE WHEN run_id IS NOT NULL THEN '' END, NULL::text,
                        NULL::text, NULL::text, executed_at IS NULL
                 FROM {}",
                self.name("")
            ),
        };
        // Each row is read as it arrives: 10,000 rows held whole before reading cost their
        // 3 MB of messages on top of what is kept.
        let no_params: [(
            &(dyn tokio_postgres::types::ToSql + Sync),
            tokio_postgres::types::Type,
        ); 0] = [];
        // The table's size is asked in the same round trip, answered before the rows: the
        // list is made about as long as it will be, rather than doubled and copied as it
        // grows (at 10,000 rows, 1,300 of the 8,000 pages a `status` touched).
        let size_sql = format!(
            "SELECT pg_relation_size({}::regclass)",
            quote_literal(&self.name(""))
        );
        let (size, rows) = tokio::join!(
            client.query_typed(&size_sql, &[]),
            client.query_typed_raw(&sql, no_params)
        );
        let expected = size?
            .first()
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .map_or(0, rows_in);
        let mut rows = std::pin::pin!(rows?);
        let mut out = Vec::with_capacity(expected);
        let mut times: Vec<Option<f64>> = Vec::with_capacity(expected);
        // Rows written by one deploy share their second: formatted once.
        let mut last_second: Option<(Option<i64>, String)> = None;
        while let Some(r) = futures_util::TryStreamExt::try_next(&mut rows).await? {
            let epoch: Option<f64> = r.try_get(3)?;
            times.push(epoch);
            out.push(applied_row(&r, epoch, &mut last_second)?);
        }
        mark_duplicates(&mut out);
        Ok(oldest_first(out, times))
    }
}

/// One row of [`Tracking::read_rows`]'s query, its time since 1970 `epoch` read already;
/// `last_second` keeps the last second formatted, which the rows of one deploy share.
fn applied_row(
    r: &tokio_postgres::Row,
    epoch: Option<f64>,
    last_second: &mut Option<(Option<i64>, String)>,
) -> Result<AppliedRow, tokio_postgres::Error> {
    let version: Option<String> = r.try_get(0)?;
    let checksum: Option<String> = r.try_get(1)?;
    let success: Option<bool> = r.try_get(5)?;
    let run_id: Option<String> = r.try_get(10)?;
    let no_time: Option<bool> = r.try_get(14)?;
    let flags = [
        ("version", version.is_none()),
        ("checksum", checksum.is_none()),
        ("success", success.is_none()),
        ("run_id", run_id.is_none()),
        ("executed_at", no_time == Some(true)),
    ];
    let nulls: Vec<&str> = match flags.iter().any(|(_, null)| *null) {
        true => flags
            .into_iter()
            .filter_map(|(name, null)| null.then_some(name))
            .collect(),
        false => Vec::new(),
    };
    Ok(AppliedRow {
        version: version.unwrap_or_else(|| NULL_VERSION.to_string()),
        checksum: checksum.unwrap_or_default(),
        normalized_checksum: r.try_get(2)?,
        executed_at: if no_time == Some(true) {
            "unknown".to_string()
        } else {
            let second = epoch.filter(|e| e.is_finite()).map(|e| e.floor() as i64);
            match last_second {
                Some((s, text)) if *s == second => text.clone(),
                _ => {
                    let text = utc_seconds(second);
                    *last_second = Some((second, text.clone()));
                    text
                }
            }
        },
        execution_time_ms: r.try_get::<_, Option<i64>>(4)?.unwrap_or(0),
        success: success.unwrap_or(false),
        error_message: r.try_get(6)?,
        sqlstate: r.try_get(7)?,
        error_position: r.try_get(8)?,
        statements_done: r.try_get(9)?,
        run_id: run_id.unwrap_or_default(),
        applied_by: r.try_get::<_, Option<String>>(11)?.unwrap_or_default(),
        environment: r.try_get(12)?,
        tool_version: r.try_get(13)?,
        damage: (!nulls.is_empty()).then(|| format!("its {} is NULL", nulls.join(", "))),
    })
}

/// Which columns [`Tracking::read_rows`] sends: every one, or what `status` shows.
#[derive(Clone, Copy)]
enum Columns {
    Every,
    Status,
}

/// `rows` in the order of `ORDER BY executed_at, version`: by time (an infinite past first, an
/// infinite future and then no time last), then by version (bytewise).
fn oldest_first(rows: Vec<AppliedRow>, times: Vec<Option<f64>>) -> Vec<AppliedRow> {
    // A table written only by deploys returns its rows oldest first already: checked, not
    // sorted (moving 10,000 rows cost more than reading them).
    if rows
        .iter()
        .zip(&times)
        .is_sorted_by(|a, b| by_time_then_version(*a, *b) != std::cmp::Ordering::Greater)
    {
        return rows;
    }
    let mut keyed: Vec<(Option<f64>, AppliedRow)> = times.into_iter().zip(rows).collect();
    keyed.sort_by(|(ta, a), (tb, b)| by_time_then_version((a, ta), (b, tb)));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// The order of [`oldest_first`] between two rows and their times.
fn by_time_then_version(
    (a, ta): (&AppliedRow, &Option<f64>),
    (b, tb): (&AppliedRow, &Option<f64>),
) -> std::cmp::Ordering {
    let by_time = match (ta, tb) {
        (Some(x), Some(y)) => x.total_cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    };
    by_time.then_with(|| a.version.cmp(&b.version))
}

/// Marks every row of a version recorded more than once (the primary key on version was
/// dropped): which of them tells the truth is not pgshift's to guess.
fn mark_duplicates(rows: &mut [AppliedRow]) {
    // Rows in increasing version order (what deploys write, unless dependencies reorder the
    // plan) have no version twice, and need no count.
    if rows.windows(2).all(|w| w[0].version < w[1].version) {
        return;
    }
    let mut count: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(rows.len());
    for r in rows.iter() {
        *count.entry(r.version.as_str()).or_default() += 1;
    }
    if count.len() == rows.len() {
        return;
    }
    let count: std::collections::HashMap<String, usize> =
        count.into_iter().map(|(v, n)| (v.to_string(), n)).collect();
    for r in rows.iter_mut() {
        let n = count[&r.version];
        if n > 1 {
            let dup =
                format!("it is recorded {n} times (the table's primary key on version is gone)");
            r.damage = Some(match r.damage.take() {
                Some(d) => format!("{d}; {dup}"),
                None => dup,
            });
        }
    }
}

/// About how many rows a tracking table of `bytes` holds, for a list made to their number:
/// a row takes at least 128 bytes on disk (its header, version and checksum), so this is
/// rarely short; long is only address space, never touched. Bounded, since the size is the
/// server's word and a bloated table can be far larger than its rows.
fn rows_in(bytes: i64) -> usize {
    usize::try_from(bytes / 128).unwrap_or(0).min(1 << 16)
}

/// `2026-01-21 10:04:05 UTC` for seconds since 1970: formatted here rather than by the server's
/// `to_char`, which costs a millisecond per thousand rows on every status and deploy.
/// An infinite timestamp (written by hand) has no date: it reads `infinity`.
fn utc_seconds(seconds: Option<i64>) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let Some(t) = seconds.and_then(|s| chrono::DateTime::from_timestamp(s, 0)) else {
        return "infinity".to_string();
    };
    // Written field by field: `format("%Y-…")` reads its pattern again for every row.
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    out
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
        client.batch_execute(&self.prepare_record_sql()).await
    }

    /// The SQL of `prepare_record`, also sent after a migration that deallocated it. It starts
    /// with `DEALLOCATE ALL` (PREPARE has no `OR REPLACE`).
    pub fn prepare_record_sql(&self) -> String {
        format!(
            "DEALLOCATE ALL;
PREPARE pgshift_record (text, text, text, bigint, boolean, text, text, text, integer, text, text, text, text, jsonb) AS
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
        )
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

    /// The record of a migration running without a transaction, after its statement
    /// `statements_done` completed: should the deploy die before the next (killed, its
    /// connection lost), the migration reads as partial and the next deploy resumes after it.
    /// No event: the final record (or the failure's) writes one.
    pub fn progress_sql(&self, r: &Record, statements_done: usize) -> String {
        format!(
            "INSERT INTO {m} AS r (version, checksum, normalized_checksum, success, error_message, statements_done, run_id, environment, tool_version)
VALUES ({v}, {c}, {nc}, false, {em}, {sd}, {run}, {env}, {tool})
ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, normalized_checksum = EXCLUDED.normalized_checksum,
  executed_at = now(), success = false, error_message = EXCLUDED.error_message, sqlstate = NULL, error_position = NULL,
  statements_done = EXCLUDED.statements_done, run_id = EXCLUDED.run_id, applied_by = current_user,
  environment = EXCLUDED.environment, tool_version = EXCLUDED.tool_version;",
            m = self.name(""),
            v = quote_literal(r.version),
            c = quote_literal(r.checksum),
            nc = opt(r.normalized_checksum),
            em = quote_literal(&format!(
                "the deploy stopped after statement {statements_done} (killed, or its connection lost) and recorded nothing more"
            )),
            sd = statements_done,
            run = quote_literal(r.run_id),
            env = quote_literal(r.environment),
            tool = quote_literal(env!("CARGO_PKG_VERSION")),
        )
    }

    /// Accepts `checksum` (and its normalised form) as the record of `version`.
    pub fn accept_checksum_sql(&self, version: &str, checksum: &str, normalized: &str) -> String {
        format!(
            "UPDATE {} SET checksum = {}, normalized_checksum = {} WHERE {};",
            self.name(""),
            quote_literal(checksum),
            quote_literal(normalized),
            version_is(version)
        )
    }

    /// Deletes the record of `version` (every row of it, when it is there more than once).
    pub fn delete_sql(&self, version: &str) -> String {
        format!(
            "DELETE FROM {} WHERE {};",
            self.name(""),
            version_is(version)
        )
    }

    /// Repairs the rows of `version` that were changed by hand: keeps the newest when it is
    /// there more than once, and fills what pgshift always writes where it is NULL: the
    /// checksum with `checksum` (the file's), success from the error message (a failure
    /// always has one, an applied migration never). Then puts the primary key on version back
    /// when nothing stands in its way any more.
    pub fn mend_sql(&self, version: &str, checksum: &str, normalized: &str) -> String {
        let m = self.name("");
        format!(
            "DELETE FROM {m} a WHERE a.{w} AND a.ctid <> (SELECT b.ctid FROM {m} b WHERE b.{w} ORDER BY b.executed_at DESC NULLS LAST, b.ctid DESC LIMIT 1);
UPDATE {m} SET checksum = coalesce(checksum, {c}), normalized_checksum = coalesce(normalized_checksum, {n}),
  success = coalesce(success, error_message IS NULL),
  run_id = coalesce(run_id, 'repaired'), executed_at = coalesce(executed_at, now()),
  execution_time_ms = coalesce(execution_time_ms, 0), applied_by = coalesce(applied_by, current_user)
WHERE {w};
{pk}",
            w = version_is(version),
            c = quote_literal(checksum),
            n = quote_literal(normalized),
            pk = self.primary_key_sql(),
        )
    }

    /// Puts the primary key on version back, when it is gone and no row stands in its way
    /// (a NULL version, a version twice); otherwise nothing.
    pub fn primary_key_sql(&self) -> String {
        let m = self.name("");
        format!(
            "DO $pgshift$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = {r}::regclass AND indisprimary)
     AND NOT EXISTS (SELECT 1 FROM {m} WHERE version IS NULL)
     AND NOT EXISTS (SELECT version FROM {m} GROUP BY version HAVING count(*) > 1) THEN
    ALTER TABLE {m} ADD PRIMARY KEY (version);
  END IF;
END
$pgshift$;",
            r = quote_literal(&m),
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
    fn the_rows_a_table_holds_are_guessed_from_its_bytes_within_bounds() {
        assert_eq!(rows_in(0), 0);
        assert_eq!(
            rows_in(-8192),
            0,
            "a size is never negative; if it were, no guess"
        );
        // 10,000 rows of deploys take 2.7 MB: about twice as many guessed, never fewer.
        assert!((10_000..=30_000).contains(&rows_in(2_736_128)));
        assert_eq!(
            rows_in(i64::MAX),
            1 << 16,
            "a bloated table does not reserve gigabytes"
        );
    }

    #[test]
    fn rows_come_oldest_first_then_by_version_with_infinite_and_missing_times_at_the_ends() {
        let row = |v: &str| AppliedRow {
            version: v.into(),
            checksum: String::new(),
            normalized_checksum: None,
            executed_at: String::new(),
            execution_time_ms: 0,
            success: true,
            error_message: None,
            sqlstate: None,
            error_position: None,
            statements_done: None,
            run_id: String::new(),
            applied_by: String::new(),
            environment: None,
            tool_version: None,
            damage: None,
        };
        let (t1, t2) = (1_767_225_600.000_001, 1_767_225_600.000_002);
        let sorted = oldest_first(
            ["none", "late", "b", "a", "early", "future", "past"]
                .map(row)
                .to_vec(),
            vec![
                None,
                Some(t2),
                Some(t1),
                Some(t1),
                Some(1.0),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
            ],
        );
        let order: Vec<&str> = sorted.iter().map(|r| r.version.as_str()).collect();
        // A microsecond apart still orders; one time shared (a baseline): by version.
        assert_eq!(order, ["past", "early", "a", "b", "late", "future", "none"]);
        // Already in order: kept as it is; one pair out of place: sorted.
        let times = vec![Some(1.0), Some(t1), Some(t1), None];
        let kept = oldest_first(["x", "a", "b", "y"].map(row).to_vec(), times.clone());
        let kept: Vec<&str> = kept.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(kept, ["x", "a", "b", "y"]);
        let fixed = oldest_first(["x", "b", "a", "y"].map(row).to_vec(), times);
        let fixed: Vec<&str> = fixed.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(fixed, ["x", "a", "b", "y"]);
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
