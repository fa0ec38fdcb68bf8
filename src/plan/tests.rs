use std::path::{Path, PathBuf};

use super::*;
use crate::config::Environment;
use crate::migration::from_files;

/// A set from `(name, dependencies)`; each file gets a header and one statement.
fn set(files: &[(&str, &[&str])]) -> MigrationSet {
    let files = files.iter().map(|(name, deps)| {
        let deps = if deps.is_empty() {
            "None".to_string()
        } else {
            deps.iter().map(|d| format!("{d}.sql")).collect::<Vec<_>>().join(", ")
        };
        let text = format!(
            "-- MIGRATION: {name}\n-- Version: {}\n-- Author: t\n-- Dependencies: {deps}\nSELECT 1;\n",
            &name[..10]
        );
        (PathBuf::from(format!("m/{name}.sql")), Ok(text.into_bytes()))
    });
    let set = from_files(Path::new("m"), files, Environment::Development);
    assert!(set.findings.is_empty(), "{:?}", set.findings);
    set
}

fn order(files: &[(&str, &[&str])]) -> Vec<String> {
    plan(&set(files))
        .expect("plans")
        .steps
        .into_iter()
        .map(|s| s.version.to_string())
        .collect()
}

fn errors(files: &[(&str, &[&str])]) -> Vec<Finding> {
    plan(&set(files)).expect_err("fails")
}

#[test]
fn same_date_orders_by_name() {
    assert_eq!(
        order(&[
            ("2026-01-01_b", &[]),
            ("2026-01-01_a", &[]),
            ("2025-12-31_z", &[])
        ]),
        ["2025-12-31_z", "2026-01-01_a", "2026-01-01_b"]
    );
}

#[test]
fn dependency_on_a_later_date_moves_the_migration_just_after_it() {
    let files: &[(&str, &[&str])] = &[
        ("2025-12-28_team_sharing", &["2025-12-29_rbac_system"]),
        ("2025-12-28_enable_rls", &[]),
        ("2025-12-29_rbac_system", &[]),
        ("2025-12-30_later", &[]),
    ];
    let p = plan(&set(files)).unwrap();
    let names: Vec<_> = p.steps.iter().map(|s| s.version.as_str()).collect();
    assert_eq!(
        names,
        [
            "2025-12-28_enable_rls",
            "2025-12-29_rbac_system",
            "2025-12-28_team_sharing",
            "2025-12-30_later"
        ]
    );
    assert_eq!(p.steps[0].reason, Reason::Date);
    assert_eq!(
        p.steps[2].reason,
        Reason::WaitsFor {
            dependency: Version::parse_reference("2025-12-29_rbac_system").unwrap(),
            sorts_later: true
        }
    );
    assert_eq!(
        p.explain(&p.steps[2]),
        "waits for 2025-12-29_rbac_system (#2), a dependency dated later"
    );
}

#[test]
fn transitive_delay_is_explained() {
    let p = plan(&set(&[
        ("2026-01-01_a", &["2026-01-03_c"]),
        ("2026-01-02_b", &["2026-01-01_a"]),
        ("2026-01-03_c", &[]),
    ]))
    .unwrap();
    let names: Vec<_> = p.steps.iter().map(|s| s.version.as_str()).collect();
    assert_eq!(names, ["2026-01-03_c", "2026-01-01_a", "2026-01-02_b"]);
    assert!(matches!(
        p.steps[2].reason,
        Reason::WaitsFor {
            sorts_later: false,
            ..
        }
    ));
    assert_eq!(
        p.explain(&p.steps[2]),
        "waits for 2026-01-01_a (#2), a dependency that was itself held back"
    );
}

#[test]
fn satisfied_dependencies_keep_date_order() {
    let p = plan(&set(&[
        ("2026-01-01_a", &[]),
        ("2026-01-02_b", &["2026-01-01_a"]),
    ]))
    .unwrap();
    assert_eq!(p.steps[1].reason, Reason::DateAfterDependencies);
    assert_eq!(p.explain(&p.steps[1]), "by date; after 2026-01-01_a (#1)");
}

#[test]
fn long_chain_against_date_order() {
    // Each depends on the one dated after it: the order is the reverse of the dates.
    let names: Vec<String> = (1..=50)
        .map(|d| format!("2026-01-{:02}_m", d.min(28)))
        .collect();
    let names: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n}{i:03}"))
        .collect();
    let deps: Vec<Vec<&str>> = (0..50)
        .map(|i| {
            if i + 1 < 50 {
                vec![names[i + 1].as_str()]
            } else {
                vec![]
            }
        })
        .collect();
    let files: Vec<(&str, &[&str])> = names
        .iter()
        .zip(&deps)
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let got = order(&files);
    let mut expected = names.clone();
    expected.reverse();
    assert_eq!(got, expected);
}

#[test]
fn diamond() {
    assert_eq!(
        order(&[
            ("2026-01-04_d", &["2026-01-02_b", "2026-01-03_c"]),
            ("2026-01-03_c", &["2026-01-01_a"]),
            ("2026-01-02_b", &["2026-01-01_a"]),
            ("2026-01-01_a", &[]),
        ]),
        [
            "2026-01-01_a",
            "2026-01-02_b",
            "2026-01-03_c",
            "2026-01-04_d"
        ]
    );
}

#[test]
fn self_dependency_is_reported_at_its_line() {
    let errs = errors(&[("2026-01-01_a", &["2026-01-01_a"])]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].rule, "deps/self");
    let loc = errs[0].location.as_ref().unwrap();
    assert_eq!((loc.line, loc.column), (4, 18));
    assert_eq!(loc.to_string(), "m/2026-01-01_a.sql:4:18");
}

