//! What installing and running pgshift without Rust rests on: the guide's npm scripts
//! (`examples/node/package.json`) run against the example on a throwaway cluster, the npm
//! launcher, the Kubernetes example, the release workflow and the Dockerfile. The packages
//! themselves are built, installed and run by `scripts/check-packages.sh`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_norway::Value;

use crate::common::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| {
            Value::deserialize(d)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
        })
        .collect()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// The directory holding the pgshift binary the tests run, for a PATH as `npm run` builds it.
fn bin_dir() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pgshift")
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs one npm script's command line as `npm run` does (`sh -c`, with the binary on PATH),
/// with none of the machine's variables that would change what pgshift does.
fn run_script(project: &Path, script: &str, url: &str) -> std::process::Output {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c").arg(script).current_dir(project);
    for v in HERMETIC {
        sh.env_remove(v);
    }
    sh.env("NO_COLOR", "1")
        .env("PATH", path)
        .env("DATABASE_URL", url)
        // The example's role password is a psql variable (:app_password).
        .env("APP_PASSWORD", "test-only-password");
    sh.output().unwrap()
}

#[test]
fn the_guides_npm_scripts_each_run_pgshift_against_the_example() {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/node/package.json")).unwrap(),
    )
    .unwrap();
    let scripts = manifest["scripts"].as_object().unwrap();
    // SPEC §19's names, all present.
    for name in [
        "validate:migrations",
        "migrate:dev",
        "migrate:dry-run",
        "status:migrations",
        "test:migrations",
        "test:rollback",
        "security:scan",
        "validate:sql",
        "check:dependencies",
        "visualize:dependencies",
        "history:migrations",
        "health:check",
    ] {
        assert!(
            scripts.contains_key(name),
            "examples/node/package.json lacks {name}"
        );
    }
    assert!(manifest["devDependencies"]["pgshift"].is_string());
    // The example project, with its migrations folder given as an absolute path.
    let project = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("examples/node/package.json"),
        project.path().join("package.json"),
    )
    .unwrap();
    let migrations = example_copy("eneas-os");
    std::fs::write(
        project.path().join("pgshift.toml"),
        format!(
            "[migrations]\ndir = \"{}\"\n",
            migrations.path().join("migrations").display()
        ),
    )
    .unwrap();
    let db = cluster().create_database("npm_scripts").unwrap();
    let url = cluster().url(&db);
    // In the order a developer meets them: checks, tests on throwaway clusters, the dry run,
    // the deploy, then what reads the database.
    let order = [
        ("validate:migrations", "0 errors"),
        ("validate:sql", "0 errors"),
        ("security:scan", "0 errors"),
        ("check:dependencies", "2025-12-28_enable_rls"),
        ("visualize:dependencies", "flowchart TD"),
        ("test:migrations", "Test passed"),
        ("test:rollback", "down file(s) checked"),
        ("migrate:dry-run", "Dry run: 17 migration(s) would run"),
        ("migrate:dev", "Applied 17 migration(s)"),
        ("status:migrations", "17 applied"),
        (
            "history:migrations",
            "2026-01-20_migrate_plaintext_credentials",
        ),
        ("health:check", "0 failed"),
        ("wait:migrations", "is current: all 17 migration(s) applied"),
    ];
    for (name, expected) in order {
        if name == "migrate:dev" {
            // First the staging and production scripts, while migrations are pending: they go
            // through the gate, and without a confirmation (no terminal to ask on) nothing runs.
            for name in ["migrate:staging", "migrate:production"] {
                let line = scripts[name].as_str().unwrap();
                let out = run_script(project.path(), line, &url);
                assert_eq!(
                    out.status.code(),
                    Some(3),
                    "npm run {name}:\n{}",
                    both(&out)
                );
                assert!(both(&out).contains("--confirm"), "{}", both(&out));
            }
        }
        let line = scripts[name].as_str().unwrap();
        assert!(line.starts_with("pgshift "), "{name}: {line}");
        let out = run_script(project.path(), line, &url);
        let text = both(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "npm run {name} ({line}):\n{text}"
        );
        assert!(
            text.contains(expected),
            "npm run {name} ({line}) does not say {expected:?}:\n{text}"
        );
    }
    // Every script's command line is one pgshift accepts.
    for (name, line) in scripts {
        let words: Vec<&str> = line.as_str().unwrap().split_whitespace().collect();
        if let Err(e) = pgshift::cli::Cli::try_parse_from(&words) {
            panic!("npm run {name}: {e}");
        }
    }
}

