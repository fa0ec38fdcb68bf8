//! A deploy with nothing to do asks the server for a digest of the records, not the records:
//! it must say "Nothing to do" only when the rows are exactly the files', and read the rows
//! (and do what they call for) on any difference. The server's log tells which was done.

use predicates::str::contains;

use crate::common::*;

/// How many times the whole records were read from `table` since the log was `from` bytes long.
fn records_read(from: usize, table: &str) -> usize {
    let log = std::fs::read_to_string(cluster().root().join("server.log")).unwrap();
    let re = regex::Regex::new(&format!(
        r#"executed_at IS NULL\s+FROM "public"\."{table}""#
    ))
    .unwrap();
    re.find_iter(&log[from.min(log.len())..]).count()
}

fn log_len() -> usize {
    std::fs::metadata(cluster().root().join("server.log")).map_or(0, |m| m.len() as usize)
}

#[test]
fn the_records_digest_says_nothing_to_do_only_for_the_files_own_rows() {
    let (dir, db) = project(&[
        ("2026-01-01_a", "CREATE TABLE IF NOT EXISTS da (id int);\n"),
        ("2026-01-02_b", "CREATE TABLE IF NOT EXISTS db (id int);\n"),
        // Not for this environment, and without SQL: neither has a row.
        (
            "2026-01-03_prod",
            "-- @env: production\nCREATE TABLE dp (id int);\n",
        ),
        ("2026-01-04_empty", "-- nothing yet\n"),
    ]);
    // A table of its own: the log names it, whatever other tests run beside.
    let table = format!("rec_{}", &db[db.len().saturating_sub(12)..])
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
    std::fs::write(
        dir.path().join("pgshift.toml"),
        format!("[tracking]\ntable = \"{table}\"\n"),
    )
    .unwrap();
    let deploy = || {
        let mut c = pgshift(dir.path(), &db);
        c.args(["migrate", "--skip-backup", "--skip-health"]);
        c
    };
    deploy()
        .assert()
        .success()
        .stdout(contains("✓ 2026-01-02_b"));
    sql(
        &db,
        &format!("ALTER DATABASE {db} SET log_statement = 'all'"),
    );

    // Nothing changed: the digest answers, the rows are never sent.
    let unread = |when: &str| {
        let from = log_len();
        deploy()
            .assert()
            .success()
            .stdout(contains("Nothing to do"));
        assert_eq!(
            records_read(from, &table),
            0,
            "the records were read {when}"
        );
    };
    unread("with nothing changed");

    // Each difference reads the rows, and the deploy does what they call for.
    let cases: [(&str, &str, i32, &str); 6] = [
        // Two migrations' checksums swapped: the same checksums, not the same pairs.
        (
            "UPDATE {t} r SET (checksum, normalized_checksum) = (SELECT o.checksum, o.normalized_checksum FROM {t} o WHERE o.version IN ('2026-01-01_a', '2026-01-02_b') AND o.version <> r.version) WHERE r.version IN ('2026-01-01_a', '2026-01-02_b')",
            "UPDATE {t} SET (checksum, normalized_checksum) = ('{a}', '{na}') WHERE version = '2026-01-01_a'; UPDATE {t} SET (checksum, normalized_checksum) = ('{b}', '{nb}') WHERE version = '2026-01-02_b'",
            1,
            "applied migrations changed since they ran",
        ),
        // A line break after a checksum: the digest's separator inside a value changes it (the
        // rows read, the normalized checksum still matches).
        (
            "UPDATE {t} SET checksum = checksum || E'\\n' WHERE version = '2026-01-01_a'",
            "UPDATE {t} SET checksum = '{a}' WHERE version = '2026-01-01_a'",
            0,
            "2026-01-01_a changed in comments or whitespace only",
        ),
        // A row of a version with no file.
        (
            "INSERT INTO {t} (version, checksum, success, run_id) VALUES ('2025-12-31_gone', 'x', true, 'r')",
            "DELETE FROM {t} WHERE version = '2025-12-31_gone'",
            0,
            "2025-12-31_gone is recorded in",
        ),
        // A row missing: the migration runs again.
        (
            "DELETE FROM {t} WHERE version = '2026-01-02_b'",
            "",
            0,
            "✓ 2026-01-02_b",
        ),
        // A failure recorded: it runs again.
        (
            "UPDATE {t} SET success = false WHERE version = '2026-01-01_a'",
            "",
            0,
            "✓ 2026-01-01_a",
        ),
        // A row for the migration that is not for this environment: known, applied.
        (
            "INSERT INTO {t} (version, checksum, success, run_id) VALUES ('2026-01-03_prod', '{p}', true, 'r')",
            "DELETE FROM {t} WHERE version = '2026-01-03_prod'",
            0,
            "Nothing to do",
        ),
    ];
    let column = |c: &str, v: &str| {
        sql(
            &db,
            &format!("SELECT {c} FROM {table} WHERE version = '{v}'"),
        )
    };
    let (a, na) = (
        column("checksum", "2026-01-01_a"),
        column("normalized_checksum", "2026-01-01_a"),
    );
    let (b, nb) = (
        column("checksum", "2026-01-02_b"),
        column("normalized_checksum", "2026-01-02_b"),
    );
    let prod = std::fs::read(dir.path().join("migrations/2026-01-03_prod.sql")).unwrap();
    let p = pgshift::migration::Checksum::of(&prod).as_str().to_string();
    let fill = |s: &str| {
        s.replace("{t}", &table)
            .replace("{a}", &a)
            .replace("{na}", &na)
            .replace("{b}", &b)
            .replace("{nb}", &nb)
            .replace("{p}", &p)
    };
    for (change, undo, code, says) in cases {
        sql(&db, &fill(change));
        let from = log_len();
        let out = deploy().output().unwrap();
        let text = both(&out);
        assert_eq!(out.status.code(), Some(code), "{change}: {text}");
        assert!(text.contains(says), "{change}: {text}");
        assert!(
            records_read(from, &table) >= 1,
            "{change}: the records were not read"
        );
        if !undo.is_empty() {
            sql(&db, &fill(undo));
        }
        // As it was: the digest answers again.
        unread(&format!("after {change}"));
    }
}

