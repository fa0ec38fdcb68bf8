//! `review --rehearse`: the new migrations run on a throwaway database that holds the base's
//! schema, statement by statement, and after each one `pg_locks` is read on the same session:
//! the locks it took on relations that existed before (tables, views, materialized views),
//! by mode. A migration runs as a deploy runs it (one transaction, committed); a statement
//! that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`) is observed from
//! a second session: that session holds its tables in ACCESS EXCLUSIVE mode, the statement
//! waits, and the lock it waits for is the one it asks for; then the second session lets go.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::locks::Mode;
use super::ReviewError;
use crate::db::connect::ConnectionSpec;
use crate::db::execute::{Mode as RunMode, Prepared};
use crate::lint::QualName;
use crate::sql::TxNeed;

/// What one statement was seen to lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The strongest mode it took on each existing relation, beyond what the transaction
    /// held before it.
    pub new: BTreeMap<QualName, Mode>,
    /// Modes the transaction held on each relation before the statement: a statement that
    /// needs one of them takes nothing new.
    pub held: BTreeMap<QualName, BTreeSet<Mode>>,
    /// For each predicted table that still has storage after it: whether its file changed
    /// (`pg_relation_filenode`), which a rewrite or a TRUNCATE does.
    pub new_files: BTreeMap<QualName, bool>,
}

/// The file of each of `oids` that has one (a view has none; a dropped table is gone).
async fn files(client: &Client, oids: &[u32]) -> Result<HashMap<u32, u32>, tokio_postgres::Error> {
    if oids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            "SELECT oid, pg_relation_filenode(oid) FROM pg_class WHERE oid = ANY($1) AND pg_relation_filenode(oid) IS NOT NULL",
            &[&oids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Which of the tables in `before` got another file.
fn changed_files(
    before: &HashMap<u32, u32>,
    after: &HashMap<u32, u32>,
    existing: &HashMap<u32, QualName>,
) -> BTreeMap<QualName, bool> {
    before
        .iter()
        .filter_map(|(oid, file)| {
            let now = after.get(oid)?;
            Some((existing.get(oid)?.clone(), now != file))
        })
        .collect()
}

/// The relations of the database now: tables, partitioned tables, views, materialized views
/// and foreign tables, by OID.
pub async fn relations(client: &Client) -> Result<HashMap<u32, QualName>, ReviewError> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'",
            &[],
        )
        .await
        .map_err(|e| db("reading the relations", &e))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, u32>(0),
                QualName {
                    schema: r.get(1),
                    name: r.get(2),
                },
            )
        })
        .collect())
}

fn db(what: &str, e: &tokio_postgres::Error) -> ReviewError {
    ReviewError::new(
        format!(
            "{what} failed on the rehearsal database: {}",
            crate::deploy::error_text(e)
        ),
        "report it",
    )
}

/// The locks this session holds on `existing` relations, by relation.
async fn held(
    client: &Client,
    existing: &HashMap<u32, QualName>,
) -> Result<BTreeMap<QualName, BTreeSet<Mode>>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted AND relation IS NOT NULL",
            &[],
        )
        .await?;
    let mut out: BTreeMap<QualName, BTreeSet<Mode>> = BTreeMap::new();
    for r in rows {
        let (oid, mode): (u32, String) = (r.get(0), r.get(1));
        if let (Some(t), Some(m)) = (existing.get(&oid), Mode::parse(&mode)) {
            out.entry(t.clone()).or_default().insert(m);
        }
    }
    Ok(out)
}

/// Where a rehearsal stopped: the statement and the server's error.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// The statement's index in its migration.
    pub statement: usize,
    pub error: String,
}

/// Runs one prepared migration on `a`, observing every statement. `probe` is a second
/// session on the same database; `tables[i]` are the existing relations statement `i` is
/// predicted to lock, with the mode (a statement outside a transaction is observed by
/// holding them).
pub async fn migration(
    a: &Client,
    probe: &Client,
    p: &Prepared,
    tables: &[Vec<(QualName, Mode)>],
    existing: &HashMap<u32, QualName>,
) -> Result<(Vec<Option<Observed>>, Option<Stopped>), ReviewError> {
    let text = p.sub.text.as_str();
    let mut out = vec![None; p.statements.len()];
    // A file with its own BEGIN and COMMIT runs in one transaction here, its own left out:
    // the locks of each statement are read before anything commits.
    let in_transaction = !matches!(p.mode, RunMode::Autocommit { .. });
    if in_transaction {
        a.batch_execute("BEGIN")
            .await
            .map_err(|e| db("BEGIN", &e))?;
    }
    for (i, step) in p.statements.iter().enumerate() {
        if matches!(step.need, TxNeed::TransactionControl(_)) {
            continue;
        }
        let sql = step.text(text);
        let wanted: Vec<(u32, Mode)> = existing
            .iter()
            .filter_map(|(oid, t)| {
                let predicted = tables.get(i)?.iter().find(|(p, _)| p == t)?;
                Some((*oid, predicted.1))
            })
            .collect();
        let oids: Vec<u32> = wanted.iter().map(|(o, _)| *o).collect();
        let result = if matches!(step.need, TxNeed::Autocommit(_)) {
            waited_for(a, probe, sql, &wanted, existing)
                .await
                .map(|o| out[i] = o)
        } else {
            observe(a, step, text, (existing, &oids), !in_transaction)
                .await
                .map(|o| out[i] = o)
        };
        if let Err(e) = result {
            let _ = a.batch_execute("ROLLBACK").await;
            return Ok((
                out,
                Some(Stopped {
                    statement: i,
                    error: crate::deploy::error_text(&e),
                }),
            ));
        }
    }
    if in_transaction {
        a.batch_execute("COMMIT")
            .await
            .map_err(|e| db("COMMIT", &e))?;
    }
    Ok((out, None))
}

