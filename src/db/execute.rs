//! Running one migration: in one transaction with its tracking row (one round trip), statement
//! by statement in autocommit (resuming a partial run), or as written (files with their own
//! BEGIN/COMMIT). A client-side deadline and an interrupt both cancel the running query.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_postgres::Client;

use super::tracking::{Record, Tracking};
use crate::sql::variables::Substituted;
use crate::sql::{Statement, TxNeed};

/// How a file runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One transaction with its tracking row.
    Transaction,
    /// Statement by statement, outside a transaction (`@no-transaction`, or a statement that
    /// needs it); recorded afterwards.
    Autocommit { reason: String },
    /// The file's own BEGIN/COMMIT, sent as written; recorded afterwards.
    AsWritten,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Transaction => f.write_str("transaction"),
            Mode::Autocommit { reason } => write!(f, "no transaction ({reason})"),
            Mode::AsWritten => f.write_str("its own transaction control"),
        }
    }
}

/// A statement to run: its place in the text and what it needs, without its syntax tree
/// (a deploy of thousands of files keeps all of them in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub start: usize,
    pub end: usize,
    pub need: TxNeed,
    /// `schema.index` of a `CREATE INDEX CONCURRENTLY`, which may leave an invalid index.
    pub concurrent_index: Option<String>,
}

impl Step {
    pub fn of(s: &Statement) -> Step {
        let concurrent_index = match &s.node {
            pg_query::NodeEnum::IndexStmt(i) if i.concurrent && !i.idxname.is_empty() => {
                let schema = i
                    .relation
                    .as_ref()
                    .map(|r| r.schemaname.clone())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "public".into());
                Some(format!(
                    "{}.{}",
                    crate::sql::variables::quote_identifier(&schema),
                    crate::sql::variables::quote_identifier(&i.idxname)
                ))
            }
            _ => None,
        };
        Step {
            start: s.start,
            end: s.end,
            need: s.need.clone(),
            concurrent_index,
        }
    }

    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }
}

/// A migration ready to run: its text with psql variables substituted by their values.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub version: String,
    pub checksum: String,
    pub normalized_checksum: String,
    pub sub: Substituted,
    pub statements: Vec<Step>,
    pub mode: Mode,
    /// The values substituted for psql variables: never shown, never recorded.
    pub secret_values: Vec<String>,
}

impl Prepared {
    /// `text` with every substituted variable value replaced by `***` (server messages and
    /// DEBUG output can quote them).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.secret_values {
            out = out.replace(v.as_str(), "***");
        }
        out
    }

    pub fn mode_of(statements: &[Statement], no_transaction: bool) -> Mode {
        if let Some(TxNeed::Autocommit(what)) = statements
            .iter()
            .map(|s| &s.need)
            .find(|n| matches!(n, TxNeed::Autocommit(_)))
        {
            Mode::Autocommit {
                reason: what.to_string(),
            }
        } else if no_transaction {
            Mode::Autocommit {
                reason: "@no-transaction".into(),
            }
        } else if statements
            .iter()
            .any(|s| matches!(s.need, TxNeed::TransactionControl(_)))
        {
            Mode::AsWritten
        } else {
            Mode::Transaction
        }
    }
}

/// Why a migration did not complete.
#[derive(Debug, Clone)]
pub struct Failure {
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// Byte offset in the substituted text, when the server gave a position.
    pub offset: Option<usize>,
    /// Statements completed (autocommit files).
    pub statements_done: Option<usize>,
    pub cause: Cause,
}

/// What ended a migration early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Error,
    Timeout,
    Interrupted,
}

/// Sends a cancel request for the running query.
pub type CancelFn =
    dyn Fn(tokio_postgres::CancelToken) -> futures_util::future::BoxFuture<'static, ()> + Sync;
/// Receives each statement and its time (DEBUG).
pub type DebugFn = dyn Fn(&str, Duration) + Sync;

/// Run-wide context.
pub struct RunContext<'a> {
    pub client: &'a Client,
    pub tracking: &'a Tracking,
    pub run_id: &'a str,
    pub environment: &'a str,
    pub timeout: Duration,
    pub interrupt: watch::Receiver<bool>,
    pub cancel: &'a (dyn Fn(tokio_postgres::CancelToken) -> futures_util::future::BoxFuture<'static, ()>
             + Sync),
    /// Called with each statement and its time when DEBUG is on.
    pub debug: Option<&'a DebugFn>,
}

