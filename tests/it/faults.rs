//! Fault injection against the real throwaway cluster: pgshift killed at random moments, its
//! server backend terminated, many deployers at once, a full backups disk, a non-transactional
//! migration cut short. After each fault: every transactional migration is applied and recorded,
//! or neither; no record twice; a rerun completes.

use std::process::Command as Std;
use std::time::{Duration, Instant};

use predicates::str::contains;
use tempfile::TempDir;

use crate::common::*;

/// `n` migrations, each creating its table and a row in it, some with a short sleep so that a
/// kill lands inside one as often as between two.
fn numbered_set(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            let sleep = if i % 3 == 0 {
                "SELECT pg_sleep(0.03);\n"
            } else {
                ""
            };
            (
                format!("2026-03-{:02}_m{i:02}", 1 + (i - 1) % 28),
                format!("CREATE TABLE f{i} (id int);\n{sleep}INSERT INTO f{i} VALUES ({i});\n"),
            )
        })
        .collect()
}

fn project_of(files: &[(String, String)]) -> (TempDir, String) {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    project(&refs)
}

fn spawn_migrate(dir: &TempDir, db: &str, extra: &[&str]) -> std::process::Child {
    let mut args = vec!["migrate", "--skip-backup", "--lock-timeout", "60"];
    args.extend_from_slice(extra);
    spawn_pgshift(dir.path(), &cluster().url(db), &args)
}

