//! What a hostile tester tries, against a real PostgreSQL: API roles touching pgshift's own
//! tables, secrets planted in every place pgshift reads one from, control characters and CI
//! workflow commands in file names and server messages, migrations that change the session,
//! a deploy seen from another machine, a connection that breaks.

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::*;

/// Every privilege on pgshift's objects (tables, sequence, row types, trigger function) held by
/// anyone but the owner, and how many objects were looked at. Written independently of
/// pgshift's own query, so that a mistake there cannot hide here.
fn foreign_privileges(db: &str) -> (String, String) {
    let objects = "WITH o AS (
        SELECT c.oid::regclass::text AS obj, coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END, c.relowner)) AS acl, c.relowner AS owner
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname LIKE 'schema_migrations%' AND c.relkind IN ('r', 'S')
        UNION ALL
        SELECT t.oid::regtype::text, coalesce(t.typacl, acldefault('T', t.typowner)), t.typowner
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typname LIKE 'schema_migrations%' AND t.typcategory <> 'A'
        UNION ALL
        SELECT p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname LIKE 'schema_migrations%')";
    let leaks = sql(
        db,
        &format!("{objects} SELECT coalesce(string_agg(obj || ' to ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ' ' || a.privilege_type, ', '), '') FROM o, aclexplode(o.acl) a WHERE a.grantee <> o.owner"),
    );
    let count = sql(db, &format!("{objects} SELECT count(*) FROM o"));
    (leaks, count)
}

