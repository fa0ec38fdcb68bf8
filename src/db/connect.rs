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
    password: Option<String>,
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
}

fn bad_url(problem: impl Into<String>) -> ConnectError {
    ConnectError {
        message: format!("the database URL is not valid: {}", problem.into()),
        help: "write it as postgresql://user:password@host:5432/dbname?sslmode=require, or as key=value pairs (host=… dbname=…)".into(),
    }
}

/// Splits a key=value connection string into pairs (values may be single-quoted).
fn keyword_pairs(s: &str) -> Result<Vec<(String, String)>, ConnectError> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(bad_url(format!("`{key}` has no `=value`")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(bad_url(format!(
                            "the value of `{key}` has no closing quote"
                        )))
                    }
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        pairs.push((key, value));
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ConnectionSpec {
    /// Parses a URL (`postgres://`, `postgresql://`) or a key=value string.
    pub fn parse(s: &str) -> Result<ConnectionSpec, ConnectError> {
        let s = s.trim();
        let mut tls = None;
        let mut root_cert = None;
        let mut has_app_name = false;
        let mut has_timeout = false;
        let cleaned = if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let (base, query) = s.split_once('?').unwrap_or((s, ""));
            let mut kept = Vec::new();
            for param in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = param.split_once('=').unwrap_or((param, ""));
                match k {
                    "sslmode" => tls = Some(TlsMode::parse(&percent_decode(v)).ok_or_else(|| bad_url("sslmode must be disable, allow, prefer, require, verify-ca or verify-full"))?),
                    "sslrootcert" => root_cert = Some(percent_decode(v).into()),
                    _ => {
                        has_app_name |= k == "application_name";
                        has_timeout |= k == "connect_timeout";
                        kept.push(param);
                    }
                }
            }
            if kept.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", kept.join("&"))
            }
        } else if s.contains('=') {
            let mut kept = Vec::new();
            for (k, v) in keyword_pairs(s)? {
                match k.as_str() {
                    "sslmode" => tls = Some(TlsMode::parse(&v).ok_or_else(|| bad_url("sslmode must be disable, allow, prefer, require, verify-ca or verify-full"))?),
                    "sslrootcert" => root_cert = Some(v.into()),
                    _ => {
                        has_app_name |= k == "application_name";
                        has_timeout |= k == "connect_timeout";
                        kept.push(format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")));
                    }
                }
            }
            kept.join(" ")
        } else {
            return Err(bad_url(
                "it is neither a postgresql:// URL nor key=value pairs",
            ));
        };
        let mut config: Config = cleaned.parse().map_err(|e: tokio_postgres::Error| {
            // tokio-postgres names the option, not its value.
            bad_url(
                e.to_string()
                    .trim_start_matches("invalid connection string: ")
                    .to_string(),
            )
        })?;
        if !has_app_name {
            config.application_name("pgshift");
        }
        if !has_timeout {
            config.connect_timeout(Duration::from_secs(10));
        }
        let tls = tls.unwrap_or(TlsMode::Prefer);
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        Ok(ConnectionSpec {
            config,
            tls,
            root_cert,
            password,
        })
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

    /// The database name (defaults to the user name, as libpq does).
    pub fn database(&self) -> String {
        self.config
            .get_dbname()
            .or(self.config.get_user())
            .unwrap_or("postgres")
            .to_string()
    }

    /// Removes the password from a text, should a library ever include it.
    pub fn redact(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text.to_string(),
        }
    }

    fn tls_connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConnectError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad_url(e.to_string()))?;
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
                        .map_err(|e| bad_url(e.to_string()))?;
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
        let tls = self.tls_connector()?;
        let (client, mut connection) = self
            .config
            .connect(tls)
            .await
            .map_err(|e| self.explain(&e))?;
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(msg)) = stream.next().await {
                if let tokio_postgres::AsyncMessage::Notice(n) = msg {
                    let _ = notices.send(n);
                }
            }
        });
        Ok(client)
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
            message: self.redact(&format!("cannot connect to {target}: {what}")),
            help: help.to_string(),
        }
    }
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
        assert_eq!(s.config.get_application_name(), Some("pgshift"));
        assert!(!format!("{s:?}").contains("s3cret"));
        let k = ConnectionSpec::parse(
            "host=/tmp port=5433 user=postgres dbname='my db' sslmode=disable application_name=ci",
        )
        .unwrap();
        assert_eq!(k.tls, TlsMode::Disable);
        assert_eq!(k.describe(), "postgres@/tmp:5433/my db");
        assert_eq!(k.config.get_application_name(), Some("ci"));
        assert_eq!(
            ConnectionSpec::parse("postgres://u@h/d").unwrap().tls,
            TlsMode::Prefer
        );
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