/// Waits until no backend of a pgshift is left on `db` (a killed client's backend notices the
/// lost connection and rolls back).
fn wait_for_no_deployer(db: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sql(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgshift[%' AND datname = current_database() AND pid <> pg_backend_pid()") != "0" {
        assert!(Instant::now() < deadline, "a killed deployer's backend is still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every migration of `n` is applied with its record or neither; no record twice. Returns how
/// many are applied.
fn check_all_or_nothing(db: &str, n: usize) -> usize {
    whole_or_absent(&|q| sql(db, q), n)
}

/// [`check_all_or_nothing`] through `sql` (a query's rows as text), on any cluster.
fn whole_or_absent(sql: &dyn Fn(&str) -> String, n: usize) -> usize {
    let tracked = sql("SELECT to_regclass('schema_migrations') IS NOT NULL");
    let recorded: Vec<String> = if tracked == "t" {
        sql("SELECT version FROM schema_migrations WHERE success ORDER BY version")
            .lines()
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    let mut applied = 0;
    for i in 1..=n {
        let table = sql(&format!(
            "SELECT count(*) FROM pg_class WHERE relname = 'f{i}' AND relkind = 'r'"
        ));
        let record = recorded
            .iter()
            .filter(|v| v.ends_with(&format!("_m{i:02}")))
            .count();
        let rows = if table == "1" {
            sql(&format!("SELECT count(*) FROM f{i}"))
        } else {
            "0".into()
        };
        assert!(record <= 1, "f{i} recorded {record} times");
        assert_eq!(
            (table == "1", rows == "1"),
            (record == 1, record == 1),
            "migration {i}: table {table}, rows {rows}, record {record}"
        );
        applied += record;
    }
    if tracked == "t" {
        assert_eq!(
            sql("SELECT count(*) - count(DISTINCT version) FROM schema_migrations"),
            "0"
        );
    }
    applied
}

/// A small deterministic generator, so that a failing run can be repeated (its seed is printed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn killed_at_random_moments_a_hundred_times_every_migration_is_whole_or_absent() {
    let n = 12;
    let files = numbered_set(n);
    let seed = std::env::var("PGSHIFT_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261125u64);
    eprintln!("fault seed {seed} (PGSHIFT_FAULT_SEED repeats it)");
    let mut rng = Lcg(seed);
    let (dir, mut db) = project_of(&files);
    let mut kills_inside = 0;
    for round in 0..100 {
        let mut child = spawn_migrate(&dir, &db, &[]);
        // From before the connection to the middle of the set.
        std::thread::sleep(Duration::from_millis(rng.below(400)));
        let done = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL: no handler of pgshift runs
        let _ = child.wait();
        wait_for_no_deployer(&db);
        let applied = check_all_or_nothing(&db, n);
        if !done && applied < n {
            kills_inside += 1;
        }
        if applied == n || round % 10 == 9 {
            // The rerun completes what the kill cut short; then a fresh database.
            pgshift(dir.path(), &db)
                .args(["migrate", "--skip-backup"])
                .assert()
                .success();
            assert_eq!(check_all_or_nothing(&db, n), n, "round {round}");
            db = cluster().create_database("faults").unwrap();
        }
    }
    // The kills must have landed in the middle of deploys, not only after them.
    assert!(
        kills_inside >= 30,
        "only {kills_inside} kills landed inside a deploy"
    );
}

#[test]
fn eight_deployers_at_once_twenty_times_apply_each_migration_exactly_once() {
    let n = 10;
    let files = numbered_set(n);
    let (dir, _) = project_of(&files);
    for round in 0..20 {
        let db = cluster().create_database("crowd").unwrap();
        let children: Vec<_> = (0..8).map(|_| spawn_migrate(&dir, &db, &[])).collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", both(&out));
        }
        assert_eq!(check_all_or_nothing(&db, n), n, "round {round}");
        assert_eq!(
            sql(&db, "SELECT count(*), count(DISTINCT version) FROM schema_migrations_events WHERE event = 'applied'"),
            format!("{n}|{n}"),
            "round {round}"
        );
    }
}

#[test]
fn a_terminated_backend_is_a_clear_error_with_nothing_half_done_and_the_rerun_completes() {
    let (dir, db) = project(&[
        ("2026-01-01_first", "CREATE TABLE t_first (id int);\n"),
        (
            "2026-01-02_long",
            "CREATE TABLE t_long (id int);\nSELECT pg_sleep(:secs);\n",
        ),
    ]);
    let child = spawn_migrate(&dir, &db, &["--var", "secs=30"]);
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
    sql(&db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'pgshift[%' AND datname = current_database()");
    let out = child.wait_with_output().unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("2026-01-02_long"), "{text}");
    assert!(
        text.contains("connection") || text.contains("terminat"),
        "the error says the connection was lost: {text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    // The first is whole, the second absent: no table, no success record.
    assert_eq!(
        sql(
            &db,
            "SELECT to_regclass('t_first') IS NOT NULL, to_regclass('t_long') IS NULL"
        ),
        "t|t"
    );
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "1"
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--var", "secs=0"])
        .assert()
        .success()
        .stdout(contains("2026-01-02_long"));
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "2"
    );
}

#[test]
fn a_non_transactional_migration_cut_short_is_partial_in_status_and_resumes() {
    let (dir, db) = project(&[(
        "2026-01-01_steps",
        "-- @no-transaction\nCREATE TABLE s1 (id int);\nCREATE TABLE s2 (id int);\nSELECT pg_sleep(:secs);\nCREATE TABLE s3 (id int);\n",
    )]);
    let mut child = spawn_migrate(&dir, &db, &["--var", "secs=30"]);
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for_no_deployer(&db);
    // What ran stays (no transaction); s3 never ran.
    assert_eq!(
        sql(&db, "SELECT to_regclass('s1') IS NOT NULL, to_regclass('s2') IS NOT NULL, to_regclass('s3') IS NULL"),
        "t|t|t"
    );
    // status and health say it is partial; the deploy resumes after what ran.
    let out = pgshift(dir.path(), &db).args(["status"]).output().unwrap();
    let text = both(&out);
    assert!(
        text.contains("2 statement(s) ran and stay"),
        "status says it is partial: {text}"
    );
    let out = pgshift(dir.path(), &db).args(["health"]).output().unwrap();
    let text = both(&out);
    assert!(
        text.contains("partial: 2 statement(s) ran and stay"),
        "health reports it: {text}"
    );
    pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup", "--var", "secs=0"])
        .assert()
        .success();
    assert_eq!(sql(&db, "SELECT to_regclass('s3') IS NOT NULL"), "t");
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "1"
    );
}

/// Mounting a small file system needs root; `scripts/test.sh` runs this as root.
#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn root_only_a_full_backups_disk_stops_the_deploy_before_any_migration_and_leaves_no_backup() {
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE after_backup (id int);\n")]);
    // Data that does not compress, larger than the file system.
    sql(&db, "CREATE TABLE filler AS SELECT g, md5(g::text) || md5((g * 7)::text) AS x FROM generate_series(1, 60000) g");
    let backups = dir.path().join("backups/migrations");
    std::fs::create_dir_all(&backups).unwrap();
    let mounted = Std::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&backups)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        mounted,
        "root here cannot mount a tmpfs on {}",
        backups.display()
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Std::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(backups.clone());
    let out = pgshift(dir.path(), &db).args(["migrate"]).output().unwrap();
    let text = both(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("No space left on device") || text.contains("space"),
        "the error names the cause: {text}"
    );
    assert_eq!(
        sql(&db, "SELECT to_regclass('after_backup') IS NULL"),
        "t",
        "{text}"
    );
    let left: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().all(|f| f.starts_with('.')),
        "no backup under a final name: {left:?}"
    );
    assert!(
        left.iter().all(|f| !f.ends_with(".partial")),
        "the partial backup is removed: {left:?}"
    );
}