#[test]
fn pgshifts_objects_belong_to_their_owner_alone_whatever_grants_them() {
    for r in ["anon", "authenticated", "service_role"] {
        role(r, "NOLOGIN");
    }
    role("sec_owner", "LOGIN");
    let (dir, db) = project(&[
        (
            "2026-01-01_items",
            // Supabase's pattern: everything in public to the API roles, guarded by RLS.
            "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);\n\
             GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated;\n\
             GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO anon, authenticated;\n",
        ),
        (
            "2026-01-02_helper",
            "CREATE FUNCTION open_up() RETURNS void LANGUAGE plpgsql AS $$\n\
             BEGIN EXECUTE 'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO service_role'; END $$;\n",
        ),
        // No GRANT in its text: only the check after the run can see what it did.
        ("2026-01-03_call", "SELECT open_up();\n"),
    ]);
    cluster()
        .psql(
            "postgres",
            &format!("ALTER DATABASE {db} OWNER TO sec_owner"),
        )
        .unwrap();
    cluster()
        .psql(
            &db,
            "ALTER DEFAULT PRIVILEGES FOR ROLE sec_owner IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
             ALTER DEFAULT PRIVILEGES FOR ROLE sec_owner IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
             ALTER DEFAULT PRIVILEGES FOR ROLE sec_owner IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
             ALTER DEFAULT PRIVILEGES FOR ROLE sec_owner GRANT ALL ON TYPES TO anon, authenticated;",
        )
        .unwrap();
    // `items` is open to the API roles on purpose here: the health check would fail it
    // (tests/health.rs covers that), which is not what this test is about.
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", url_as(&db, "sec_owner"))
        .args(["migrate", "--skip-health"])
        .assert()
        .success()
        .stdout(contains("Applied 3 migration(s)"))
        .stdout(contains(
            "a migration of this run granted privileges on pgshift's tables, now revoked",
        ))
        .stdout(contains("service_role"));
    let (leaks, objects) = foreign_privileges(&db);
    assert_eq!(leaks, "", "privileges left on pgshift's objects");
    // 3 tables, the identity sequence, the tables' row types, the trigger function.
    assert_eq!(objects, "8");
    // The migrations' own grants on their own table stand.
    assert_eq!(
        sql(&db, "SELECT has_table_privilege('anon', 'items', 'SELECT')"),
        "t"
    );
    // The attack: an API role exhausts the events' sequence, or reads the history.
    for attack in [
        "SELECT setval('public.schema_migrations_events_id_seq', 9223372036854775807)",
        "SELECT nextval('public.schema_migrations_events_id_seq')",
        "SELECT * FROM public.schema_migrations",
        "INSERT INTO public.schema_migrations_events (run_id, event) VALUES ('x', 'forged')",
        "TRUNCATE public.schema_migrations_events",
    ] {
        for r in ["anon", "authenticated", "service_role"] {
            let e = cluster()
                .psql(&db, &format!("SET ROLE {r}; {attack}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("permission denied"), "{r}: {attack}: {e}");
        }
    }
    // Append-only, TRUNCATE included, also for the owner.
    for change in [
        "TRUNCATE schema_migrations_events",
        "DELETE FROM schema_migrations_events",
        "UPDATE schema_migrations_events SET event = 'x'",
    ] {
        let e = cluster()
            .psql(&db, &format!("SET ROLE sec_owner; {change}"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the pgshift event log is append-only"),
            "{change}: {e}"
        );
    }
    // Granted by hand later: the next deploy, with nothing to apply, takes it back and says so.
    cluster()
        .psql(
            &db,
            "GRANT USAGE, UPDATE ON SEQUENCE schema_migrations_events_id_seq TO anon; GRANT SELECT ON schema_migrations TO PUBLIC",
        )
        .unwrap();
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", url_as(&db, "sec_owner"))
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Nothing to do"))
        .stdout(contains("had privileges for other roles, now revoked"))
        .stdout(contains(
            "sequence public.schema_migrations_events_id_seq to anon",
        ))
        .stdout(contains("to PUBLIC"));
    assert_eq!(foreign_privileges(&db).0, "");
}

#[test]
fn a_grant_on_any_one_of_pgshifts_objects_is_seen_by_a_deploy_with_nothing_to_do() {
    role("anon", "NOLOGIN");
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    // Nothing granted: nothing said.
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Nothing to do"))
        .stdout(contains("now revoked").not());
    // Each kind of object, alone: the question whether any privilege is foreign must see
    // every one that the query naming them sees.
    for (grant, named) in [
        (
            "GRANT SELECT ON schema_migrations_meta TO anon",
            "table public.schema_migrations_meta to anon",
        ),
        (
            "GRANT USAGE ON SEQUENCE schema_migrations_events_id_seq TO anon",
            "sequence public.schema_migrations_events_id_seq to anon",
        ),
        (
            "GRANT USAGE ON TYPE schema_migrations TO anon",
            "type public.schema_migrations to anon",
        ),
        (
            "GRANT USAGE ON TYPE schema_migrations_events TO PUBLIC",
            "type public.schema_migrations_events to PUBLIC",
        ),
        (
            "GRANT EXECUTE ON FUNCTION schema_migrations_events_append_only() TO anon",
            "function public.schema_migrations_events_append_only() to anon",
        ),
    ] {
        cluster().psql(&db, grant).unwrap();
        pgshift(dir.path(), &db)
            .arg("migrate")
            .assert()
            .success()
            .stdout(contains("had privileges for other roles, now revoked"))
            .stdout(contains(named));
        assert_eq!(foreign_privileges(&db).0, "", "{grant}");
    }
}

#[test]
fn an_older_layout_is_upgraded_in_place() {
    let (dir, db) = project(&[("2026-01-01_a", "CREATE TABLE a (id int);\n")]);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    // Layout 1: no TRUNCATE guard, no layout comment, PUBLIC could run the trigger function.
    cluster()
        .psql(
            &db,
            "DROP TRIGGER append_only_truncate ON schema_migrations_events;
             COMMENT ON TABLE schema_migrations IS NULL;
             UPDATE schema_migrations_meta SET value = '1';
             GRANT EXECUTE ON FUNCTION schema_migrations_events_append_only() TO PUBLIC;",
        )
        .unwrap();
    write(&dir, "2026-01-02_b", "CREATE TABLE b (id int);\n");
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    assert_eq!(
        sql(
            &db,
            "SELECT value FROM schema_migrations_meta WHERE key = 'layout_version'"
        ),
        pgshift::db::tracking::LAYOUT_VERSION.to_string()
    );
    assert!(cluster()
        .psql(&db, "TRUNCATE schema_migrations_events")
        .is_err());
    assert_eq!(foreign_privileges(&db).0, "");
    assert_eq!(
        sql(&db, "SELECT count(*) FROM schema_migrations WHERE success"),
        "2"
    );
}

#[test]
fn a_deployer_without_create_on_the_database_needs_only_create_on_its_schema() {
    role("sec_plain", "LOGIN");
    let (dir, db) = project(&[("2026-01-01_a", "SELECT 1;\n")]);
    // PostgreSQL 15: nobody but the database owner may create in public.
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", url_as(&db, "sec_plain"))
        .arg("migrate")
        .assert()
        .code(2)
        .stderr(contains(
            "CREATE TABLE \"public\".\"schema_migrations\" failed: permission denied for schema public",
        ))
        .stderr(contains("GRANT CREATE ON SCHEMA \"public\" TO <role>"));
    // CREATE on the schema is enough: no CREATE SCHEMA when it exists.
    cluster()
        .psql(&db, "GRANT CREATE ON SCHEMA public TO sec_plain")
        .unwrap();
    assert_eq!(
        sql(
            &db,
            "SELECT has_database_privilege('sec_plain', current_database(), 'CREATE')"
        ),
        "f"
    );
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", url_as(&db, "sec_plain"))
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Applied 1 migration(s)"));
}

const URL_PASSWORD: &str = "U9rl-p@ss/w0rd";
const ENV_PASSWORD: &str = "Env-PGPASSWORD-7f3k";
const FILE_PASSWORD: &str = "Pgpass-F1le-2q8z";
const VARIABLE_VALUE: &str = "Var-Value-s3cr3t-XYZ";
const LITERAL_PASSWORD: &str = "Lit3ral-R0le-Pw";

/// Everything a test collected that must not hold a secret.
struct Places(Vec<(String, String)>);

impl Places {
    fn add(&mut self, what: impl Into<String>, text: impl std::fmt::Display) {
        self.0.push((what.into(), text.to_string()));
    }

    fn assert_free_of(&self, secrets: &[&str]) {
        for (what, text) in &self.0 {
            for s in secrets {
                assert!(!text.contains(s), "{s} found in {what}:\n{text}");
            }
        }
    }
}

fn run(c: &mut assert_cmd::Command, places: &mut Places, what: &str) -> String {
    let out = c.output().unwrap();
    places.add(
        format!("{what}: stdout"),
        String::from_utf8_lossy(&out.stdout),
    );
    places.add(
        format!("{what}: stderr"),
        String::from_utf8_lossy(&out.stderr),
    );
    both(&out)
}

#[test]
fn no_password_or_variable_value_reaches_output_logs_tables_summary_or_server_log() {
    let mut places = Places(Vec::new());
    let files = [
        (
            "2026-01-01_note",
            "CREATE FUNCTION note(t text) RETURNS void LANGUAGE plpgsql AS $$\n\
             BEGIN\n  RAISE NOTICE 'notice: %', t;\n  RAISE WARNING 'warning: %', t;\n  RAISE INFO 'info: %', t;\nEND $$;\n\
             SELECT note(:'app_secret');\n\
             CREATE TABLE kept (v text);\n",
        ),
        // The second statement fails; the first and the third hold the value and must not
        // reach the server's log (the third is never sent: nothing holding a secret is sent
        // ahead of the answers before it).
        (
            "2026-01-02_fails",
            "SELECT note(:'app_secret');\nSELECT 1/0;\nSELECT note(:'app_secret');\nCREATE TABLE never_created (id int);\n",
        ),
    ];
    let port = cluster().port();
    for (user, password, how) in [
        ("sec_url", URL_PASSWORD, "url"),
        ("sec_env", ENV_PASSWORD, "PGPASSWORD"),
        ("sec_file", FILE_PASSWORD, ".pgpass"),
    ] {
        role(user, &format!("LOGIN CREATEROLE PASSWORD '{password}'"));
        let (dir, db) = project(&files);
        cluster()
            .psql("postgres", &format!("ALTER DATABASE {db} OWNER TO {user}"))
            .unwrap();
        // A down file that sends the value back too, and a literal password (allowed).
        std::fs::write(
            dir.path().join("migrations/2026-01-01_note.down.sql"),
            "SELECT note(:'app_secret');\nDROP TABLE kept;\nDROP FUNCTION note(text);\n",
        )
        .unwrap();
        write(
            &dir,
            "2026-01-01_role",
            &format!("-- @allow: secrets/literal-password the test plants it\nCREATE ROLE sec_literal_{user} PASSWORD '{LITERAL_PASSWORD}';\nDROP ROLE sec_literal_{user};\n"),
        );
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let url = match how {
            // A raw `@` and `/` in the password: the URL as people write it.
            "url" => format!(
                "postgresql://{user}:{}@127.0.0.1:{port}/{db}",
                password.replace('/', "%2F")
            ),
            _ => format!("postgresql://{user}@127.0.0.1:{port}/{db}"),
        };
        if how == ".pgpass" {
            use std::os::unix::fs::PermissionsExt;
            let f = home.join(".pgpass");
            std::fs::write(
                &f,
                format!("# test\n127.0.0.1:{port}:{db}:{user}:{password}\n"),
            )
            .unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let summary = dir.path().join("summary.md");
        let cmd = |args: &[&str]| {
            let mut c = pgshift(dir.path(), &db);
            c.env("DATABASE_URL", &url)
                .env("HOME", &home)
                .env("DEBUG", "true")
                .env("APP_SECRET", VARIABLE_VALUE)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .args(args);
            if how == "PGPASSWORD" {
                c.env("PGPASSWORD", password);
            }
            c
        };
        let out = run(
            &mut cmd(&["validate"]),
            &mut places,
            &format!("{how} validate"),
        );
        assert!(out.contains("Checked 3 migration(s)"), "{out}");
        let out = run(
            &mut cmd(&["migrate", "--target", "2026-01-01_note"]),
            &mut places,
            &format!("{how} migrate"),
        );
        // Not vacuous: the messages that carried the value were shown, masked.
        for kind in ["notice", "warning", "info"] {
            assert!(
                out.contains(&format!("{kind} from 2026-01-01_note: {kind}: ***")),
                "{how}: {out}"
            );
        }
        assert!(
            out.contains("[debug]") && out.contains("SELECT note('***')"),
            "{how}: {out}"
        );
        assert!(out.contains("Applied 1 migration(s)"), "{how}: {out}");
        let out = run(
            &mut cmd(&["--json", "migrate"]),
            &mut places,
            &format!("{how} migrate --json"),
        );
        assert!(
            out.contains("\"event\":\"failed\"") && out.contains("division by zero"),
            "{how}: {out}"
        );
        assert!(out.contains("notice: ***"), "{how}: {out}");
        let out = run(
            &mut cmd(&["migrate", "--dry-run=rehearse"]),
            &mut places,
            &format!("{how} rehearse"),
        );
        assert!(
            out.contains("division by zero") && out.contains("notice: ***"),
            "{how}: {out}"
        );
        run(&mut cmd(&["status"]), &mut places, &format!("{how} status"));
        run(
            &mut cmd(&["--json", "status"]),
            &mut places,
            &format!("{how} status --json"),
        );
        let out = run(
            &mut cmd(&["history"]),
            &mut places,
            &format!("{how} history"),
        );
        assert!(out.contains("FAILED: division by zero"), "{how}: {out}");
        run(
            &mut cmd(&["--json", "history"]),
            &mut places,
            &format!("{how} history --json"),
        );
        run(
            &mut cmd(&["rollback", "--version", "2026-01-01_note", "--dry-run"]),
            &mut places,
            &format!("{how} rollback --dry-run"),
        );
        let out = run(
            &mut cmd(&["rollback", "--version", "2026-01-01_note"]),
            &mut places,
            &format!("{how} rollback"),
        );
        assert!(
            out.contains("Rolled back") && out.contains("notice: ***"),
            "{how}: {out}"
        );
        run(
            &mut cmd(&["backup", "list"]),
            &mut places,
            &format!("{how} backup list"),
        );
        for entry in std::fs::read_dir(dir.path().join("backups/migrations")).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".json") {
                places.add(
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
        {
            use std::os::unix::fs::PermissionsExt;
            let path = log_file(dir.path());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is readable by others", path.display());
            places.add(
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            );
        }
        places.add(
            format!("{how} step summary"),
            std::fs::read_to_string(&summary).unwrap_or_default(),
        );
        for table in [
            "schema_migrations",
            "schema_migrations_events",
            "schema_migrations_meta",
        ] {
            places.add(
                format!("{how} {table}"),
                sql(
                    &db,
                    &format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {table} t"),
                ),
            );
        }
    }
    let log = std::fs::read_to_string(cluster().root().join("server.log")).unwrap();
    // The server logs the failing statement, as it does for psql…
    assert!(log.contains("STATEMENT:  SELECT 1/0"), "{log}");
    // …and the WARNINGs a migration raises itself (log_min_messages), whoever runs it: what
    // the SQL chooses to say is not pgshift's to hide (docs/security.md). Everything else
    // must be free of secrets: no statement that did not fail, no connection detail.
    let log: String = log
        .lines()
        .filter(|l| !l.contains("WARNING:  warning: "))
        .map(|l| format!("{l}\n"))
        .collect();
    places.add("the server's log", log);
    places.assert_free_of(&[
        URL_PASSWORD,
        "p@ss/w0rd",
        "U9rl-p",
        ENV_PASSWORD,
        FILE_PASSWORD,
        VARIABLE_VALUE,
        LITERAL_PASSWORD,
    ]);
}

#[test]
fn control_characters_and_workflow_commands_from_files_and_the_server_are_inert() {
    let (dir, db) = project(&[
        (
            "2026-01-01_a",
            "DO $$ BEGIN RAISE NOTICE E'\\x1b]0;pwned\\x07title\\n::error file=x::notice-injected ##[add-mask]Failed\\r::warning::cr'; END $$;\n",
        ),
        (
            "2026-01-02_b",
            "DO $$ BEGIN RAISE EXCEPTION E'boom\\x1b[2J\\n::error::message-injected' USING HINT = E'line\\n::error::hint-injected', DETAIL = E'\\x1b]8;;http://evil\\x07link'; END $$;\n",
        ),
    ]);
    let check = |what: &str, text: &str, commands_allowed: bool| {
        assert!(
            !text.contains('\x1b') && !text.contains('\x07'),
            "{what}: {text:?}"
        );
        for line in text.split(['\n', '\r']) {
            let t = line.trim_start();
            if commands_allowed
                && (t.starts_with("::error file=") || t.starts_with("::warning file="))
            {
                continue;
            }
            assert!(
                !t.starts_with("::"),
                "{what}: a line starts a workflow command: {line:?}"
            );
        }
        assert!(!text.contains("##["), "{what}: {text:?}");
    };
    for args in [
        &["migrate"][..],
        &["--json", "migrate"],
        &["status"],
        &["history"],
        &["migrate", "--dry-run=rehearse"],
    ] {
        let out = pgshift(dir.path(), &db).args(args).output().unwrap();
        let text = both(&out);
        check(&args.join(" "), &text, false);
        if args == ["migrate"] {
            assert!(
                text.contains("\\u{1b}]0;pwned\\u{7}title\\n::error"),
                "{text}"
            );
            assert!(
                text.contains("hint: line\\n::error::hint-injected"),
                "{text}"
            );
        }
    }
    for line in std::fs::read_to_string(log_file(dir.path()))
        .unwrap()
        .lines()
    {
        assert!(!line.contains("##["), "{line}");
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }

    // File names: an ESC sequence, a line break followed by a command, HTML, a legacy command.
    let names = dir.path().join("names");
    std::fs::create_dir(&names).unwrap();
    for name in [
        "2026-01-03_x\x1b]0;t\x07.sql",
        "2026-01-04_y\n::error file=evil::name-injected.sql",
        "2026-01-05_<img src=x onerror=alert(1)>.sql",
        "2026-01-06_##[add-mask]z.sql",
        "2026-01-07_ok.sql",
    ] {
        std::fs::write(names.join(name), "SELECT 1;\n").unwrap();
    }
    let summary = dir.path().join("summary.md");
    for format in ["text", "markdown", "github", "json", "sarif"] {
        let out = pgshift(dir.path(), &db)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(["--dir", "names", "validate", "--format", format])
            .output()
            .unwrap();
        let text = both(&out);
        check(format, &text, format == "github");
        assert!(text.contains("2026-01-04_y"), "{format}: {text}");
        if format == "markdown" {
            assert!(text.contains("&lt;img"), "{text}");
            assert_html_only_in_code(&text);
        }
        if format == "github" {
            assert_eq!(
                text.lines()
                    .filter(|l| l.starts_with("::error file="))
                    .count(),
                4,
                "one annotation per bad name: {text}"
            );
        }
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    check("step summary", &md, false);
    assert_html_only_in_code(&md);
}

/// Markdown renders `<tag>` as HTML except inside a code span (an odd number of backticks
/// before it on its line).
fn assert_html_only_in_code(md: &str) {
    for line in md.lines() {
        for (i, _) in line.match_indices("<img") {
            assert!(
                line[..i].matches('`').count() % 2 == 1,
                "HTML outside a code span: {line}"
            );
        }
    }
}

#[test]
fn a_migration_that_changes_its_session_does_not_change_the_next_ones() {
    role("sess_other_role", "NOLOGIN");
    let (dir, db) = project(&[
        (
            "2026-01-01_dealloc",
            "PREPARE mine AS SELECT 1;\nDEALLOCATE ALL;\nCREATE TABLE after_dealloc (id int);\n",
        ),
        (
            "2026-01-02_session",
            "CREATE SCHEMA other;\nSET search_path TO other;\nSET statement_timeout = 0;\nCREATE TABLE in_other (id int);\n",
        ),
        (
            "2026-01-03_check",
            "CREATE TABLE seen AS SELECT current_setting('search_path') AS path, current_setting('statement_timeout') AS timeout;\n",
        ),
        ("2026-01-04_role", "SET ROLE sess_other_role;\nSELECT 1;\n"),
        (
            "2026-01-05_discard",
            "-- @no-transaction\nDISCARD ALL;\nCREATE TABLE after_discard (id int);\n",
        ),
        (
            "2026-01-06_check",
            "CREATE TABLE seen_again AS SELECT current_user AS who, current_setting('statement_timeout') AS timeout;\n",
        ),
    ]);
    pgshift(dir.path(), &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains("Applied 6 migration(s)"));
    assert_eq!(
        sql(&db, "SELECT to_regclass('other.in_other') IS NOT NULL"),
        "t"
    );
    assert_eq!(
        sql(&db, "SELECT path, timeout FROM public.seen"),
        "\"$user\", public|5min"
    );
    assert_eq!(
        sql(&db, "SELECT who, timeout FROM public.seen_again"),
        "postgres|5min"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT string_agg(applied_by, ',' ORDER BY version) FROM schema_migrations"
        ),
        "postgres,postgres,postgres,postgres,postgres,postgres"
    );
}

#[test]
fn status_names_the_running_deploy_and_a_broken_connection_says_so() {
    let (dir, db) = project(&[("2026-01-01_long", "SELECT pg_sleep(:secs);\n")]);
    let child = spawn_pgshift(
        dir.path(),
        &cluster().url(&db),
        &["migrate", "--var", "secs=60"],
    );
    wait_for(&db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND state = 'active' AND application_name LIKE 'pgshift[%' AND datname = current_database()");
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains(format!(
            "A deploy is running now: pgshift pid {} on ",
            child.id()
        )))
        .stdout(contains("at 2026-01-01_long (1/1); server process"));
    let json = pgshift(dir.path(), &db)
        .args(["--json", "status"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["running"]["holder"]
        .as_str()
        .unwrap()
        .contains("2026-01-01_long"));
    // The server ends the deployer's session (an administrator, a failover, a restart).
    sql(&db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'pgshift[%' AND datname = current_database()");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the connection to the server was lost"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: the connection broke while 2026-01-01_long ran"),
        "{stderr}"
    );
    assert!(!stderr.contains("Fix the file"), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    pgshift(dir.path(), &db)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("A deploy is running").not())
        .stdout(contains("pending"));
}

#[test]
fn libpq_environment_and_password_file_are_honoured() {
    let (dir, db) = project(&[("2026-01-01_a", "SELECT 1;\n")]);
    let socket = cluster().socket_dir().display().to_string();
    let port = cluster().port().to_string();
    // No DATABASE_URL at all: PGHOST, PGPORT, PGUSER and PGDATABASE, as psql takes them.
    pgshift(dir.path(), &db)
        .env_remove("DATABASE_URL")
        .env("PGHOST", &socket)
        .env("PGPORT", &port)
        .env("PGUSER", "postgres")
        .env("PGDATABASE", &db)
        .arg("migrate")
        .assert()
        .success()
        .stdout(contains(format!("postgres@{socket}:{port}/{db}")));
    // A service file names the database too.
    std::fs::write(
        dir.path().join("services.conf"),
        format!("[billing]\nhost={socket}\nport={port}\nuser=postgres\ndbname={db}\n"),
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .env_remove("DATABASE_URL")
        .env("PGSERVICEFILE", dir.path().join("services.conf"))
        .env("PGSERVICE", "billing")
        .arg("status")
        .assert()
        .success()
        .stdout(contains("1 applied"));
    // A password file others can read is ignored, as libpq does, and said so; the password
    // is never shown.
    use std::os::unix::fs::PermissionsExt;
    let pgpass = dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("*:*:*:postgres:{}\n", cluster().password()),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let tcp = format!("postgresql://postgres@127.0.0.1:{port}/{db}");
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", &tcp)
        .env("PGPASSFILE", &pgpass)
        .arg("status")
        .assert()
        .code(2)
        .stderr(contains("has group or world access and is ignored"))
        .stderr(contains(cluster().password()).not());
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    pgshift(dir.path(), &db)
        .env("DATABASE_URL", &tcp)
        .env("PGPASSFILE", &pgpass)
        .arg("status")
        .assert()
        .success();
}

#[test]
fn connection_strings_and_config_files_never_show_a_piece_of_a_password() {
    let (dir, db) = project(&[("2026-01-01_a", "SELECT 1;\n")]);
    let port = cluster().port();
    for (url, pieces) in [
        // A raw `@`: the host is the part after the last one, never a piece of the password.
        (
            format!("postgresql://postgres:Tail9@Zr9k-part@127.0.0.1:{port}/nope_db"),
            vec!["Tail9", "Zr9k-part"],
        ),
        (
            format!("postgresql://postgres:Zr9k/slash@127.0.0.1:{port}/{db}"),
            vec!["Zr9k", "slash@"],
        ),
        (
            format!("host=127.0.0.1 port={port} user=postgres password=first-half Zr9k-second dbname={db}"),
            vec!["first-half", "Zr9k-second"],
        ),
        (
            format!("host=127.0.0.1 port={port} password='never-closed Zr9k"),
            vec!["never-closed", "Zr9k"],
        ),
    ] {
        let out = pgshift(dir.path(), &db)
            .env("DATABASE_URL", &url)
            .arg("status")
            .output()
            .unwrap();
        let text = both(&out);
        assert_eq!(out.status.code(), Some(2), "{url}: {text}");
        for p in pieces {
            assert!(!text.contains(p), "{p} shown for {url}: {text}");
        }
    }
    std::fs::write(
        dir.path().join("pgshift.toml"),
        "[variables]\napp_password = Zr9k-unquoted-secret\n",
    )
    .unwrap();
    pgshift(dir.path(), &db)
        .arg("validate")
        .assert()
        .code(2)
        .stderr(contains("pgshift.toml: line 2"))
        .stderr(contains("Zr9k").not());
}

/// A file someone else owns, and the check that it is untouched.
struct Victim(std::path::PathBuf);

impl Victim {
    fn new(dir: &std::path::Path) -> Victim {
        let p = dir.join("victim.txt");
        std::fs::write(&p, "precious\n").unwrap();
        Victim(p)
    }
    fn untouched(&self, what: &str) {
        assert_eq!(
            std::fs::read_to_string(&self.0).unwrap(),
            "precious\n",
            "{what} wrote through a link"
        );
    }
}

fn link(target: &std::path::Path, at: &std::path::Path) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, at).unwrap();
}

#[test]
fn no_file_pgshift_writes_follows_a_link_planted_in_its_place() {
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE linked_t (id int);\n")]);
    let victim = Victim::new(&tempfile::tempdir().unwrap().keep());
    let root = dir.path();
    // Backups and their manifests: every name the next minute could use, for both kinds.
    let backups = root.join("backups/migrations");
    let now = chrono::Utc::now();
    for s in 0..60 {
        let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%d_%H%M%S");
        for base in [
            format!("backup_{stamp}"),
            format!("backup_before_migration_{stamp}"),
        ] {
            for name in [
                format!(".{base}.sql.gz.json.partial"),
                format!("{base}.sql.json.partial"),
            ] {
                link(&victim.0, &backups.join(name));
            }
        }
    }
    // The day's log.
    let log = root.join(format!("logs/migration_{}.log", now.format("%Y%m%d")));
    link(&victim.0, &log);
    let out = pgshift(root, &db).args(["migrate"]).output().unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: the log is not written: cannot open")
            && text.contains("is a symbolic link, and pgshift does not write through links"),
        "{text}"
    );
    pgshift(root, &db)
        .args(["backup", "create"])
        .assert()
        .success();
    victim.untouched("backup, manifest or log");
    assert_eq!(sql(&db, "SELECT to_regclass('linked_t') IS NOT NULL"), "t");

    // init: a dangling link in pgshift.toml's place is kept, not followed; a linked
    // .gitignore is refused.
    let fresh = tempfile::tempdir().unwrap();
    let nowhere = fresh.path().join("nowhere.toml");
    link(&nowhere, &fresh.path().join("pgshift.toml"));
    link(&victim.0, &fresh.path().join(".gitignore"));
    let out = pgshift(fresh.path(), &db).arg("init").output().unwrap();
    let text = both(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(".gitignore is a symbolic link"), "{text}");
    assert!(
        !nowhere.exists(),
        "init created a file through a dangling link"
    );
    victim.untouched("init");

    // import: a link where an imported migration goes is refused like an existing file.
    let source = tempfile::tempdir().unwrap();
    std::fs::create_dir(source.path().join("db")).unwrap();
    std::fs::write(
        source.path().join("db/20260102030405_create_things.sql"),
        "-- migrate:up\nCREATE TABLE things (id int);\n-- migrate:down\nDROP TABLE things;\n",
    )
    .unwrap();
    let target = tempfile::tempdir().unwrap();
    link(
        &victim.0,
        &target
            .path()
            .join("migrations/2026-01-02_030405_create_things.sql"),
    );
    let out = pgshift(target.path(), &db)
        .args(["import", "--from", "dbmate"])
        .arg(source.path().join("db"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    victim.untouched("import");
}

/// Making a device file needs root; `scripts/test.sh` runs this as root.
#[test]
#[ignore = "needs root (mknod)"]
fn root_only_a_log_that_cannot_be_written_is_a_warning_and_the_deploy_goes_on() {
    let (dir, db) = project(&[("2026-01-01_t", "CREATE TABLE full_log_t (id int);\n")]);
    let log = dir.path().join(format!(
        "logs/migration_{}.log",
        chrono::Utc::now().format("%Y%m%d")
    ));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    // /dev/full's device: every write fails with "No space left on device".
    let made = std::process::Command::new("mknod")
        .arg(&log)
        .args(["c", "1", "7"])
        .status()
        .unwrap();
    assert!(made.success());
    let out = pgshift(dir.path(), &db)
        .args(["migrate", "--skip-backup"])
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: cannot write the log")
            && text.contains("No space left on device")
            && text.contains("the rest of this run is not logged"),
        "{text}"
    );
    assert_eq!(text.matches("cannot write the log").count(), 1, "{text}");
    assert_eq!(
        sql(&db, "SELECT to_regclass('full_log_t') IS NOT NULL"),
        "t"
    );
}
