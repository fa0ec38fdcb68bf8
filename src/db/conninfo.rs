//! Connection parameters as libpq finds them: the connection string (a `postgresql://` URL or
//! `key=value` pairs), then the service file (`service=` or `PGSERVICE`), then the `PG*`
//! environment variables, then the password file (`PGPASSFILE` or `~/.pgpass`, ignored unless
//! 0600), then defaults. Errors name the option or the position, never a value: a value may be
//! a password, or part of one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The options pgshift understands, and the environment variable of each (libpq's).
pub const OPTIONS: &[(&str, Option<&str>)] = &[
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("dbname", Some("PGDATABASE")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("passfile", Some("PGPASSFILE")),
    ("service", Some("PGSERVICE")),
    ("options", Some("PGOPTIONS")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("sslmode", Some("PGSSLMODE")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    ("channel_binding", Some("PGCHANNELBINDING")),
    ("keepalives", None),
    ("keepalives_idle", None),
];

/// Why a connection string cannot be used. `message` holds no value from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConninfoError {
    pub message: String,
    pub help: String,
}

fn bad(message: impl Into<String>) -> ConninfoError {
    ConninfoError {
        message: format!("the database URL is not valid: {}", message.into()),
        help: "write it as postgresql://user:password@host:5432/dbname?sslmode=require (percent-encode / and ? in the password), or as key=value pairs with quoted values: host=… password='…'".into(),
    }
}

/// The options of a connection, as given (before defaults).
pub type Params = BTreeMap<String, String>;

/// A known option named by what was written, or a refusal that names no unknown text (it may
/// be a piece of a password after a stray space).
fn known(key: &str, where_: &str) -> Result<&'static str, ConninfoError> {
    if let Some((k, _)) = OPTIONS.iter().find(|(k, _)| *k == key) {
        return Ok(k);
    }
    let near = OPTIONS
        .iter()
        .map(|(k, _)| (*k, distance(k, key)))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d);
    Err(bad(match near {
        Some((k, _)) => format!("{where_} is not an option pgshift knows; did you mean `{k}`?"),
        None => format!(
            "{where_} is not an option pgshift knows; accepted: {}",
            OPTIONS
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }))
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Parses a connection string: a URL or key=value pairs. An empty string is no option at all
/// (libpq's defaults and environment decide).
pub fn parse(s: &str) -> Result<Params, ConninfoError> {
    let s = s.trim();
    if s.is_empty() {
        Ok(Params::new())
    } else if let Some(rest) = s
        .strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
    {
        parse_url(rest)
    } else if s.contains('=') {
        parse_keywords(s)
    } else {
        Err(bad("it is neither a postgresql:// URL nor key=value pairs"))
    }
}

/// Splits key=value pairs; values may be single-quoted with `\'` and `\\` escapes.
fn parse_keywords(s: &str) -> Result<Params, ConninfoError> {
    let mut params = Params::new();
    let mut chars = s.chars().peekable();
    let mut previous: Option<&str> = None;
    let mut n = 0;
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(params);
        }
        n += 1;
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
            // Usually a value with a space that was not quoted: never show the word.
            return Err(bad(match previous {
                Some(p) => format!("the {} word, after `{p}=…`, has no `=value`: a value with spaces must be quoted, e.g. {p}='…'", ordinal(n)),
                None => format!("the {} word has no `=value`", ordinal(n)),
            }));
        }
        let key = known(&key, &format!("the key of the {} pair", ordinal(n)))?;
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(bad(format!("the value of `{key}` has no closing quote"))),
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
        params.insert(key.to_string(), value);
        previous = Some(key);
    }
}

/// `%XX` decoding; malformed sequences are kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `[user[:password]@][host[:port][,…]][/dbname][?key=value&…]`. The authority ends at the
/// first `/` or `?`, and inside it the last `@` ends the credentials (as browsers read URLs), so
/// a raw `@` in a password works; a raw `/` or `?` there cannot, and is refused without a word
/// of what follows.
fn parse_url(rest: &str) -> Result<Params, ConninfoError> {
    let mut params = Params::new();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let hostspec = match authority.rfind('@') {
        Some(at) => {
            let (user, password) = match authority[..at].split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (&authority[..at], None),
            };
            if !user.is_empty() {
                params.insert("user".into(), percent_decode(user));
            }
            if let Some(p) = password {
                params.insert("password".into(), percent_decode(p));
            }
            &authority[at + 1..]
        }
        None => {
            if tail.contains('@') && authority.contains(':') {
                return Err(bad("the password seems to hold a `/` or `?`: percent-encode them in a URL (%2F, %3F), or use key=value pairs"));
            }
            authority
        }
    };
    let (hosts, ports) = split_hosts(hostspec)?;
    if !hosts.is_empty() {
        params.insert("host".into(), hosts);
    }
    if !ports.is_empty() {
        params.insert("port".into(), ports);
    }
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let db = path.strip_prefix('/').unwrap_or(path);
    if !db.is_empty() {
        params.insert("dbname".into(), percent_decode(db));
    }
    for (n, pair) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = known(
            &percent_decode(k),
            &format!("the {} query parameter", ordinal(n + 1)),
        )?;
        params.insert(key.to_string(), percent_decode(v));
    }
    Ok(params)
}