/// The layout (and the privileges others hold on pgshift's tables) goes out beside the first
/// try for the lock: when that try has to wait, what it read is stale, and is read again once
/// the lock is taken. A grant made while the deploy waited is still found and revoked.
#[test]
fn what_was_read_beside_a_lock_that_had_to_wait_is_read_again() {
    use std::io::BufRead;
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE wa (id int);\n")]);
    let deploy = ["migrate", "--skip-backup", "--skip-health"];
    pgshift(dir.path(), &db).args(deploy).assert().success();
    let reader = "pgshift_stale_layout_reader";
    role(reader, "NOLOGIN");
    let mut holder = hold_deploy_lock(&db);
    let mut child = spawn_pgshift(dir.path(), &cluster().url(&db), &deploy);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("Waiting for the deploy lock") {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    sql(
        &db,
        &format!("GRANT SELECT ON schema_migrations TO {reader}"),
    );
    // Let go: the holder's server process ends with its client.
    holder.kill().unwrap();
    holder.wait().unwrap();
    sql(
        &db,
        &DEPLOY_LOCKS_HERE.replace("count(*)", "pg_terminate_backend(pid)"),
    );
    let out = finish_within(
        child,
        std::time::Duration::from_secs(60),
        "the deploy after the lock",
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let text = format!("{seen}{rest}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Nothing to do"), "{text}");
    assert!(
        text.contains(&format!(
            "SELECT on table public.schema_migrations to {reader}"
        )),
        "{text}"
    );
    assert_eq!(
        sql(
            &db,
            &format!("SELECT has_table_privilege('{reader}', 'schema_migrations', 'SELECT')")
        ),
        "f"
    );
}
