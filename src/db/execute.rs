//! Running one migration: in one transaction with its tracking row (one round trip), statement
//! by statement in autocommit (resuming a partial run), or as written (files with their own
//! BEGIN/COMMIT). A client-side deadline and an interrupt both cancel the running query.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_postgres::Client;

use super::tracking::{Record, Tracking};
use crate::sanitize::redact::{holds_secret, redact, redact_string};
use crate::sql::variables::{quote_literal, Substituted};
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
    /// The inline data of a `COPY … FROM stdin` (the file's lines up to `\.`), sent with the
    /// COPY protocol.
    pub copy: Option<CopyData>,
}

/// The inline data of a `COPY … FROM stdin`: a part of the file's text, shared, not copied
/// (it may be most of a very large file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyData {
    text: std::sync::Arc<String>,
    range: std::ops::Range<usize>,
}

impl CopyData {
    /// The bytes `range` of `text`, which must lie on character boundaries.
    pub fn new(text: std::sync::Arc<String>, range: std::ops::Range<usize>) -> CopyData {
        CopyData { text, range }
    }

    pub fn as_str(&self) -> &str {
        &self.text[self.range.clone()]
    }
}

/// Sends COPY data in pieces of this size (whole lines), so that nothing holds a copy of it.
const COPY_PIECE: usize = 1 << 20;

/// Sends `data` into a COPY sink, a piece of whole lines at a time.
async fn send_copy_data<S>(
    sink: std::pin::Pin<&mut S>,
    data: &str,
) -> Result<(), tokio_postgres::Error>
where
    S: futures_util::Sink<bytes::Bytes, Error = tokio_postgres::Error>,
{
    use futures_util::SinkExt;
    let mut sink = sink;
    let mut rest = data;
    while !rest.is_empty() {
        let mut end = rest.len().min(COPY_PIECE);
        if end < rest.len() {
            end = rest[end..].find('\n').map_or(rest.len(), |k| end + k + 1);
        }
        sink.send(bytes::Bytes::copy_from_slice(&rest.as_bytes()[..end]))
            .await?;
        rest = &rest[end..];
    }
    Ok(())
}

impl Step {
    pub fn of(s: &Statement) -> Step {
        let concurrent_index = match &*s.node {
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
            copy: None,
        }
    }

    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }
}

/// What a migration does beyond its own objects, which the statements pgshift sends around it
/// must undo or check: found by the parser, and by the text for dynamic SQL (`EXECUTE '…'`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// `SET [LOCAL] ROLE` or `SET SESSION AUTHORIZATION`: the record must run as the deployer.
    pub role: bool,
    /// `DEALLOCATE` or `DISCARD`: the session's prepared record statement may be gone.
    pub deallocates: bool,
    /// A session-level `SET`, `RESET`, `DISCARD` or `set_config`: the next migration must not
    /// inherit it (each starts in the same session state, as with one psql per file).
    pub session: bool,
    /// A `GRANT` (also one built in dynamic SQL): pgshift's own objects are locked down again
    /// in the same transaction, so that no grant on them outlives the commit.
    pub grants: bool,
}

impl Effects {
    pub fn of(statements: &[Statement], text: &str) -> Effects {
        // Case-insensitive, across line breaks (`SET\n  ROLE` in dynamic SQL), without copying
        // the file: a data migration can be hundreds of megabytes.
        static TEXT: std::sync::OnceLock<[regex::Regex; 3]> = std::sync::OnceLock::new();
        let [role, session, grants] = TEXT.get_or_init(|| {
            [
                r"(?i)\bset\s+(local\s+|session\s+)?role\b|\bsession\s+authorization\b|'role'",
                r"(?i)\bset_config\b",
                r"(?i)grant",
            ]
            .map(|p| regex::Regex::new(p).expect("a valid pattern"))
        });
        let mut e = Effects {
            role: role.is_match(text),
            session: session.is_match(text),
            grants: grants.is_match(text),
            ..Effects::default()
        };
        for s in statements {
            match &*s.node {
                pg_query::NodeEnum::VariableSetStmt(v) => {
                    e.session |= !v.is_local;
                    e.role |= v.name == "role" || v.name == "session_authorization";
                }
                pg_query::NodeEnum::DiscardStmt(_) => {
                    e.deallocates = true;
                    e.session = true;
                }
                pg_query::NodeEnum::DeallocateStmt(_) => e.deallocates = true,
                _ => {}
            }
        }
        e
    }
}