#[test]
fn cycle_of_two_prints_the_path() {
    let errs = errors(&[
        ("2026-01-01_a", &["2026-01-02_b"]),
        ("2026-01-02_b", &["2026-01-01_a"]),
    ]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].rule, "deps/cycle");
    assert_eq!(
        errs[0].message,
        "dependency cycle of 2 migrations: 2026-01-01_a → 2026-01-02_b → 2026-01-01_a"
    );
    assert_eq!(
        errs[0].location.as_ref().unwrap().file,
        Path::new("m/2026-01-01_a.sql")
    );
}

#[test]
fn cycle_of_five_with_dependents_reports_one_cycle() {
    let errs = errors(&[
        ("2026-01-01_a", &["2026-01-05_e"]),
        ("2026-01-02_b", &["2026-01-01_a"]),
        ("2026-01-03_c", &["2026-01-02_b"]),
        ("2026-01-04_d", &["2026-01-03_c"]),
        ("2026-01-05_e", &["2026-01-04_d"]),
        ("2026-01-06_after", &["2026-01-03_c"]),
        ("2026-01-07_free", &[]),
    ]);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].message,
        "dependency cycle of 5 migrations: 2026-01-01_a → 2026-01-05_e → 2026-01-04_d → \
         2026-01-03_c → 2026-01-02_b → 2026-01-01_a"
    );
}

#[test]
fn two_separate_cycles_are_both_reported() {
    let errs = errors(&[
        ("2026-01-01_a", &["2026-01-02_b"]),
        ("2026-01-02_b", &["2026-01-01_a"]),
        ("2026-01-03_c", &["2026-01-04_d"]),
        ("2026-01-04_d", &["2026-01-03_c"]),
    ]);
    let messages: Vec<_> = errs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[1].contains("2026-01-03_c → 2026-01-04_d → 2026-01-03_c"));
}

#[test]
fn missing_dependency_names_file_line_and_suggests() {
    let errs = errors(&[
        ("2026-01-01_users", &[]),
        ("2026-01-02_b", &["2026-01-01_user"]),
    ]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].rule, "deps/missing");
    assert_eq!(
        errs[0].location.as_ref().unwrap().to_string(),
        "m/2026-01-02_b.sql:4:18"
    );
    assert_eq!(
        errs[0].help.as_deref(),
        Some("did you mean 2026-01-01_users.sql?")
    );
    assert!(errs[0]
        .message
        .contains("2026-01-01_user.sql, which is not in m"));
}

/// A small deterministic generator, so the random cases repeat exactly.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

/// `n` migrations; each depends on up to 3 random others that come before it in a hidden
/// topological order (so there is no cycle), whatever their dates.
pub(crate) fn random_dag(n: usize, seed: u64) -> Vec<(String, Vec<String>)> {
    let mut rng = Lcg(seed);
    let names: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "20{:02}-{:02}-{:02}_m{i}",
                10 + rng.next(20),
                1 + rng.next(12),
                1 + rng.next(28)
            )
        })
        .collect();
    (0..n)
        .map(|i| {
            let deps = (0..rng.next(4))
                .filter(|_| i > 0)
                .map(|_| names[rng.next(i)].clone())
                .collect();
            (names[i].clone(), deps)
        })
        .collect()
}

#[test]
fn a_thousand_random_migrations_respect_every_dependency_and_date_ties() {
    for seed in 1..=3 {
        let dag = random_dag(1000, seed);
        let files: Vec<(&str, Vec<&str>)> = dag
            .iter()
            .map(|(n, d)| (n.as_str(), d.iter().map(String::as_str).collect()))
            .collect();
        let files: Vec<(&str, &[&str])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        let p = plan(&set(&files)).unwrap();
        assert_eq!(p.steps.len(), 1000);
        for (i, step) in p.steps.iter().enumerate() {
            for d in &step.dependencies {
                assert!(
                    p.position(d).unwrap() < i + 1,
                    "{d} must run before {}",
                    step.version
                );
            }
            // Greedy: a migration with no dependencies never runs after a later-dated one
            // unless that one was ready first.
            if step.dependencies.is_empty() && i > 0 {
                let prev = &p.steps[i - 1];
                if prev.dependencies.is_empty() {
                    assert!(prev.version < step.version);
                }
            }
        }
        // Deterministic: same input, same plan.
        assert_eq!(plan(&set(&files)).unwrap(), p);
    }
}

#[test]
fn without_any_dependency_versions_run_by_date_and_repeatables_after_them_by_name() {
    let files = [
        (
            "m/repeatable/b_views.sql",
            "CREATE OR REPLACE VIEW v AS SELECT 1;\n",
        ),
        ("m/2026-01-02_b.sql", "SELECT 2;\n"),
        ("m/repeatable/a_funcs.sql", "SELECT 3;\n"),
        ("m/2026-01-01_a.sql", "SELECT 1;\n"),
    ]
    .map(|(p, t)| (PathBuf::from(p), Ok(t.as_bytes().to_vec())));
    let set = from_files(Path::new("m"), files, Environment::Development);
    let p = plan(&set).expect("plans");
    let steps: Vec<(&str, &Reason)> = p
        .steps
        .iter()
        .map(|s| (s.version.as_str(), &s.reason))
        .collect();
    assert_eq!(
        steps,
        [
            ("2026-01-01_a", &Reason::Date),
            ("2026-01-02_b", &Reason::Date),
            ("repeatable/a_funcs", &Reason::Repeatable),
            ("repeatable/b_views", &Reason::Repeatable),
        ]
    );
}
