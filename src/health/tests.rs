//! The catalog checks on a real throwaway PostgreSQL: each check's file holds its own firing and
//! quiet test; this is their shared set-up.

use super::{tables_left, Scope, ALL};
use crate::db::connect::ConnectionSpec;
use crate::ephemeral::Cluster;

/// Applies `migrations` (as psql would) then `by_hand`, runs check `id`, and returns its items
/// as `level object`.
pub fn run(migrations: &[&str], by_hand: &str, id: &str) -> Vec<String> {
    let by_hand: Vec<&str> = if by_hand.is_empty() {
        Vec::new()
    } else {
        vec![by_hand]
    };
    run_inner(migrations, &by_hand, false, id)
}

/// Like [`run`], with statements by hand that may fail (each one on its own).
pub fn run_with(migrations: &[&str], by_hand: &[&str], id: &str) -> Vec<String> {
    run_inner(migrations, by_hand, true, id)
}

fn run_inner(migrations: &[&str], by_hand: &[&str], may_fail: bool, id: &str) -> Vec<String> {
    let cluster = Cluster::shared().expect("a throwaway PostgreSQL");
    let db = cluster.create_database("health").expect("a database");
    for m in migrations {
        cluster.psql(&db, m).expect("the migration applies");
    }
    for s in by_hand {
        let r = cluster.psql(&db, s);
        assert!(may_fail || r.is_ok(), "{s}: {r:?}");
    }
    let versions: Vec<String> = (1..=migrations.len()).map(|i| format!("m{i}")).collect();
    let sources: Vec<std::sync::Arc<String>> = migrations
        .iter()
        .map(|m| std::sync::Arc::new(m.to_string()))
        .collect();
    let applied: Vec<(&str, &std::sync::Arc<String>)> =
        versions.iter().map(String::as_str).zip(&sources).collect();
    let scope = Scope {
        exposed: vec!["public".into()],
        skip: vec!["public.schema_migrations".into()],
        api: true,
        expected: tables_left(&applied),
    };
    let check = ALL
        .iter()
        .find(|c| c.id == id)
        .expect("a check with this id");
    let spec = ConnectionSpec::parse(&cluster.url(&db)).expect("the cluster's URL");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let client = spec.connect(tx).await.expect("connected");
        scope
            .run(&client, check)
            .await
            .expect("the check's query runs")
            .expect("a catalog check")
            .into_iter()
            .map(|i| format!("{} {}", i.level.as_str(), i.object))
            .collect()
    })
}

#[test]
fn every_check_has_a_unique_id_and_its_words() {
    let mut ids: Vec<&str> = ALL.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ALL.len());
    for c in ALL {
        assert!(
            !c.ok.is_empty() && !c.problem.is_empty() && !c.fix.is_empty(),
            "{}",
            c.id
        );
    }
}

#[test]
fn a_clean_schema_passes_every_catalog_check() {
    for c in ALL
        .iter()
        .filter(|c| matches!(c.probe, super::Probe::Catalog(_)))
    {
        let found = run(
            &["CREATE TABLE parent (id int PRIMARY KEY);
               ALTER TABLE parent ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON parent USING (true);
               CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
               CREATE INDEX ON child (parent_id);
               ALTER TABLE child ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON child USING (true);
               CREATE VIEW v WITH (security_invoker = on) AS SELECT id FROM parent;
               CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = '' AS 'SELECT 1';"],
            "",
            c.id,
        );
        assert!(found.is_empty(), "{}: {found:?}", c.id);
    }
}