/// The launcher of the npm package, run by node: it runs the binary, passes its arguments and
/// exit code through, and says what to do when its platform's package is missing.
#[test]
#[ignore = "needs node (scripts/test.sh runs it where node exists)"]
fn with_node_the_npm_launcher_runs_the_binary_and_names_a_missing_platform_package() {
    let launcher = root().join("packaging/npm/pgshift.js");
    let bin = assert_cmd::cargo::cargo_bin("pgshift");
    let out = std::process::Command::new("node")
        .arg(&launcher)
        .arg("--version")
        .env("PGSHIFT_BINARY", &bin)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("pgshift {}", env!("CARGO_PKG_VERSION"))
    );
    // The exit code passes through: validate of a folder with a bad file name exits 1.
    let (dir, _db) = project(&[]);
    std::fs::write(dir.path().join("migrations/bad name.sql"), "SELECT 1;\n").unwrap();
    let out = std::process::Command::new("node")
        .arg(&launcher)
        .arg("validate")
        .current_dir(dir.path())
        .env("PGSHIFT_BINARY", &bin)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(both(&out).contains("filename/invalid"), "{}", both(&out));
    // Without its platform's package (here: no node_modules at all).
    let out = std::process::Command::new("node")
        .arg(&launcher)
        .arg("--version")
        .env_remove("PGSHIFT_BINARY")
        .output()
        .unwrap();
    let text = both(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("is not installed") || text.contains("has no npm binary"),
        "{text}"
    );
    assert!(text.contains("help:"), "{text}");
}

#[test]
fn the_kubernetes_example_has_the_fields_kubernetes_requires_and_valid_pgshift_commands() {
    let dir = root().join("examples/kubernetes");
    let mut kinds = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let mut claims = BTreeSet::new();
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            for doc in yaml_documents(&path) {
                docs.push((path.clone(), doc));
            }
        }
    }
    for (path, doc) in &docs {
        let file = path.display();
        let api = str_at(doc, &["apiVersion"]).unwrap_or_else(|| panic!("{file}: apiVersion"));
        let kind = str_at(doc, &["kind"]).unwrap_or_else(|| panic!("{file}: kind"));
        assert!(
            str_at(doc, &["metadata", "name"]).is_some(),
            "{file}: metadata.name"
        );
        let name = str_at(doc, &["metadata", "name"]).unwrap();
        kinds.insert(kind.to_string());
        match (api, kind) {
            ("v1", "Secret") => {
                secrets.insert(name.to_string());
            }
            ("v1", "PersistentVolumeClaim") => {
                assert!(at(doc, &["spec", "accessModes"]).is_some(), "{file}");
                assert!(
                    str_at(doc, &["spec", "resources", "requests", "storage"]).is_some(),
                    "{file}"
                );
                claims.insert(name.to_string());
            }
            ("batch/v1", "Job") | ("apps/v1", "Deployment") => {}
            other => panic!("{file}: unexpected {other:?}"),
        }
    }
    assert_eq!(
        kinds,
        ["Deployment", "Job", "PersistentVolumeClaim", "Secret"]
            .map(String::from)
            .into()
    );
    for (path, doc) in &docs {
        let file = path.display();
        let kind = str_at(doc, &["kind"]).unwrap();
        if kind != "Job" && kind != "Deployment" {
            continue;
        }
        let pod = at(doc, &["spec", "template", "spec"]).unwrap_or_else(|| panic!("{file}"));
        if kind == "Deployment" {
            // The selector must match the pod template's labels.
            let selector = at(doc, &["spec", "selector", "matchLabels"]).unwrap();
            let labels = at(doc, &["spec", "template", "metadata", "labels"]).unwrap();
            for (k, v) in selector.as_mapping().unwrap() {
                assert_eq!(labels.get(k), Some(v), "{file}: selector {k:?}");
            }
        } else {
            let restart = str_at(pod, &["restartPolicy"]).unwrap();
            assert!(["Never", "OnFailure"].contains(&restart), "{file}");
        }
        let volumes: BTreeSet<&str> = pod
            .get("volumes")
            .and_then(Value::as_sequence)
            .map(|v| v.iter().filter_map(|v| str_at(v, &["name"])).collect())
            .unwrap_or_default();
        for v in pod
            .get("volumes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            if let Some(claim) = str_at(v, &["persistentVolumeClaim", "claimName"]) {
                assert!(
                    claims.contains(claim),
                    "{file}: claim {claim} is not defined"
                );
            }
        }
        let mut pgshift_containers = 0;
        for list in ["initContainers", "containers"] {
            for c in pod
                .get(list)
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                let cname = str_at(c, &["name"]).unwrap_or_else(|| panic!("{file}: name"));
                assert!(str_at(c, &["image"]).is_some(), "{file}: {cname}: image");
                for m in c
                    .get("volumeMounts")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    let v = str_at(m, &["name"]).unwrap();
                    assert!(
                        volumes.contains(v),
                        "{file}: {cname} mounts {v}, not a volume"
                    );
                    assert!(str_at(m, &["mountPath"]).is_some(), "{file}");
                }
                for from in c
                    .get("envFrom")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    let s = str_at(from, &["secretRef", "name"]).unwrap();
                    assert!(secrets.contains(s), "{file}: secret {s} is not defined");
                }
                let Some(args) = c.get("args").and_then(Value::as_sequence) else {
                    continue;
                };
                pgshift_containers += 1;
                let mut words = vec!["pgshift".to_string()];
                words.extend(args.iter().map(|a| a.as_str().unwrap().to_string()));
                if let Err(e) = pgshift::cli::Cli::try_parse_from(&words) {
                    panic!("{file}: {cname}: {words:?}: {e}");
                }
                let env: Vec<(&str, &str)> = c
                    .get("env")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| Some((str_at(e, &["name"])?, str_at(e, &["value"])?)))
                    .collect();
                if words.contains(&"migrate".to_string()) {
                    // Production, confirmed explicitly both ways.
                    assert!(words.windows(2).any(|w| w == ["--env", "production"]));
                    assert!(words.contains(&"--confirm".to_string()), "{file}");
                    assert!(env.contains(&("FORCE_RUN", "true")), "{file}");
                    assert!(
                        c.get("volumeMounts")
                            .and_then(Value::as_sequence)
                            .is_some_and(|m| m
                                .iter()
                                .any(|m| str_at(m, &["mountPath"]) == Some("/work/backups"))),
                        "{file}: the backups need a volume"
                    );
                }
                if words.contains(&"wait".to_string()) {
                    assert_eq!(list, "initContainers", "{file}: wait runs before the app");
                }
            }
        }
        assert_eq!(pgshift_containers, 1, "{file}: one pgshift container");
    }
}

