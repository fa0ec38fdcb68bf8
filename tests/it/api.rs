//! The library API on the throwaway cluster: the refusals a program meets.

use pgshift::api::{ApiError, MigrationTracker, MigrationValidator};
use pgshift::config::{DatabaseUrl, Environment, Settings};

use crate::common::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn tracker(dir: &std::path::Path, db: &str, env: Environment) -> Settings {
    let mut s = Settings::defaults(dir, env);
    s.database_url = Some(DatabaseUrl::new(&cluster().url(db)));
    s.deploy.skip_backup = true;
    s
}

#[test]
fn a_set_with_errors_is_refused_with_its_report_and_nothing_runs() {
    let (project, db) = project(&[
        (
            "2026-01-01_good",
            "CREATE TABLE good (id bigint PRIMARY KEY);\n",
        ),
        (
            "2026-01-02_bad",
            "CREATE TABLE bad (id bigint PRIMARY KEY;\n",
        ),
    ]);
    let dir = project.path().join("migrations");
    let report = MigrationValidator::new(&dir, Environment::Development)
        .validate_all()
        .unwrap();
    assert!(report.has_errors());
    assert!(report.findings.iter().any(|f| f.rule == "sql/syntax"));

    let t = MigrationTracker::with_settings(tracker(&dir, &db, Environment::Development)).unwrap();
    let err = runtime().block_on(t.execute_pending(|_| {})).unwrap_err();
    match err {
        ApiError::Invalid(report) => {
            assert!(report.findings.iter().any(|f| f.rule == "sql/syntax"))
        }
        other => panic!("expected the validation report, got {other}"),
    }
    assert_eq!(sql(&db, "SELECT to_regclass('good') IS NULL"), "t");
}

#[test]
fn staging_needs_the_database_name_and_production_force_too() {
    let (project, db) = project(&[("2026-01-01_a", "SELECT 1;\n")]);
    let dir = project.path().join("migrations");
    let rt = runtime();
    let mut s = tracker(&dir, &db, Environment::Staging);
    let t = MigrationTracker::with_settings(s.clone()).unwrap();
    let err = rt.block_on(t.execute_pending(|_| {})).unwrap_err();
    assert!(
        err.to_string()
            .contains("needs the database's name confirmed"),
        "{err}"
    );

    s.environment = Environment::Production;
    s.run.confirm = Some(db.clone());
    let t = MigrationTracker::with_settings(s.clone()).unwrap();
    let err = rt.block_on(t.execute_pending(|_| {})).unwrap_err();
    assert!(err.to_string().contains("without FORCE_RUN=true"), "{err}");

    s.run.force = true;
    let t = MigrationTracker::with_settings(s).unwrap();
    let mut seen = Vec::new();
    let outcome = rt
        .block_on(
            t.execute_pending(|e| seen.push(serde_json::to_value(e).unwrap()["event"].clone())),
        )
        .unwrap();
    assert_eq!(outcome.applied, 1);
    assert!(seen.contains(&serde_json::json!("applied")), "{seen:?}");
    assert_eq!(rt.block_on(t.history()).unwrap().len(), 1);
}

#[test]
fn no_database_is_an_error_that_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let err = MigrationTracker::with_settings_and_vars(
        Settings::defaults(dir.path(), Environment::Development),
        &pgshift::config::VarSource::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no database given"), "{err}");
}