#[test]
fn the_server_crashing_mid_deploy_is_a_clear_error_and_after_its_restart_the_rerun_completes() {
    use pgshift::ephemeral::{Cluster, ClusterOptions};
    // Its own cluster: the shared one serves the other tests.
    let own = Cluster::start(&ClusterOptions {
        fast: false,
        ..ClusterOptions::default()
    })
    .expect("a throwaway PostgreSQL");
    let db = own.create_database("crash").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    let files = [
        ("2026-01-01_first", "CREATE TABLE c_first (id int);\nINSERT INTO c_first VALUES (1);\n"),
        ("2026-01-02_long", "CREATE TABLE c_long (id int);\nINSERT INTO c_long VALUES (1);\nSELECT pg_sleep(:secs);\n"),
        ("2026-01-03_last", "CREATE TABLE c_last (id int);\n"),
    ];
    for (name, sql) in files {
        write(&dir, name, sql);
    }
    let run = |secs: &str| {
        let var = format!("secs={secs}");
        spawn_pgshift(
            dir.path(),
            &own.url(&db),
            &["migrate", "--skip-backup", "--var", &var],
        )
    };
    let child = run("30");
    let q = |sql: &str| own.psql(&db, sql).unwrap().trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while q("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'pgshift[%'") == "0" {
        assert!(Instant::now() < deadline, "the deploy never reached the long migration");
        std::thread::sleep(Duration::from_millis(50));
    }
    own.crash_and_restart(Duration::from_millis(500))
        .expect("the server restarts");
    let out = child.wait_with_output().unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("2026-01-02_long"), "{text}");
    assert!(text.contains("connection"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    // After recovery: the second and third absent, nothing half-recorded. The first
    // committed without waiting for the disk (the run's flush comes at its end): a crash may
    // lose it, but only whole, with its record (docs/deploying.md, "Durability").
    let first = q("SELECT to_regclass('c_first') IS NOT NULL");
    if first == "t" {
        assert_eq!(q("SELECT count(*) FROM c_first"), "1");
    }
    assert_eq!(
        q("SELECT to_regclass('c_long') IS NULL, to_regclass('c_last') IS NULL"),
        "t|t"
    );
    let records = q("SELECT coalesce(string_agg(version || ':' || success, ',' ORDER BY version), '') FROM schema_migrations");
    let expected = if first == "t" {
        "2026-01-01_first:true"
    } else {
        ""
    };
    assert_eq!(records, expected, "the records match what the crash kept");
    let out = run("0").wait_with_output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(
        q("SELECT count(*) FROM schema_migrations WHERE success"),
        "3"
    );
    own.stop();
}

/// The guarantee of committing without waiting for the disk (docs/deploying.md,
/// "Durability"): the server killed (`pg_ctl stop -m immediate`, its WAL buffers lost) at
/// random moments of a deploy keeps a prefix of the migrations, each whole with its record;
/// the rerun applies the rest.
#[test]
fn the_server_crashing_at_random_moments_keeps_a_prefix_of_whole_recorded_migrations() {
    use pgshift::ephemeral::{Cluster, ClusterOptions};
    let own = Cluster::start(&ClusterOptions {
        fast: false,
        ..ClusterOptions::default()
    })
    .expect("a throwaway PostgreSQL");
    let n = 12;
    let files = numbered_set(n);
    let (dir, _) = project_of(&files);
    let mut rng = Lcg(20261130);
    let mut cut = 0;
    for round in 0..8 {
        let db = own.create_database("crashes").unwrap();
        let q = |sql: &str| own.psql(&db, sql).unwrap().trim().to_string();
        let child = spawn_pgshift(dir.path(), &own.url(&db), &["migrate", "--skip-backup"]);
        std::thread::sleep(Duration::from_millis(100 + rng.below(300)));
        own.crash_and_restart(Duration::from_millis(0))
            .expect("the server restarts");
        let out = child.wait_with_output().unwrap();
        assert!(!both(&out).contains("panicked"), "{}", both(&out));
        let applied = whole_or_absent(&q, n);
        let recorded = if applied == 0 {
            String::new()
        } else {
            q("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations WHERE success")
        };
        let prefix: Vec<String> = files[..applied].iter().map(|(v, _)| v.clone()).collect();
        assert_eq!(recorded, prefix.join(","), "round {round}: not a prefix");
        if applied < n {
            cut += 1;
        }
        let out = spawn_pgshift(dir.path(), &own.url(&db), &["migrate", "--skip-backup"])
            .wait_with_output()
            .unwrap();
        assert!(out.status.success(), "round {round}: {}", both(&out));
        assert_eq!(whole_or_absent(&q, n), n, "round {round}");
    }
    assert!(cut >= 4, "only {cut} crashes landed inside a deploy");
    own.stop();
}

#[test]
fn a_backup_whose_connection_is_terminated_stops_the_deploy_before_any_migration() {
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE after_backup (id int);\n")]);
    // Enough rows that pg_dump is still reading when its backend is terminated.
    sql(
        &db,
        "CREATE TABLE filler AS SELECT g, md5(g::text) AS x FROM generate_series(1, 2000000) g",
    );
    let child = spawn_pgshift(dir.path(), &cluster().url(&db), &["migrate"]);
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgshift backup' AND datname = current_database() AND state = 'active'");
    sql(&db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgshift backup' AND datname = current_database()");
    let out = child.wait_with_output().unwrap();
    let text = both(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("pg_dump"),
        "the error names the backup: {text}"
    );
    assert!(text.contains("nothing was applied"), "{text}");
    assert_eq!(
        text.matches("nothing was applied").count(),
        1,
        "said once: {text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(
        sql(&db, "SELECT to_regclass('after_backup') IS NULL"),
        "t",
        "{text}"
    );
    let backups = dir.path().join("backups/migrations");
    let left: Vec<String> = std::fs::read_dir(&backups)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|f| f.starts_with('.') && !f.ends_with(".partial")),
        "no backup under a final name, no partial one left: {left:?}"
    );
}

