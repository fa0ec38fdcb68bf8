//! The stages of a deploy, in order, with the lock held: compare the files with the records,
//! select what runs, validate, prepare, the environment gate, the backup, the tracking tables,
//! apply, lock pgshift's objects down again, tell PostgREST. `Run::locked` reads them in one
//! screen; each stage is a method below it.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::applier::{drain, Applier, Setup};
use super::session::Notices;
use super::status::{self, State, Status};
use super::unchanged::Records;
use super::{
    db_err, ensure_known, execute, prepare, Cause, DeployError, Emitter, Event, Failure, Mode,
    Options, Outcome, PlanItem, Prepared,
};
use crate::config::{DryRun, OutOfOrder};
use crate::db::connect::ConnectionSpec;
use crate::db::tracking::LayoutState;
use crate::migration::{MigrationSet, Version};
use crate::plan::Plan;

/// One deploy, with the lock held (or a dry run).
pub(super) struct Run<'a> {
    pub(super) set: &'a MigrationSet,
    pub(super) plan: &'a Plan,
    pub(super) spec: &'a ConnectionSpec,
    pub(super) opts: &'a Options<'a>,
    pub(super) client: &'a tokio_postgres::Client,
    pub(super) session: &'a str,
    pub(super) server: crate::backup::Server,
    pub(super) run_id: String,
    pub(super) out: &'a Emitter<'a>,
    /// `pgshift stop`'s request, seen between statements.
    pub(super) stop: &'a super::session::StopSignal,
}

/// How long the tracking layout read under the lock is taken as it is, without reading it
/// again before the first migration.
const LAYOUT_FRESH: Duration = Duration::from_secs(1);

/// A migration about to run: prepared, with its state and its file.
type Ready<'a> = (Prepared, &'a status::Entry, &'a crate::migration::Migration);

impl<'a> Run<'a> {
    /// The stages, in order. Nothing changes in the database before the gate has said yes
    /// (reading only: the tracking rows, the pending files checked and prepared).
    /// `layout`: the tracking layout when it was read beside the records, with when it was
    /// asked for.
    pub(super) async fn locked(
        &self,
        records: Records,
        (layout, layout_asked): (Option<LayoutState>, Instant),
        notices: &mut Notices,
    ) -> Result<Outcome, DeployError> {
        let dry = self.opts.dry_run != DryRun::Off;
        let (rows, status, vouched) = self.compared(records);
        self.check_history(&status)?;
        let to_run = self.select(&status)?;
        // Rows vouched for by their digest are all applied or skipped: nothing runs on them.
        debug_assert!(!vouched || to_run.is_empty());
        if to_run.is_empty() {
            return self
                .nothing_to_do(!dry && (vouched || !rows.is_empty()), layout, notices)
                .await;
        }
        (self.opts.before_run)()?;
        let (mut prepared, plan) = self.prepare_all(&to_run)?;
        match self.opts.dry_run {
            DryRun::Plan => {
                self.out.emit(plan);
                return Ok(Outcome::default());
            }
            DryRun::Rehearse => {
                self.out.emit(plan);
                return self.rehearse(&prepared, notices).await;
            }
            DryRun::Off => {}
        }
        let versions: Vec<String> = prepared.iter().map(|(p, _, _)| p.version.clone()).collect();
        (self.opts.gate)(&versions)?;
        // The list follows the gate: a refusal leaves no list announced and never shown.
        self.out.emit(plan);
        // The tracking tables first: the stop token lives in their meta table. From here on
        // `pgshift stop` may ask this deploy to stop (only a deploy that will change something
        // listens: a no-op stays shorter). The layout read under the lock moments ago stands
        // (no probe more; making it is idempotent, and privileges granted since are revoked
        // after the run); read longer ago (a person was asked, a long validation), it is read
        // again: someone may have dropped the tables meanwhile.
        let layout = layout.filter(|_| layout_asked.elapsed() < LAYOUT_FRESH);
        self.ensure_tracking(true, layout).await?;
        self.stop.listen(self.client, &self.opts.tracking).await?;
        // Baselines only recorded (their versions are all there) change no schema: no backup.
        let records_only = prepared.iter().all(|(_, e, _)| e.state == State::Covered);
        let backup = if records_only {
            None
        } else {
            self.back_up(&rows).await?
        };
        if self.stop_requested() {
            self.out.warn(
                "stopped by `pgshift stop` after the backup, before any migration ran: no migration was applied"
                    .into(),
            );
            return Ok(Outcome {
                interrupted: true,
                ..Outcome::default()
            });
        }
        self.supabase_history(&mut prepared).await?;
        self.record_backup(backup.as_ref()).await?;
        // Notices from creating the tracking tables are not the migrations' business.
        while notices.try_recv().is_ok() {}
        let applied = self.apply_all(&prepared, &rows, notices).await;
        // The migrations committed without waiting for the disk: this waits for all of them
        // (after a failure too) before the run is over. A failure's own error comes first.
        let outcome = match applied {
            Ok(o) if o.applied > 0 && !self.client.is_closed() => {
                execute::flush(self.client).await.map_err(db_err)?;
                o
            }
            Ok(o) => o,
            Err(e) => {
                if !self.client.is_closed() {
                    let _ = execute::flush(self.client).await;
                }
                return Err(e);
            }
        };
        while notices.try_recv().is_ok() {}
        // A lost connection was reported with the failure; the next deploy does the rest.
        if outcome.applied > 0 && !self.client.is_closed() {
            self.lock_down_again().await?;
            self.notify_postgrest().await?;
        }
        Ok(outcome)
    }

