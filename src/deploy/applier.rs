//! Running files one after another on a locked session, in either direction: a deploy applies
//! migrations, a rollback runs down files. What both need is here once: the run context
//! (cancel requests, DEBUG timings), a file that could not get a lock in time tried again
//! after a pause, the server's notices as events, and a failure told.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::session::Notices;
use super::{Emitter, Event};
use crate::db::connect::ConnectionSpec;
use crate::db::execute::{CancelFn, Cause, DebugFn, Failure, Mode, Prepared, RunContext};
use crate::db::tracking::Tracking;

/// What every file of a run shares.
pub(super) struct Applier<'a, 'e> {
    out: &'a Emitter<'e>,
    client: &'a tokio_postgres::Client,
    tracking: &'a Tracking,
    run_id: String,
    environment: &'a str,
    timeout: Duration,
    interrupt: watch::Receiver<bool>,
    session_sql: &'a str,
    lock_retries: u32,
    async_commit: bool,
    cancel: Box<CancelFn>,
    debug: Option<Box<DebugFn<'a>>>,
    /// The version running, for DEBUG lines.
    current: Arc<Mutex<String>>,
}

/// How a run goes, whatever its direction.
pub(super) struct Setup<'a> {
    /// The locked session's connection.
    pub client: &'a tokio_postgres::Client,
    /// Where the records are.
    pub tracking: &'a Tracking,
    /// The environment (recorded).
    pub environment: &'a str,
    /// Each file's `statement_timeout`, and the client's deadline.
    pub timeout: Duration,
    /// Turns true on SIGINT/SIGTERM.
    pub interrupt: watch::Receiver<bool>,
    /// The settings every file starts with.
    pub session_sql: &'a str,
    /// How often a file that could not get a lock in time is tried again.
    pub lock_retries: u32,
    /// DEBUG: every statement with its time.
    pub debug: bool,
    /// Commit without waiting for the disk; the run ends with `execute::flush`.
    pub async_commit: bool,
}

impl<'a, 'e: 'a> Applier<'a, 'e> {
    /// An applier for one run (`run_id`) on `spec`'s database, telling `out`.
    pub fn new(
        run: Setup<'a>,
        run_id: String,
        spec: &ConnectionSpec,
        out: &'a Emitter<'e>,
    ) -> Applier<'a, 'e> {
        let cancel_spec = spec.clone();
        let cancel: Box<CancelFn> = Box::new(move |token: tokio_postgres::CancelToken| {
            let spec = cancel_spec.clone();
            Box::pin(async move {
                let _ = token.cancel_query(spec.tls_for_cancel()).await;
            }) as futures_util::future::BoxFuture<'static, ()>
        });
        let current = Arc::new(Mutex::new(String::new()));
        let running = current.clone();
        let debug: Option<Box<DebugFn<'a>>> = run.debug.then(|| {
            Box::new(move |sql: &str, t: Duration| {
                out.emit(Event::Statement {
                    version: running.lock().map(|v| v.clone()).unwrap_or_default(),
                    sql: sql.to_string(),
                    ms: t.as_secs_f64() * 1e3,
                })
            }) as Box<DebugFn<'a>>
        });
        Applier {
            out,
            client: run.client,
            tracking: run.tracking,
            run_id,
            environment: run.environment,
            timeout: run.timeout,
            interrupt: run.interrupt,
            session_sql: run.session_sql,
            lock_retries: run.lock_retries,
            async_commit: run.async_commit,
            cancel,
            debug,
            current,
        }
    }

    /// What running one file needs.
    pub fn context(&self) -> RunContext<'_> {
        RunContext {
            client: self.client,
            tracking: self.tracking,
            run_id: &self.run_id,
            environment: self.environment,
            timeout: self.timeout,
            interrupt: self.interrupt.clone(),
            cancel: &*self.cancel,
            debug: self.debug.as_deref(),
            session_sql: self.session_sql,
            async_commit: self.async_commit,
        }
    }

    /// Whether SIGINT or SIGTERM came.
    pub fn interrupted(&self) -> bool {
        *self.interrupt.borrow()
    }

    /// A file starts: `index` of `total`, run as `mode`.
    pub fn starting(&self, version: &str, index: usize, total: usize, mode: String) {
        if let Ok(mut c) = self.current.lock() {
            c.clear();
            c.push_str(version);
        }
        self.out.emit(Event::Applying {
            version: version.to_string(),
            index,
            total,
            mode,
        });
    }

    /// Runs a file through `attempt`, and again while it fails for a lock it could not get in
    /// time (`lock_timeout`): a file in one transaction was rolled back whole, so it is tried
    /// again after a pause, while the table is busy, `lock_retries` times at most; `stop`
    /// ends the retries early. The server's notices go out after each try.
    pub async fn run<F, Fut>(
        &self,
        p: &Prepared,
        notices: &mut Notices,
        stop: &dyn Fn() -> bool,
        mut attempt: F,
    ) -> Result<Duration, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Duration, Failure>>,
    {
        let tries = self.lock_retries + 1;
        let mut result = attempt().await;
        self.drain(notices, &p.version);
        let mut n = 1;
        while let Err(f) = &result {
            let lock_wait = f.sqlstate.as_deref() == Some("55P03")
                && p.mode == Mode::Transaction
                && f.cause == Cause::Error;
            if !lock_wait || n >= tries || self.interrupted() {
                break;
            }
            n += 1;
            let wait =
                crate::retry::backoff(n - 1, Duration::from_millis(500), Duration::from_secs(30));
            self.out.emit(Event::Retrying {
                version: p.version.clone(),
                attempt: n,
                of: tries,
                wait_ms: wait.as_millis() as u64,
                message: f.message.clone(),
            });
            tokio::time::sleep(wait).await;
            if stop() {
                break;
            }
            result = attempt().await;
            self.drain(notices, &p.version);
        }
        result
    }

    /// The server's notices so far, as events of `version`.
    pub fn drain(&self, notices: &mut Notices, version: &str) {
        drain(notices, version, self.out);
    }

    /// A file failed: what, where, and what to do.
    pub fn failed(&self, version: &str, f: Failure, position: Option<String>, help: String) {
        self.out.emit(Event::Failed {
            version: version.to_string(),
            sqlstate: f.sqlstate,
            help,
            message: f.message,
            position,
            detail: f.detail,
            hint: f.hint,
        });
    }
}

/// The server's notices so far, as events of `version` (a rehearsal's too).
pub(super) fn drain(notices: &mut Notices, version: &str, out: &Emitter) {
    while let Ok(n) = notices.try_recv() {
        // Our own ROLLBACK after a failure warns when there is no transaction: not news.
        if n.code().code() == "25P01" {
            continue;
        }
        out.emit(Event::Notice {
            version: version.to_string(),
            severity: n.severity().to_string(),
            message: n.message().to_string(),
        });
    }
}