/// `h1:p1,[::1]:p2,h3` → hosts `h1,::1,h3` and ports `p1,p2,` (libpq's lists).
fn split_hosts(spec: &str) -> Result<(String, String), ConninfoError> {
    if spec.is_empty() {
        return Ok((String::new(), String::new()));
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for part in spec.split(',') {
        let (host, port) = if let Some(v6) = part.strip_prefix('[') {
            let close = v6
                .find(']')
                .ok_or_else(|| bad("an IPv6 host has no closing `]`"))?;
            let after = &v6[close + 1..];
            (&v6[..close], after.strip_prefix(':').unwrap_or(""))
        } else {
            match part.rsplit_once(':') {
                Some((h, p)) => (h, p),
                None => (part, ""),
            }
        };
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err(bad("the port is not a number from 1 to 65535"));
        }
        hosts.push(percent_decode(host));
        ports.push(port.to_string());
    }
    let ports = if ports.iter().all(String::is_empty) {
        String::new()
    } else {
        ports.join(",")
    };
    Ok((hosts.join(","), ports))
}

/// Where libpq's environment comes from (the process environment, or `.env` too).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Options from the service file for `name`: `PGSERVICEFILE` (or `~/.pg_service.conf`) first,
/// then `pg_service.conf` in `PGSYSCONFDIR` (or the system's folder).
fn service(name: &str, env: Env) -> Result<Params, ConninfoError> {
    let mut files = Vec::new();
    match env("PGSERVICEFILE") {
        Some(f) => files.push(PathBuf::from(f)),
        None => files.extend(env("HOME").map(|h| Path::new(&h).join(".pg_service.conf"))),
    }
    match env("PGSYSCONFDIR") {
        Some(d) => files.push(Path::new(&d).join("pg_service.conf")),
        None => {
            files.push("/etc/postgresql-common/pg_service.conf".into());
            files.push("/etc/pg_service.conf".into());
        }
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut in_section = false;
        let mut found = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_section = section == name;
                if in_section {
                    found = Some(Params::new());
                }
                continue;
            }
            if !in_section {
                continue;
            }
            let (k, v) = line.split_once('=').ok_or_else(|| ConninfoError {
                message: format!(
                    "{}:{}: a line of service {name} has no `=`",
                    file.display(),
                    n + 1
                ),
                help: "write key=value lines under [service]".into(),
            })?;
            let key = known(
                k.trim(),
                &format!("the key at {}:{}", file.display(), n + 1),
            )?;
            if let Some(p) = found.as_mut() {
                p.insert(key.to_string(), v.trim().to_string());
            }
        }
        if let Some(p) = found {
            return Ok(p);
        }
    }
    Err(ConninfoError {
        message: format!("connection service `{name}` was not found"),
        help: "define it in ~/.pg_service.conf (or the file PGSERVICEFILE names) as [name] followed by key=value lines".into(),
    })
}

/// The final options: the string's, then the service's, then the environment's for anything
/// still missing (libpq's order). The password file is looked up later (`password_file`).
pub fn resolve(given: Params, env: Env) -> Result<Params, ConninfoError> {
    let mut params = given;
    let service_name = params.get("service").cloned().or_else(|| env("PGSERVICE"));
    if let Some(name) = service_name.filter(|n| !n.is_empty()) {
        for (k, v) in service(&name, env)? {
            params.entry(k).or_insert(v);
        }
    }
    for (k, var) in OPTIONS {
        if let (false, Some(var)) = (params.contains_key(*k), var) {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                params.insert(k.to_string(), v);
            }
        }
    }
    Ok(params)
}

/// What the password file said, and why it was not used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PasswordLookup {
    pub password: Option<String>,
    pub warning: Option<String>,
}