/// pgshift with `args` against `url`, in a fresh project, in the background.
fn spawn_against(url: &str, args: &[&str]) -> (TempDir, std::process::Child) {
    let (dir, _db) = project(&[("2026-01-01_t", "CREATE TABLE t (id int);\n")]);
    let child = spawn_pgshift(dir.path(), url, args);
    (dir, child)
}

#[test]
fn a_server_that_takes_the_connection_and_never_answers_is_an_error_after_connect_timeout() {
    for silence in [
        Silence::AtOnce,
        Silence::AfterTlsRefused,
        Silence::AfterStartup,
        Silence::AfterStartupWithVersion,
    ] {
        let server = SilentServer::start(silence);
        for (args, tls) in [
            (&["status"][..], "sslmode=disable"),
            (&["health"][..], "sslmode=prefer"),
            (&["history"][..], "sslmode=disable"),
            (&["migrate", "--skip-backup"][..], "sslmode=disable"),
            (&["stop"][..], "sslmode=prefer"),
        ] {
            let (_dir, child) =
                spawn_against(&server.url(&format!("connect_timeout=2&{tls}")), args);
            let out = finish_within(
                child,
                Duration::from_secs(60),
                &format!("{args:?} ({silence:?})"),
            );
            let text = both(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?} ({silence:?}): {text}");
            assert!(
                text.contains("cannot connect to nobody@127.0.0.1:")
                    && text.contains("did not answer within 2 s (connect_timeout"),
                "{args:?} ({silence:?}): {text}"
            );
        }
    }
}

#[test]
fn a_fleet_with_a_silent_target_finishes_the_others_and_names_it() {
    let server = SilentServer::start(Silence::AtOnce);
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE fleet_t (id int);\n")]);
    std::fs::write(
        dir.path().join("targets.txt"),
        format!(
            "{}\n{}\n",
            server.url("connect_timeout=2"),
            cluster().url(&db)
        ),
    )
    .unwrap();
    let child = spawn_pgshift(
        dir.path(),
        &cluster().url(&db),
        &["migrate", "--skip-backup", "--targets", "targets.txt"],
    );
    let out = finish_within(child, Duration::from_secs(90), "the fleet");
    let text = both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("did not answer within 2 s"), "{text}");
    assert_eq!(sql(&db, "SELECT to_regclass('fleet_t') IS NOT NULL"), "t");
}

fn send(child: &std::process::Child, signal: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    unsafe { kill(child.id() as i32, signal) };
}

