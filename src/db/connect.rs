//! Connecting: `DATABASE_URL` in URL or key=value form, every libpq `sslmode` (disable, prefer,
//! require, verify-ca, verify-full) with rustls, a connect timeout, `application_name=pgshift`,
//! and one clear line for each way a connection fails, never holding the password.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres::Config;

use super::conninfo::{self, ConninfoError, Env};
use crate::sanitize::redact::{redact_string, remember};

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn parse(s: &str) -> Option<TlsMode> {
        Some(match s {
            "disable" => TlsMode::Disable,
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }
}

/// A parsed connection string: what tokio-postgres takes, plus what pgshift handles itself.
#[derive(Clone)]
pub struct ConnectionSpec {
    pub config: Config,
    pub tls: TlsMode,
    pub root_cert: Option<std::path::PathBuf>,
    /// The application name pgshift chose (`pgshift[pid@host]`), or `None` when the
    /// connection string or PGAPPNAME set one.
    own_application_name: Option<String>,
    /// Said while resolving (a password file others can read, …).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectionSpec({})", self.describe())
    }
}

/// Why pgshift could not connect. The message never holds the password.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    pub help: String,
    /// SIGINT or SIGTERM ended the attempt (exit 130, not a connection problem).
    pub interrupted: bool,
}

impl From<ConninfoError> for ConnectError {
    fn from(e: ConninfoError) -> Self {
        ConnectError {
            message: e.message,
            help: e.help,
            interrupted: false,
        }
    }
}

fn bad_option(what: &str) -> ConnectError {
    ConnectError {
        message: format!("the database URL is not valid: {what}"),
        help: "see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS for each option's values".into(),
        interrupted: false,
    }
}

/// `pgshift[pid@host]`: what `status` and `pg_stat_activity` show of a deployer.
fn default_application_name() -> String {
    let mut buf = [0u8; 64];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let host: String = if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end])
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .take(24)
            .collect()
    } else {
        String::from("?")
    };
    format!("pgshift[{}@{host}]", std::process::id())
}

/// libpq's default socket folder: Debian's build uses /var/run/postgresql, upstream's /tmp.
fn default_host() -> String {
    if std::path::Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql".into()
    } else {
        "/tmp".into()
    }
}

/// The operating system user, libpq's default user name.
fn os_user(env: Env) -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; it is read at once.
    let name = unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            None
        } else {
            Some(
                std::ffi::CStr::from_ptr((*pw).pw_name)
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    };
    name.or_else(|| env("USER"))
        .unwrap_or_else(|| "postgres".into())
}

impl ConnectionSpec {
    /// Parses a connection string alone, without libpq's environment or password file (the
    /// throwaway clusters pgshift starts itself).
    pub fn parse(s: &str) -> Result<ConnectionSpec, ConnectError> {
        ConnectionSpec::resolve(Some(s), &|_| None)
    }

    /// What libpq would connect to: the connection string (a URL or key=value pairs; none:
    /// the environment alone), the service file, the `PG*` variables, the password file, then
    /// defaults. Every password it finds is remembered as a secret (never printed).
    pub fn resolve(url: Option<&str>, env: Env) -> Result<ConnectionSpec, ConnectError> {
        let given = conninfo::parse(url.unwrap_or(""))?;
        let mut p = conninfo::resolve(given, env)?;
        let host = p.get("host").cloned().unwrap_or_else(default_host);
        let user = p.get("user").cloned().unwrap_or_else(|| os_user(env));
        let dbname = p.get("dbname").cloned().unwrap_or_else(|| user.clone());
        let warnings = password(&mut p, env, &host, &user, &dbname);
        let mut config = Config::new();
        addresses(&mut config, &p, &host)?;
        config.user(&user);
        config.dbname(&dbname);
        if let Some(pw) = p.get("password") {
            config.password(pw);
        }
        if let Some(o) = p.get("options") {
            config.options(o);
        }
        let own_application_name = match p.get("application_name") {
            Some(name) => {
                config.application_name(name);
                None
            }
            None => {
                let name = default_application_name();
                config.application_name(&name);
                Some(name)
            }
        };
        session_options(&mut config, &p)?;
        let tls = match p.get("sslmode") {
            Some(m) => TlsMode::parse(m).ok_or_else(|| {
                bad_option(
                    "sslmode must be disable, allow, prefer, require, verify-ca or verify-full",
                )
            })?,
            None => TlsMode::Prefer,
        };
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        Ok(ConnectionSpec {
            config,
            tls,
            root_cert: p.get("sslrootcert").map(Into::into),
            own_application_name,
            warnings,
        })
    }

