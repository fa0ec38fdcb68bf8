//! The throwaway cluster: where it finds PostgreSQL, who runs it, where it listens, and that it
//! leaves nothing behind however the process ends.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgshift::ephemeral::{postgres_user, Cluster, ClusterOptions};

fn shared() -> &'static Cluster {
    Cluster::shared().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}"))
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn uid_of(pid: i32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn euid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn one_cluster_per_process() {
    let a = shared().postmaster_pid();
    let from_threads: Vec<i32> = (0..4)
        .map(|_| std::thread::spawn(|| shared().postmaster_pid()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(a > 0 && alive(a));
    assert!(
        from_threads.iter().all(|&p| p == a),
        "{a} vs {from_threads:?}"
    );
}

#[test]
fn server_runs_as_postgres_when_root_and_as_us_otherwise() {
    let c = shared();
    let expected = if euid() == 0 {
        postgres_user().expect("postgres user").uid
    } else {
        euid()
    };
    assert_eq!(uid_of(c.postmaster_pid()), expected);
    assert_eq!(std::fs::metadata(c.data_dir()).unwrap().uid(), expected);
}

#[test]
fn unix_socket_lives_in_a_private_temporary_directory() {
    let c = shared();
    let socket = c.socket_dir().join(format!(".s.PGSQL.{}", c.port()));
    assert!(socket.exists(), "{}", socket.display());
    assert!(c.socket_dir().starts_with(std::env::temp_dir()));
    let mode = std::fs::metadata(c.root()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "root dir mode {mode:o}");
    let mode = std::fs::metadata(c.socket_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "socket dir mode {mode:o}");
    assert_eq!(
        c.psql("postgres", "SHOW unix_socket_directories")
            .unwrap()
            .trim(),
        c.socket_dir().to_str().unwrap()
    );
}

#[test]
fn fsync_is_off_for_speed() {
    let c = shared();
    assert_eq!(c.psql("postgres", "SHOW fsync").unwrap().trim(), "off");
    assert_eq!(
        c.psql("postgres", "SHOW synchronous_commit")
            .unwrap()
            .trim(),
        "off"
    );
    let durable = Cluster::start(&ClusterOptions {
        fast: false,
        ..ClusterOptions::default()
    })
    .unwrap();
    assert_eq!(durable.psql("postgres", "SHOW fsync").unwrap().trim(), "on");
}

#[test]
fn each_test_gets_a_fresh_empty_database() {
    let c = shared();
    let a = c.create_database("fresh").unwrap();
    let b = c.create_database("fresh").unwrap();
    assert_ne!(a, b);
    c.psql(&a, "CREATE TABLE only_in_a (id int)").unwrap();
    let tables = |db: &str| {
        c.psql(
            db,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        )
        .unwrap()
    };
    assert_eq!(tables(&a).trim(), "1");
    assert_eq!(tables(&b).trim(), "0");
}

#[test]
fn tcp_connections_need_the_password() {
    let c = shared();
    let psql = |url: &str| {
        Command::new(c.client_program("psql"))
            .args(["-X", "-A", "-t", "-c", "SELECT current_user", url])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ok = psql(&c.tcp_url("postgres"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "postgres");
    let wrong = c.tcp_url("postgres").replace(c.password(), "wrong");
    let bad = psql(&wrong);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("password authentication failed"));
}

#[test]
fn separate_clusters_get_separate_ports_and_are_removed_on_drop() {
    let a = Cluster::start(&ClusterOptions::default()).unwrap();
    let b = Cluster::start(&ClusterOptions::default()).unwrap();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.port(), shared().port());
    assert_eq!(a.psql("postgres", "SELECT 1").unwrap().trim(), "1");
    assert_eq!(b.psql("postgres", "SELECT 2").unwrap().trim(), "2");
    let gone: Vec<(PathBuf, i32)> = [&a, &b]
        .iter()
        .map(|c| (c.root().to_path_buf(), c.postmaster_pid()))
        .collect();
    drop(a);
    drop(b);
    for (root, pid) in gone {
        assert!(!root.exists(), "{} left behind", root.display());
        assert!(!alive(pid), "postmaster {pid} still running");
    }
}

#[test]
fn a_failed_start_removes_its_directory() {
    let empty = tempfile::tempdir().unwrap();
    let before: Vec<_> = pgshift_dirs();
    let err = Cluster::start(&ClusterOptions {
        bin_dir: Some(empty.path().to_path_buf()),
        ..ClusterOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("were not found"), "{err}");
    let after: Vec<_> = pgshift_dirs();
    assert!(
        after.iter().all(|d| before.contains(d)),
        "left behind: {after:?}"
    );
}

fn pgshift_dirs() -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pgshift-pg-")
        })
        .collect()
}

/// Runs only inside a child process started by `teardown_*` tests: starts the shared cluster,
/// prints where it is, then ends the way `PGSHIFT_CHILD_MODE` says.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var("PGSHIFT_CHILD_MODE") else {
        return;
    };
    let c = shared();
    println!("CLUSTER {} {}", c.postmaster_pid(), c.root().display());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    match mode.as_str() {
        "panic" => panic!("deliberate panic in a test"),
        "exit" => std::process::exit(0),
        "abort" => std::process::abort(),
        _ => std::thread::sleep(Duration::from_secs(120)),
    }
}

/// Starts a child test process in `mode`; returns the cluster's pid and directory, and the child.
fn child(mode: &str) -> (i32, PathBuf, std::process::Child) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ephemeral::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PGSHIFT_CHILD_MODE", mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The harness prints "test child_process_entry ... " on the same line first.
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("CLUSTER ").map(|(_, rest)| rest.to_string()))
        .expect("child started a cluster");
    let mut parts = line.split_whitespace();
    let pid = parts.next().unwrap().parse().unwrap();
    let root = PathBuf::from(parts.next().unwrap());
    assert!(alive(pid) && root.exists());
    (pid, root, child)
}

fn assert_cleaned_up(pid: i32, root: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while (alive(pid) || root.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "postmaster {pid} still running");
    assert!(!root.exists(), "{} left behind", root.display());
}

#[test]
fn teardown_when_a_test_panics() {
    let (pid, root, mut c) = child("panic");
    let status = c.wait().unwrap();
    assert_eq!(status.code(), Some(101), "the child's test failed");
    // The atexit handler has already stopped the server when the child is gone.
    assert!(
        !alive(pid),
        "postmaster {pid} still running right after exit"
    );
    assert_cleaned_up(pid, &root);
}

#[test]
fn teardown_when_the_process_exits_directly() {
    let (pid, root, mut c) = child("exit");
    assert!(c.wait().unwrap().success());
    assert_cleaned_up(pid, &root);
}

#[test]
fn teardown_when_the_process_aborts() {
    let (pid, root, mut c) = child("abort");
    assert!(!c.wait().unwrap().success());
    assert_cleaned_up(pid, &root);
}

#[test]
fn teardown_when_the_process_is_killed() {
    let (pid, root, mut c) = child("sleep");
    c.kill().unwrap(); // SIGKILL: no handler runs; the watchdog cleans up.
    c.wait().unwrap();
    assert_cleaned_up(pid, &root);
}
