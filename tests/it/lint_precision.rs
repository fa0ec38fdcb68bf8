//! The lint's precision, held: four look-alike sets (Supabase, Prisma, dbmate, Sqitch, in each
//! tool's own layout under `tests/fixtures/lint/`) are imported as a user would, validated for
//! production, and every hazard finding (warning or error) must be one judged by hand in
//! `tests/fixtures/lint/judged.tsv`, and every judged one must still be found. A new finding, a
//! lost one, or a precision under 85% fails here; so does more than one hazard finding in a
//! file of a set with no real hazard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgshift::config::Environment;
use pgshift::diagnostic::Level;

/// Each set: its name (the tool it is imported from) and its folder under the fixtures.
const SETS: [(&str, &str); 4] = [
    ("supabase", "supabase"),
    ("prisma", "prisma"),
    ("dbmate", "dbmate/db/migrations"),
    ("sqitch", "sqitch"),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

/// (set, migration, rule) of every judged finding, with its verdict.
fn judged() -> Vec<((String, String, String), bool)> {
    let text = std::fs::read_to_string(fixtures().join("judged.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "judged.tsv: five tab-separated fields: {l}");
            assert!(
                matches!(f[3], "real" | "false"),
                "judged.tsv: real or false: {l}"
            );
            assert!(!f[4].trim().is_empty(), "judged.tsv: say why: {l}");
            ((f[0].into(), f[1].into(), f[2].into()), f[3] == "real")
        })
        .collect()
}

/// The hazard findings of one set, imported into a temporary project and validated.
fn hazards(set: &str, folder: &str, env: Environment) -> Vec<(String, String, String)> {
    let project = tempfile::tempdir().unwrap();
    let out = crate::common::pgshift_std(project.path())
        .args(["import", "--from", set, "--dir", "migrations"])
        .arg(fixtures().join(folder))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import of {set}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = pgshift::api::MigrationValidator::new(project.path().join("migrations"), env)
        .validate_all()
        .unwrap();
    // The files themselves are sound: no error but the lint's.
    let lint = ["dangerous/", "locking/", "rls/", "hygiene/", "secrets/"];
    let broken: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Error && !lint.iter().any(|p| f.rule.starts_with(p)))
        .collect();
    assert!(broken.is_empty(), "{set}: {broken:#?}");
    report
        .findings
        .iter()
        .filter(|f| matches!(f.level, Level::Warning | Level::Error) && f.allowed.is_none())
        .map(|f| {
            let file = f
                .location
                .as_ref()
                .map(|l| l.file.clone())
                .unwrap_or_default();
            let version = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (set.to_string(), version, f.rule.clone())
        })
        .collect()
}

fn count<T: Ord + Clone>(items: &[T]) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.clone()).or_insert(0) += 1;
    }
    m
}

#[test]
fn hazard_findings_on_the_look_alike_sets_are_the_judged_ones() {
    let judged = judged();
    let mut found = Vec::new();
    for (set, folder) in SETS {
        found.extend(hazards(set, folder, Environment::Production));
    }
    let expected: Vec<_> = judged.iter().map(|(k, _)| k.clone()).collect();
    let (found_n, expected_n) = (count(&found), count(&expected));
    let new: Vec<_> = found_n
        .iter()
        .filter(|(k, n)| expected_n.get(*k).copied().unwrap_or(0) < **n)
        .collect();
    let lost: Vec<_> = expected_n
        .iter()
        .filter(|(k, n)| found_n.get(*k).copied().unwrap_or(0) < **n)
        .collect();
    assert!(
        new.is_empty() && lost.is_empty(),
        "findings not judged in judged.tsv (judge them): {new:#?}\njudged findings no longer found: {lost:#?}"
    );

    // Per rule: findings and how many are real (printed with --nocapture for the docs' table).
    let mut per_rule: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((_, _, rule), real) in &judged {
        let e = per_rule.entry(rule.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(*real);
    }
    for (rule, (n, real)) in &per_rule {
        println!("{rule}: {n} findings, {real} real");
    }
    let real = judged.iter().filter(|(_, r)| *r).count();
    println!("all: {} findings, {real} real", judged.len());
    assert!(
        real * 100 >= judged.len() * 85,
        "precision {real}/{} is under 85%",
        judged.len()
    );

    // A set with no real hazard gets at most one hazard finding per file.
    for (set, _) in SETS {
        let has_real = judged.iter().any(|((s, ..), r)| s == set && *r);
        if has_real {
            continue;
        }
        let per_file = count(
            &found
                .iter()
                .filter(|(s, ..)| s == set)
                .map(|(_, v, _)| v.clone())
                .collect::<Vec<_>>(),
        );
        assert!(
            per_file.values().all(|n| *n <= 1),
            "{set} has no real hazard, yet: {per_file:?}"
        );
    }
}

/// Development reports no hazard that production does not: its levels are milder or equal.
#[test]
fn development_finds_no_hazard_production_does_not() {
    for (set, folder) in SETS {
        let prod = count(&hazards(set, folder, Environment::Production));
        for (k, n) in count(&hazards(set, folder, Environment::Development)) {
            assert!(
                prod.get(&k).copied().unwrap_or(0) >= n,
                "{k:?} only in development"
            );
        }
    }
}