    /// The files compared with the records: the rows (none when vouched for), the status,
    /// and whether a digest vouched for them.
    fn compared(&self, records: Records) -> (Vec<crate::db::tracking::AppliedRow>, Status, bool) {
        let env = self.opts.environment;
        match records {
            Records::Read(rows) => {
                let status = status::compare(self.set, self.plan, &rows, env);
                (rows, status, false)
            }
            Records::Unchanged => (
                Vec::new(),
                status::all_applied(self.set, self.plan, env),
                true,
            ),
        }
    }

    /// Nothing to apply: still keep existing tracking tables closed and up to date (`known`:
    /// records prove the table is there; without them only a deploy, not a dry run, asks).
    async fn nothing_to_do(
        &self,
        known: bool,
        layout: Option<LayoutState>,
        notices: &mut Notices,
    ) -> Result<Outcome, DeployError> {
        let dry = self.opts.dry_run != DryRun::Off;
        if known
            || (!dry
                && self
                    .opts
                    .tracking
                    .exists(self.client)
                    .await
                    .map_err(db_err)?)
        {
            self.ensure_tracking(false, layout).await?;
            while notices.try_recv().is_ok() {}
        }
        let (_, plan) = self.prepare_all(&[])?;
        self.out.emit(plan);
        Ok(Outcome::default())
    }

    /// `pgshift stop` came between two migrations: the last one is whole; the rest wait for
    /// the next deploy. Recorded as an event, and said.
    async fn stopped_before(&self, p: &Prepared) {
        let opts = self.opts;
        let event = opts.tracking.event_sql(
            &self.run_id,
            "interrupted",
            Some(&p.version),
            opts.environment.as_str(),
            &serde_json::json!({ "by": "pgshift stop", "before": p.version }),
        );
        if let Err(e) = self.client.batch_execute(&event).await {
            self.out
                .warn(format!("could not record the stop: {}", db_err(e)));
        }
        self.out.warn(format!(
            "stopped by `pgshift stop` before {}: the migrations before it are applied, the rest wait for the next deploy",
            p.version
        ));
    }

    /// Whether `pgshift stop` asked this deploy to stop. Requests without this deploy's token
    /// (from a role that may not stop it) change nothing; each is reported, and logged.
    fn stop_requested(&self) -> bool {
        let requested = self.stop.requested();
        for sender in self.stop.ignored() {
            self.out.warn(format!(
                "ignored a stop request from server process {sender}: it did not carry this deploy's stop token, which only the deploying role, a member of it or a superuser can read; the deploy goes on (`pgshift stop`, run as such a role, stops it; each sender is reported once, {} at most)",
                super::session::REPORTED
            ));
        }
        requested
    }