/// Runs `sql`, cancelling it at `deadline` or on interrupt.
async fn run(
    ctx: &RunContext<'_>,
    sql: &str,
    deadline: Instant,
) -> Result<(), (tokio_postgres::Error, Cause)> {
    let mut interrupt = ctx.interrupt.clone();
    let fut = ctx.client.batch_execute(sql);
    tokio::pin!(fut);
    let cause = tokio::select! {
        r = &mut fut => return r.map_err(|e| (e, Cause::Error)),
        _ = tokio::time::sleep_until(deadline.into()) => Cause::Timeout,
        _ = interrupt.wait_for(|v| *v) => Cause::Interrupted,
    };
    (ctx.cancel)(ctx.client.cancel_token()).await;
    match fut.await {
        Ok(()) => Ok(()),
        Err(e) => Err((e, cause)),
    }
}

fn failure(e: &tokio_postgres::Error, cause: Cause, prefix_chars: usize, sql: &str) -> Failure {
    let db = e.as_db_error();
    // The server's position counts characters from 1 in the text sent.
    let offset = db.and_then(|d| match d.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
            let chars = (*p as usize).checked_sub(1 + prefix_chars)?;
            Some(sql.char_indices().nth(chars).map_or(sql.len(), |(i, _)| i))
        }
        _ => None,
    });
    let message = match (cause, db) {
        (Cause::Timeout, _) => {
            "cancelled: the migration ran longer than its timeout (TIMEOUT)".to_string()
        }
        (Cause::Interrupted, _) => {
            "interrupted (SIGINT/SIGTERM): the running statement was cancelled and rolled back"
                .to_string()
        }
        (Cause::Error, Some(d)) => d.message().to_string(),
        (Cause::Error, None) => e.to_string(),
    };
    Failure {
        sqlstate: db.map(|d| d.code().code().to_string()),
        message,
        detail: db.and_then(|d| d.detail().map(str::to_string)),
        hint: db.and_then(|d| d.hint().map(str::to_string)),
        offset,
        statements_done: None,
        cause,
    }
}

fn record<'a>(
    p: &'a Prepared,
    ctx: &'a RunContext,
    success: bool,
    f: Option<&'a Failure>,
    position: Option<&'a str>,
    time_ms: String,
) -> Record<'a> {
    Record {
        version: &p.version,
        checksum: &p.checksum,
        normalized_checksum: Some(&p.normalized_checksum),
        success,
        error_message: f.map(|f| f.message.as_str()),
        sqlstate: f.and_then(|f| f.sqlstate.as_deref()),
        error_position: position,
        statements_done: f.and_then(|f| f.statements_done).map(|n| n as i32),
        run_id: ctx.run_id,
        environment: ctx.environment,
        time_ms,
    }
}

/// Applies a prepared migration. `resume_from` skips statements a partial run completed.
pub async fn apply(
    ctx: &RunContext<'_>,
    p: &Prepared,
    resume_from: usize,
) -> Result<Duration, Failure> {
    apply_unredacted(ctx, p, resume_from)
        .await
        .map_err(|mut f| {
            f.message = p.redact(&f.message);
            f.detail = f.detail.map(|d| p.redact(&d));
            f.hint = f.hint.map(|h| p.redact(&h));
            f
        })
}