/// A migration ready to run: its text with psql variables substituted by their values.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub version: String,
    /// The file's SHA-256, made on another core while a large file runs (see
    /// `migration::Checksum`): only its record reads it.
    pub checksum: crate::parallel::Later<String>,
    /// Made while the file runs when it is mostly `COPY` data (see `deploy::prepare`): only
    /// its record reads it.
    pub normalized_checksum: crate::parallel::Later<String>,
    pub sub: Substituted,
    pub statements: Vec<Step>,
    pub mode: Mode,
    pub effects: Effects,
    /// SQL that rides with the record, in the same transaction (the Supabase CLI's history).
    pub also: String,
    /// SQL sent right after BEGIN, before the file's statements (a repeatable that replaces
    /// what `CREATE OR REPLACE` cannot: the drops).
    pub first: String,
    /// The file's text as written (variables not substituted), kept in the event of its
    /// apply: a repeatable's rollback runs the text it had before.
    pub record_text: Option<std::sync::Arc<String>>,
    /// The psql variables the text uses, by name (each as often as it is used).
    pub variables: Vec<String>,
}

impl Prepared {
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
    /// The statement that failed (0-based), when it was one of the file's.
    pub statement: Option<usize>,
    /// Statements completed and kept (autocommit files); recorded so that a rerun resumes.
    pub statements_done: Option<usize>,
    pub cause: Cause,
    /// It was pgshift's own statements after the file's (the record, the lockdown), not the
    /// file's: the message says so and names the tracking table.
    pub bookkeeping: bool,
}

impl Failure {
    /// This failure happened in pgshift's bookkeeping around the file, on `tracking`.
    fn of_bookkeeping(mut self, tracking: &Tracking) -> Failure {
        if self.cause == Cause::Error {
            self.message = format!(
                "pgshift's own bookkeeping in {} failed after the file's statements ran (recording it; everything was rolled back together): {}",
                tracking.display(),
                self.message
            );
        }
        self.bookkeeping = true;
        self.statement = None;
        self.offset = None;
        self
    }
}

/// What ended a migration early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Error,
    Timeout,
    Interrupted,
    /// The running statement was cancelled from another session: `pgshift stop`, or a person's
    /// `pg_cancel_backend` (the server says "due to user request").
    Stopped,
    /// The connection to the server broke: the server rolls back the open transaction.
    ConnectionLost,
}

/// Sends a cancel request for the running query.
pub type CancelFn =
    dyn Fn(tokio_postgres::CancelToken) -> futures_util::future::BoxFuture<'static, ()> + Sync;

/// Receives each statement and its time (DEBUG).
pub type DebugFn<'a> = dyn Fn(&str, Duration) + Sync + 'a;

/// Run-wide context.
pub struct RunContext<'a> {
    pub client: &'a Client,
    pub tracking: &'a Tracking,
    pub run_id: &'a str,
    pub environment: &'a str,
    pub timeout: Duration,
    pub interrupt: watch::Receiver<bool>,
    pub cancel: &'a CancelFn,
    /// Called with each statement and its time when DEBUG is on.
    pub debug: Option<&'a DebugFn<'a>>,
    /// The `SET`s every migration starts with (timeouts…), restored after a migration that
    /// changed its session.
    pub session_sql: &'a str,
    /// Commit each migration's transaction without waiting for its WAL to reach disk; the
    /// run then ends with [`flush`], which waits for all of them at once.
    pub async_commit: bool,
}

