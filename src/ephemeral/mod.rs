//! Throwaway PostgreSQL clusters: `initdb` + `pg_ctl` in a private temporary directory, a unix
//! socket there, a free TCP port on 127.0.0.1, removed afterwards.
//!
//! Used by `pgshift test` and by pgshift's own test suite (one cluster per test process via
//! [`Cluster::shared`], one database per test via [`Cluster::create_database`]).
//!
//! Teardown never depends on the process ending politely: `Drop` stops the server and removes
//! the directory; the shared cluster is also stopped by an `atexit` handler; and each cluster has
//! a watchdog process that holds the read end of a pipe from this process, so when this process
//! dies in any way (panic, `exit`, SIGKILL) the pipe closes and the watchdog stops the server and
//! removes the directory.

mod binaries;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use binaries::{bin_dir_for_major, find_bin_dir, search_bin_dir, SearchPaths};

/// Why a throwaway cluster could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EphemeralError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found; searched: {searched}"
    )]
    /// initdb, pg_ctl and postgres are not installed (scripts/setup.sh installs them).
    BinariesNotFound {
        /// Where pgshift looked.
        searched: String,
    },
    #[error("running as root, and there is no `postgres` user to run the server as (initdb refuses to run as root)")]
    /// Running as root without a `postgres` user to run the server as.
    NoPostgresUser,
    #[error("{what}: {source}")]
    /// A file or folder could not be made.
    Io {
        /// What was being done.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    #[error("{what} failed ({status}):\n{output}")]
    /// A program (initdb, pg_ctl, psql) failed.
    Command {
        /// What was being done.
        what: String,
        /// How it ended.
        status: String,
        /// What it printed.
        output: String,
    },
}

impl EphemeralError {
    /// What the user should do about it.
    pub fn help(&self) -> &'static str {
        match self {
            EphemeralError::BinariesNotFound { .. } => {
                "install PostgreSQL: `apt-get install -y postgresql` on Debian/Ubuntu (scripts/setup.sh does it), \
                 or set PGSHIFT_PG_BINDIR to the folder holding initdb"
            }
            EphemeralError::NoPostgresUser => {
                "run as a regular user, or create the user (`apt-get install -y postgresql` creates it)"
            }
            EphemeralError::Io { .. } | EphemeralError::Command { .. } => {
                "read the server log above; the temporary directory has been removed"
            }
        }
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EphemeralError {
    let what = what.into();
    move |source| EphemeralError::Io { what, source }
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Turn off fsync, synchronous_commit and full_page_writes: much faster, and safe only
    /// because the cluster is thrown away.
    pub fast: bool,
    /// Where initdb and pg_ctl are; found with [`find_bin_dir`] when `None`.
    pub bin_dir: Option<PathBuf>,
    /// Serve TLS with this certificate and key (PEM), for tests of `sslmode`.
    pub tls: Option<TlsFiles>,
    /// More server settings, `name=value` (benchmarks turn autovacuum off, say).
    pub settings: Vec<String>,
}

/// A server certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            fast: true,
            bin_dir: None,
            tls: None,
            settings: Vec::new(),
        }
    }
}

/// The OS user that runs the server when we are root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsUser {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// A running throwaway PostgreSQL server.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    run_as: Option<OsUser>,
    password: String,
    postmaster_pid: std::sync::atomic::AtomicI32,
    server_version: String,
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
    stopped: Mutex<bool>,
    next_db: AtomicUsize,
}

/// The name of the superuser of every throwaway cluster.
pub const SUPERUSER: &str = "postgres";