async fn apply_unredacted(
    ctx: &RunContext<'_>,
    p: &Prepared,
    resume_from: usize,
) -> Result<Duration, Failure> {
    let start = Instant::now();
    let deadline = start + ctx.timeout;
    let detail = serde_json::json!({ "mode": p.mode });
    match &p.mode {
        Mode::Transaction if ctx.debug.is_none() => {
            // BEGIN, the file, its record and COMMIT in one message: one round trip.
            let prefix = "BEGIN;\n";
            let rec = ctx.tracking.record_sql(
                &record(p, ctx, true, None, None, "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint".into()),
                "applied",
                &detail,
            );
            let batch = format!("{prefix}{}\n;\n{rec}\nCOMMIT;", p.sub.text);
            match run(ctx, &batch, deadline).await {
                Ok(()) => Ok(start.elapsed()),
                Err((e, cause)) => {
                    let _ = ctx.client.batch_execute("ROLLBACK").await;
                    Err(failure(&e, cause, prefix.chars().count(), &p.sub.text))
                }
            }
        }
        Mode::Transaction => {
            // DEBUG: the same transaction, one statement at a time, each timed.
            ctx.client
                .batch_execute("BEGIN")
                .await
                .map_err(|e| failure(&e, Cause::Error, 0, ""))?;
            for s in &p.statements {
                let t = Instant::now();
                if let Err((e, cause)) = run(ctx, s.text(&p.sub.text), deadline).await {
                    let _ = ctx.client.batch_execute("ROLLBACK").await;
                    let mut f = failure(&e, cause, 0, s.text(&p.sub.text));
                    f.offset = Some(f.offset.map_or(s.start, |o| s.start + o));
                    return Err(f);
                }
                if let Some(debug) = ctx.debug {
                    debug(&p.redact(s.text(&p.sub.text)), t.elapsed());
                }
            }
            record_success(ctx, p, start, &detail, "\nCOMMIT;").await
        }
        Mode::Autocommit { .. } => {
            for (i, s) in p.statements.iter().enumerate().skip(resume_from) {
                let t = Instant::now();
                if let Err((e, cause)) = run(ctx, s.text(&p.sub.text), deadline).await {
                    let mut f = failure(&e, cause, 0, s.text(&p.sub.text));
                    f.offset = Some(f.offset.map_or(s.start, |o| s.start + o));
                    f.statements_done = Some(i);
                    return Err(f);
                }
                if let Some(debug) = ctx.debug {
                    debug(&p.redact(s.text(&p.sub.text)), t.elapsed());
                }
            }
            record_success(ctx, p, start, &detail, "").await
        }
        Mode::AsWritten => {
            if let Err((e, cause)) = run(ctx, &p.sub.text, deadline).await {
                let _ = ctx.client.batch_execute("ROLLBACK").await;
                return Err(failure(&e, cause, 0, &p.sub.text));
            }
            record_success(ctx, p, start, &detail, "").await
        }
    }
}

/// Records a success with the time so far; `then` follows the record in the same message
/// (`COMMIT` when the migration's transaction is still open).
async fn record_success(
    ctx: &RunContext<'_>,
    p: &Prepared,
    start: Instant,
    detail: &serde_json::Value,
    then: &str,
) -> Result<Duration, Failure> {
    let ms = start.elapsed().as_millis().to_string();
    let rec = ctx
        .tracking
        .record_sql(&record(p, ctx, true, None, None, ms), "applied", detail);
    ctx.client
        .batch_execute(&format!("{rec}{then}"))
        .await
        .map_err(|e| failure(&e, Cause::Error, 0, ""))?;
    Ok(start.elapsed())
}

/// Records a failure (in its own transaction) with the position mapped to `file:line:col`.
pub async fn record_failure(
    ctx: &RunContext<'_>,
    p: &Prepared,
    f: &Failure,
    position: Option<&str>,
    elapsed: Duration,
) -> Result<(), tokio_postgres::Error> {
    let event = match f.cause {
        Cause::Error => "failed",
        Cause::Timeout => "timed_out",
        Cause::Interrupted => "interrupted",
    };
    let detail = serde_json::json!({ "sqlstate": f.sqlstate, "position": position, "statements_done": f.statements_done });
    let rec = ctx.tracking.record_sql(
        &record(
            p,
            ctx,
            false,
            Some(f),
            position,
            elapsed.as_millis().to_string(),
        ),
        event,
        &detail,
    );
    // The migration may have deallocated the session's prepared statements: prepare again.
    ctx.tracking.prepare_record(ctx.client).await?;
    ctx.client
        .batch_execute(&format!("BEGIN;\n{rec}\nCOMMIT;"))
        .await
}

/// Drops an index that a failed `CREATE INDEX CONCURRENTLY` left INVALID, before a resume.
/// Returns the index dropped, if any.
pub async fn drop_invalid_index(
    client: &Client,
    step: &Step,
) -> Result<Option<String>, tokio_postgres::Error> {
    let Some(name) = &step.concurrent_index else {
        return Ok(None);
    };
    let invalid: bool = client
        .query_one(
            "SELECT coalesce((SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)), false)",
            &[name],
        )
        .await?
        .get(0);
    if invalid {
        client
            .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            .await?;
        return Ok(Some(name.clone()));
    }
    Ok(None)
}
