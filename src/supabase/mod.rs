//! Supabase (SPEC §10): how a project's connection is found (`connection`), the Supabase CLI's
//! history table kept in step with pgshift's (`history`), and a stub of what a project gives
//! migrations (roles, auth, storage) for testing them on plain PostgreSQL.

pub mod connection;
pub mod history;

/// The stub `pgshift test --supabase` loads before the migrations: roles anon, authenticated,
/// service_role, authenticator, supabase_admin; schemas auth, storage, extensions,
/// supabase_migrations; auth.uid()/role()/jwt()/email() reading `request.jwt.claims`;
/// auth.users, storage.buckets, storage.objects, storage.foldername(). Idempotent.
pub const STUB_SQL: &str = include_str!("stub.sql");

/// The schemas a Supabase project gives its migrations, that plain PostgreSQL lacks.
pub const PLATFORM_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "extensions",
    "realtime",
    "vault",
    "graphql_public",
];

/// The Supabase schema a server's error says is missing (`schema "auth" does not exist`,
/// SQLSTATE 3F000), if that is what it says.
pub fn missing_schema(sqlstate: Option<&str>, message: &str) -> Option<&'static str> {
    if sqlstate != Some("3F000") {
        return None;
    }
    PLATFORM_SCHEMAS
        .iter()
        .find(|s| message.contains(&format!("schema \"{s}\" does not exist")))
        .copied()
}

/// How many times loading the stub is tried again after a race over the server's roles.
const STUB_RETRIES: u32 = 5;

/// Loads [`STUB_SQL`] into `spec`'s database (idempotent). Its roles are the whole server's:
/// two loads at once (two CI jobs, two databases of one server) can update the same role's
/// row, and PostgreSQL refuses one ("tuple concurrently updated"). The refused load was
/// rolled back whole (one implicit transaction), so it is tried again after a short pause.
pub async fn load_stub(
    spec: &crate::db::connect::ConnectionSpec,
) -> Result<(), crate::deploy::DeployError> {
    use crate::deploy::DeployError;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let client = spec.connect(tx).await.map_err(DeployError::Connect)?;
    let mut tries = 0;
    loop {
        let error = match client.batch_execute(STUB_SQL).await {
            Ok(()) => return Ok(()),
            Err(e) => crate::deploy::error_text(&e),
        };
        if tries >= STUB_RETRIES || !crate::retry::catalog_race(&error) {
            return Err(DeployError::Db(format!(
                "cannot load the Supabase stub: {error}"
            )));
        }
        tries += 1;
        tokio::time::sleep(crate::retry::backoff(
            tries,
            std::time::Duration::from_millis(50),
            std::time::Duration::from_secs(1),
        ))
        .await;
    }
}

/// An SQL expression: the first piece of evidence, in this database, that an API (PostgREST,
/// Supabase) serves it, or NULL. Evidence is a privilege granted to one of its roles (anon,
/// authenticated, authenticator, service_role) on a schema of `$1` (a `text[]`; NULL: any
/// schema), on a table or view there, or in this database's default privileges. The roles
/// alone prove nothing: roles belong to the whole server, and a plain database beside a
/// Supabase one sees them too.
pub const API_EVIDENCE: &str = "(WITH api AS (SELECT oid, rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'authenticator', 'service_role'))
SELECT coalesce(
  (SELECT format('%s has %s on schema %s', a.rolname, x.privilege_type, quote_ident(n.nspname))
     FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) x JOIN api a ON a.oid = x.grantee
    WHERE $1::text[] IS NULL OR n.nspname = ANY($1) ORDER BY 1 LIMIT 1),
  (SELECT format('%s has %s on %s', a.rolname, x.privilege_type, c.oid::regclass)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          CROSS JOIN LATERAL aclexplode(c.relacl) x JOIN api a ON a.oid = x.grantee
    WHERE $1::text[] IS NULL OR n.nspname = ANY($1) ORDER BY 1 LIMIT 1),
  (SELECT format('default privileges in this database grant %s to %s', x.privilege_type, a.rolname)
     FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) x JOIN api a ON a.oid = x.grantee
    ORDER BY 1 LIMIT 1)))";

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_supabase_schema_is_named_and_others_are_not() {
        let m = super::missing_schema;
        assert_eq!(
            m(Some("3F000"), "schema \"auth\" does not exist"),
            Some("auth")
        );
        assert_eq!(m(Some("3F000"), "schema \"app\" does not exist"), None);
        assert_eq!(m(Some("42P01"), "schema \"auth\" does not exist"), None);
    }
}