/// Awaits `work`, cancelling the running statement at `deadline` or on interrupt and then
/// awaiting what it answers; returns the answer and why it ended (`Cause::Error` when it ended
/// by itself).
async fn guarded<F: std::future::Future>(
    ctx: &RunContext<'_>,
    deadline: Instant,
    work: F,
) -> (F::Output, Cause) {
    tokio::pin!(work);
    let mut interrupt = ctx.interrupt.clone();
    tokio::select! {
        r = &mut work => (r, Cause::Error),
        _ = tokio::time::sleep_until(deadline.into()) => {
            (ctx.cancel)(ctx.client.cancel_token()).await;
            ((&mut work).await, Cause::Timeout)
        }
        _ = interrupt.wait_for(|v| *v) => {
            (ctx.cancel)(ctx.client.cancel_token()).await;
            ((&mut work).await, Cause::Interrupted)
        }
    }
}

/// Runs `sql` (one message), cancelling it at `deadline` or on interrupt.
async fn run(
    ctx: &RunContext<'_>,
    sql: &str,
    deadline: Instant,
) -> Result<(), (tokio_postgres::Error, Cause)> {
    let (result, cause) = guarded(ctx, deadline, ctx.client.batch_execute(sql)).await;
    result.map_err(|e| {
        let c = lost_or(&e, cause);
        (e, c)
    })
}

/// The connection broke: closed, an I/O error, or the server ending the session
/// (`pg_terminate_backend`, a shutdown: 57P01–57P03; connection exceptions: class 08).
fn lost_or(e: &tokio_postgres::Error, cause: Cause) -> Cause {
    let code = e.code().map(|c| c.code());
    let ended =
        code.is_some_and(|c| c.starts_with("08") || ["57P01", "57P02", "57P03"].contains(&c));
    if e.is_closed() || ended || (e.as_db_error().is_none() && code.is_none()) {
        Cause::ConnectionLost
    } else if cause == Cause::Error && cancelled_from_outside(e) {
        Cause::Stopped
    } else {
        cause
    }
}

/// A cancel request that pgshift did not send: 57014 "canceling statement due to user request"
/// (a statement_timeout says "due to statement timeout", a lock_timeout is 55P03).
fn cancelled_from_outside(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|d| {
        d.code() == &tokio_postgres::error::SqlState::QUERY_CANCELED
            && d.message().contains("user request")
    })
}