    /// The connection as libpq's key=value string, for the client programs pgshift runs
    /// (`pg_dump`, `psql`), without the password, which is returned apart: it goes to them in a
    /// password file, never on a command line.
    pub fn for_libpq(&self, application_name: &str) -> (String, Option<String>) {
        use tokio_postgres::config::Host;
        let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut pairs = Vec::new();
        // A list (hosts, addresses, ports) as one comma-separated value, when it has any.
        let mut list = |key: &str, items: Vec<String>| {
            if !items.is_empty() {
                pairs.push(format!("{key}={}", quote(&items.join(","))));
            }
        };
        list(
            "host",
            self.config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    Host::Tcp(h) => h.clone(),
                    Host::Unix(p) => p.display().to_string(),
                })
                .collect(),
        );
        list(
            "hostaddr",
            self.config
                .get_hostaddrs()
                .iter()
                .map(|a| a.to_string())
                .collect(),
        );
        list(
            "port",
            self.config
                .get_ports()
                .iter()
                .map(|p| p.to_string())
                .collect(),
        );
        if let Some(u) = self.config.get_user() {
            pairs.push(format!("user={}", quote(u)));
        }
        pairs.push(format!("dbname={}", quote(&self.database())));
        if let Some(o) = self.config.get_options() {
            pairs.push(format!("options={}", quote(o)));
        }
        let mode = match self.tls {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        };
        pairs.push(format!("sslmode={mode}"));
        if let Some(c) = &self.root_cert {
            pairs.push(format!("sslrootcert={}", quote(&c.display().to_string())));
        }
        if let Some(t) = self.config.get_connect_timeout() {
            pairs.push(format!("connect_timeout={}", t.as_secs()));
        }
        pairs.push(format!("application_name={}", quote(application_name)));
        let password = self
            .config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        (pairs.join(" "), password)
    }

    /// The application name pgshift set (`pgshift[pid@host]`), to extend with the migration
    /// running; `None` when the user chose one.
    pub fn progress_label(&self) -> Option<String> {
        self.own_application_name.clone()
    }

    /// `user@host:port/dbname`, for messages: never the password.
    pub fn describe(&self) -> String {
        use tokio_postgres::config::Host;
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{host}:{port}/{}",
            self.config.get_user().unwrap_or("?"),
            self.database()
        )
    }

    /// The database name (defaults to the user name, as libpq does, also when it is empty).
    pub fn database(&self) -> String {
        self.config
            .get_dbname()
            .filter(|d| !d.is_empty())
            .or(self.config.get_user().filter(|u| !u.is_empty()))
            .unwrap_or("postgres")
            .to_string()
    }

    fn tls_connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConnectError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad_option(&e.to_string()))?;
        let config = match self.tls {
            TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth(),
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                let roots = Arc::new(self.roots()?);
                let inner =
                    rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                        .build()
                        .map_err(|e| self.no_roots(&e.to_string()))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Verify {
                        inner,
                        check_name: self.tls == TlsMode::VerifyFull,
                    }))
                    .with_no_client_auth()
            }
        };
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

    /// The root certificates could not be used: which file, and what it takes.
    fn no_roots(&self, why: &str) -> ConnectError {
        let file = match &self.root_cert {
            Some(p) if p.as_os_str() != "system" => {
                format!("the root certificate file {} (sslrootcert)", p.display())
            }
            _ => "the system's root certificates (sslrootcert=system or none given)".to_string(),
        };
        ConnectError {
            message: format!(
                "cannot verify {}'s certificate: {file} gave no usable certificate ({why})",
                self.describe()
            ),
            help: "point sslrootcert at a PEM file holding the certificate of the server's certificate authority, or use sslmode=require to encrypt without verifying".into(),
            interrupted: false,
        }
    }

    /// Root certificates: `sslrootcert`, else `~/.postgresql/root.crt`, else the system's.
    fn roots(&self) -> Result<RootCertStore, ConnectError> {
        use rustls::pki_types::pem::PemObject;
        let mut store = RootCertStore::empty();
        let default =
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".postgresql/root.crt"));
        let file = self.root_cert.clone().or(default.filter(|p| p.is_file()));
        match file.filter(|f| f.as_os_str() != "system") {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(&path).map_err(|e| ConnectError {
                    message: format!("cannot read the root certificate {}: {e}", path.display()),
                    help: "point sslrootcert at the PEM file of the server's certificate authority"
                        .into(),
                    interrupted: false,
                })?;
                for c in certs.flatten() {
                    let _ = store.add(c);
                }
            }
            None => {
                for c in rustls_native_certs::load_native_certs().certs {
                    let _ = store.add(c);
                }
            }
        }
        Ok(store)
    }

    /// The TLS connector a cancel request needs (the same settings as the connection).
    pub fn tls_for_cancel(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        self.tls_connector().unwrap_or_else(|_| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth();
            tokio_postgres_rustls::MakeRustlsConnect::new(config)
        })
    }

    /// Connects; the connection's messages (notices) go to `notices`.
    pub async fn connect(
        &self,
        notices: tokio::sync::mpsc::UnboundedSender<tokio_postgres::error::DbError>,
    ) -> Result<tokio_postgres::Client, ConnectError> {
        self.connect_with(notices, None).await
    }

    /// Connects; notices go to `notices`, and the payloads of notifications (`LISTEN`) to
    /// `notifications` with their channel and the server process that sent them.
    pub async fn connect_with(
        &self,
        notices: tokio::sync::mpsc::UnboundedSender<tokio_postgres::error::DbError>,
        notifications: Option<tokio::sync::mpsc::UnboundedSender<(String, String, i32)>>,
    ) -> Result<tokio_postgres::Client, ConnectError> {
        Ok(self.connect_reporting(notices, notifications).await?.0)
    }

    /// [`ConnectionSpec::connect_with`], with the `server_version` the server reported when
    /// the session started (every PostgreSQL does; a proxy in front of it may not).
    pub async fn connect_reporting(
        &self,
        notices: tokio::sync::mpsc::UnboundedSender<tokio_postgres::error::DbError>,
        notifications: Option<tokio::sync::mpsc::UnboundedSender<(String, String, i32)>>,
    ) -> Result<(tokio_postgres::Client, Option<String>), ConnectError> {
        let tls = self.tls_connector()?;
        // tokio-postgres bounds the TCP connect alone: a server (or a proxy in front of it)
        // that accepts and then says nothing would hold pgshift forever. The whole exchange
        // (TCP, TLS, startup, authentication) gets connect_timeout per host, as in libpq.
        let connecting = self.config.connect(tls);
        let connected = tokio::select! {
            r = bounded(self.connect_deadline(), connecting) => r,
            () = crate::interrupt::wait() => return Err(ConnectError {
                message: format!("connecting to {} was interrupted (SIGINT/SIGTERM)", self.describe()),
                help: "nothing was changed; run the command again when ready".into(),
                interrupted: true,
            }),
        };
        let (client, mut connection) = match connected {
            Some(r) => r.map_err(|e| self.explain(&e))?,
            None => return Err(self.silent()),
        };
        let server_version = connection.parameter("server_version").map(str::to_string);
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(msg)) = stream.next().await {
                match msg {
                    tokio_postgres::AsyncMessage::Notice(n) => {
                        let _ = notices.send(n);
                    }
                    tokio_postgres::AsyncMessage::Notification(n) => {
                        if let Some(tx) = &notifications {
                            let _ = tx.send((
                                n.channel().to_string(),
                                n.payload().to_string(),
                                n.process_id(),
                            ));
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok((client, server_version))
    }

    /// How long connecting may take in all: connect_timeout for each host tried (libpq's
    /// rule); `None` with connect_timeout=0, which waits forever.
    pub fn connect_deadline(&self) -> Option<Duration> {
        let per_host = self.config.get_connect_timeout()?;
        let hosts = self.config.get_hosts().len().max(1) as u32;
        Some(*per_host * hosts)
    }

    /// The first answer after connecting, `fut`, within what is left of the connect deadline
    /// counted from `started` (2 s at least, libpq's shortest timeout, so that a slow but
    /// working connection is not cut at its first query): a server that finished the startup
    /// and then answers nothing is as unreachable as one that never answered.
    pub async fn first_answer<T>(
        &self,
        started: std::time::Instant,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, ConnectError> {
        let left = self.connect_deadline().map(|d| {
            d.saturating_sub(started.elapsed())
                .max(Duration::from_secs(2))
        });
        let answer = tokio::select! {
            r = bounded(left, fut) => r,
            () = crate::interrupt::wait() => return Err(ConnectError {
                message: format!("waiting for {}'s first answer was interrupted (SIGINT/SIGTERM)", self.describe()),
                help: "nothing was changed; run the command again when ready".into(),
                interrupted: true,
            }),
        };
        answer.ok_or_else(|| self.silent())
    }

    /// The server took the connection and then did not answer in time.
    fn silent(&self) -> ConnectError {
        let secs = self.config.get_connect_timeout().map_or(0, |d| d.as_secs());
        ConnectError {
            message: format!(
                "cannot connect to {}: the server took the connection but did not answer within {secs} s (connect_timeout, for the startup, authentication and first query)",
                self.describe()
            ),
            help: "something listens there but does not speak PostgreSQL in time (a stuck server, a proxy or load balancer with nothing behind it): check host and port, or raise connect_timeout in the URL (?connect_timeout=30)".into(),
            interrupted: false,
        }
    }

    /// One line saying what failed and what to do.
    pub fn explain(&self, e: &tokio_postgres::Error) -> ConnectError {
        let target = self.describe();
        let (what, help) = if let Some(db) = e.as_db_error() {
            let help = match db.code().code() {
                "28P01" => "check the password in the connection URL (it is not shown here)",
                "28000" => "the server's pg_hba.conf refuses this user, host or SSL mode; ask its administrator or try another sslmode",
                "3D000" => "create the database (CREATE DATABASE …) or fix its name in the URL",
                "53300" => "too many connections: close some, or use a session-mode pooler",
                "57P03" => "the server is starting up or shutting down; try again in a moment",
                _ => "see the server's message above",
            };
            (db.message().to_string(), help)
        } else {
            let text = error_chain(e);
            let lower = text.to_lowercase();
            let help = if lower.contains("expired") {
                "the server's certificate has expired: renew it, or ask the server's administrator"
            } else if lower.contains("certificate")
                || lower.contains("unknownissuer")
                || lower.contains("notvalidforname")
            {
                "the server's certificate is not trusted: set sslrootcert to its CA file, or use sslmode=require to encrypt without verifying"
            } else if lower.contains("refused") {
                "nothing listens there: is the server running, and are host and port right?"
            } else if lower.contains("lookup")
                || lower.contains("name or service not known")
                || lower.contains("resolve")
            {
                "the host name does not resolve: check the host in the URL"
            } else if lower.contains("timed out") || lower.contains("timeout") {
                "no answer in time: check the host, the port and the firewall, or raise connect_timeout"
            } else if lower.contains("ssl") || lower.contains("tls") {
                "the server does not accept TLS as asked: check sslmode"
            } else {
                "check the connection URL"
            };
            (text, help)
        };
        ConnectError {
            message: redact_string(format!("cannot connect to {target}: {what}")),
            help: help.to_string(),
            interrupted: false,
        }
    }
}

/// `fut`, or `None` when `limit` passes first (no limit: wait for it).
async fn bounded<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    match limit {
        Some(d) => tokio::time::timeout(d, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// The connection's parameters, as libpq resolved them.
type Params = std::collections::BTreeMap<String, String>;

/// The password from the password file when none was given (with a warning when the file is
/// readable by others); every password is remembered as a secret, except one that is the
/// user's or the database's name (`postgres:postgres@…`): it hides nothing that is not shown
/// anyway, and masking it would blank those names out.
fn password(p: &mut Params, env: Env, host: &str, user: &str, dbname: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    if !p.contains_key("password") {
        let first_host = host.split(',').next().unwrap_or("");
        let first_port = p
            .get("port")
            .and_then(|ports| {
                ports
                    .split(',')
                    .next()
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "5432".into());
        let found = conninfo::password_file(
            p.get("passfile").map(String::as_str),
            env,
            first_host,
            &first_port,
            dbname,
            user,
        );
        warnings.extend(found.warning);
        if let Some(pw) = found.password {
            p.insert("password".into(), pw);
        }
    }
    if let Some(pw) = p
        .get("password")
        .filter(|pw| **pw != user && **pw != dbname)
    {
        remember(pw);
    }
    warnings
}

/// Hosts (a `/` starts a socket folder), host addresses and ports, each a list.
fn addresses(config: &mut Config, p: &Params, host: &str) -> Result<(), ConnectError> {
    for h in host.split(',') {
        if h.starts_with('/') {
            config.host_path(h);
        } else {
            config.host(h);
        }
    }
    if let Some(addrs) = p.get("hostaddr") {
        for a in addrs.split(',') {
            let ip = a
                .parse()
                .map_err(|_| bad_option("hostaddr is not an IP address"))?;
            config.hostaddr(ip);
        }
    }
    if let Some(ports) = p.get("port") {
        for port in ports.split(',') {
            let port = if port.is_empty() { "5432" } else { port };
            config.port(
                port.parse()
                    .map_err(|_| bad_option("port is not a number from 1 to 65535"))?,
            );
        }
    }
    Ok(())
}

/// One of a few words: `p[key]` as the value `choices` pairs it with; `message` when it is
/// none of them.
fn choice<T: Copy>(
    p: &Params,
    key: &str,
    choices: &[(&str, T)],
    message: &str,
) -> Result<Option<T>, ConnectError> {
    p.get(key)
        .map(|v| {
            choices
                .iter()
                .find(|(name, _)| name == v)
                .map(|(_, t)| *t)
                .ok_or_else(|| bad_option(message))
        })
        .transpose()
}

/// libpq's `target_session_attrs` values.
const SESSION_ATTRS: [(&str, tokio_postgres::config::TargetSessionAttrs); 3] = [
    ("any", tokio_postgres::config::TargetSessionAttrs::Any),
    (
        "read-write",
        tokio_postgres::config::TargetSessionAttrs::ReadWrite,
    ),
    (
        "read-only",
        tokio_postgres::config::TargetSessionAttrs::ReadOnly,
    ),
];

/// libpq's `channel_binding` values.
const CHANNEL_BINDING: [(&str, tokio_postgres::config::ChannelBinding); 3] = [
    ("disable", tokio_postgres::config::ChannelBinding::Disable),
    ("prefer", tokio_postgres::config::ChannelBinding::Prefer),
    ("require", tokio_postgres::config::ChannelBinding::Require),
];

/// connect_timeout (libpq: 0 waits forever, anything below 2 s counts as 2), the session
/// attributes wanted, channel binding and keepalives.
fn session_options(config: &mut Config, p: &Params) -> Result<(), ConnectError> {
    let timeout = match p.get("connect_timeout") {
        Some(t) => t
            .trim()
            .parse::<u64>()
            .map_err(|_| bad_option("connect_timeout is not a number of seconds"))?,
        None => 10,
    };
    if timeout > 0 {
        config.connect_timeout(Duration::from_secs(timeout.max(2)));
    }
    if let Some(t) = choice(
        p,
        "target_session_attrs",
        &SESSION_ATTRS,
        "target_session_attrs must be any, read-write or read-only",
    )? {
        config.target_session_attrs(t);
    }
    if let Some(c) = choice(
        p,
        "channel_binding",
        &CHANNEL_BINDING,
        "channel_binding must be disable, prefer or require",
    )? {
        config.channel_binding(c);
    }
    if let Some(k) = p.get("keepalives") {
        config.keepalives(k != "0");
    }
    if let Some(k) = p.get("keepalives_idle") {
        config.keepalives_idle(Duration::from_secs(
            k.parse()
                .map_err(|_| bad_option("keepalives_idle is not a number of seconds"))?,
        ));
    }
    Ok(())
}

/// The error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// `sslmode=require` (and prefer): encrypt, verify nothing, as libpq does.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// verify-ca (chain only) and verify-full (chain and host name).
#[derive(Debug)]
struct Verify {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for Verify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_keywords_and_strips_what_pgshift_handles() {
        let s = ConnectionSpec::parse("postgresql://app:s3cret@db.example.com:6543/prod?sslmode=verify-full&sslrootcert=/etc/ca.pem").unwrap();
        assert_eq!(s.tls, TlsMode::VerifyFull);
        assert_eq!(
            s.root_cert.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(s.describe(), "app@db.example.com:6543/prod");
        assert!(s
            .config
            .get_application_name()
            .is_some_and(|n| n.starts_with("pgshift[")));
        assert!(s.progress_label().is_some());
        assert!(!format!("{s:?}").contains("s3cret"));
        let k = ConnectionSpec::parse(
            "host=/tmp port=5433 user=postgres dbname='my db' sslmode=disable application_name=ci",
        )
        .unwrap();
        assert_eq!(k.tls, TlsMode::Disable);
        assert_eq!(k.describe(), "postgres@/tmp:5433/my db");
        assert_eq!(k.config.get_application_name(), Some("ci"));
        assert_eq!(k.progress_label(), None);
        assert_eq!(
            ConnectionSpec::parse("postgres://u@h/d").unwrap().tls,
            TlsMode::Prefer
        );
    }

    #[test]
    fn passwords_are_remembered_as_secrets_unless_they_are_a_shown_name() {
        use crate::sanitize::redact::redact;
        ConnectionSpec::parse("postgresql://dev_user:dev_user@h/devdb").unwrap();
        assert_eq!(redact("dev_user@h/devdb"), "dev_user@h/devdb");
        ConnectionSpec::parse("host=h user=u password='Kx9-remembered'").unwrap();
        assert_eq!(redact("was Kx9-remembered"), "was ***");
    }

    #[test]
    fn an_empty_database_name_is_the_user_name_as_in_libpq() {
        let s = ConnectionSpec::parse("postgresql://app@h/?dbname=").unwrap();
        assert_eq!(s.database(), "app");
        let s = ConnectionSpec::parse("host=h user=app dbname=''").unwrap();
        assert_eq!(s.database(), "app");
    }

    #[test]
    fn a_root_certificate_file_without_a_certificate_is_named_not_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let s = ConnectionSpec::parse(&format!(
            "host=db.example.com user=app dbname=shop sslmode=verify-full sslrootcert={}",
            file.display()
        ))
        .unwrap();
        let e = s.tls_connector().err().expect("refused");
        assert!(
            e.message.starts_with("cannot verify app@db.example.com:5432/shop's certificate: the root certificate file")
                && e.message.contains("ca.pem (sslrootcert) gave no usable certificate"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("URL is not valid"), "{}", e.message);
    }

    #[test]
    fn bad_urls_say_so_without_the_password() {
        let e = ConnectionSpec::parse("postgresql://u:pw@h/d?sslmode=sometimes").unwrap_err();
        assert!(e.message.contains("sslmode must be"), "{}", e.message);
        let e = ConnectionSpec::parse("mysql:/nope").unwrap_err();
        assert!(
            e.message.contains("neither a postgresql:// URL"),
            "{}",
            e.message
        );
        let e = ConnectionSpec::parse("postgresql://u:hunter2@h:notaport/d").unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }
}