impl Cluster {
    /// Creates and starts a new cluster.
    pub fn start(options: &ClusterOptions) -> Result<Cluster, EphemeralError> {
        let bin_dir = match &options.bin_dir {
            Some(d) => search_bin_dir(&SearchPaths {
                explicit: Some(d.clone()),
                ..SearchPaths::default()
            })?,
            None => find_bin_dir()?,
        };
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_user().ok_or(EphemeralError::NoPostgresUser)?)
        } else {
            None
        };
        let root = tempfile::Builder::new()
            .prefix("pgshift-pg-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(io_err("cannot create a temporary directory"))?
            .keep();
        let mut cluster = Cluster {
            data_dir: root.join("data"),
            socket_dir: root.join("socket"),
            root,
            port: 0,
            bin_dir,
            run_as,
            password: random_password(),
            postmaster_pid: std::sync::atomic::AtomicI32::new(0),
            server_version: String::new(),
            watchdog: Mutex::new(None),
            stopped: Mutex::new(false),
            next_db: AtomicUsize::new(0),
        };
        // From here on, Drop (and the watchdog) remove the directory whatever fails.
        cluster.start_watchdog()?;
        cluster.init(options)?;
        Ok(cluster)
    }

    /// The cluster of this process, started on first use and stopped when the process exits.
    pub fn shared() -> Result<&'static Cluster, String> {
        static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let cluster = Cluster::start(&ClusterOptions::default())
                    .map_err(|e| format!("{e}\nhelp: {}", e.help()))?;
                extern "C" fn stop_shared() {
                    if let Some(Ok(c)) = SHARED.get() {
                        c.stop();
                    }
                }
                unsafe { libc::atexit(stop_shared) };
                Ok(cluster)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn init(&mut self, options: &ClusterOptions) -> Result<(), EphemeralError> {
        use std::os::unix::fs::DirBuilderExt;
        for d in [&self.data_dir, &self.socket_dir] {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(d)
                .map_err(io_err(format!("cannot create {}", d.display())))?;
        }
        let pwfile = self.root.join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", self.password))
            .map_err(io_err("cannot write the password file"))?;
        if let Some(user) = self.run_as {
            for p in [&self.root, &self.data_dir, &self.socket_dir, &pwfile] {
                std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))
                    .map_err(io_err(format!("cannot give {} to postgres", p.display())))?;
            }
        }
        let mut initdb = self.server_command("initdb");
        initdb
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run(&mut initdb, "initdb")?;
        let _ = std::fs::remove_file(&pwfile);
        if let Some(tls) = &options.tls {
            for (name, text, mode) in [
                ("server.crt", &tls.cert_pem, 0o644),
                ("server.key", &tls.key_pem, 0o600),
            ] {
                let path = self.data_dir.join(name);
                std::fs::write(&path, text).map_err(io_err(format!("cannot write {name}")))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(io_err(format!("cannot protect {name}")))?;
                if let Some(user) = self.run_as {
                    std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))
                        .map_err(io_err(format!("cannot give {name} to postgres")))?;
                }
            }
        }

        let mut last_error = None;
        for _ in 0..5 {
            self.port = free_port()?;
            match self.pg_ctl_start(options) {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(e) => {
                    let busy = e.to_string().contains("already in use");
                    last_error = Some(e);
                    if !busy {
                        break;
                    }
                }
            }
        }
        if let Some(e) = last_error {
            return Err(e);
        }
        self.read_postmaster_pid()?;
        self.server_version = self
            .psql("postgres", "SHOW server_version")
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        Ok(())
    }

    fn read_postmaster_pid(&self) -> Result<(), EphemeralError> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let pid_text =
            std::fs::read_to_string(&pid_file).map_err(io_err("cannot read postmaster.pid"))?;
        let pid = pid_text
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        self.postmaster_pid
            .store(pid, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn pg_ctl_start(&self, options: &ClusterOptions) -> Result<(), EphemeralError> {
        let mut server_opts = format!(
            "-k '{}' -p {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.socket_dir.display(),
            self.port
        );
        if options.fast {
            server_opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        if options.tls.is_some() {
            server_opts
                .push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let log = self.root.join("server.log");
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-s", "-o", &server_opts, "start"]);
        run(&mut pg_ctl, "pg_ctl start").map_err(|e| match e {
            EphemeralError::Command { what, status, .. } => EphemeralError::Command {
                what,
                status,
                output: tail(&log, 20),
            },
            other => other,
        })?;
        Ok(())
    }

    fn start_watchdog(&self) -> Result<(), EphemeralError> {
        use std::os::unix::process::CommandExt;
        // Blocks on stdin until this process closes it (on drop, or by dying), then stops the
        // server and removes the directory. Its own process group, so Ctrl-C does not kill it
        // before it has cleaned up.
        const SCRIPT: &str = r#"
            while read -r _; do :; done
            pm=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
            if [ -n "$pm" ]; then
                kill -QUIT "$pm" 2>/dev/null
                i=0
                while kill -0 "$pm" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
                kill -KILL "$pm" 2>/dev/null
            fi
            rm -rf "$1"
        "#;
        let mut child = Command::new("sh")
            .args(["-c", SCRIPT, "pgshift-watchdog"])
            .arg(&self.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(io_err("cannot start the cleanup watchdog (sh)"))?;
        let stdin = child.stdin.take().ok_or_else(|| EphemeralError::Io {
            what: "watchdog".into(),
            source: std::io::ErrorKind::BrokenPipe.into(),
        })?;
        *self.watchdog.lock().unwrap_or_else(|e| e.into_inner()) = Some((child, stdin));
        Ok(())
    }

    /// A command for a server program, run as `postgres` when we are root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        match self.run_as {
            Some(_) => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Path of a client program (psql, pg_dump): beside the server's, else from PATH.
    pub fn client_program(&self, program: &str) -> PathBuf {
        let p = self.bin_dir.join(program);
        if p.is_file() {
            p
        } else {
            PathBuf::from(program)
        }
    }

    /// Stops the server and removes the directory. Idempotent.
    pub fn stop(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if *stopped {
            return;
        }
        *stopped = true;
        let pid = self.postmaster_pid();
        if pid > 0 {
            unsafe { libc::kill(pid, libc::SIGQUIT) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.root);
        if let Some((mut child, stdin)) = self
            .watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// The port the server listens on (also the name of its socket).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder of the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The temporary directory holding data, socket and log.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cluster's data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where initdb, pg_ctl and postgres were found.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The server's process id.
    pub fn postmaster_pid(&self) -> i32 {
        self.postmaster_pid
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops the server in immediate mode (a crash, for the server: no checkpoint, every
    /// session cut), waits `down_for`, and starts it again with the same settings; it recovers
    /// from its WAL as after a power loss. For tests of what a deploy does when its server dies.
    pub fn crash_and_restart(&self, down_for: Duration) -> Result<(), EphemeralError> {
        let mut stop = self.server_command("pg_ctl");
        stop.arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "immediate", "-w", "-s", "stop"]);
        run(&mut stop, "pg_ctl stop -m immediate")?;
        std::thread::sleep(down_for);
        // `restart` of a stopped server starts it with the options it last ran with.
        let log = self.root.join("server.log");
        let mut start = self.server_command("pg_ctl");
        start
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-s", "restart"]);
        run(&mut start, "pg_ctl restart")?;
        self.read_postmaster_pid()
    }

    /// `SHOW server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// The superuser's password, for TCP connections.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A libpq URL to `database` over the unix socket (trust authentication).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql:///{database}?host={}&port={}&user={SUPERUSER}",
            self.socket_dir.display(),
            self.port
        )
    }

    /// A libpq URL to `database` over TCP on 127.0.0.1 with the superuser's password.
    pub fn tcp_url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Creates a new, empty database with a unique name starting with `prefix`.
    pub fn create_database(&self, prefix: &str) -> Result<String, EphemeralError> {
        let clean: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let n = self.next_db.fetch_add(1, Ordering::SeqCst);
        let name = format!("{clean}_{n}");
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(name)
    }

    /// Runs `sql` with psql in `database`; returns the unaligned, tuples-only output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, EphemeralError> {
        let mut cmd = self.psql_command(database);
        cmd.args(["-A", "-t", "-c", sql]);
        run(&mut cmd, "psql")
    }

    /// A psql command connected to `database` with ON_ERROR_STOP and no psqlrc.
    pub fn psql_command(&self, database: &str) -> Command {
        let mut cmd = Command::new(self.client_program("psql"));
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&self.socket_dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                database,
            ])
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE");
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a command, returning its stdout, or an error with its output.
fn run(cmd: &mut Command, what: &str) -> Result<String, EphemeralError> {
    let out = cmd.stdin(Stdio::null()).output().map_err(io_err(format!(
        "cannot run {what} ({})",
        cmd.get_program().to_string_lossy()
    )))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        Err(EphemeralError::Command {
            what: what.to_string(),
            status: out.status.to_string(),
            output: output.trim_end().to_string(),
        })
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A port that was free a moment ago (the server's bind is the real test; we retry).
fn free_port() -> Result<u16, EphemeralError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(io_err("cannot find a free TCP port on 127.0.0.1"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io_err("cannot find a free TCP port on 127.0.0.1"))
}

fn random_password() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("pw{:016x}{:08x}", h.finish(), std::process::id())
}

/// The `postgres` OS user, if it exists.
pub fn postgres_user() -> Option<OsUser> {
    let name = std::ffi::CString::new("postgres").ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy out at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    let pw = unsafe { &*pw };
    Some(OsUser {
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}
