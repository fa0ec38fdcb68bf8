//! Connections over TLS with every sslmode, against a throwaway PostgreSQL serving certificates
//! made here: a trusted one, one for another host name, and an expired one.

use predicates::str::contains;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use pgshift::ephemeral::{Cluster, ClusterOptions, TlsFiles};

struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "pgshift test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&key).unwrap();
    Pki {
        ca_pem: ca.pem(),
        issuer: Issuer::new(params, key),
    }
}

fn server_cert(pki: &Pki, names: &[&str], expired: bool) -> TlsFiles {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &pki.issuer).unwrap();
    TlsFiles {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn status(url: &str) -> assert_cmd::assert::Assert {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    crate::common::pgshift_in(dir.path())
        .env("DATABASE_URL", url)
        .arg("status")
        .assert()
}

#[test]
fn every_sslmode_behaves_like_libpq() {
    let pki = pki();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &pki.ca_pem).unwrap();
    let c = Cluster::start(&ClusterOptions {
        tls: Some(server_cert(&pki, &["localhost"], false)),
        ..ClusterOptions::default()
    })
    .unwrap();
    let url = |host: &str, mode: &str| {
        format!(
            "postgresql://postgres:{}@{host}:{}/postgres?sslmode={mode}&sslrootcert={}",
            c.password(),
            c.port(),
            ca.path().display()
        )
    };
    for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
        status(&url("localhost", mode))
            .success()
            .stdout(contains("0 applied"));
    }
    // The certificate names localhost, not 127.0.0.1: only verify-full checks the name.
    status(&url("127.0.0.1", "verify-ca")).success();
    status(&url("127.0.0.1", "verify-full"))
        .code(2)
        .stderr(contains("cannot connect to postgres@127.0.0.1"))
        .stderr(contains("help: the server's certificate is not trusted"));
    // Without the CA, the system's roots do not know this server.
    let no_ca = format!(
        "postgresql://postgres:{}@localhost:{}/postgres?sslmode=verify-full",
        c.password(),
        c.port()
    );
    status(&no_ca).code(2).stderr(contains("certificate"));
}

#[test]
fn an_expired_certificate_is_one_clear_line() {
    let pki = pki();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &pki.ca_pem).unwrap();
    let c = Cluster::start(&ClusterOptions {
        tls: Some(server_cert(&pki, &["localhost"], true)),
        ..ClusterOptions::default()
    })
    .unwrap();
    let url = format!(
        "postgresql://postgres:{}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        c.password(),
        c.port(),
        ca.path().display()
    );
    let out = status(&url)
        .code(2)
        .stderr(contains("cannot connect to postgres@localhost"))
        .stderr(contains("expired"))
        .stderr(contains("help: the server's certificate has expired"));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains(c.password()));
    // require encrypts without verifying, as libpq does.
    status(&url.replace("verify-full", "require")).success();
}