/// The password for (host, port, dbname, user) from `passfile` (or `~/.pgpass`), as libpq
/// reads it: `host:port:db:user:password` lines, `*` matches anything, `\:` and `\\` escape;
/// a Unix-socket host matches `localhost`. A file that others may read is ignored, with a
/// warning, as libpq does.
pub fn password_file(
    passfile: Option<&str>,
    env: Env,
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> PasswordLookup {
    let path = match passfile {
        Some(p) => PathBuf::from(p),
        None => match env("HOME") {
            Some(h) => Path::new(&h).join(".pgpass"),
            None => return PasswordLookup::default(),
        },
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return PasswordLookup::default();
    };
    if !meta.is_file() {
        return PasswordLookup::default();
    }
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o077 != 0 {
        return PasswordLookup {
            password: None,
            warning: Some(format!(
                "password file {} has group or world access and is ignored; permissions should be u=rw (chmod 0600 {})",
                path.display(),
                path.display()
            )),
        };
    }
    let Ok(text) = std::fs::read_to_string(&path) else {
        return PasswordLookup::default();
    };
    let host = if host.starts_with('/') || host.is_empty() {
        "localhost"
    } else {
        host
    };
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, value: &str| field == "*" || field == value;
        if matches(&fields[0], host)
            && matches(&fields[1], port)
            && matches(&fields[2], dbname)
            && matches(&fields[3], user)
        {
            return PasswordLookup {
                password: Some(fields[4..].join(":")),
                warning: None,
            };
        }
    }
    PasswordLookup::default()
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Params {
        parse(s).unwrap()
    }

    #[test]
    fn urls_take_the_last_at_of_the_authority() {
        let u = p("postgresql://app:p@ss:w@rd@db.example.com:6543/prod?sslmode=require");
        assert_eq!(u["user"], "app");
        assert_eq!(u["password"], "p@ss:w@rd");
        assert_eq!(u["host"], "db.example.com");
        assert_eq!(u["port"], "6543");
        assert_eq!(u["dbname"], "prod");
        assert_eq!(u["sslmode"], "require");
        let enc = p("postgres://a%40b:x%2Fy@h/d%20b");
        assert_eq!(
            (
                enc["user"].as_str(),
                enc["password"].as_str(),
                enc["dbname"].as_str()
            ),
            ("a@b", "x/y", "d b")
        );
        let multi = p("postgresql://u@h1:5432,[::1]:5433,h3/d");
        assert_eq!(multi["host"], "h1,::1,h3");
        assert_eq!(multi["port"], "5432,5433,");
        assert!(p("postgresql:///d?host=/tmp").contains_key("host"));
        assert!(p("postgresql://").is_empty());
    }

    #[test]
    fn url_errors_never_hold_the_password() {
        for (url, secret) in [
            ("postgresql://u:hunter2/x@h/d", "hunter2"),
            ("postgresql://u:pw@h:notaport/d", "notaport"),
            ("postgresql://u:pw@h/d?passwrd=hunter2", "hunter2"),
            ("postgresql://u:pw@h/d?hunter2secret=1", "hunter2secret"),
            ("postgresql://u:pw@[::1/d", "pw"),
        ] {
            let e = parse(url).unwrap_err();
            assert!(!e.message.contains(secret), "{url}: {}", e.message);
        }
        let e = parse("postgresql://u@h/d?sslmod=require").unwrap_err();
        assert!(
            e.message.contains("did you mean `sslmode`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn keyword_errors_never_show_a_piece_of_the_value() {
        let e = parse("host=h password=correct horse user=u").unwrap_err();
        assert!(!e.message.contains("horse"), "{}", e.message);
        assert!(e.message.contains("after `password=…`"), "{}", e.message);
        assert!(e.message.contains("password='…'"), "{}", e.message);
        let e = parse("host=h password=a bcd=c").unwrap_err();
        assert!(!e.message.contains("bcd"), "{}", e.message);
        let e = parse("host=h password='unterminated").unwrap_err();
        assert!(!e.message.contains("unterminated"), "{}", e.message);
        let k = p("host=/tmp port=5433 dbname='my db' password='it\\'s'");
        assert_eq!(k["dbname"], "my db");
        assert_eq!(k["password"], "it's");
    }

    #[test]
    fn the_string_wins_over_the_service_which_wins_over_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services.conf");
        std::fs::write(
            &file,
            "# comment\n[other]\nhost=nope\n[billing]\nhost=svc-host\nport=6000\ndbname=svcdb\n",
        )
        .unwrap();
        let vars: BTreeMap<&str, String> = [
            ("PGSERVICEFILE", file.display().to_string()),
            ("PGSYSCONFDIR", dir.path().display().to_string()),
            ("PGHOST", "env-host".into()),
            ("PGUSER", "env-user".into()),
            ("PGPORT", "7000".into()),
        ]
        .into();
        let env = |k: &str| vars.get(k).cloned();
        let r = resolve(p("service=billing dbname=mine"), &env).unwrap();
        assert_eq!(r["host"], "svc-host");
        assert_eq!(r["port"], "6000");
        assert_eq!(r["dbname"], "mine");
        assert_eq!(r["user"], "env-user");
        let e = resolve(p("service=missing"), &env).unwrap_err();
        assert!(
            e.message.contains("`missing` was not found"),
            "{}",
            e.message
        );
    }

    #[test]
    fn password_file_matches_like_libpq_and_refuses_open_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:no\nlocalhost:5432:app:ann:s\\:ecret:tail\n*:*:*:bob:b0b\n",
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let env = |_: &str| None;
        let f = file.to_str();
        assert_eq!(
            password_file(f, &env, "/var/run/postgresql", "5432", "app", "ann")
                .password
                .as_deref(),
            Some("s:ecret:tail")
        );
        assert_eq!(
            password_file(f, &env, "db", "1", "x", "bob")
                .password
                .as_deref(),
            Some("b0b")
        );
        assert_eq!(
            password_file(f, &env, "db", "1", "x", "carl").password,
            None
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = password_file(f, &env, "db", "1", "x", "bob");
        assert_eq!(open.password, None);
        assert!(open.warning.unwrap().contains("group or world access"));
    }
}
