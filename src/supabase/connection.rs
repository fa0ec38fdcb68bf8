//! How pgshift reaches a Supabase project's database: a connection string (SUPABASE_DB_URL or
//! DATABASE_URL, direct or through the session pooler), or the project URL plus
//! SUPABASE_DB_PASSWORD. The transaction pooler is refused (advisory locks and session settings
//! do not survive it), and the guide's SUPABASE_URL + SUPABASE_SERVICE_KEY pair gets an
//! explanation of what is missing. Pure: no I/O.

use crate::db::connect::ConnectionSpec;

/// Supabase's transaction-mode pooler (Supavisor, and the older PgBouncer) listens on 6543.
pub const TRANSACTION_POOLER_PORT: u16 = 6543;

fn is_supabase_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host.ends_with(".supabase.com") || host.ends_with(".supabase.co")
}

/// Why a connection cannot deploy: the message and the help.
pub fn refuse_transaction_pooler(spec: &ConnectionSpec) -> Option<(String, String)> {
    use tokio_postgres::config::Host;
    let hosts = spec.config.get_hosts();
    let ports = spec.config.get_ports();
    hosts.iter().enumerate().find_map(|(i, h)| {
        let Host::Tcp(host) = h else { return None };
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        (is_supabase_host(host) && port == TRANSACTION_POOLER_PORT).then(|| {
            (
                format!(
                    "{} is Supabase's transaction pooler (port {TRANSACTION_POOLER_PORT}): it hands each transaction to another server connection, so pgshift's advisory lock, its SET statement_timeout/lock_timeout and CONCURRENTLY statements would not hold",
                    spec.describe()
                ),
                "use the session pooler (the same host, port 5432) or the direct connection (db.<project-ref>.supabase.co:5432): Supabase dashboard → Connect → \"Session pooler\"; set it as SUPABASE_DB_URL or DATABASE_URL".to_string(),
            )
        })
    })
}

/// `https://<ref>.supabase.co` → `<ref>`.
pub fn project_ref(project_url: &str) -> Option<String> {
    let rest = project_url
        .trim()
        .trim_end_matches('/')
        .strip_prefix("https://")
        .or_else(|| project_url.trim().strip_prefix("http://"))?;
    let host = rest.split(['/', ':']).next()?;
    let r = host.strip_suffix(".supabase.co")?;
    (!r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric())).then(|| r.to_string())
}

fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The direct connection of a project: `host=db.<ref>.supabase.co port=5432 dbname=postgres
/// user=postgres sslmode=require password=…` (key=value, so the password needs no encoding).
pub fn direct_connection(project_url: &str, password: &str) -> Result<String, (String, String)> {
    let Some(r) = project_ref(project_url) else {
        return Err((
            "SUPABASE_URL is not a project URL of the form https://<project-ref>.supabase.co".into(),
            "copy it from the Supabase dashboard (Project Settings → API), or set SUPABASE_DB_URL to the database's connection string instead".into(),
        ));
    };
    Ok(format!(
        "host=db.{r}.supabase.co port=5432 dbname=postgres user=postgres sslmode=require password={}",
        quote(password)
    ))
}

/// What to say when only the API's URL and key are given.
pub fn service_key_only() -> (String, String) {
    (
        "SUPABASE_URL and SUPABASE_SERVICE_KEY are set, but no database connection: a service key talks to Supabase's HTTP API (PostgREST), which runs queries as the service_role and cannot run DDL (CREATE, ALTER, DROP) or hold a transaction across statements".into(),
        "set SUPABASE_DB_PASSWORD (the database password, Project Settings → Database) beside SUPABASE_URL, or set SUPABASE_DB_URL to the connection string (Connect → Session pooler); the service key is not needed".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transaction_pooler_is_refused_and_the_session_pooler_is_not() {
        let tx = ConnectionSpec::parse(
            "postgresql://postgres.abc:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres",
        )
        .unwrap();
        let (message, help) = refuse_transaction_pooler(&tx).expect("refused");
        assert!(message.contains("transaction pooler"), "{message}");
        assert!(!message.contains("pw@"), "{message}");
        assert!(help.contains("Session pooler"), "{help}");
        for ok in [
            "postgresql://postgres.abc:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres",
            "postgresql://postgres:pw@db.abc.supabase.co:5432/postgres",
            "postgresql://app:pw@localhost:6543/app",
        ] {
            let s = ConnectionSpec::parse(ok).unwrap();
            assert!(refuse_transaction_pooler(&s).is_none(), "{ok}");
        }
    }

    #[test]
    fn a_project_url_and_password_make_the_direct_connection() {
        let c = direct_connection("https://abcdefghij.supabase.co/", "p'a\\ss w@rd").unwrap();
        assert_eq!(
            c,
            "host=db.abcdefghij.supabase.co port=5432 dbname=postgres user=postgres sslmode=require password='p\\'a\\\\ss w@rd'"
        );
        let s = ConnectionSpec::parse(&c).unwrap();
        assert_eq!(
            s.describe(),
            "postgres@db.abcdefghij.supabase.co:5432/postgres"
        );
        assert!(direct_connection("https://example.com", "x").is_err());
    }
}