#[test]
fn sigint_and_sigterm_end_pgshift_while_it_connects_or_waits_for_the_lock() {
    // Connecting to a server that never answers, with connect_timeout=0 (wait forever).
    for (signal, name) in [(2, "SIGINT"), (15, "SIGTERM")] {
        for (args, silence) in [
            (&["status"][..], Silence::AfterStartup),
            (&["migrate"][..], Silence::AfterStartup),
            (&["migrate"][..], Silence::AfterStartupWithVersion),
            (&["health"][..], Silence::AfterStartup),
        ] {
            let server = SilentServer::start(silence);
            let (_dir, child) =
                spawn_against(&server.url("connect_timeout=0&sslmode=disable"), args);
            server.wait_for_connections(1);
            std::thread::sleep(Duration::from_millis(200));
            send(&child, signal);
            let out = finish_within(
                child,
                Duration::from_secs(20),
                &format!("{args:?} after {name}"),
            );
            let text = both(&out);
            assert_eq!(out.status.code(), Some(130), "{args:?} {name}: {text}");
            assert!(text.contains("interrupted"), "{args:?} {name}: {text}");
        }
    }
    // Waiting for the deploy lock that a session holds.
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE lock_t (id int);\n")]);
    let mut holder = hold_deploy_lock(&db);
    let child = spawn_pgshift(
        dir.path(),
        &cluster().url(&db),
        &["migrate", "--skip-backup", "--lock-timeout", "600"],
    );
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgshift[%' AND datname = current_database()");
    send(&child, 2);
    let out = finish_within(
        child,
        Duration::from_secs(20),
        "migrate waiting for the lock",
    );
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(sql(&db, "SELECT to_regclass('lock_t') IS NULL"), "t");
}

#[test]
fn a_restore_whose_pgshift_is_killed_halfway_changes_nothing() {
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE restore_t (id int);\n")]);
    sql(
        &db,
        "CREATE TABLE filler AS SELECT g, md5(g::text) AS x FROM generate_series(1, 1000000) g",
    );
    pgshift(dir.path(), &db)
        .args(["backup", "create"])
        .assert()
        .success();
    let file = std::fs::read_dir(dir.path().join("backups/migrations"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".sql.gz"))
        .unwrap();
    // Made after the backup: a restore drops it first, so a restore cut short must not.
    sql(
        &db,
        "CREATE TABLE added_later (id int); INSERT INTO added_later VALUES (1)",
    );
    let mut child = spawn_pgshift(
        dir.path(),
        &cluster().url(&db),
        &["backup", "restore", file.to_str().unwrap()],
    );
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgshift restore' AND datname = current_database() AND query LIKE 'COPY%'");
    child.kill().unwrap(); // SIGKILL: psql is left with the end of its input, no COMMIT
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sql(&db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgshift restore' AND datname = current_database()") != "0" {
        assert!(Instant::now() < deadline, "psql of the killed restore still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sql(&db, "SELECT count(*) FROM added_later"), "1");
    assert_eq!(sql(&db, "SELECT count(*) FROM filler"), "1000000");
}

#[test]
fn a_second_signal_ends_a_deploy_whose_statement_swallows_the_cancel() {
    let (dir, db) = project(&[(
        "2026-01-01_stubborn",
        // Every cancel swallowed, however many reach it: one handler around one sleep let a
        // cancel through in about one run of four (on builds before and after 2026-12-01).
        "CREATE TABLE stubborn_t (id int);\nDO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(60); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$;\n",
    )]);
    let child = spawn_pgshift(
        dir.path(),
        &cluster().url(&db),
        &["migrate", "--skip-backup"],
    );
    // Inside the sleep (wait_event PgSleep), not merely started: a cancel that lands while the
    // DO block is still being compiled is outside its handler and ends it at once.
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
    send(&child, 2);
    // The cancel is swallowed: the deploy still waits on its statement; a second signal ends it.
    std::thread::sleep(Duration::from_millis(500));
    send(&child, 2);
    let out = finish_within(
        child,
        Duration::from_secs(10),
        "the deploy after two SIGINTs",
    );
    let text = both(&out);
    assert_eq!(out.status.code(), Some(130), "{text}");
    assert!(
        text.contains("SIGINT again: pgshift stopped at once"),
        "{text}"
    );
    wait_for_no_deployer(&db);
    assert_eq!(sql(&db, "SELECT to_regclass('stubborn_t') IS NULL"), "t");
}
