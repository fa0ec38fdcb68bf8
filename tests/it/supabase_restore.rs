//! The backup a deploy takes, restored on Supabase-shaped databases: `public.profiles`
//! referencing `auth.users`, a trigger on `auth.users` calling a function of `public`, a
//! policy on `storage.objects`. Once with the stub owned by the deploying role (everything is
//! the project's), once with `auth` and `storage` owned by the platform's roles and a
//! deploying role that is no superuser, as on Supabase: the backup leaves the platform's
//! schemas out, and the restore never drops or re-creates them.

use std::process::Command as Std;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::*;

/// `db` as pg_dump writes it (the schemas given, or all), without pgshift's objects and the
/// random `\restrict` lines: schema and data, table by table.
fn dump(db: &str, schemas: &[&str]) -> String {
    let mut c = Std::new(cluster().client_program("pg_dump"));
    c.args([
        "-h",
        &cluster().socket_dir().display().to_string(),
        "-p",
        &cluster().port().to_string(),
        "-U",
        "postgres",
        "--exclude-table=public.schema_migrations*",
    ]);
    for s in schemas {
        c.arg(format!("--schema={s}"));
    }
    let o = c.arg(db).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Entry by entry, without pgshift's own (its event log's guard function).
    String::from_utf8_lossy(&o.stdout)
        .split("\n--\n-- ")
        .filter(|entry| !entry.contains("schema_migrations_events_append_only"))
        .collect::<Vec<_>>()
        .join("\n--\n-- ")
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The deploy's backups in the project, oldest first.
fn backups(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("backups/migrations"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql.gz"))
        .collect();
    v.sort();
    v
}

/// What every Supabase project's first migration looks like: profiles keyed by the auth
/// user, a profile made by a trigger on auth.users, a storage policy calling a function.
const PROFILES: &str = "CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users ON DELETE CASCADE, name text);
CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN INSERT INTO public.profiles (id, name) VALUES (new.id, new.email); RETURN new; END $$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.profiles USING (id = (SELECT auth.uid()));
CREATE FUNCTION public.may_read(name text) RETURNS boolean LANGUAGE sql STABLE SET search_path = '' AS $$ SELECT name LIKE 'public/%' $$;
CREATE POLICY read_public ON storage.objects FOR SELECT TO authenticated USING (public.may_read(name));
";

/// What a later migration adds that depends on what the backup before it holds: a foreign key
/// on a table it holds, a view over auth.users, a new table referencing both.
const LATER: &str = "ALTER TABLE public.profiles ADD COLUMN manager uuid REFERENCES auth.users (id);
CREATE SCHEMA private;
CREATE VIEW private.user_emails AS SELECT u.id, u.email, p.name FROM auth.users u JOIN public.profiles p ON p.id = u.id;
CREATE INDEX ON public.profiles (manager);
CREATE TABLE public.posts (id serial PRIMARY KEY, author uuid NOT NULL REFERENCES auth.users, profile uuid REFERENCES public.profiles);
CREATE INDEX ON public.posts (author);
CREATE INDEX ON public.posts (profile);
ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_posts ON public.posts USING (author = (SELECT auth.uid()));
UPDATE public.profiles SET name = 'changed' WHERE name IS NOT NULL;
";

fn new_user(db: &str, email: &str) {
    cluster()
        .psql(
            db,
            &format!("INSERT INTO auth.users (email) VALUES ('{email}')"),
        )
        .unwrap();
}

#[test]
fn the_backup_before_a_deploy_restores_with_the_stub_owned_by_the_deploying_role() {
    let (dir, db) = project(&[]);
    supabase_stub(&db);
    let before_all = dump(&db, &[]);
    write(&dir, "2026-01-01_profiles", PROFILES);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    new_user(&db, "a@example.com");
    let after_first = dump(&db, &[]);
    write(&dir, "2026-01-02_later", LATER);
    pgshift(dir.path(), &db).arg("migrate").assert().success();
    new_user(&db, "b@example.com");
    sql(
        &db,
        "INSERT INTO public.posts (author) SELECT id FROM auth.users",
    );
    let files = backups(dir.path());
    assert_eq!(files.len(), 2, "{files:?}");

    // The backup before the second deploy, by the name `backup list` prints.
    pgshift(dir.path(), &db)
        .args(["backup", "restore", &files[1]])
        .assert()
        .success()
        .stdout(contains("Restore:"))
        .stdout(contains(
            "1 migration(s) applied then, the last 2026-01-01_profiles",
        ))
        .stdout(contains(
            "undoes the migrations applied since: 2026-01-02_later",
        ))
        .stdout(contains("Restored"));
    assert_eq!(
        dump(&db, &[]),
        after_first,
        "as it was before the second deploy"
    );
    assert_eq!(sql(&db, "SELECT count(*) FROM auth.users"), "1");

    // And the one before the first: no profiles, no trigger on auth.users.
    pgshift(dir.path(), &db)
        .args(["backup", "restore", &files[0]])
        .assert()
        .success()
        .stdout(contains("TABLE public.profiles"));
    assert_eq!(
        dump(&db, &[]),
        before_all,
        "as it was before the first deploy"
    );
}

/// Roles of the platform (the stub's), and a deploying role that is no superuser.
const PLATFORM: &str = "
ALTER SCHEMA auth OWNER TO supabase_auth_admin;
ALTER TABLE auth.users OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.jwt() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.email() OWNER TO supabase_auth_admin;
ALTER SCHEMA storage OWNER TO supabase_storage_admin;
ALTER TABLE storage.buckets OWNER TO supabase_storage_admin;
ALTER TABLE storage.objects OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.foldername(text) OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.filename(text) OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.extension(text) OWNER TO supabase_storage_admin;
ALTER SCHEMA extensions OWNER TO supabase_admin;
ALTER SCHEMA supabase_migrations OWNER TO supabase_admin;
ALTER TABLE supabase_migrations.schema_migrations OWNER TO supabase_admin;
GRANT USAGE ON SCHEMA auth, storage, extensions TO sb_deployer;
GRANT SELECT, REFERENCES, TRIGGER ON auth.users TO sb_deployer;
GRANT ALL ON storage.buckets, storage.objects TO sb_deployer;
GRANT supabase_storage_admin TO sb_deployer;
GRANT USAGE ON SCHEMA supabase_migrations TO sb_deployer;
GRANT ALL ON supabase_migrations.schema_migrations TO sb_deployer;
";

#[test]
fn the_backup_before_a_deploy_restores_with_auth_and_storage_owned_by_the_platform() {
    role("sb_deployer", "LOGIN");
    let (dir, db) = project(&[]);
    supabase_stub(&db);
    cluster().psql(&db, PLATFORM).unwrap();
    cluster()
        .psql(
            &db,
            &format!("ALTER DATABASE {db} OWNER TO sb_deployer; GRANT CREATE ON DATABASE {db} TO supabase_admin; SET ROLE supabase_admin; CREATE EXTENSION pgcrypto SCHEMA extensions; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO service_role"),
        )
        .unwrap();
    let deployer = url_as(&db, "sb_deployer");
    let public = || dump(&db, &["public"]);
    let before_all = public();
    write(&dir, "2026-01-01_profiles", PROFILES);
    let as_deployer = || {
        let mut c = pgshift_in(dir.path());
        c.env("DATABASE_URL", &deployer);
        c
    };
    as_deployer().arg("migrate").assert().success();
    new_user(&db, "a@example.com");
    let after_first = public();
    write(&dir, "2026-01-02_later", LATER);
    as_deployer().arg("migrate").assert().success();
    new_user(&db, "b@example.com");
    let files = backups(dir.path());
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir.path()
                .join("backups/migrations")
                .join(format!("{}.json", files[1])),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["outside"],
        serde_json::json!(["auth", "extensions", "storage", "supabase_migrations"])
    );

    // A dry run shows it all and changes nothing.
    as_deployer()
        .args(["backup", "restore", &files[1], "--dry-run"])
        .assert()
        .success()
        .stdout(contains("leaves the schemas it does not hold as they are now (the platform's): auth, extensions, storage, supabase_migrations"))
        .stdout(contains("TRIGGER on_auth_user_created ON auth.users"))
        .stdout(contains("POLICY read_public ON storage.objects"))
        .stdout(contains("Dry run: nothing was restored"));
    assert_ne!(public(), after_first);

    as_deployer()
        .args(["backup", "restore", &files[1]])
        .assert()
        .success()
        .stdout(contains("Restored"));
    assert_eq!(
        public(),
        after_first,
        "public as it was before the second deploy"
    );
    // The platform's data and what the migrations put on its tables stay.
    assert_eq!(sql(&db, "SELECT count(*) FROM auth.users"), "2");
    assert_eq!(
        sql(&db, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal"),
        "on_auth_user_created"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT polname FROM pg_policy WHERE polrelid = 'storage.objects'::regclass"
        ),
        "read_public"
    );
    new_user(&db, "c@example.com");
    assert_eq!(
        sql(
            &db,
            "SELECT name FROM public.profiles ORDER BY name DESC LIMIT 1"
        ),
        "c@example.com",
        "the trigger made again calls the restored function"
    );

    // The backup before the first deploy undoes what hangs on the platform's tables too.
    as_deployer()
        .args(["backup", "restore", &files[0]])
        .assert()
        .success()
        .stdout(contains("DROPS, with what they need and the backup does not hold: POLICY read_public ON storage.objects"));
    assert_eq!(
        public(),
        before_all,
        "public as it was before the first deploy"
    );
    assert_eq!(sql(&db, "SELECT count(*) FROM auth.users"), "3");
    assert_eq!(
        sql(&db, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'auth.users'::regclass AND NOT tgisinternal"),
        "0"
    );
}

#[test]
fn a_view_of_the_platform_on_a_restored_table_refuses_the_restore_and_changes_nothing() {
    role("sb_deployer", "LOGIN");
    let (dir, db) = project(&[(
        "2026-01-01_t",
        "CREATE SCHEMA app;\nCREATE TABLE app.t (id int PRIMARY KEY);\n",
    )]);
    supabase_stub(&db);
    cluster().psql(&db, PLATFORM).unwrap();
    cluster()
        .psql(&db, &format!("ALTER DATABASE {db} OWNER TO sb_deployer"))
        .unwrap();
    let mut c = pgshift_in(dir.path());
    c.env("DATABASE_URL", url_as(&db, "sb_deployer"));
    c.arg("migrate").assert().success();
    cluster()
        .psql(&db, "CREATE VIEW auth.t_ids AS SELECT id FROM app.t")
        .unwrap();
    let before = dump(&db, &[]);
    let file = backups(dir.path())
        .into_iter()
        .find(|f| f.contains("before_migration"))
        .unwrap();
    let mut c = pgshift_in(dir.path());
    c.env("DATABASE_URL", url_as(&db, "sb_deployer"));
    c.args(["backup", "restore", &file])
        .assert()
        .failure()
        .stderr(contains("refusing to restore"))
        .stderr(contains("VIEW auth.t_ids (it needs TABLE app.t)"))
        .stderr(predicate::str::contains("nothing was changed"));
    assert_eq!(dump(&db, &[]), before);
}