/// Runs one statement in the transaction open on `a` (or in one of its own, `own`), and reads
/// the locks before and after.
async fn observe(
    a: &Client,
    step: &crate::db::execute::Step,
    text: &str,
    (existing, oids): (&HashMap<u32, QualName>, &[u32]),
    own: bool,
) -> Result<Option<Observed>, tokio_postgres::Error> {
    if own {
        a.batch_execute("BEGIN").await?;
    }
    let before = held(a, existing).await?;
    let files_before = files(a, oids).await?;
    match &step.copy {
        Some(data) => crate::db::execute::copy_rows(a, step.text(text), data.as_str()).await?,
        None => {
            a.simple_query(step.text(text)).await?;
        }
    }
    // A statement that ends the transaction (COMMIT) leaves nothing to read.
    let after = held(a, existing).await.unwrap_or_default();
    let files_after = files(a, oids).await.unwrap_or_default();
    if own {
        a.batch_execute("COMMIT").await?;
    }
    let mut new = BTreeMap::new();
    for (t, modes) in &after {
        let fresh = modes
            .iter()
            .filter(|m| !before.get(t).is_some_and(|b| b.contains(m)))
            .max();
        if let Some(m) = fresh {
            new.insert(t.clone(), *m);
        }
    }
    Ok(Some(Observed {
        new,
        held: before,
        new_files: changed_files(&files_before, &files_after, existing),
    }))
}

/// Runs a statement that cannot run in a transaction while `probe` holds each of `tables`
/// in the mode [`Mode::probe`] gives for its predicted mode: the statement's weaker locks pass,
/// and the lock it waits for is the one it asks for. `None` when it names no existing table.
async fn waited_for(
    a: &Client,
    probe: &Client,
    sql: &str,
    tables: &[(u32, Mode)],
    existing: &HashMap<u32, QualName>,
) -> Result<Option<Observed>, tokio_postgres::Error> {
    if tables.is_empty() {
        a.simple_query(sql).await?;
        return Ok(None);
    }
    let pid: i32 = a.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let oids: Vec<u32> = tables.iter().map(|(o, _)| *o).collect();
    let files_before = files(a, &oids).await?;
    let mut hold = String::from("BEGIN;");
    for (oid, mode) in tables {
        if let Some(t) = existing.get(oid) {
            hold.push_str(&format!(
                " LOCK TABLE {}.{} IN {} MODE;",
                crate::sql::variables::quote_identifier(&t.schema),
                crate::sql::variables::quote_identifier(&t.name),
                mode.probe().sql()
            ));
        }
    }
    probe.batch_execute(&hold).await?;
    let done = std::cell::Cell::new(false);
    let run = async {
        let r = a.simple_query(sql).await;
        done.set(true);
        r
    };
    let watch = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = BTreeMap::new();
        // Until it waits, or ends without waiting (it asked for no lock the probe holds).
        while seen.is_empty() && !done.get() && Instant::now() < deadline {
            let rows = probe
                .query(
                    "SELECT relation, mode FROM pg_locks WHERE pid = $1 AND locktype = 'relation' AND NOT granted AND relation IS NOT NULL",
                    &[&pid],
                )
                .await?;
            for r in rows {
                let (oid, mode): (u32, String) = (r.get(0), r.get(1));
                if let (Some(t), Some(m)) = (existing.get(&oid), Mode::parse(&mode)) {
                    seen.insert(t.clone(), m);
                }
            }
            if seen.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        probe.batch_execute("ROLLBACK").await?;
        Ok::<_, tokio_postgres::Error>(seen)
    };
    let (ran, seen) = tokio::join!(run, watch);
    ran?;
    let files_after = files(a, &oids).await?;
    Ok(Some(Observed {
        new: seen?,
        held: BTreeMap::new(),
        new_files: changed_files(&files_before, &files_after, existing),
    }))
}

/// A session on `spec`.
pub async fn session(spec: &ConnectionSpec) -> Result<Client, ReviewError> {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    spec.connect(tx)
        .await
        .map_err(|e| ReviewError::new(e.message, e.help))
}