/// A failure of statement `index` (`None`: of pgshift's own statements around the file),
/// sent after `prefix` in its message.
fn failure(
    e: &tokio_postgres::Error,
    cause: Cause,
    prefix: &str,
    statement: Option<(usize, &Step)>,
    sql: &str,
) -> Failure {
    let db = e.as_db_error();
    // The server's position counts characters from 1 in the text sent.
    let offset = match (db.and_then(|d| d.position()), statement) {
        (Some(tokio_postgres::error::ErrorPosition::Original(p)), Some((_, s))) => {
            let text = s.text(sql);
            (*p as usize)
                .checked_sub(1 + prefix.chars().count())
                .and_then(|chars| text.char_indices().nth(chars))
                .map(|(i, _)| s.start + i)
        }
        _ => None,
    }
    .or(statement.map(|(_, s)| s.start));
    let message = match (cause, db) {
        (Cause::Timeout, _) => {
            "cancelled: the migration ran longer than its timeout (TIMEOUT)".to_string()
        }
        (Cause::Interrupted, _) => {
            "interrupted (SIGINT/SIGTERM): the running statement was cancelled".to_string()
        }
        (Cause::Stopped, _) => {
            "stopped from another session (`pgshift stop` or pg_cancel_backend): the running statement was cancelled".to_string()
        }
        (Cause::ConnectionLost, Some(d)) => {
            format!("the connection to the server was lost: {}", d.message())
        }
        (Cause::ConnectionLost, None) => format!("the connection to the server was lost ({e})"),
        (Cause::Error, Some(d)) => d.message().to_string(),
        (Cause::Error, None) => e.to_string(),
    };
    Failure {
        sqlstate: db.map(|d| d.code().code().to_string()),
        message: redact_string(message),
        detail: db.and_then(|d| d.detail().map(|x| redact_string(x.to_string()))),
        hint: db.and_then(|d| d.hint().map(|x| redact_string(x.to_string()))),
        offset,
        statement: statement.map(|(i, _)| i),
        statements_done: None,
        cause,
        bookkeeping: false,
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
        checksum: p.checksum.get(),
        normalized_checksum: Some(p.normalized_checksum.get()),
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

/// The statements that follow a migration's last statement in the same message: back to the
/// deployer's role, pgshift's objects locked down again after a grant, the record statement
/// prepared again after a DEALLOCATE, the record, then `commit` (`COMMIT;` in a transaction),
/// then the session restored after a migration that changed it.
fn finish(ctx: &RunContext, p: &Prepared, record: &str, commit: &str) -> String {
    let mut sql = String::new();
    let e = p.effects;
    if e.role {
        sql.push_str("RESET ROLE;\n");
    }
    if e.grants {
        sql.push_str(&ctx.tracking.lockdown_sql());
        sql.push('\n');
    }
    if e.deallocates {
        sql.push_str(&ctx.tracking.prepare_record_sql());
        sql.push_str(";\n");
    }
    if ctx.async_commit && !commit.is_empty() {
        // The migration and its record still commit together, and in order: a server
        // crash before the run's flush can only lose the last ones, whole.
        sql.push_str("SET LOCAL synchronous_commit = off;\n");
    }
    sql.push_str(record);
    sql.push('\n');
    sql.push_str(commit);
    if e.session || e.role {
        sql.push_str("\nRESET ALL;\nRESET ROLE;\n");
        sql.push_str(ctx.session_sql);
    }
    sql
}

/// Waits until every commit of the session so far is on disk: a transaction that is given an
/// id commits with the session's `synchronous_commit` (on, by default), and its commit record
/// comes after the earlier ones in the WAL, which is flushed in order.
/// A transaction a failure left open (aborted) is rolled back first.
pub async fn flush(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute("ROLLBACK; BEGIN; SELECT txid_current(); COMMIT;")
        .await
}

/// Applies a prepared migration, one message per statement (so that the server logs only a
/// failing statement, as with psql; never the whole file). `resume_from` skips statements a
/// partial run completed; `label` becomes the session's `application_name` while it runs
/// (`status` on another machine shows it).
pub async fn apply(
    ctx: &RunContext<'_>,
    p: &Prepared,
    resume_from: usize,
    label: Option<&str>,
) -> Result<Duration, Failure> {
    let record = |time: &str| {
        let mut sql = applied_sql(ctx, p, time);
        sql.push_str(&p.also);
        sql
    };
    run_file(ctx, p, resume_from, label, &record, true).await
}

/// The record of `p` applied, its time the SQL expression `time` (ms), with its event (which
/// keeps a repeatable's text).
pub fn applied_sql(ctx: &RunContext<'_>, p: &Prepared, time: &str) -> String {
    recorded_sql(ctx, p, time, "applied")
}

/// The record of `p` as applied, with an event named `event` (`rolled_back` when a
/// repeatable's earlier text ran again).
pub fn recorded_sql(ctx: &RunContext<'_>, p: &Prepared, time: &str, event: &str) -> String {
    let mut detail = serde_json::json!({ "mode": p.mode });
    if let Some(text) = &p.record_text {
        detail["sql"] = serde_json::Value::String(text.to_string());
    }
    ctx.tracking.record_sql(
        &record(p, ctx, true, None, None, time.to_string()),
        event,
        &detail,
    )
}

/// The bookkeeping of a file that ran, given the SQL expression of its time in ms: an apply's
/// record, a rollback's removal of it. It runs in the file's transaction, when it has one.
pub type Bookkeeping<'a> = &'a (dyn Fn(&str) -> String + Sync);

/// Runs a prepared file (a migration, or a down file) with `bookkeeping` riding on its last
/// statement; see `apply`. With `record_progress`, a file that runs without a transaction
/// records after each statement how many ran (a migration's apply, not a down file).
pub async fn run_file(
    ctx: &RunContext<'_>,
    p: &Prepared,
    resume_from: usize,
    label: Option<&str>,
    bookkeeping: Bookkeeping<'_>,
    record_progress: bool,
) -> Result<Duration, Failure> {
    let start = Instant::now();
    let progress = label.map_or(String::new(), |name| {
        format!("SET application_name = {};\n", quote_literal(name))
    });
    let run = FileRun {
        ctx,
        p,
        steps: p.statements.iter().enumerate().skip(resume_from).collect(),
        progress,
        bookkeeping,
        start,
        deadline: start + ctx.timeout,
    };
    match &p.mode {
        Mode::Transaction
            if ctx.debug.is_none() && p.statements.iter().all(|s| s.copy.is_none()) =>
        {
            run.pipelined().await
        }
        Mode::Transaction | Mode::AsWritten => run.one_at_a_time().await,
        Mode::Autocommit { .. } => run.autocommit(record_progress).await,
    }
}

/// One file being run: what every strategy needs.
struct FileRun<'r, 'c> {
    ctx: &'r RunContext<'c>,
    p: &'r Prepared,
    /// The statements to run, with their index in the file (after a resume, from there).
    steps: Vec<(usize, &'r Step)>,
    /// `SET application_name …`, sent first.
    progress: String,
    bookkeeping: Bookkeeping<'r>,
    start: Instant,
    deadline: Instant,
}

impl<'r, 'c> FileRun<'r, 'c> {
    /// What every strategy reads.
    #[allow(clippy::type_complexity)]
    fn parts(
        &self,
    ) -> (
        &'r RunContext<'c>,
        &'r Prepared,
        &[(usize, &'r Step)],
        &str,
        Bookkeeping<'r>,
        (Instant, Instant),
    ) {
        (
            self.ctx,
            self.p,
            &self.steps,
            &self.progress,
            self.bookkeeping,
            (self.start, self.deadline),
        )
    }

    /// A transaction's statements pipelined, one per message.
    async fn pipelined(&self) -> Result<Duration, Failure> {
        let (ctx, p, steps, progress, bookkeeping, (start, deadline)) = self.parts();
        let sql = &p.sub.text;
        // One statement per message, so that the server logs a failing statement alone
        // (as with psql); BEGIN rides with the first, the record and COMMIT with the last;
        // and the messages are pipelined: sent back to back, answers read after. Inside
        // the transaction that is safe: after a failure the server runs nothing more, it
        // answers "current transaction is aborted". A statement holding a secret is never
        // sent ahead of the answers before it, so that it can only reach the server's log
        // by failing itself.
        let first = format!("{progress}BEGIN;\n{}", p.first);
        // The whole transaction's time, as the server measures it.
        let rec = bookkeeping(
            "(extract(epoch FROM clock_timestamp() - transaction_timestamp()) * 1000)::bigint",
        );
        let end = finish(ctx, p, &rec, "COMMIT;");
        if steps.is_empty() {
            return send(ctx, &format!("{first}{end}"), deadline, None, "", sql)
                .await
                .map_err(|f| f.of_bookkeeping(ctx.tracking))
                .map(|()| start.elapsed());
        }
        let mut messages: Vec<Message> = steps
            .iter()
            .enumerate()
            .map(|(k, (i, s))| Message {
                // Only the first is composed; the others are the file's own text (a data
                // migration is not copied).
                text: if k == 0 {
                    std::borrow::Cow::Owned(format!("{first}{}", s.text(sql)))
                } else {
                    std::borrow::Cow::Borrowed(s.text(sql))
                },
                statement: Some((*i, s)),
                prefix: if k == 0 { first.len() } else { 0 },
                secret: holds_secret(s.text(sql)),
                bookkeeping: false,
            })
            .collect();
        // The record and COMMIT in a message of their own, in the same pipeline (no round
        // trip more): a failure there is pgshift's, and said so.
        messages.push(Message {
            text: std::borrow::Cow::Owned(end),
            statement: None,
            prefix: 0,
            secret: false,
            bookkeeping: true,
        });
        let mut rest = messages.as_slice();
        while !rest.is_empty() {
            // A batch: up to PIPELINE_DEPTH messages, ending before a secret one; a secret
            // one goes alone, once everything before it is answered.
            let n = if rest[0].secret {
                1
            } else {
                rest.iter()
                    .take(PIPELINE_DEPTH)
                    .take_while(|m| !m.secret)
                    .count()
            };
            pipeline(ctx, &rest[..n], deadline, sql).await?;
            rest = &rest[n..];
        }
        Ok(start.elapsed())
    }

    /// DEBUG, COPY, or a file with its own BEGIN/COMMIT: each statement answered before the
    /// next is sent.
    async fn one_at_a_time(&self) -> Result<Duration, Failure> {
        let (ctx, p, steps, progress, bookkeeping, (start, deadline)) = self.parts();
        let sql = &p.sub.text;

        // DEBUG (each statement timed) and files with their own BEGIN/COMMIT: one
        // statement at a time, each answered before the next is sent (outside a
        // transaction, a statement sent after a failure would run).
        let in_tx = p.mode == Mode::Transaction;
        let first = format!(
            "{progress}{}{}",
            if in_tx { "BEGIN;\n" } else { "" },
            p.first
        );
        // The time of the earlier messages, plus the last one's as the server sees it.
        let end = || {
            let time = format!(
                "({} + (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint)",
                start.elapsed().as_millis()
            );
            finish(
                ctx,
                p,
                &bookkeeping(&time),
                if in_tx { "COMMIT;" } else { "" },
            )
        };
        if steps.is_empty() {
            return send(ctx, &format!("{first}{}", end()), deadline, None, "", sql)
                .await
                .map_err(|f| f.of_bookkeeping(ctx.tracking))
                .map(|()| start.elapsed());
        }
        let last = steps.len() - 1;
        for (k, (i, s)) in steps.iter().enumerate() {
            let prefix = if k == 0 { first.as_str() } else { "" };
            if let Some(data) = &s.copy {
                // COPY's data goes with the COPY protocol: the statement alone, before it
                // what opens the transaction, after it what closes it.
                if !prefix.is_empty() {
                    send(ctx, prefix, deadline, None, "", sql).await?;
                }
                let t = Instant::now();
                copy_in(ctx, s.text(sql), data.as_str(), deadline, (*i, s), sql).await?;
                if let Some(debug) = ctx.debug {
                    debug(&redact(s.text(sql)), t.elapsed());
                }
                if k == last {
                    send(ctx, &end(), deadline, None, "", sql)
                        .await
                        .map_err(|f| f.of_bookkeeping(ctx.tracking))?;
                }
                continue;
            }
            let message = format!("{prefix}{}", s.text(sql));
            let t = Instant::now();
            send(ctx, &message, deadline, Some((*i, s)), prefix, sql).await?;
            if let Some(debug) = ctx.debug {
                debug(&redact(s.text(sql)), t.elapsed());
            }
            if k == last {
                send(ctx, &end(), deadline, None, "", sql)
                    .await
                    .map_err(|f| f.of_bookkeeping(ctx.tracking))?;
            }
        }
        Ok(start.elapsed())
    }

    /// Without a transaction (CONCURRENTLY): each statement alone, the progress recorded
    /// after each when `record_progress`.
    async fn autocommit(&self, record_progress: bool) -> Result<Duration, Failure> {
        let (ctx, p, steps, progress, bookkeeping, (start, deadline)) = self.parts();
        let sql = &p.sub.text;

        // Each statement alone: a multi-statement message is a transaction block, which
        // CONCURRENTLY refuses.
        if !progress.is_empty() {
            send(ctx, progress, deadline, None, "", sql).await?;
        }
        let last = steps.len().saturating_sub(1);
        for (k, (i, s)) in steps.iter().enumerate() {
            let t = Instant::now();
            let sent = match &s.copy {
                Some(data) => {
                    copy_in(ctx, s.text(sql), data.as_str(), deadline, (*i, s), sql).await
                }
                None => send(ctx, s.text(sql), deadline, Some((*i, s)), "", sql).await,
            };
            if let Err(mut f) = sent {
                f.statements_done = Some(*i);
                return Err(f);
            }
            if let Some(debug) = ctx.debug {
                debug(&redact(s.text(sql)), t.elapsed());
            }
            // What ran stays: say so in the record before the next statement, so that a
            // deployer killed now leaves the migration partial, to be resumed. (Not while
            // the file has switched roles: the record is written as the deployer.)
            if record_progress && k < last && !p.effects.role {
                let so_far = ctx
                    .tracking
                    .progress_sql(&record(p, ctx, false, None, None, "0".into()), i + 1);
                send(ctx, &so_far, deadline, None, "", sql).await?;
            }
        }
        let ms = start.elapsed().as_millis().to_string();
        send(
            ctx,
            &finish(ctx, p, &bookkeeping(&ms), ""),
            deadline,
            None,
            "",
            sql,
        )
        .await
        .map_err(|f| f.of_bookkeeping(ctx.tracking))?;
        Ok(start.elapsed())
    }
}

/// Sends `data` to a `COPY … FROM stdin` statement with the COPY protocol.
pub async fn copy_rows(
    client: &Client,
    statement: &str,
    data: &str,
) -> Result<(), tokio_postgres::Error> {
    let sink = client.copy_in::<_, bytes::Bytes>(statement).await?;
    futures_util::pin_mut!(sink);
    send_copy_data(sink.as_mut(), data).await?;
    sink.finish().await.map(|_| ())
}

/// Runs a `COPY … FROM stdin` with its inline data through the COPY protocol (as psql does),
/// cancelled at `deadline` or on interrupt; on failure rolls back and describes it.
async fn copy_in(
    ctx: &RunContext<'_>,
    statement: &str,
    data: &str,
    deadline: Instant,
    at: (usize, &Step),
    sql: &str,
) -> Result<(), Failure> {
    let work = async {
        let sink = ctx.client.copy_in::<_, bytes::Bytes>(statement).await?;
        futures_util::pin_mut!(sink);
        send_copy_data(sink.as_mut(), data).await?;
        sink.finish().await.map(|_| ())
    };
    let (result, cause) = guarded(ctx, deadline, work).await;
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let cause = lost_or(&e, cause);
            if cause != Cause::ConnectionLost {
                let _ = ctx.client.batch_execute("ROLLBACK").await;
            }
            Err(failure(&e, cause, "", Some(at), sql))
        }
    }
}

/// How many messages a pipeline sends ahead of their answers: after a failure the server
/// answers each of the rest with "current transaction is aborted" (and logs that line), so
/// the batch stays short.
const PIPELINE_DEPTH: usize = 64;

/// One message of a pipelined migration.
struct Message<'a> {
    text: std::borrow::Cow<'a, str>,
    /// The statement it carries (0-based, and its place), for the failure's position.
    statement: Option<(usize, &'a Step)>,
    /// Bytes before the statement in `text` (`BEGIN;` and friends).
    prefix: usize,
    /// The statement holds a remembered secret (a psql variable's value).
    secret: bool,
    /// pgshift's own statements after the file's (the record, COMMIT).
    bookkeeping: bool,
}

/// Sends `messages` back to back and reads their answers (a pipeline), within a transaction
/// only; returns the first failure. A deadline or an interrupt cancels the running statement.
async fn pipeline(
    ctx: &RunContext<'_>,
    messages: &[Message<'_>],
    deadline: Instant,
    sql: &str,
) -> Result<(), Failure> {
    if let [m] = messages {
        let sent = send(
            ctx,
            &m.text,
            deadline,
            m.statement,
            &m.text[..m.prefix],
            sql,
        )
        .await;
        return if m.bookkeeping {
            sent.map_err(|f| f.of_bookkeeping(ctx.tracking))
        } else {
            sent
        };
    }
    let all =
        futures_util::future::join_all(messages.iter().map(|m| ctx.client.batch_execute(&m.text)));
    let (results, cause) = guarded(ctx, deadline, all).await;
    let Some((k, e)) = results
        .iter()
        .enumerate()
        .find_map(|(k, r)| r.as_ref().err().map(|e| (k, e)))
    else {
        return Ok(());
    };
    let cause = lost_or(e, cause);
    if cause != Cause::ConnectionLost {
        let _ = ctx.client.batch_execute("ROLLBACK").await;
    }
    let m = &messages[k];
    let f = failure(e, cause, &m.text[..m.prefix], m.statement, sql);
    Err(if m.bookkeeping {
        f.of_bookkeeping(ctx.tracking)
    } else {
        f
    })
}

/// Sends one message; on failure rolls back whatever transaction is open and describes it.
async fn send(
    ctx: &RunContext<'_>,
    message: &str,
    deadline: Instant,
    statement: Option<(usize, &Step)>,
    prefix: &str,
    sql: &str,
) -> Result<(), Failure> {
    match run(ctx, message, deadline).await {
        Ok(()) => Ok(()),
        Err((e, cause)) => {
            if cause != Cause::ConnectionLost {
                let _ = ctx.client.batch_execute("ROLLBACK").await;
            }
            Err(failure(&e, cause, prefix, statement, sql))
        }
    }
}

/// A failed statement `index` of a file, sent after `prefix` (rehearsals).
pub fn describe(
    e: &tokio_postgres::Error,
    prefix: &str,
    index: usize,
    step: &Step,
    sql: &str,
) -> Failure {
    failure(
        e,
        lost_or(e, Cause::Error),
        prefix,
        Some((index, step)),
        sql,
    )
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
        Cause::Error | Cause::ConnectionLost => "failed",
        Cause::Timeout => "timed_out",
        Cause::Interrupted | Cause::Stopped => "interrupted",
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
    // The migration may have deallocated the record statement.
    let sql = format!(
        "{};\nBEGIN;\n{rec}\nCOMMIT;",
        ctx.tracking.prepare_record_sql()
    );
    record_after_failure(ctx, &sql).await
}

/// Runs pgshift's own bookkeeping after a file failed (`sql`, with its own transaction): as the
/// deploying role with the session's settings back (the file may have changed both), and not
/// bound by the file's TIMEOUT. A cancel request sent for the file that reaches the server late
/// may hit it, even after a first retry on a loaded machine: it is tried a few times, a little
/// apart, until one is not cancelled.
pub async fn record_after_failure(
    ctx: &RunContext<'_>,
    sql: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "ROLLBACK;\nRESET ROLE;\nRESET ALL;\n{}\nSET statement_timeout = 0;\n{sql}",
        ctx.session_sql
    );
    let mut result = ctx.client.batch_execute(&sql).await;
    for attempt in 1..=4u32 {
        if !result
            .as_ref()
            .is_err_and(|e| e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED))
        {
            break;
        }
        let _ = ctx.client.batch_execute("ROLLBACK").await;
        tokio::time::sleep(crate::retry::backoff(
            attempt,
            Duration::from_millis(50),
            Duration::from_secs(1),
        ))
        .await;
        result = ctx.client.batch_execute(&sql).await;
    }
    let _ = ctx.client.batch_execute(ctx.session_sql).await;
    result
}

/// The INVALID index a failed `CREATE INDEX CONCURRENTLY` statement left, if any.
pub async fn invalid_index(
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
    Ok(invalid.then(|| name.clone()))
}

/// Drops an index that a failed `CREATE INDEX CONCURRENTLY` left INVALID, before a resume.
/// Returns the index dropped, if any.
pub async fn drop_invalid_index(
    client: &Client,
    step: &Step,
) -> Result<Option<String>, tokio_postgres::Error> {
    let Some(name) = invalid_index(client, step).await? else {
        return Ok(None);
    };
    client
        .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
        .await?;
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(sql: &str) -> Effects {
        Effects::of(&crate::sql::parse(sql).unwrap(), sql)
    }

    #[test]
    fn what_a_migration_does_to_its_session_is_found() {
        assert_eq!(
            effects("CREATE TABLE role (role text);"),
            Effects::default()
        );
        assert!(effects("SET ROLE app;").role);
        assert!(effects("SET LOCAL ROLE app;").role && !effects("SET LOCAL ROLE app;").session);
        assert!(effects("DO $$ BEGIN EXECUTE 'SET\n  ROLE app'; END $$;").role);
        assert!(effects("SET search_path TO app;").session);
        assert!(!effects("SET LOCAL lock_timeout = '1s';").session);
        assert!(effects("SELECT set_config('search_path', 'x', false);").session);
        let d = effects("DEALLOCATE ALL;");
        assert!(d.deallocates && !d.session);
        let discard = effects("DISCARD ALL;");
        assert!(discard.deallocates && discard.session);
        assert!(effects("GRANT SELECT ON t TO anon;").grants);
        assert!(effects("DO $$ BEGIN EXECUTE 'grant all on x to y'; END $$;").grants);
    }
}
