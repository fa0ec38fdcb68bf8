//! `pgshift review --base REF`: conflicts between two branches of a git fixture (each kind,
//! and their absence where the branches agree), the lock corpus held to what `pg_locks` shows,
//! the formats, and a review of both example sets.

use std::path::Path;
use std::process::Command as Std;

use serde_json::Value;

use crate::common::*;

/// A git repository with a `migrations/` folder, on branch `main`.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        let r = Repo { dir };
        r.git(&["init", "-q", "-b", "main"]);
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) {
        let out = Std::new("git")
            .current_dir(self.path())
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn write(&self, name: &str, sql: &str) -> &Repo {
        std::fs::write(self.path().join("migrations").join(name), sql).unwrap();
        self
    }

    fn commit(&self, message: &str) -> &Repo {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self
    }

    /// `main` with users and orders, then branch `feature` checked out.
    fn two_branches() -> Repo {
        let r = Repo::new();
        r.write(
            "2026-01-01_users.sql",
            "CREATE TABLE users (id int PRIMARY KEY, email text);\nCREATE TABLE orders (id int PRIMARY KEY, user_id int);\n",
        )
        .commit("base");
        r.git(&["checkout", "-q", "-b", "feature"]);
        r
    }

    /// Something added on `main` while `feature` was open; back on `feature`.
    fn on_main(&self, name: &str, sql: &str) -> &Repo {
        self.git(&["checkout", "-q", "main"]);
        self.write(name, sql).commit("main");
        self.git(&["checkout", "-q", "feature"]);
        self
    }

    /// `review --base main` with `args`: the exit code and the JSON.
    fn review(&self, args: &[&str]) -> (i32, Value) {
        let out = pgshift_in(self.path())
            .args(["review", "--base", "main", "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap(), json)
    }
}

fn kinds(review: &Value) -> Vec<String> {
    review["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_same_version_added_on_both_sides_is_a_duplicate_version() {
    let r = Repo::two_branches();
    r.write(
        "2026-02-01_add.sql",
        "ALTER TABLE users ADD COLUMN a int;\n",
    )
    .commit("feature");
    r.on_main(
        "2026-02-01_add.sql",
        "ALTER TABLE orders ADD COLUMN b int;\n",
    );
    let (code, review) = r.review(&[]);
    assert_eq!(code, 1, "{review}");
    assert_eq!(kinds(&review), ["duplicate-version"], "{review}");
    assert_eq!(review["conflicts"][0]["versions"][0], "2026-02-01_add");
    assert_eq!(review["passed"], false);
}

#[test]
fn two_branches_changing_one_table_conflict_unless_one_depends_on_the_other() {
    let r = Repo::two_branches();
    r.write(
        "2026-02-02_phone.sql",
        "ALTER TABLE users ADD COLUMN phone text;\n",
    )
    .commit("feature");
    r.on_main(
        "2026-02-01_email_index.sql",
        "CREATE INDEX users_email_idx ON users (email);\n",
    );
    let (code, review) = r.review(&[]);
    assert_eq!(code, 1, "{review}");
    assert_eq!(kinds(&review), ["same-object"], "{review}");
    let c = &review["conflicts"][0];
    assert_eq!(c["object"], "table public.users");
    assert_eq!(
        c["versions"],
        serde_json::json!(["2026-02-02_phone", "2026-02-01_email_index"])
    );
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("@depends-on: 2026-02-01_email_index"),
        "{c}"
    );

    // Said which comes first: no conflict (the missing dependency is the branch's to merge).
    r.write(
        "2026-02-02_phone.sql",
        "-- @depends-on: 2026-02-01_email_index\nALTER TABLE users ADD COLUMN phone text;\n",
    )
    .commit("depends");
    let (_, review) = r.review(&[]);
    assert!(kinds(&review).is_empty(), "{review}");

    // Another table on each side: nothing in common.
    let r = Repo::two_branches();
    r.write(
        "2026-02-02_phone.sql",
        "ALTER TABLE users ADD COLUMN phone text;\n",
    )
    .commit("feature");
    r.on_main(
        "2026-02-01_total.sql",
        "ALTER TABLE orders ADD COLUMN total int;\n",
    );
    let (code, review) = r.review(&[]);
    assert!(kinds(&review).is_empty(), "{review}");
    assert_eq!(code, 0, "{review}");
}

#[test]
fn a_new_migration_dated_before_the_bases_newest_is_out_of_order_unless_allowed() {
    let r = Repo::two_branches();
    r.write(
        "2026-02-15_phone.sql",
        "ALTER TABLE users ADD COLUMN phone text;\n",
    )
    .commit("feature");
    r.on_main(
        "2026-03-01_total.sql",
        "ALTER TABLE orders ADD COLUMN total int;\n",
    );
    let (code, review) = r.review(&[]);
    assert_eq!(code, 1, "{review}");
    assert_eq!(kinds(&review), ["out-of-order"], "{review}");
    assert!(review["conflicts"][0]["message"]
        .as_str()
        .unwrap()
        .contains("before the base's newest migration, 2026-03-01_total, in the merged order"));
    // As an annotation, on the branch's file.
    let out = pgshift_in(r.path())
        .args(["review", "--base", "main", "--format", "github"])
        .output()
        .unwrap();
    let gh = String::from_utf8(out.stdout).unwrap();
    assert!(
        gh.contains("::error file=migrations/2026-02-15_phone.sql,title=out-of-order::"),
        "{gh}"
    );
    std::fs::write(
        r.path().join("pgshift.toml"),
        "[migrations]\nout_of_order = \"allow\"\n",
    )
    .unwrap();
    let (code, review) = r.review(&[]);
    assert!(kinds(&review).is_empty(), "{review}");
    assert_eq!(code, 0, "{review}");
}

#[test]
fn an_applied_file_edited_here_is_edited_applied_but_a_comment_is_not() {
    let r = Repo::two_branches();
    r.write(
        "2026-01-01_users.sql",
        "-- the first tables\nCREATE TABLE users (id int PRIMARY KEY, email text);\nCREATE TABLE orders (id int PRIMARY KEY, user_id int);\n",
    )
    .commit("comment");
    let (code, review) = r.review(&[]);
    assert!(kinds(&review).is_empty(), "{review}");
    assert_eq!(code, 0, "{review}");
    r.write(
        "2026-01-01_users.sql",
        "CREATE TABLE users (id int PRIMARY KEY, email text, name text);\nCREATE TABLE orders (id int PRIMARY KEY, user_id int);\n",
    )
    .commit("edit");
    let (code, review) = r.review(&[]);
    assert_eq!(code, 1, "{review}");
    assert_eq!(kinds(&review), ["edited-applied"], "{review}");
    assert_eq!(review["migrations"][0]["change"], "modified");
}

#[test]
fn locks_are_predicted_per_statement_with_what_they_block_and_the_markdown_updates_one_comment() {
    let r = Repo::two_branches();
    r.write(
        "2026-02-01_index.sql",
        "-- a column, then an index\nALTER TABLE users ADD COLUMN name text;\nCREATE INDEX users_name_idx ON users (name);\nCREATE TABLE notes (id int);\nCREATE INDEX notes_id_idx ON notes (id);\n",
    )
    .commit("feature");
    let (code, review) = r.review(&[]);
    assert_eq!(code, 0, "{review}");
    let statements = review["migrations"][0]["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 4);
    assert_eq!(statements[0]["line"], 2);
    let lock = &statements[1]["locks"][0];
    assert_eq!(lock["table"], "public.users");
    assert_eq!(lock["mode"], "ShareLock");
    assert_eq!(lock["scan"], true);
    assert!(
        lock["blocks"].as_str().unwrap().contains("writes"),
        "{lock}"
    );
    // A table the migration makes is not an existing one.
    assert!(
        statements[3]["locks"].as_array().unwrap().is_empty(),
        "{review}"
    );

    let out = pgshift_in(r.path())
        .args(["review", "--base", "main"])
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("<!-- pgshift-review -->\n## ✅ pgshift review against `main`"),
        "{md}"
    );
    assert!(md.contains("| 2026-02-01\\_index.sql:3 | `CREATE INDEX users_name_idx ON users (name)` | public.users | ShareLock | builds an index |"), "{md}");
    let out = pgshift_in(r.path())
        .args(["review", "--base", "main", "--format", "github"])
        .output()
        .unwrap();
    let gh = String::from_utf8(out.stdout).unwrap();
    assert!(gh.contains("::warning file="), "{gh}");
    assert!(
        gh.contains("2026-02-01_index.sql,line=3,title=ShareLock on public.users::"),
        "{gh}"
    );
}

#[test]
fn an_unknown_base_or_a_folder_outside_git_is_said_with_what_to_do() {
    let r = Repo::two_branches();
    pgshift_in(r.path())
        .args(["review", "--base", "origin/nowhere"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "git knows no commit named origin/nowhere",
        ))
        .stderr(predicates::str::contains("fetch-depth: 0"));
    // A name git would take for an option is refused, not passed on.
    pgshift_in(r.path())
        .args(["review", "--base=--output=/tmp/pgshift-review-x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "git knows no commit named --output",
        ));
    assert!(!Path::new("/tmp/pgshift-review-x").exists());
    let plain = tempfile::tempdir().unwrap();
    std::fs::create_dir(plain.path().join("migrations")).unwrap();
    pgshift_in(plain.path())
        .args(["review", "--base", "main"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is not in a git checkout"));
}

/// The corpus (tests/fixtures/review/lock_corpus.sql): each statement its own migration on a
/// branch, reviewed with `--rehearse` on the base's schema. Every prediction must be what
/// `pg_locks` shows, and no lock may be seen that was not predicted.
#[test]
fn the_lock_corpus_predictions_equal_what_pg_locks_shows() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/review");
    let r = Repo::new();
    r.write(
        "2026-01-01_base.sql",
        &std::fs::read_to_string(fixtures.join("lock_corpus_base.sql")).unwrap(),
    )
    .commit("base");
    r.git(&["checkout", "-q", "-b", "corpus"]);
    let corpus = std::fs::read_to_string(fixtures.join("lock_corpus.sql")).unwrap();
    let statements: Vec<&str> = corpus
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("--"))
        .collect();
    assert!(statements.len() >= 100, "{}", statements.len());
    for (i, s) in statements.iter().enumerate() {
        r.write(&format!("2026-02-01_c{:03}.sql", i + 1), &format!("{s}\n"));
    }
    r.commit("corpus");
    let (_, review) = r.review(&["--rehearse"]);
    assert!(review.get("notes").is_none(), "{}", review["notes"]);
    assert!(
        review.get("contradictions").is_none(),
        "{:#}",
        review["contradictions"]
    );
    let mut observed = 0;
    let mut by_statement = std::collections::HashMap::new();
    for s in review["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["statements"].as_array().unwrap())
    {
        for l in s["locks"].as_array().unwrap() {
            assert_ne!(
                l.get("predicted"),
                Some(&Value::Bool(false)),
                "not predicted: {s}"
            );
            assert_eq!(l["observed"], l["mode"], "{s}");
            observed += 1;
        }
        by_statement.insert(s["sql"].as_str().unwrap().to_string(), s["locks"].clone());
    }
    assert_eq!(
        review["migrations"].as_array().unwrap().len(),
        statements.len()
    );
    assert!(observed >= 90, "{observed} locks observed");
    // Rewrites are observed too (the table's file changed): every table with storage.
    let files: Vec<&Value> = review["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["statements"].as_array().unwrap())
        .flat_map(|s| s["locks"].as_array().unwrap())
        .filter_map(|l| l.get("observed_rewrite"))
        .collect();
    assert!(files.len() >= 90, "{} files compared", files.len());
    assert!(files.iter().filter(|f| ***f == true).count() >= 8);
    let rewritten =
        |sql: &str| by_statement[sql.trim_end_matches(';')][0]["observed_rewrite"].clone();
    assert_eq!(
        rewritten("ALTER TABLE accounts ALTER COLUMN score TYPE bigint;"),
        true
    );
    assert_eq!(
        rewritten("ALTER TABLE accounts ALTER COLUMN note TYPE text;"),
        false
    );
    assert_eq!(
        rewritten("ALTER TABLE accounts ADD COLUMN flag boolean NOT NULL DEFAULT false;"),
        false
    );
    // A few the corpus is there for, so that a prediction cannot drift to whatever is seen.
    let lock = |sql: &str, table: &str| -> (String, bool) {
        let locks = by_statement[sql.trim_end_matches(';')].as_array().unwrap();
        let l = locks
            .iter()
            .find(|l| l["table"] == table)
            .unwrap_or_else(|| panic!("{sql}: {locks:?}"));
        (
            l["mode"].as_str().unwrap().to_string(),
            l["rewrite"].as_bool().unwrap(),
        )
    };
    assert_eq!(
        lock("VACUUM FULL logs;", "public.logs"),
        ("AccessExclusiveLock".into(), true)
    );
    assert_eq!(
        lock("VACUUM orders;", "public.orders").0,
        "ShareUpdateExclusiveLock"
    );
    assert_eq!(
        lock(
            "CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);",
            "public.accounts"
        )
        .0,
        "ShareUpdateExclusiveLock"
    );
    assert_eq!(
        lock(
            "CREATE INDEX accounts_name_idx ON accounts (name);",
            "public.accounts"
        )
        .0,
        "ShareLock"
    );
    assert_eq!(
        lock("ALTER TABLE orders ADD CONSTRAINT orders_account_fk2 FOREIGN KEY (account_id) REFERENCES accounts (id);", "public.accounts").0,
        "ShareRowExclusiveLock"
    );
    assert_eq!(
        lock(
            "ALTER TABLE accounts VALIDATE CONSTRAINT accounts_name_check;",
            "public.accounts"
        )
        .0,
        "ShareUpdateExclusiveLock"
    );
    assert_eq!(
        lock(
            "ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            "public.accounts"
        ),
        ("AccessExclusiveLock".into(), true)
    );
    assert_eq!(
        lock(
            "REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;",
            "public.order_totals"
        )
        .0,
        "ExclusiveLock"
    );
    // A partition gets its parent's lock; a name resolves through the file's search_path.
    assert_eq!(
        lock(
            "ALTER TABLE measurements ADD COLUMN v int;",
            "public.measurements_2026"
        )
        .0,
        "AccessExclusiveLock"
    );
    assert_eq!(
        lock("ALTER TABLE things ADD COLUMN note text;", "app.things").0,
        "AccessExclusiveLock"
    );
    assert!(by_statement["GRANT SELECT ON accounts TO PUBLIC"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// Both example sets, their last migrations as the pull request: reviewed statically (and the
/// first with a rehearsal on the base's schema), no conflict, every prediction observed.
#[test]
fn both_example_sets_are_reviewed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (example, rehearse) in [("eneas-os", true), ("supabase", false)] {
        let r = Repo::new();
        let from = root.join("examples").join(example).join("migrations");
        let files: Vec<_> = std::fs::read_dir(&from)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        // The pull request: the last three in plan order (dependencies, then dates).
        let order = pgshift_in(root)
            .args(["--json", "--dir"])
            .arg(&from)
            .arg("order")
            .output()
            .unwrap();
        let order: Value = serde_json::from_slice(&order.stdout).unwrap();
        let versions: Vec<String> = order["order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["version"].as_str().unwrap().to_string())
            .collect();
        let new = &versions[versions.len() - 3..];
        let copy = |later: bool| {
            for f in &files {
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                let version = name.trim_end_matches(".sql").trim_end_matches(".down");
                if new.iter().any(|v| v == version) == later {
                    std::fs::copy(f, r.path().join("migrations").join(&name)).unwrap();
                }
            }
        };
        copy(false);
        r.commit("base");
        r.git(&["checkout", "-q", "-b", "feature"]);
        copy(true);
        r.commit("feature");
        let mut args = vec![];
        if rehearse {
            args.push("--rehearse");
        }
        if example == "supabase" {
            std::fs::write(
                r.path().join("pgshift.toml"),
                "[supabase]\nproject = true\n",
            )
            .ok();
        }
        let out = pgshift_in(r.path())
            .args(["review", "--base", "main", "--format", "json"])
            .args(&args)
            .env("APP_PASSWORD", "a-test-only-password")
            .output()
            .unwrap();
        let review: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{example}: {e}: {}", both(&out)));
        assert!(kinds(&review).is_empty(), "{example}: {review:#}");
        assert!(
            review.get("contradictions").is_none(),
            "{example}: {review:#}"
        );
        assert!(review.get("notes").is_none(), "{example}: {review:#}");
        let migrations = review["migrations"].as_array().unwrap();
        assert_eq!(migrations.len(), 3, "{example}: {review:#}");
        assert!(migrations.iter().all(|m| m["change"] == "added"));
        if rehearse {
            let observed = migrations
                .iter()
                .flat_map(|m| m["statements"].as_array().unwrap())
                .flat_map(|s| s["locks"].as_array().unwrap())
                .filter(|l| l["observed"] == l["mode"])
                .count();
            assert!(observed > 0, "{example}: {review:#}");
        }
    }
}

#[test]
fn stats_from_a_database_estimate_each_rewrite_and_scan() {
    let r = Repo::two_branches();
    r.write(
        "2026-02-01_widen.sql",
        "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint;\nALTER TABLE orders ADD COLUMN note text;\n",
    )
    .commit("feature");
    let db = cluster().create_database("review").unwrap();
    sql(
        &db,
        "CREATE TABLE users (id int PRIMARY KEY, email text); CREATE TABLE orders (id int PRIMARY KEY, user_id int); INSERT INTO orders SELECT g, g FROM generate_series(1, 200000) g",
    );
    let out = pgshift_in(r.path())
        .args([
            "review",
            "--base",
            "main",
            "--format",
            "json",
            "--stats-from",
            "REPLICA_URL",
        ])
        .env("REPLICA_URL", cluster().url(&db))
        .output()
        .unwrap();
    let review: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", both(&out)));
    let statements = review["migrations"][0]["statements"].as_array().unwrap();
    let rewrite = &statements[0]["locks"][0];
    assert_eq!(rewrite["rewrite"], true, "{review:#}");
    assert!(rewrite["estimate_ms"].as_u64().unwrap() > 0, "{review:#}");
    // Adding a nullable column reads nothing: no estimate.
    assert!(
        statements[1]["locks"][0].get("estimate_ms").is_none(),
        "{review:#}"
    );
    // The URL never reaches the output.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("postgresql://"));
}

#[test]
fn a_new_migration_that_fails_on_the_bases_schema_fails_the_rehearsed_review() {
    let r = Repo::two_branches();
    r.write(
        "2026-02-01_total.sql",
        "ALTER TABLE orders ADD COLUMN total int;\nUPDATE orders SET total = amount;\n",
    )
    .commit("feature");
    let (code, review) = r.review(&["--rehearse"]);
    assert_eq!(code, 1, "{review:#}");
    let failed = review["rehearsal_failed"].as_str().unwrap();
    assert!(
        failed.starts_with("2026-02-01_total.sql:2: column \"amount\" does not exist (42703)"),
        "{failed}"
    );
    // The statement before it was observed.
    assert_eq!(
        review["migrations"][0]["statements"][0]["locks"][0]["observed"],
        "AccessExclusiveLock"
    );
    // Without the rehearsal, nothing says so: the SQL is valid.
    let (code, _) = r.review(&[]);
    assert_eq!(code, 0);
}