#[test]
fn the_release_workflow_builds_every_platform_and_publishes_each_package() {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    let wf: Value = serde_norway::from_str(&text).unwrap();
    let tags = at(&wf, &["on", "push", "tags"]).unwrap();
    assert!(tags
        .as_sequence()
        .unwrap()
        .iter()
        .any(|t| t.as_str() == Some("v*")));
    let jobs = wf.get("jobs").unwrap();
    let targets: BTreeSet<&str> = at(jobs, &["build", "strategy", "matrix", "include"])
        .unwrap()
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| str_at(e, &["target"]).unwrap())
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from([
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin"
        ])
    );
    assert!(text.contains("run: scripts/package.sh"));
    // Trusted publishing: an OIDC token, no password.
    assert_eq!(
        str_at(jobs, &["pypi", "permissions", "id-token"]),
        Some("write")
    );
    assert!(text.contains("pypa/gh-action-pypi-publish"));
    assert!(!text.contains("PYPI_TOKEN") && !text.contains("password: ${{ secrets"));
    assert_eq!(
        str_at(jobs, &["release", "permissions", "contents"]),
        Some("write")
    );
    for job in ["release", "pypi", "npm", "image"] {
        assert_eq!(str_at(jobs, &[job, "needs"]), Some("build"), "{job}");
    }
}

#[test]
fn the_dockerfile_runs_pgshift_unprivileged_with_the_clients_of_every_supported_major() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let instructions: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && !l.trim().is_empty())
        .collect();
    let user = instructions
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER instruction");
    let uid = user[5..].split(':').next().unwrap();
    assert!(uid.parse::<u32>().unwrap() > 0, "{user}");
    assert_eq!(
        instructions
            .iter()
            .filter(|l| l.starts_with("FROM "))
            .count(),
        2,
        "a build stage and a small runtime stage"
    );
    assert!(text.contains("ENTRYPOINT [\"pgshift\"]"));
    // The clients land where pgshift looks for the server's major.
    assert!(text.contains("/usr/lib/postgresql/$major/bin/pg_dump"));
    let majors = text
        .lines()
        .find_map(|l| l.strip_prefix("ARG PG_MAJORS=\""))
        .unwrap()
        .trim_end_matches('"');
    let majors: Vec<u32> = majors.split(' ').map(|m| m.parse().unwrap()).collect();
    assert_eq!(majors, (14..=18).collect::<Vec<_>>());
    assert!(text.contains("cargo build --release --locked"));
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target/"));
}
