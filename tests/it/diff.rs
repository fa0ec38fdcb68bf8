//! `pgshift diff` and `pgshift drift` against real databases. Convergence is the contract:
//! after psql runs diff(A→B) on A, diff(A→B) is empty and `pg_dump --schema-only` of A and B
//! hold the same objects.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{cluster, pgshift, pgshift_in, sql, supabase_stub};

const EVERY_KIND: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/diff/every-kind/migrations"
);
const MORE_KINDS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/diff/more-kinds/migrations"
);

fn url(db: &str) -> String {
    cluster().url(db)
}

/// `pgshift diff --from FROM --to TO [extra]` run in `dir`: (exit code, stdout, stderr).
fn diff(dir: &Path, from: &str, to: &str, extra: &[&str]) -> (i32, String, String) {
    let out = pgshift_in(dir)
        .args(["diff", "--from", from, "--to", to])
        .env("APP_PASSWORD", "diff-test")
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `script` on `db` as `psql -v ON_ERROR_STOP=1 -f` does.
fn apply(db: &str, script: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let out = cluster()
        .psql_command(db)
        .arg("-f")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql failed on the diff: {}\n--- script ---\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pg_dump --schema-only --no-owner` of `db` as a set of entries (with their bodies, or only
/// their headers: Name, Type, Schema), pgshift's own objects and pg_dump's random `\restrict`
/// lines left out.
fn dump(db: &str, bodies: bool) -> BTreeSet<String> {
    let c = cluster();
    let out = std::process::Command::new(c.client_program("pg_dump"))
        .args(["--schema-only", "--no-owner", "-h"])
        .arg(c.socket_dir())
        .args(["-p", &c.port().to_string(), "-U", "postgres", db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut entries = BTreeSet::new();
    for entry in text.split("\n--\n-- Name: ").skip(1) {
        let entry = entry
            .split("\n--\n-- PostgreSQL database dump complete")
            .next()
            .unwrap_or(entry);
        if entry.contains("schema_migrations") {
            continue;
        }
        if !bodies {
            entries.insert(entry.lines().next().unwrap_or("").to_string());
            continue;
        }
        let kept: Vec<&str> = entry
            .lines()
            // pg_dump's session settings land after whichever entry precedes them.
            .filter(|l| {
                !l.starts_with("\\restrict")
                    && !l.starts_with("\\unrestrict")
                    && !l.starts_with("SET ")
            })
            .collect();
        entries.insert(kept.join("\n").trim().to_string());
    }
    entries
}

/// diff(A→B) applied to A, then diffed again (empty), and the dumps compared: the same
/// objects, and with `bodies` the same text (not when a table's columns come in another
/// order, which pgshift never changes).
fn converge(dir: &Path, a: &str, b: &str, extra: &[&str], bodies: bool) {
    let (code, script, err) = diff(dir, &url(a), &url(b), extra);
    assert!(code == 0 || code == 1, "diff failed ({code}): {err}");
    apply(a, &script);
    let (code, again, err) = diff(dir, &url(a), &url(b), extra);
    assert_eq!(
        code, 0,
        "diff is not empty after applying it:\n{again}\n{err}\n--- first script ---\n{script}"
    );
    let (left, right) = (dump(a, bodies), dump(b, bodies));
    let only_a: Vec<_> = left.difference(&right).collect();
    let only_b: Vec<_> = right.difference(&left).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "pg_dump differs:\nonly in {a}: {only_a:#?}\nonly in {b}: {only_b:#?}"
    );
}

fn deploy(dir: &Path, db: &str) {
    let out = pgshift(dir, db).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", crate::common::both(&out));
}

/// A project whose migrations folder is a copy of `from`.
fn project_of(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), m.join(e.file_name())).unwrap();
        }
    }
    dir
}

#[test]
fn every_kind_converges_from_empty_and_back_to_empty() {
    from_empty_and_back(EVERY_KIND);
}

#[test]
fn the_forms_real_sets_use_converge_from_empty_and_back_to_empty() {
    // Multi-level LIST/HASH partitions, composite FKs with MATCH FULL and column lists, GIN,
    // BRIN and DESC indexes, OUT/VARIADIC/polymorphic functions, transition-table and
    // constraint triggers, recursive and windowed views, CHECK OPTION, WITH NO DATA, domains
    // over domains, arrays of enums, global default privileges, FOR ALL TABLES and row-filter
    // publications, expression statistics.
    from_empty_and_back(MORE_KINDS);
}

fn from_empty_and_back(folder: &str) {
    // The fixtures create roles (`diff_reader`) with IF NOT EXISTS: two tests doing it at
    // once on the shared cluster collide. Roles are the cluster's: one test at a time.
    let _turn = crate::common::ROLE_TURN
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let project = project_of(Path::new(folder));
    let full = cluster().create_database("diff_full").unwrap();
    deploy(project.path(), &full);
    let empty = cluster().create_database("diff_empty").unwrap();
    converge(project.path(), &empty, &full, &[], true);
    // And the way back: with --allow-drop, everything goes.
    let empty2 = cluster().create_database("diff_empty").unwrap();
    let (_, script, _) = diff(project.path(), &url(&full), &url(&empty2), &[]);
    assert!(script.contains("-- destructive, left out"), "{script}");
    assert!(
        !script.lines().any(|l| l.starts_with("DROP TABLE")),
        "{script}"
    );
    converge(project.path(), &full, &empty2, &["--allow-drop"], true);
}

#[test]
fn a_migrations_folder_reads_like_the_database_it_builds() {
    // Both example sets and the every-kind fixture: a folder built on a throwaway cluster and
    // a database built from the diff of `empty` to it compare equal.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let _turn = crate::common::ROLE_TURN
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for (folder, stub) in [
        (Path::new(EVERY_KIND).to_path_buf(), false),
        (examples.join("eneas-os/migrations"), false),
        (examples.join("supabase/migrations"), true),
    ] {
        let project = project_of(&folder);
        let db = cluster().create_database("diff_dir").unwrap();
        let stub_flag: &[&str] = if stub { &["--supabase"] } else { &[] };
        if stub {
            supabase_stub(&db);
        }
        let dir = project.path().join("migrations");
        let dir = dir.to_str().unwrap();
        let (code, script, err) = diff(project.path(), &url(&db), dir, stub_flag);
        assert_eq!(code, 1, "{folder:?}: {err}");
        apply(&db, &script);
        let (code, again, err) = diff(project.path(), &url(&db), dir, stub_flag);
        assert_eq!(code, 0, "{folder:?} does not converge:\n{again}\n{err}");
    }
}

#[test]
fn changes_are_made_in_place_and_converge() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        cluster().create_database("diff_a").unwrap(),
        cluster().create_database("diff_b").unwrap(),
    );
    let before = "
        CREATE TYPE status AS ENUM ('new', 'done');
        CREATE TABLE items (id int PRIMARY KEY, code varchar(10), price numeric NOT NULL, old_name text, status status DEFAULT 'new');
        INSERT INTO items VALUES (1, 'x', 2, 'kept', 'done');
        CREATE FUNCTION price_of(i items) RETURNS numeric LANGUAGE sql AS $$ SELECT i.price $$;
        CREATE VIEW cheap AS SELECT id, code FROM items WHERE price < 10;
        CREATE VIEW cheapest AS SELECT id FROM cheap;
        CREATE TABLE gone (x int);
        CREATE TYPE legacy AS ENUM ('a', 'b');
        ALTER TABLE items ADD COLUMN kind legacy;
        ALTER TABLE items ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON items FOR SELECT USING (price > 0);";
    let after = "
        CREATE TYPE status AS ENUM ('draft', 'new', 'done', 'archived');
        CREATE TABLE items (id int PRIMARY KEY, code varchar(40), price numeric, new_name text, status status DEFAULT 'draft' NOT NULL);
        CREATE FUNCTION price_of(i items) RETURNS text LANGUAGE sql AS $$ SELECT i.price::text $$;
        CREATE VIEW cheap AS SELECT id, code, price FROM items WHERE price < 20;
        CREATE VIEW cheapest AS SELECT id FROM cheap;
        CREATE INDEX items_code ON items (code);
        CREATE TABLE moved (x int);
        ALTER TABLE items ADD COLUMN kind text;
        ALTER TABLE items ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON items FOR SELECT USING (price > 1);";
    sql(&a, before);
    sql(&b, after);
    let (code, script, _) = diff(dir.path(), &url(&a), &url(&b), &[]);
    assert_eq!(code, 1);
    // In place: the column's type, its default, NOT NULL; the enum gains values; the rename
    // is shown, never run; nothing destructive without --allow-drop.
    assert!(
        script.contains("ALTER TABLE public.items ALTER COLUMN code TYPE character varying(40)"),
        "{script}"
    );
    assert!(
        script.contains("ALTER TYPE public.status ADD VALUE 'draft' BEFORE 'new';"),
        "{script}"
    );
    assert!(script.contains("-- possible rename (keeps the data): ALTER TABLE public.items RENAME COLUMN old_name TO new_name;"), "{script}");
    assert!(
        script.contains("-- ALTER TABLE public.items DROP COLUMN old_name;"),
        "{script}"
    );
    assert!(script.contains("-- DROP TABLE public.gone;"), "{script}");
    assert!(
        script.contains(
            "-- possible rename (keeps the data): ALTER TABLE public.gone RENAME TO moved;"
        ),
        "{script}"
    );
    assert!(!script.contains("DROP TABLE public.items"), "{script}");
    converge(dir.path(), &a, &b, &["--allow-drop"], false);
    // The row is still there, with its values converted in place.
    assert_eq!(
        sql(
            &a,
            "SELECT code || ':' || price || ':' || status FROM items"
        ),
        "x:2:done"
    );
}

#[test]
fn text_json_and_exit_codes_follow_diff() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        cluster().create_database("diff_a").unwrap(),
        cluster().create_database("diff_b").unwrap(),
    );
    sql(&a, "CREATE TABLE t (id int); CREATE TABLE only_a (x int)");
    sql(
        &b,
        "CREATE TABLE t (id bigint); CREATE TABLE only_b (x int)",
    );
    let (code, text, _) = diff(dir.path(), &url(&a), &url(&b), &["--format", "text"]);
    assert_eq!(code, 1);
    assert!(text.contains("- table public.only_a"), "{text}");
    assert!(text.contains("+ table public.only_b"), "{text}");
    assert!(text.contains("~ column public.t.id"), "{text}");
    assert!(
        text.contains("was: id integer") && text.contains("now: id bigint"),
        "{text}"
    );
    let (_, json, _) = diff(dir.path(), &url(&a), &url(&b), &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["differences"], 5, "{json}");
    let (code, _, _) = diff(dir.path(), &url(&a), &url(&a), &[]);
    assert_eq!(code, 0);
    // Every difference is in public: left out, nothing differs.
    let (code, out, _) = diff(
        dir.path(),
        &url(&a),
        &url(&b),
        &["--ignore-schemas", "public"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = diff(dir.path(), "no/such/folder", &url(&a), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/folder"), "{err}");
    let (code, _, err) = diff(dir.path(), &url(&a), &url(&b), &["--write", "x"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--write needs --from to be the migrations folder"),
        "{err}"
    );
}

#[test]
fn roles_that_grants_name_are_created_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        cluster().create_database("diff_a").unwrap(),
        cluster().create_database("diff_b").unwrap(),
    );
    sql(&b, "DO $$ BEGIN CREATE ROLE \"Diff Auditor\" NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; CREATE TABLE t (id int); GRANT SELECT ON t TO \"Diff Auditor\"");
    sql(&a, "CREATE TABLE t (id int)");
    let (_, script, _) = diff(dir.path(), &url(&a), &url(&b), &[]);
    // The role exists in this cluster (roles are cluster-wide): no CREATE ROLE.
    assert!(!script.contains("CREATE ROLE"), "{script}");
    assert!(
        script.contains("GRANT SELECT ON TABLE public.t TO \"Diff Auditor\";"),
        "{script}"
    );
    // From an empty database of a throwaway cluster, which lacks it: made first, guarded.
    let (_, script, _) = diff(dir.path(), "empty", &url(&b), &[]);
    let guard = "DO $pgshift$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'Diff Auditor') THEN CREATE ROLE \"Diff Auditor\" NOLOGIN; END IF; END $pgshift$;";
    let at = |needle: &str| {
        script
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle} in {script}"))
    };
    assert!(at(guard) < at("GRANT SELECT ON TABLE public.t"), "{script}");
}

#[test]
fn drift_names_each_change_made_by_hand_and_nothing_on_an_untouched_database() {
    let project =
        project_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/supabase/migrations"));
    std::fs::write(
        project.path().join("pgshift.toml"),
        "[supabase]\nproject = true\n",
    )
    .unwrap();
    let db = cluster().create_database("drift").unwrap();
    supabase_stub(&db);
    deploy(project.path(), &db);
    let drift = |args: &[&str]| {
        let out = pgshift(project.path(), &db)
            .arg("drift")
            .args(args)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), crate::common::both(&out))
    };
    let (code, text) = drift(&[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("No drift"), "{text}");
    let table = sql(
        &db,
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_policies ORDER BY 1 LIMIT 1",
    );
    let policy = sql(&db, &format!("SELECT policyname FROM pg_policies WHERE format('%I.%I', schemaname, tablename) = '{table}' ORDER BY 1 LIMIT 1"));
    let function = sql(&db, "SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prokind = 'f' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql') AND p.proname NOT LIKE 'schema_migrations%' ORDER BY 1 LIMIT 1");
    let column = sql(&db, &format!("SELECT attname FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped AND atttypid = 'text'::regtype ORDER BY attnum LIMIT 1"));
    crate::common::role("drift_new_role", "NOLOGIN");
    sql(&db, &format!("
        ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT 'by hand';
        CREATE INDEX drift_by_hand ON {table} ({column});
        DROP POLICY \"{policy}\" ON {table};
        GRANT SELECT ON {table} TO drift_new_role;
        DO $d$ BEGIN EXECUTE (SELECT replace(pg_get_functiondef('{function}'::regprocedure), 'BEGIN', 'BEGIN /* by hand */')); END $d$;"));
    let (code, text) = drift(&[]);
    assert_eq!(code, 1, "{text}");
    for expected in [
        format!("~ column {table}.{column}"),
        "+ index public.drift_by_hand".to_string(),
        format!(
            "- policy {table}.{}",
            if policy.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                policy.clone()
            } else {
                format!("\"{policy}\"")
            }
        ),
        format!("+ privilege SELECT ON TABLE {table} TO drift_new_role"),
        format!("~ function public.{function}"),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    let entries = text
        .lines()
        .filter(|l| l.starts_with("  + ") || l.starts_with("  - ") || l.starts_with("  ~ "))
        .count();
    assert_eq!(entries, 5, "{text}");
    // As a health check, and as GitHub annotations.
    let out = pgshift(project.path(), &db)
        .args(["health", "--drift"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        crate::common::both(&out).contains("schema-drift"),
        "{}",
        crate::common::both(&out)
    );
    let (_, gh) = drift(&["--format", "github"]);
    assert_eq!(
        gh.lines()
            .filter(|l| l.starts_with("::error title=drift/"))
            .count(),
        5,
        "{gh}"
    );
}

/// The versions of `folder` in plan order.
fn versions(folder: &Path) -> Vec<String> {
    let set =
        pgshift::migration::load_dir(folder, pgshift::config::Environment::Development).unwrap();
    let plan = pgshift::plan::plan(&set).unwrap();
    plan.steps
        .iter()
        .map(|s| s.version.as_str().to_string())
        .collect()
}

#[test]
fn each_step_of_the_examples_converges_from_the_one_before() {
    // The database after migration N, changed by diff into the one after N+1: every ALTER the
    // example sets make, generated from the catalogs and run.
    let _turn = crate::common::ROLE_TURN
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for (folder, stub) in [
        (examples.join("eneas-os/migrations"), false),
        (examples.join("supabase/migrations"), true),
    ] {
        let project = project_of(&folder);
        if stub {
            std::fs::write(
                project.path().join("pgshift.toml"),
                "[supabase]\nproject = true\n",
            )
            .unwrap();
        }
        let at = |target: Option<&str>| {
            let db = cluster().create_database("diff_step").unwrap();
            if stub {
                supabase_stub(&db);
            }
            if let Some(t) = target {
                let out = pgshift(project.path(), &db)
                    .env("APP_PASSWORD", "diff-test")
                    .args(["migrate", "--target", t])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", crate::common::both(&out));
            }
            db
        };
        let steps = versions(&project.path().join("migrations"));
        let mut before = at(None);
        for v in &steps {
            let after = at(Some(v));
            converge(project.path(), &before, &after, &["--allow-drop"], false);
            before = after;
        }
    }
}

#[test]
fn every_import_fixture_converges() {
    // Each tool's fixture imported, deployed, and rebuilt on an empty database by the diff of
    // the two: the diff is empty after, and pg_dump of both holds the same objects.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    for tool in [
        "dbmate",
        "flyway",
        "golang-migrate",
        "goose",
        "numbered",
        "prisma",
        "sqitch",
        "supabase",
    ] {
        let project = tempfile::tempdir().unwrap();
        let out = pgshift_in(project.path())
            .args(["import", "--from", tool])
            .arg(fixtures.join(tool))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            crate::common::both(&out)
        );
        let (built, empty) = (
            cluster().create_database("diff_import").unwrap(),
            cluster().create_database("diff_import").unwrap(),
        );
        if tool == "supabase" {
            supabase_stub(&built);
            supabase_stub(&empty);
        }
        deploy(project.path(), &built);
        converge(project.path(), &empty, &built, &[], true);
    }
}

#[test]
fn write_turns_changes_made_by_hand_into_a_migration_pair_that_round_trips() {
    let (project, db) = crate::common::project(&[(
        "2026-01-01_accounts",
        "CREATE TABLE accounts (id int PRIMARY KEY, email text);\nCREATE TABLE orders (id int PRIMARY KEY, account_id int);",
    )]);
    deploy(project.path(), &db);
    sql(&db, "
        ALTER TABLE accounts ADD COLUMN name text;
        ALTER TABLE accounts ADD CONSTRAINT email_at CHECK (email LIKE '%@%');
        ALTER TABLE orders ADD CONSTRAINT orders_account FOREIGN KEY (account_id) REFERENCES accounts (id);
        CREATE INDEX orders_account_idx ON orders (account_id);
        CREATE TABLE notes (id int PRIMARY KEY, body text);
        CREATE INDEX notes_body ON notes (body);");
    let out = pgshift(project.path(), &db)
        .args([
            "diff",
            "--from",
            "migrations",
            "--to",
            &url(&db),
            "--write",
            "orders by hand",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", crate::common::both(&out));
    let m = project.path().join("migrations");
    let read = |name: &str| {
        std::fs::read_to_string(m.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let main = read(&format!("{today}_orders_by_hand.sql"));
    assert!(
        main.contains("-- Dependencies: 2026-01-01_accounts.sql"),
        "{main}"
    );
    assert!(main.contains("ADD CONSTRAINT orders_account FOREIGN KEY (account_id) REFERENCES public.accounts(id) NOT VALID;"), "{main}");
    assert!(
        main.contains("ADD CONSTRAINT email_at CHECK ((email ~~ '%@%'::text)) NOT VALID;"),
        "{main}"
    );
    // A new table's index is built with it; one on a table in use, CONCURRENTLY on its own.
    assert!(
        main.contains("CREATE INDEX notes_body ON public.notes"),
        "{main}"
    );
    assert!(!main.contains("orders_account_idx"), "{main}");
    let indexes = read(&format!("{today}_orders_by_hand_indexes.sql"));
    assert!(indexes.contains("-- @no-transaction"), "{indexes}");
    assert!(
        indexes.contains("CREATE INDEX CONCURRENTLY orders_account_idx ON public.orders"),
        "{indexes}"
    );
    let validate = read(&format!("{today}_orders_by_hand_validate.sql"));
    assert!(
        validate.contains("ALTER TABLE public.orders VALIDATE CONSTRAINT orders_account;"),
        "{validate}"
    );
    for f in ["", "_indexes", "_validate"] {
        assert!(m
            .join(format!("{today}_orders_by_hand{f}.down.sql"))
            .exists());
    }
    let out = pgshift_in(project.path()).arg("validate").output().unwrap();
    assert!(out.status.success(), "{}", crate::common::both(&out));
    let out = pgshift_in(project.path())
        .args(["test", "--rollback"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::both(&out));
    // What the migrations build is now the database's schema (but for NOT VALID, validated).
    let (code, again, err) = diff(project.path(), "migrations", &url(&db), &[]);
    assert_eq!(code, 0, "{again}{err}");
}

#[test]
fn write_refuses_to_lose_data_without_allow_drop() {
    let (project, db) =
        crate::common::project(&[("2026-01-01_t", "CREATE TABLE t (id int, old text);")]);
    deploy(project.path(), &db);
    sql(&db, "ALTER TABLE t DROP COLUMN old");
    let out = pgshift(project.path(), &db)
        .args([
            "diff",
            "--from",
            "migrations",
            "--to",
            &url(&db),
            "--write",
            "drop old",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", crate::common::both(&out));
    assert!(
        crate::common::both(&out).contains("would lose data"),
        "{}",
        crate::common::both(&out)
    );
    // No migration written (the index's hidden folder aside).
    let files = std::fs::read_dir(project.path().join("migrations"))
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(files, 1);
}

#[test]
fn hostile_names_and_comments_converge_and_print_inert() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        cluster().create_database("diff_a").unwrap(),
        cluster().create_database("diff_b").unwrap(),
    );
    sql(
        &b,
        r#"
        CREATE SCHEMA "Odd Schema";
        CREATE TABLE "Odd Schema"."we""ird; DROP TABLE x; --" ("select" int PRIMARY KEY, "Ünï cödé" text);
        COMMENT ON TABLE "Odd Schema"."we""ird; DROP TABLE x; --" IS E'line one\n::error::pwned\n\x1b[2J it''s \\ done \u202e';
        CREATE POLICY "see it all" ON "Odd Schema"."we""ird; DROP TABLE x; --" USING ("select" > 0);
        CREATE FUNCTION "Odd Schema"."$f"() RETURNS int LANGUAGE sql AS $q$ SELECT 1 $q$;
        CREATE TABLE boom (x int);
        CREATE TABLE "line
DROP TABLE boom; --" (x int, y int);"#,
    );
    sql(
        &a,
        "CREATE TABLE boom (x int); CREATE TABLE \"line\nDROP TABLE boom; --\" (y int, x int);",
    );
    let (code, script, _) = diff(dir.path(), &url(&a), &url(&b), &[]);
    assert_eq!(code, 1);
    // Nothing raw a terminal or a CI runner would act on.
    assert!(
        !script
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{script:?}"
    );
    assert!(
        !script.lines().any(|l| l.trim_start().starts_with("::")),
        "{script}"
    );
    assert!(!script.contains('\u{202e}'), "{script}");
    // A name with a line break in a comment (the column-order warning, a destructive drop)
    // stays a comment.
    assert!(
        !script.lines().any(|l| l.starts_with("DROP TABLE boom")),
        "{script}"
    );
    assert!(
        script.contains("-- DROP TABLE boom; --\" are in another order"),
        "{script}"
    );
    converge(dir.path(), &a, &b, &[], false);
    assert_eq!(
        sql(&a, "SELECT count(*) FROM pg_class WHERE relname = 'boom'"),
        "1"
    );
    assert_eq!(
        sql(
            &a,
            r#"SELECT obj_description('"Odd Schema"."we""ird; DROP TABLE x; --"'::regclass) = E'line one\n::error::pwned\n\x1b[2J it''s \\ done \u202e'"#
        ),
        "t"
    );
}

#[test]
fn drift_over_targets_ends_with_a_table_and_speaks_sarif_and_markdown() {
    let (project, clean) = crate::common::project(&[(
        "2026-01-01_t",
        "CREATE TABLE t (id int PRIMARY KEY, note text);",
    )]);
    let drifted = cluster().create_database("drift_b").unwrap();
    deploy(project.path(), &clean);
    deploy(project.path(), &drifted);
    sql(&drifted, "ALTER TABLE t ALTER COLUMN note SET NOT NULL; CREATE TABLE tmp_load (x int); CREATE TABLE by_hand (x int)");
    std::fs::write(
        project.path().join("pgshift.toml"),
        "[drift]\nignore = [\"public.tmp_*\"]\n",
    )
    .unwrap();
    let targets = project.path().join("targets.txt");
    std::fs::write(&targets, format!("{}\n{}\n", url(&clean), url(&drifted))).unwrap();
    let out = pgshift_in(project.path())
        .args(["drift", "--targets"])
        .arg(&targets)
        .output()
        .unwrap();
    let text = crate::common::both(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("+ table public.by_hand"), "{text}");
    assert!(
        !text.contains("tmp_load"),
        "the [drift] ignore pattern holds: {text}"
    );
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("target"))
        .take(3)
        .collect();
    assert!(
        table[1].ends_with("clean") && table[2].ends_with("2 drifted"),
        "{text}"
    );
    let out = pgshift(project.path(), &drifted)
        .args(["drift", "--format", "sarif"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["drift/made-by-hand", "drift/different"], "{v}");
    let out = pgshift(project.path(), &drifted)
        .args(["drift", "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("### pgshift drift"), "{md}");
    assert!(
        md.contains("| column `public.t.note` | `note text` | `note text NOT NULL` |"),
        "{md}"
    );
}

#[test]
fn an_enum_that_loses_a_value_is_made_anew_with_its_columns_and_views() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        cluster().create_database("diff_a").unwrap(),
        cluster().create_database("diff_b").unwrap(),
    );
    sql(
        &a,
        "CREATE TYPE state AS ENUM ('new', 'old', 'done');
             CREATE TABLE jobs (id int, state state DEFAULT 'new');
             INSERT INTO jobs VALUES (1, 'done');
             CREATE VIEW done_jobs AS SELECT id FROM jobs WHERE state = 'done';",
    );
    sql(
        &b,
        "CREATE TYPE state AS ENUM ('done', 'new');
             CREATE TABLE jobs (id int, state state DEFAULT 'new');
             CREATE VIEW done_jobs AS SELECT id FROM jobs WHERE state = 'done';",
    );
    let (_, script, _) = diff(dir.path(), &url(&a), &url(&b), &[]);
    // A value goes: destructive, so a comment without --allow-drop.
    assert!(
        script.contains("-- ALTER TYPE public.state RENAME TO \"state_pgshift_old\";"),
        "{script}"
    );
    converge(dir.path(), &a, &b, &["--allow-drop"], true);
    assert_eq!(sql(&a, "SELECT id || ':' || state FROM jobs"), "1:done");
}

#[test]
fn drift_of_a_database_deployed_by_its_own_role_is_clean() {
    // The migrations are built on the throwaway cluster by its superuser; the database was built
    // by a deployer without superuser: default privileges name that role, and must not drift.
    crate::common::role("drift_deployer", "LOGIN");
    crate::common::role("drift_reader", "NOLOGIN");
    let (project, db) = crate::common::project(&[(
        "2026-01-01_app",
        "CREATE SCHEMA app;\nCREATE TABLE app.t (id int PRIMARY KEY);\nALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO drift_reader;\nGRANT USAGE ON SCHEMA app TO drift_reader;",
    )]);
    // Its owner: CREATE on the database, and on public (owned by pg_database_owner), with no grant.
    sql(&db, &format!("ALTER DATABASE {db} OWNER TO drift_deployer"));
    let as_deployer = crate::common::url_as(&db, "drift_deployer");
    let out = pgshift_in(project.path())
        .env("DATABASE_URL", &as_deployer)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::both(&out));
    let out = pgshift_in(project.path())
        .env("DATABASE_URL", &as_deployer)
        .arg("drift")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", crate::common::both(&out));
}

#[test]
fn what_the_role_may_not_do_is_said_before_it_fails() {
    crate::common::role("diff_plain", "LOGIN");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        cluster().create_database("diff_a").unwrap(),
        cluster().create_database("diff_b").unwrap(),
    );
    sql(
        &b,
        "CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
             CREATE EVENT TRIGGER diff_plain_ddl ON ddl_command_end EXECUTE FUNCTION on_ddl();
             CREATE VIEW v AS SELECT 1 AS one; COMMENT ON COLUMN v.one IS 'not modelled';",
    );
    let (_, script, err) = diff(
        dir.path(),
        &crate::common::url_as(&a, "diff_plain"),
        &url(&b),
        &[],
    );
    assert!(script.contains("-- warning: 1 event trigger(s) to create: that needs a superuser, which diff_plain is not"), "{script}");
    // A comment on a view's column is not modelled: named, never taken as equal.
    assert!(err.contains("comments on view columns (0 / 1)"), "{err}");
}

#[test]
fn changes_to_the_forms_real_sets_use_converge_both_ways() {
    // The more-kinds fixture, and a copy changed by hand in each kind: every change found,
    // written, and run, in both directions.
    let _turn = crate::common::ROLE_TURN
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let project = project_of(Path::new(MORE_KINDS));
    let (a, b) = (
        cluster().create_database("diff_more").unwrap(),
        cluster().create_database("diff_more").unwrap(),
    );
    deploy(project.path(), &a);
    deploy(project.path(), &b);
    // An access method is not compared (an extension brings it): both sides have it.
    let am = "CREATE ACCESS METHOD diff_heap TYPE TABLE HANDLER heap_tableam_handler";
    sql(&a, am);
    sql(&b, am);
    sql(
        &b,
        r#"
        ALTER TABLE shop.audit_log SET ACCESS METHOD diff_heap;
        ALTER SEQUENCE shop.scratch_seq SET LOGGED;
        ALTER DOMAIN shop.price SET DEFAULT 2;
        ALTER TYPE shop.size ADD VALUE 'xl';
        ALTER TABLE shop.orders DETACH PARTITION shop.orders_other;
        ALTER TABLE shop.orders ATTACH PARTITION shop.orders_other FOR VALUES IN ('us', 'ca');
        DROP VIEW shop.eu_customers;
        ALTER TABLE shop.customers ALTER COLUMN code TYPE varchar(40), ALTER COLUMN tags DROP DEFAULT;
        ALTER TABLE shop.customers DISABLE TRIGGER customers_audit;
        ALTER TABLE shop.customers FORCE ROW LEVEL SECURITY;
        ALTER TABLE shop.audit_log SET (autovacuum_enabled = false);
        CREATE OR REPLACE FUNCTION shop.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'x'; RETURN NULL; END $$;
        DROP FUNCTION shop.first_of(anyarray);
        ALTER POLICY read_all ON shop.customers USING (region <> 'hidden');
        CREATE OR REPLACE VIEW shop.region_tree AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r;
        CREATE VIEW shop.eu_customers AS SELECT id, region, code FROM shop.customers WHERE region = 'eu';
        DROP INDEX shop.orders_placed;
        CREATE INDEX orders_placed ON shop.orders (placed_on);
        REVOKE GRANT OPTION FOR USAGE ON SCHEMA shop FROM diff_auditor;
        GRANT UPDATE (code) ON shop.customers TO diff_auditor;
        ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
        ALTER PUBLICATION diff_filtered SET TABLE shop.audit_log WHERE (n > 1);
        ALTER PUBLICATION diff_all SET (publish = 'insert, delete');
        COMMENT ON TABLE shop.orders IS 'orders, by region';
        COMMENT ON POLICY read_all ON shop.customers IS NULL;
        ALTER SEQUENCE shop.orders_id_seq INCREMENT BY 10;
        DROP STATISTICS shop.orders_expr;
        CREATE STATISTICS shop.orders_expr (ndistinct) ON (lower(code)), region FROM shop.orders_other;"#,
    );
    converge(project.path(), &a, &b, &["--allow-drop"], false);
    // Attributes pg_dump's entry headers do not show, checked in the catalogs.
    assert_eq!(
        sql(&a, "SELECT am.amname || ':' || (SELECT relpersistence::text FROM pg_class WHERE relname = 'scratch_seq') FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'audit_log'"),
        "diff_heap:p"
    );
    let c = cluster().create_database("diff_more").unwrap();
    deploy(project.path(), &c);
    sql(&c, am);
    converge(project.path(), &b, &c, &["--allow-drop"], false);
}

#[test]
fn changes_to_every_kind_converge_both_ways() {
    let _turn = crate::common::ROLE_TURN
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let project = project_of(Path::new(EVERY_KIND));
    let (a, b) = (
        cluster().create_database("diff_every").unwrap(),
        cluster().create_database("diff_every").unwrap(),
    );
    deploy(project.path(), &a);
    deploy(project.path(), &b);
    sql(
        &b,
        r#"
        ALTER TABLE app."Accounts" DROP COLUMN doubled;
        ALTER TABLE app."Accounts" ADD COLUMN doubled numeric GENERATED ALWAYS AS (total * 3) STORED;
        ALTER TABLE app."Accounts" ALTER COLUMN id SET GENERATED BY DEFAULT;
        ALTER TABLE app."Accounts" ALTER COLUMN name TYPE text COLLATE "POSIX";
        ALTER TABLE app."Accounts" NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE app.scratch SET LOGGED;
        ALTER TABLE app.orders REPLICA IDENTITY DEFAULT;
        ALTER TABLE app.child NO INHERIT app.base;
        ALTER DOMAIN app.email DROP NOT NULL;
        DROP TYPE app.pair;
        CREATE TYPE app.pair AS (x bigint, y text, z date);
        ALTER TABLE app.orders DROP CONSTRAINT no_overlap;
        ALTER TABLE app.orders ADD CONSTRAINT no_overlap EXCLUDE USING gist (placed WITH &&);
        ALTER TABLE app.orders DROP CONSTRAINT orders_account_id_fkey;
        ALTER TABLE app.orders ADD CONSTRAINT orders_account_id_fkey FOREIGN KEY (account_id) REFERENCES app."Accounts"(id) NOT VALID;
        DROP VIEW app.big_spenders;
        DROP VIEW app.order_totals;
        CREATE VIEW app.order_totals AS SELECT a.id, count(o.id) AS orders, sum(a.total) AS spent FROM app."Accounts" a LEFT JOIN app.orders o ON o.account_id = a.id GROUP BY a.id;
        CREATE VIEW app.big_spenders AS SELECT id, spent FROM app.order_totals WHERE orders > 10;
        DROP MATERIALIZED VIEW app.daily;
        CREATE MATERIALIZED VIEW app.daily AS SELECT at, count(*) AS n, max(id) AS last FROM app.events GROUP BY at;
        CREATE UNIQUE INDEX daily_at ON app.daily (at);
        DROP EVENT TRIGGER diff_on_ddl;
        CREATE EVENT TRIGGER diff_on_ddl ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION app.on_ddl();
        ALTER PUBLICATION diff_pub DROP TABLE app.base;
        REVOKE UPDATE (name) ON app."Accounts" FROM diff_reader;
        ALTER SEQUENCE app.ticket_seq OWNED BY NONE;
        ALTER TABLE app."Accounts" DISABLE ROW LEVEL SECURITY;
        DROP POLICY no_delete ON app."Accounts";
        CREATE FUNCTION app.add(a integer, b integer, c integer) RETURNS integer LANGUAGE sql AS $$ SELECT a + b + c $$;
        ALTER FUNCTION app.touch() SECURITY INVOKER;
        DROP TABLE app.events_default;"#,
    );
    converge(project.path(), &a, &b, &["--allow-drop"], false);
    let c = cluster().create_database("diff_every").unwrap();
    deploy(project.path(), &c);
    converge(project.path(), &b, &c, &["--allow-drop"], false);
}

#[test]
fn drift_of_the_untouched_eneas_example_is_clean() {
    // 17 migrations: roles, RLS everywhere, functions, triggers, seeds, a data migration.
    let _turn = crate::common::ROLE_TURN
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let project =
        project_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/eneas-os/migrations"));
    let db = cluster().create_database("drift_eneas").unwrap();
    let out = pgshift(project.path(), &db)
        .env("APP_PASSWORD", "drift-test")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::both(&out));
    let out = pgshift(project.path(), &db)
        .env("APP_PASSWORD", "drift-test")
        .arg("drift")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", crate::common::both(&out));
}