    /// Where the Supabase CLI's history is kept (or `[supabase] history = true`), each migration
    /// records itself there too, in its own transaction. The statements stored are the file's,
    /// psql variables unresolved: never their values.
    async fn supabase_history(&self, prepared: &mut [Ready<'_>]) -> Result<(), DeployError> {
        use crate::supabase::history;
        let on = match self.opts.supabase_history {
            Some(false) => false,
            Some(true) => {
                self.client
                    .batch_execute(history::CREATE_SQL)
                    .await
                    .map_err(db_err)?;
                true
            }
            None => history::exists(self.client).await.map_err(db_err)?,
        };
        if !on {
            return Ok(());
        }
        for (p, _, m) in prepared.iter_mut() {
            let statements: Vec<&str> = p
                .statements
                .iter()
                .filter_map(|s| {
                    m.source
                        .get(p.sub.to_source(s.start)..p.sub.to_source(s.end))
                        .map(str::trim)
                })
                .collect();
            let (version, original) = history::version_for(self.set, m);
            p.also = format!(
                "\n{}",
                history::record_sql(&version, m.version.as_str(), &statements, original)
            );
        }
        Ok(())
    }

    /// The backup before the first migration: pg_dump through parallel gzip, read back whole,
    /// its manifest written, old ones pruned. A failure stops the deploy before anything ran.
    async fn back_up(
        &self,
        rows: &[crate::db::tracking::AppliedRow],
    ) -> Result<Option<crate::backup::Created>, DeployError> {
        let Some(options) = self.opts.backup.clone() else {
            return Ok(None);
        };
        let started = Instant::now();
        let applied: Vec<String> = rows
            .iter()
            .filter(|r| r.success)
            .map(|r| r.version.clone())
            .collect();
        let mut server = self.server.clone();
        server.outside = crate::backup::coverage::outside(self.client)
            .await
            .map_err(db_err)?;
        let (spec, run_id) = (self.spec.clone(), self.run_id.clone());
        let (tx, mut progress) = mpsc::unbounded_channel();
        let job = tokio::task::spawn_blocking(move || {
            let mut last = 0u64;
            crate::backup::create(&spec, &server, applied, &run_id, &options, &mut |p| {
                // Every 64 MB is enough for a progress line.
                if p.written >= last + (64 << 20) {
                    last = p.written;
                    let _ = tx.send(p.written);
                }
            })
        });
        tokio::pin!(job);
        let created = loop {
            tokio::select! {
                Some(bytes) = progress.recv() => self.out.emit(Event::Progress {
                    what: "backup".into(),
                    bytes,
                    ms: started.elapsed().as_millis(),
                }),
                r = &mut job => break r,
            }
        };
        let created = created
            .map_err(|e| DeployError::Db(format!("the backup stopped: {e}")))?
            .map_err(|error| DeployError::Backup {
                target: self.spec.describe(),
                error,
            })?;
        self.out
            .emit(Event::backed_up(&created, started.elapsed().as_millis()));
        Ok(Some(created))
    }

    /// The backup taken, as an event of this run (the tables may not have existed before it).
    async fn record_backup(
        &self,
        backup: Option<&crate::backup::Created>,
    ) -> Result<(), DeployError> {
        let Some(b) = backup else {
            return Ok(());
        };
        let detail = serde_json::json!({ "file": b.manifest.file, "sha256": b.manifest.sha256, "size": b.manifest.size });
        self.client
            .batch_execute(&self.opts.tracking.event_sql(
                &self.run_id,
                "backup",
                None,
                self.opts.environment.as_str(),
                &detail,
            ))
            .await
            .map_err(db_err)
    }

    /// Creates or upgrades the tracking tables; revokes what others were granted on them;
    /// prepares the record statement when migrations are about to run.
    /// `known`: the layout's state when it was read beside the records.
    async fn ensure_tracking(
        &self,
        prepare: bool,
        known: Option<LayoutState>,
    ) -> Result<(), DeployError> {
        let t = &self.opts.tracking;
        let done = ensure_known(t, self.client, self.spec, known).await?;
        if prepare {
            self.opts
                .tracking
                .prepare_record(self.client)
                .await
                .map_err(db_err)?;
        }
        if done.primary_key_restored {
            self.out.warn(format!(
                "pgshift's tracking table {} had lost its primary key on version (dropped by hand or by another tool): it is back",
                t.display()
            ));
        }
        if !done.revoked.is_empty() {
            self.out.warn(format!(
                "pgshift's tables in {} had privileges for other roles, now revoked: {}. Something granted them (GRANT … ON ALL TABLES/SEQUENCES IN SCHEMA, or by hand); only the deploying role may touch them",
                self.spec.describe(),
                done.revoked.join("; ")
            ));
        }
        Ok(())
    }

    /// A migration may have granted privileges on pgshift's tables indirectly (a function
    /// called from it): check once more after the run.
    async fn lock_down_again(&self) -> Result<(), DeployError> {
        let state = self
            .opts
            .tracking
            .state(self.client)
            .await
            .map_err(db_err)?;
        if state.foreign_privileges.is_empty() {
            return Ok(());
        }
        self.client
            .batch_execute(&self.opts.tracking.lockdown_sql())
            .await
            .map_err(db_err)?;
        self.out.warn(format!(
            "a migration of this run granted privileges on pgshift's tables, now revoked: {}",
            state.foreign_privileges.join("; ")
        ));
        Ok(())
    }

    /// Modified files block the run; unknown versions and cosmetic edits are reported.
    fn check_history(&self, status: &Status) -> Result<(), DeployError> {
        super::refuse_damaged(status, &self.opts.tracking)?;
        let modified: Vec<&str> = status
            .entries
            .iter()
            .filter(|e| e.state == State::Modified)
            .map(|e| e.version.as_str())
            .collect();
        if !modified.is_empty() {
            return Err(DeployError::Blocked {
                message: format!("applied migrations changed since they ran: {}", crate::sanitize::escape::untrusted(&modified.join(", "))),
                help: "restore the files as they were applied (git), or accept the change with `pgshift repair VERSION`; new changes belong in a new migration".into(),
            });
        }
        for e in status.entries.iter().filter(|e| e.state == State::Unknown) {
            self.out.warn(format!(
                "{} is recorded in {} but has no file in {}",
                crate::sanitize::escape::untrusted(&e.version),
                self.opts.tracking.display(),
                self.set.dir.display()
            ));
        }
        for e in status.entries.iter().filter(|e| {
            e.state
                == (State::Applied {
                    cosmetic_change: true,
                })
        }) {
            self.out.warn(format!(
                "{} changed in comments or whitespace only since it was applied",
                e.version
            ));
        }
        Ok(())
    }

    /// What runs: pending, failed and partial migrations up to --target, in plan order.
    fn select<'s>(&self, status: &'s Status) -> Result<Vec<&'s status::Entry>, DeployError> {
        let (set, plan, opts) = (self.set, self.plan, self.opts);
        let mut to_run: Vec<&status::Entry> = Vec::new();
        let target = opts.target.as_ref().map(|t| t.as_str());
        if let Some(t) = target {
            if !status.entries.iter().any(|e| e.version == t) {
                return Err(DeployError::Blocked {
                    message: format!("--target {t} is not a migration in {}", set.dir.display()),
                    help: "`pgshift status` lists the versions".into(),
                });
            }
        }
        let mut held = Vec::new();
        for e in &status.entries {
            if matches!(
                e.state,
                State::Pending { .. }
                    | State::Failed { .. }
                    | State::Partial { .. }
                    | State::Changed
                    | State::Covered
            ) {
                if self.failed_unchanged(e) {
                    held.push(e.version.as_str());
                } else {
                    to_run.push(e);
                }
            }
            if target == Some(e.version.as_str()) {
                break;
            }
        }
        refuse_partly_covered(status)?;
        if !held.is_empty() {
            return Err(DeployError::Blocked {
                message: format!(
                    "repeatable migrations failed and their files did not change since: {}",
                    held.join(", ")
                ),
                help: "fix the file (it runs again once it changes), or, when what it needed was fixed in the database, run `pgshift migrate --retry-failed`; `pgshift history` shows the error".into(),
            });
        }
        // A migration must not run when @env keeps one of its dependencies out of this
        // environment.
        let excluded: std::collections::HashSet<&str> = status
            .entries
            .iter()
            .filter(|e| e.state == State::NotForEnvironment)
            .map(|e| e.version.as_str())
            .collect();
        let orphaned: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| to_run.iter().any(|e| e.version == s.version.as_str()))
            .flat_map(|s| {
                s.dependencies
                    .iter()
                    .filter(|d| excluded.contains(d.as_str()))
                    .map(move |d| format!("{} needs {d}", s.version))
            })
            .collect();
        if !orphaned.is_empty() {
            return Err(DeployError::Blocked {
                message: format!(
                    "dependencies are excluded from {} by @env: {}",
                    opts.environment,
                    orphaned.join(", ")
                ),
                help: "widen the dependency's `-- @env:` line, or remove the dependency".into(),
            });
        }
        let late: Vec<&str> = to_run
            .iter()
            .filter(|e| matches!(e.state, State::Pending { out_of_order: true }))
            .map(|e| e.version.as_str())
            .collect();
        if !late.is_empty() {
            match opts.out_of_order {
                OutOfOrder::Deny => return Err(DeployError::Blocked {
                    message: format!(
                        "pending migrations are dated before applied ones: {}",
                        late.join(", ")
                    ),
                    help:
                        "rename them with a current date, or set [migrations] out_of_order = \"warn\""
                            .into(),
                }),
                OutOfOrder::Warn => self.out.warn(format!(
                    "running out of order (dated before applied migrations): {}",
                    late.join(", ")
                )),
                OutOfOrder::Allow => {}
            }
        }
        Ok(to_run)
    }

    /// A repeatable that failed with the text its file still has: it would fail again, so it
    /// waits for a change of its file or `--retry-failed` (never a checksum lockout).
    fn failed_unchanged(&self, e: &status::Entry) -> bool {
        if self.opts.retry_failed || !matches!(e.state, State::Failed { .. }) {
            return false;
        }
        let Some(m) = Version::parse_reference(&e.version)
            .ok()
            .and_then(|v| self.set.get(&v))
        else {
            return false;
        };
        m.is_repeatable() && e.checksum.as_deref() == Some(m.checksum.as_str())
    }

    /// Everything is prepared before anything runs: a missing variable stops the run here.
    /// Returns the prepared files and the plan to show (an `Event::Plan`).
    fn prepare_all<'s>(
        &self,
        to_run: &[&'s status::Entry],
    ) -> Result<(Vec<Ready<'s>>, Event), DeployError>
    where
        'a: 's,
    {
        let mut prepared = Vec::new();
        let mut problems = Vec::new();
        let mut variables = std::collections::BTreeSet::new();
        let migrations: Vec<(&crate::migration::Migration, &status::Entry)> = to_run
            .iter()
            .filter_map(|e| {
                Some((
                    self.set.get(&Version::parse_reference(&e.version).ok()?)?,
                    *e,
                ))
            })
            .collect();
        // Parsing and checksums are CPU work: spread over the cores while nothing runs yet.
        // (The first question about the cores reads the cgroup's files: not for a deploy with
        // nothing to do.)
        let jobs = match migrations.len() {
            0 | 1 => 1,
            _ => {
                crate::memory::many_files();
                crate::parallel::cores()
            }
        };
        let results = crate::parallel::map(migrations.iter().collect(), 1, jobs, |(m, _)| {
            prepare(m, self.opts.values)
        });
        for ((m, e), r) in migrations.iter().zip(results) {
            match r {
                Ok(p) => {
                    variables.extend(p.variables.iter().cloned());
                    prepared.push((p, *e, *m));
                }
                Err(mut why) => problems.append(&mut why),
            }
        }
        if !problems.is_empty() {
            return Err(DeployError::Blocked {
                message: format!("nothing was run:\n  {}", problems.join("\n  ")),
                help: "psql variables come from --var NAME=VALUE, the environment (NAME upper-cased), .env, or [variables] in pgshift.toml".into(),
            });
        }
        let plan = Event::Plan {
            to_run: prepared
                .iter()
                .map(|(p, e, _)| PlanItem {
                    version: p.version.clone(),
                    mode: p.mode.to_string(),
                    out_of_order: matches!(e.state, State::Pending { out_of_order: true }),
                })
                .collect(),
            variables: variables.into_iter().collect(),
            dry_run: self.opts.dry_run != DryRun::Off,
            backup: self
                .opts
                .backup
                .as_ref()
                .filter(|_| !prepared.is_empty())
                .map(|b| b.dir.display().to_string()),
            undo: false,
            rehearse: self.opts.dry_run == DryRun::Rehearse,
        };
        Ok((prepared, plan))
    }

    /// Applies the prepared migrations in order; stops at the first failure.
    async fn apply_all(
        &self,
        prepared: &[Ready<'_>],
        rows: &[crate::db::tracking::AppliedRow],
        notices: &mut Notices,
    ) -> Result<Outcome, DeployError> {
        // SIGINT and SIGTERM are finished here: the statement cancelled, rolled back, recorded.
        let _handling = crate::interrupt::Handling::start();
        let (spec, opts, client, out) = (self.spec, self.opts, self.client, self.out);
        let applier = Applier::new(
            Setup {
                client,
                tracking: &opts.tracking,
                environment: opts.environment.as_str(),
                timeout: opts.timeout,
                interrupt: opts.interrupt.clone(),
                session_sql: self.session,
                lock_retries: opts.lock_retries,
                debug: opts.debug,
                async_commit: true,
            },
            self.run_id.clone(),
            spec,
            out,
        );
        let ctx = applier.context();
        let total = prepared.len();
        let mut outcome = Outcome::default();
        for (index, (p, entry, m)) in prepared.iter().enumerate() {
            if applier.interrupted() {
                outcome.interrupted = true;
                break;
            }
            if self.stop_requested() {
                self.stopped_before(p).await;
                outcome.interrupted = true;
                break;
            }
            if entry.state == State::Covered {
                self.record_covered(&ctx, p).await?;
                continue;
            }
            applier.starting(&p.version, index + 1, total, p.mode.to_string());
            let resume = self.resume_point(p, entry, rows).await?;
            let label = spec
                .progress_label()
                .map(|base| progress_name(&base, index + 1, total, &p.version));
            let start = Instant::now();
            let stop = || self.stop_requested();
            let result = applier
                .run(p, notices, &stop, || {
                    execute::apply(&ctx, p, resume, label.as_deref())
                })
                .await;
            let result = match result {
                Err(f)
                    if p.record_text.is_some()
                        && !f.bookkeeping
                        && super::replace::cannot_replace(f.sqlstate.as_deref()) =>
                {
                    let run = Rerun {
                        applier: &applier,
                        ctx: &ctx,
                        label: label.as_deref(),
                    };
                    self.replace_whole(p, f, &run, notices).await
                }
                r => r,
            };
            match result {
                Ok(t) => {
                    outcome.applied += 1;
                    out.emit(Event::Applied {
                        version: p.version.clone(),
                        ms: t.as_millis(),
                    });
                }
                Err(f) => {
                    outcome.failed = true;
                    outcome.interrupted = matches!(f.cause, Cause::Interrupted | Cause::Stopped);
                    self.failed(&applier, &ctx, (p, m), f, start.elapsed())
                        .await;
                    break;
                }
            }
        }
        Ok(outcome)
    }

    /// A migration failed: recorded (or said that it could not be), and told with what
    /// stayed and what to do.
    async fn failed(
        &self,
        applier: &Applier<'_, '_>,
        ctx: &crate::db::execute::RunContext<'_>,
        (p, m): (&execute::Prepared, &crate::migration::Migration),
        f: execute::Failure,
        took: std::time::Duration,
    ) {
        let position = f
            .offset
            .map(|o| m.locate(p.sub.to_source(o), 1).to_string());
        let recorded = execute::record_failure(ctx, p, &f, position.as_deref(), took).await;
        if let Err(e) = recorded {
            self.out.warn(format!(
                "could not record the failure of {} in {}: {}",
                p.version,
                self.opts.tracking.display(),
                db_err(e)
            ));
        }
        let invalid = match f.statement.and_then(|i| p.statements.get(i)) {
            Some(s) if f.cause != Cause::ConnectionLost => {
                execute::invalid_index(self.client, s).await.ok().flatten()
            }
            _ => None,
        };
        let help = after_failure(p, &f, invalid.as_deref());
        applier.failed(&p.version, f, position, help);
    }

    /// A baseline whose replaced versions are all recorded: recorded (one statement, its
    /// event `squashed`), not run.
    async fn record_covered(
        &self,
        ctx: &crate::db::execute::RunContext<'_>,
        p: &execute::Prepared,
    ) -> Result<(), DeployError> {
        let sql = execute::recorded_sql(ctx, p, "0", "squashed");
        self.client.batch_execute(&sql).await.map_err(db_err)?;
        self.out.emit(Event::Skipped {
            version: p.version.clone(),
            reason: "a baseline of versions this database has: recorded, not run".into(),
        });
        Ok(())
    }

    /// A repeatable whose CREATE OR REPLACE the server refused runs again, its objects dropped
    /// first with what depends on them, and those made again after it, in its transaction.
    async fn replace_whole(
        &self,
        p: &execute::Prepared,
        refused: execute::Failure,
        run: &Rerun<'_, '_, '_>,
        notices: &mut Notices,
    ) -> Result<std::time::Duration, execute::Failure> {
        let c = super::replace::Context {
            client: self.client,
            set: self.set,
            values: self.opts.values,
            run: run.ctx,
            out: self.out,
        };
        let (mut q, after) = super::replace::whole(&c, p, refused).await?;
        q.also = format!("{after}{}", p.also);
        let stop = || self.stop_requested();
        run.applier
            .run(&q, notices, &stop, || {
                execute::apply(run.ctx, &q, 0, run.label)
            })
            .await
            .map_err(|f| super::replace::dependents_failed(&p.version, f))
    }

    /// Where a partial no-transaction run resumes: after the statements that ran (they stay
    /// run), dropping the INVALID index a failed CONCURRENTLY statement left.
    async fn resume_point(
        &self,
        p: &Prepared,
        entry: &status::Entry,
        rows: &[crate::db::tracking::AppliedRow],
    ) -> Result<usize, DeployError> {
        let State::Partial {
            statements_done, ..
        } = &entry.state
        else {
            return Ok(0);
        };
        if !matches!(p.mode, Mode::Autocommit { .. }) {
            return Ok(0);
        }
        let resume = (*statements_done).max(0) as usize;
        // Resume after them even when the file was edited since (usually to fix the failing
        // statement), and say so.
        if rows_checksum(rows, &p.version) != Some(p.checksum.get().as_str()) {
            self.out.warn(format!(
                "{} changed since its partial run; its first {resume} statement(s) ran as they were then and are not run again",
                p.version
            ));
        }
        let dropped = match p.statements.get(resume) {
            Some(s) => execute::drop_invalid_index(self.client, s)
                .await
                .map_err(db_err)?,
            None => None,
        };
        self.out.emit(Event::Resumed {
            version: p.version.clone(),
            from_statement: resume + 1,
            dropped_invalid_index: dropped,
        });
        Ok(resume)
    }

    /// `NOTIFY pgrst, 'reload schema'` when PostgREST serves this database (Supabase): its
    /// roles were granted something here (`crate::supabase::API_EVIDENCE`).
    async fn notify_postgrest(&self) -> Result<(), DeployError> {
        if !self.opts.notify_pgrst {
            return Ok(());
        }
        let any_schema: Option<Vec<String>> = None;
        let rows = self
            .client
            .query_typed(
                &format!("SELECT {} IS NOT NULL", crate::supabase::API_EVIDENCE),
                &[(&any_schema, tokio_postgres::types::Type::TEXT_ARRAY)],
            )
            .await
            .map_err(db_err)?;
        let present = rows
            .first()
            .and_then(|r| r.try_get::<_, Option<bool>>(0).ok().flatten())
            .unwrap_or(false);
        if present {
            self.client
                .batch_execute("NOTIFY pgrst, 'reload schema'")
                .await
                .map_err(db_err)?;
            self.out.emit(Event::Notified {
                channel: "pgrst".into(),
            });
        }
        Ok(())
    }

    /// `--dry-run=rehearse`: runs the pending migrations in one transaction, one statement
    /// per message as a deploy does, reports timings, the locks each took, and the first
    /// error, then rolls everything back.
    async fn rehearse(
        &self,
        prepared: &[Ready<'_>],
        notices: &mut Notices,
    ) -> Result<Outcome, DeployError> {
        let (client, out) = (self.client, self.out);
        client.batch_execute("BEGIN").await.map_err(db_err)?;
        let mut outcome = Outcome::default();
        // Which earlier migration of the rehearsal first locked a relation: a later one that
        // names it takes no new lock here, but will in the real deploy.
        let mut first_locked: std::collections::HashMap<u32, (usize, String)> = Default::default();
        for (n, (p, entry, m)) in prepared.iter().enumerate() {
            if entry.state == State::Covered {
                out.emit(Event::Skipped {
                    version: p.version.clone(),
                    reason: "a baseline of versions this database has: a deploy records it, runs nothing".into(),
                });
                continue;
            }
            if p.mode != Mode::Transaction {
                out.emit(Event::Skipped {
                    version: p.version.clone(),
                    reason: format!("runs with {}; a rehearsal cannot roll it back", p.mode),
                });
                continue;
            }
            // What this session holds before the migration: what it takes is what is new.
            let before = lock_state(client).await.map_err(db_err)?;
            let named = named_relations(client, p).await.map_err(db_err)?;
            let start = Instant::now();
            let mut failed = None;
            for (i, s) in p.statements.iter().enumerate() {
                let prefix = if i == 0 {
                    "SAVEPOINT pgshift_rehearsal;\n"
                } else {
                    ""
                };
                let ran = match &s.copy {
                    Some(data) => match client.batch_execute(prefix).await {
                        Ok(()) => {
                            execute::copy_rows(client, s.text(&p.sub.text), data.as_str()).await
                        }
                        Err(e) => Err(e),
                    },
                    None => {
                        client
                            .batch_execute(&format!("{prefix}{}", s.text(&p.sub.text)))
                            .await
                    }
                };
                if let Err(e) = ran {
                    failed = Some((e, i, if s.copy.is_some() { "" } else { prefix }));
                    break;
                }
            }
            drain(notices, &p.version, out);
            if let Some((e, i, prefix)) = failed {
                let f = execute::describe(&e, prefix, i, &p.statements[i], &p.sub.text);
                let position = f
                    .offset
                    .map(|o| m.locate(p.sub.to_source(o), 1).to_string());
                outcome.failed = true;
                out.emit(Event::Failed {
                    version: p.version.clone(),
                    sqlstate: f.sqlstate.clone(),
                    help: format!(
                        "a rehearsal changes nothing: fix {} and rehearse again",
                        m.path.display()
                    ),
                    message: f.message,
                    position,
                    detail: f.detail,
                    hint: f.hint,
                });
                break;
            }
            let ms = start.elapsed().as_millis();
            let after = lock_state(client).await.map_err(db_err)?;
            let mut locks = lock_summary(&before, &after);
            for l in after.held.difference(&before.held) {
                first_locked
                    .entry(l.oid)
                    .or_insert((n + 1, p.version.clone()));
            }
            locks.extend(already_locked(&before, &after, &named, &first_locked));
            outcome.applied += 1;
            out.emit(Event::Rehearsed {
                version: p.version.clone(),
                ms,
                locks,
            });
        }
        let _ = client.batch_execute("ROLLBACK").await;
        Ok(outcome)
    }
}

/// The relations a migration names (from its parse tree) that exist now, by oid.
async fn named_relations(
    client: &tokio_postgres::Client,
    p: &Prepared,
) -> Result<Vec<u32>, tokio_postgres::Error> {
    let mut schemas: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for s in &p.statements {
        let Ok(tree) = pg_query::parse(s.text(&p.sub.text), 0) else {
            continue;
        };
        for t in tree.tables() {
            let (schema, name) = t.rsplit_once('.').unwrap_or(("", t.as_str()));
            schemas.push(schema.to_string());
            names.push(name.to_string());
        }
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT DISTINCT c.oid FROM unnest($1::text[], $2::text[]) AS x(s, r)
               JOIN pg_class c ON c.relname = x.r JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = x.s OR (x.s = '' AND pg_table_is_visible(c.oid))",
            &[&schemas, &names],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `auth.users: already locked by #1 2026-01-01_x (SHARE ROW EXCLUSIVE) …` for each relation a
/// migration names that an earlier migration of the rehearsal locked (so this one took no new
/// lock on it here), and that it did not lock more strongly itself.
fn already_locked(
    before: &LockState,
    after: &LockState,
    named: &[u32],
    first_locked: &std::collections::HashMap<u32, (usize, String)>,
) -> Vec<String> {
    let new: std::collections::HashSet<u32> =
        after.held.difference(&before.held).map(|l| l.oid).collect();
    let mut out = Vec::new();
    for oid in named {
        if new.contains(oid) {
            continue;
        }
        let (Some((n, version)), Some(strongest)) = (
            first_locked.get(oid),
            before
                .held
                .iter()
                .filter(|l| l.oid == *oid)
                .max_by_key(|l| LOCK_MODES.iter().position(|m| *m == l.mode)),
        ) else {
            continue;
        };
        out.push(format!(
            "{}: already locked by #{n} {version} in this rehearsal (held: {}); the real deploy locks it again in this migration's own transaction",
            strongest.relation,
            lock_words(&strongest.mode)
        ));
    }
    out
}

/// `ShareRowExclusiveLock` → `SHARE ROW EXCLUSIVE`.
fn lock_words(mode: &str) -> String {
    let mut words = String::new();
    for c in mode.trim_end_matches("Lock").chars() {
        if c.is_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.push(c.to_ascii_uppercase());
    }
    words
}

/// A relation lock this session holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HeldLock {
    oid: u32,
    relation: String,
    mode: String,
}

/// What the session holds, and which relations exist, before a migration of a rehearsal.
struct LockState {
    held: std::collections::HashSet<HeldLock>,
    existing: std::collections::HashSet<u32>,
}

async fn lock_state(client: &tokio_postgres::Client) -> Result<LockState, tokio_postgres::Error> {
    let user = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'";
    let held = client
        .query(
            &format!(
                "SELECT c.oid, format('%I.%I', n.nspname, c.relname), l.mode
                 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation' AND {user}"
            ),
            &[],
        )
        .await?;
    let existing = client
        .query(
            &format!("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user}"),
            &[],
        )
        .await?;
    Ok(LockState {
        held: held
            .iter()
            .map(|r| HeldLock {
                oid: r.get(0),
                relation: r.get(1),
                mode: r.get(2),
            })
            .collect(),
        existing: existing.iter().map(|r| r.get(0)).collect(),
    })
}

/// PostgreSQL's lock modes, weakest first, as `pg_locks.mode` names them.
const LOCK_MODES: [&str; 8] = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

/// `public.users ACCESS EXCLUSIVE (blocks reads and writes)` for each relation that existed
/// before the migration and that it locked, with the strongest lock it took (objects it
/// creates itself lock nobody).
fn lock_summary(before: &LockState, after: &LockState) -> Vec<String> {
    let mut strongest: std::collections::BTreeMap<&str, usize> = Default::default();
    for l in after
        .held
        .difference(&before.held)
        .filter(|l| before.existing.contains(&l.oid))
    {
        let rank = LOCK_MODES.iter().position(|m| *m == l.mode).unwrap_or(0);
        let e = strongest.entry(l.relation.as_str()).or_insert(rank);
        *e = (*e).max(rank);
    }
    strongest
        .into_iter()
        .map(|(relation, rank)| {
            let words = lock_words(LOCK_MODES[rank]);
            let blocks = match rank {
                7 => " (blocks reads and writes)",
                4..=6 => " (blocks writes)",
                _ => "",
            };
            format!("{relation} {words}{blocks}")
        })
        .collect()
}

/// `application_name` while a migration runs: `pgshift[pid@host] 3/10 2026-01-21_x`, cut to
/// the server's 63 bytes.
fn progress_name(base: &str, index: usize, total: usize, version: &str) -> String {
    let mut name = format!("{base} {index}/{total} {version}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// What stayed of a failed migration and what the next `pgshift migrate` does with it.
fn after_failure(p: &Prepared, f: &Failure, invalid_index: Option<&str>) -> String {
    let v = &p.version;
    let n = p.statements.len();
    match (&p.mode, f.cause) {
        (Mode::Autocommit { .. }, Cause::ConnectionLost) => {
            let done = f.statements_done.unwrap_or(0);
            format!(
                "the connection broke while {v} ran without a transaction: statement(s) 1–{done} of {n} ran, stay applied and are recorded; statement {} was rolled back by the server. Check that the server is up and reachable, then run `pgshift migrate` again: it resumes at statement {}",
                done + 1,
                done + 1
            )
        }
        (_, Cause::ConnectionLost) => format!(
            "the connection broke while {v} ran: the server rolls back the open transaction, and the failure could not be recorded. Check that the server is up and reachable, then run `pgshift migrate` again"
        ),
        (Mode::Transaction, _) => format!(
            "nothing of {v} was kept (its transaction was rolled back); earlier migrations stay applied and recorded. {}, then run `pgshift migrate` again",
            fix(f)
        ),
        (Mode::Autocommit { .. }, _) => {
            let done = f.statements_done.unwrap_or(0);
            let mut t = if done == 0 {
                format!("no statement of {v} completed (it runs without a transaction, statement by statement). ")
            } else {
                format!(
                    "{v} runs without a transaction: statement(s) 1–{done} of {n} ran and stay applied; statement {} failed. ",
                    done + 1
                )
            };
            if let Some(i) = invalid_index {
                t.push_str(&format!(
                    "The failed statement left the INVALID index {i}; the rerun drops it first. "
                ));
            }
            t.push_str(&format!(
                "{}, then run `pgshift migrate` again: it resumes at statement {}",
                fix(f),
                done + 1
            ));
            t
        }
        (Mode::AsWritten, _) => format!(
            "{v} controls its own transactions: what it committed before statement {} stays applied, the open transaction was rolled back. Check the database, fix the file, and run `pgshift migrate` again: it runs {v} from its first statement",
            f.statement.map_or(1, |i| i + 1)
        ),
    }
}

fn fix(f: &Failure) -> String {
    match f.cause {
        Cause::Timeout => "Make it faster (or batch it), or raise TIMEOUT".into(),
        Cause::Interrupted | Cause::Stopped => "The file is not at fault: when ready".into(),
        // invalid_transaction_termination: a procedure (defined in another file) or a DO block
        // ended the transaction pgshift runs the file in.
        Cause::Error if f.sqlstate.as_deref() == Some("2D000") => {
            "The statement commits or rolls back (a procedure or DO block that does), which it cannot do inside the migration's transaction: add `-- @no-transaction` to the file's header so it runs statement by statement".into()
        }
        Cause::Error => match crate::supabase::missing_schema(f.sqlstate.as_deref(), &f.message) {
            Some(schema) => format!(
                "Schema {schema} is one a Supabase project gives its migrations: on plain PostgreSQL run `pgshift test --supabase` (or set `[supabase] project = true` in pgshift.toml once), which loads a stub of it; against a Supabase project, check DATABASE_URL points at it"
            ),
            None => "Fix the file".into(),
        },
        Cause::ConnectionLost => "Fix the file".into(),
    }
}

fn rows_checksum<'a>(
    rows: &'a [crate::db::tracking::AppliedRow],
    version: &str,
) -> Option<&'a str> {
    rows.iter()
        .find(|r| r.version == version)
        .map(|r| r.checksum.as_str())
}

/// What running a file again needs: the run's applier and context, the progress label.
struct Rerun<'r, 'a, 'e> {
    applier: &'r Applier<'a, 'e>,
    ctx: &'r crate::db::execute::RunContext<'r>,
    label: Option<&'r str>,
}

/// A baseline of which the database has some replaced versions, not all, refuses the deploy.
fn refuse_partly_covered(status: &Status) -> Result<(), DeployError> {
    let partly: Vec<String> = status
        .entries
        .iter()
        .filter_map(|e| match &e.state {
            State::PartlyCovered { missing } => {
                Some(format!("{} (lacks {})", e.version, missing.join(", ")))
            }
            _ => None,
        })
        .collect();
    if partly.is_empty() {
        return Ok(());
    }
    Err(DeployError::Blocked {
        message: format!(
            "this database has some of the versions a baseline replaces, not all: {}",
            partly.join("; ")
        ),
        help: "deploy the missing versions first with the migrations as they were before the squash (they are in `squashed/` and in git), then deploy this set".into(),
    })
}
