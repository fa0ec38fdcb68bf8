//! `pgshift migrate --targets FILE [--shard I/N]`: the same migrations deployed to many
//! databases (tenants, shards, regions), PARALLEL_JOBS at a time. Each target is an ordinary
//! deploy (its own lock, backup, gate, records and health check); one failing does not stop
//! the others. The set is validated once, the fleet is confirmed once (by the targets file's
//! name), and one table, one job summary and one notification say how every target went.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::{DatabaseUrl, DryRun, Environment, Secret, Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::deploy::gate::Operation;
use crate::report::deploy::DeployReport;
use crate::sanitize::escape::{markdown as cell, markdown_code as code, untrusted as u};
use crate::sanitize::redact::remember;

use super::confirm::Gate;
use super::database::{deploy_error, load_and_plan};
use super::migrate::{run_deploy, validate_before};
use super::{exit, CliError, MigrateArgs, Output};
use crate::interrupt::requested as interrupted;
use crate::pipeline::Safety;

/// One line of the targets file.
#[derive(Debug, Clone)]
pub struct Target {
    /// What is shown: `user@host:port/db`, or the variable's name. Never a password.
    pub label: String,
    /// The URL, or why there is none (a variable that is not set, a URL that does not parse).
    pub url: Result<Secret, String>,
}

/// Reads the targets: one URL or environment variable name per line (`#` comments, blank lines
/// skipped), or, for a `.toml` file, `targets = ["…", …]`.
pub fn read_targets(path: &Path, vars: &VarSource) -> Result<Vec<Target>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(
            format!("cannot read the targets file {}: {e}", path.display()),
            Some(
                "pass the file with --targets FILE: one database URL or variable name per line"
                    .into(),
            ),
        )
    })?;
    let entries: Vec<(usize, String)> = if path.extension().is_some_and(|e| e == "toml") {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            targets: Vec<String>,
        }
        let f: File = toml::from_str(&text).map_err(|e| {
            CliError::usage(
                format!("invalid {}: {}", path.display(), e.message()),
                Some("write `targets = [\"TENANT_A_URL\", \"postgresql://…\"]`".into()),
            )
        })?;
        f.targets
            .into_iter()
            .enumerate()
            .map(|(i, t)| (i + 1, t))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, without_comment(l).trim().to_string()))
            .filter(|(_, l)| !l.is_empty())
            .collect()
    };
    let mut targets = Vec::with_capacity(entries.len());
    let mut seen = HashSet::new();
    for (line, entry) in entries {
        let is_name = entry
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let target = if is_name {
            Target {
                label: entry.clone(),
                url: vars
                    .get(&entry)
                    .map(|(v, _)| Secret::new(v))
                    .ok_or_else(|| format!("the variable {entry} is not set")),
            }
        } else {
            remember(&entry);
            match ConnectionSpec::parse(&entry) {
                Ok(spec) => Target {
                    label: spec.describe(),
                    url: Ok(Secret::new(entry.clone())),
                },
                // The parser's reason names an option or a position, never a piece of the
                // password.
                Err(e) => Target {
                    label: format!("line {line}"),
                    url: Err(format!(
                        "line {line} of {} is neither a connection URL nor a variable name: {}",
                        path.display(),
                        e.message
                    )),
                },
            }
        };
        if !seen.insert(target.label.clone()) {
            return Err(CliError::usage(
                format!(
                    "{} lists {} twice (line {line})",
                    path.display(),
                    u(&target.label)
                ),
                Some("each database once: two deploys of one database would wait for each other's lock".into()),
            ));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// A line without its comment: `#` starts one at the start of the line or after whitespace
/// only, so that a `#` inside a URL (a password's) is kept.
fn without_comment(line: &str) -> &str {
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_blank {
            return &line[..i];
        }
        prev_blank = c.is_whitespace();
    }
    line
}

/// `I/N`: the I-th of N shards (1-based).
pub fn parse_shard(s: &str) -> Result<(usize, usize), CliError> {
    let bad = || {
        CliError::usage(
            format!("--shard {s}: expected I/N with 1 ≤ I ≤ N, e.g. 2/4"),
            Some("a CI matrix of N jobs passes --shard ${{ matrix.shard }}/N".into()),
        )
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The targets of shard `i` of `n`: every n-th, starting with the i-th.
pub fn shard<T>(targets: Vec<T>, (i, n): (usize, usize)) -> Vec<T> {
    targets
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % n == i - 1)
        .map(|(_, t)| t)
        .collect()
}

/// How one target went.
#[derive(Debug, Clone)]
struct Outcome {
    label: String,
    /// `ok`, `FAILED` (a migration or the health check) or `error` (it could not start).
    status: &'static str,
    report: DeployReport,
    ms: u128,
    code: u8,
    /// Deploys tried again after a catalog race with another target.
    retries: u32,
}

impl Outcome {
    fn detail(&self) -> String {
        let detail = self.what_happened();
        match (self.retries, detail.is_empty()) {
            (0, _) => detail,
            (n, true) => {
                format!("deployed again {n} time(s) after a catalog race with another target")
            }
            (n, false) => format!(
                "{detail} (deployed again {n} time(s) after a catalog race with another target)"
            ),
        }
    }

    fn what_happened(&self) -> String {
        if let Some(f) = &self.report.failed {
            return format!("{}: {}", f.version, f.message);
        }
        if let Some(e) = &self.report.error {
            return e.clone();
        }
        if let Some((line, true)) = &self.report.health {
            return line.clone();
        }
        if self.report.dry_run {
            return format!("{} pending", self.report.pending);
        }
        String::new()
    }
}

pub fn run(
    settings: &Settings,
    vars: &VarSource,
    args: &MigrateArgs,
    targets_file: &Path,
    out: &Output,
) -> Result<u8, CliError> {
    let started = Instant::now();
    let all = read_targets(targets_file, vars)?;
    let listed = all.len();
    let shard_of = args.shard.as_deref().map(parse_shard).transpose()?;
    let targets = match shard_of {
        Some(s) => shard(all, s),
        None => all,
    };
    let file_name = targets_file.file_name().map_or_else(
        || targets_file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let shard_text = shard_of.map_or(String::new(), |(i, n)| format!(", shard {i}/{n}"));
    if targets.is_empty() {
        out.line(&format!(
            "No target to deploy: {} lists {listed} database(s){shard_text}.",
            u(&file_name)
        ));
        return Ok(exit::OK);
    }

    // Once for the whole fleet: the files, the rules, and the confirmation.
    let (set, plan) = load_and_plan(settings, out)?;
    validate_before(settings, vars, &set, out)?;
    let fixed = super::migrate::values(&args.vars)?;
    if settings.environment != Environment::Development && settings.run.dry_run == DryRun::Off {
        let labels: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
        Gate {
            settings,
            vars,
            out,
            target: format!(
                "the {} database(s) of {}{shard_text}",
                targets.len(),
                file_name
            ),
            database: file_name.clone(),
        }
        .check(Operation::Migrate, &labels, &[])
        .map_err(deploy_error)?;
    }

    let jobs = settings.deploy.parallel_jobs.clamp(1, targets.len());
    if !out.json {
        out.line(&format!(
            "Deploying to {} database(s) of {}{shard_text}, {jobs} at a time ({}).",
            targets.len(),
            u(&file_name),
            settings.environment
        ));
    }
    // The targets finish an interruption each (the running migration rolled back); no more
    // start, and the table says which.
    let _handling = crate::interrupt::Handling::start();
    let silent = Output {
        silent: true,
        quiet: true,
        ..*out
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; targets.len()]);
    let total = targets.len();
    let fleet = Fleet {
        settings,
        vars,
        set: &set,
        plan: &plan,
        fixed: &fixed,
        args,
        silent: &silent,
    };
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= total || interrupted() {
                    return;
                }
                let o = fleet.deploy_one(&targets[k]);
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                progress(out, n, total, &o);
                if let Ok(mut r) = results.lock() {
                    r[k] = Some(o);
                }
            });
        }
    });
    let results: Vec<Outcome> = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    let skipped = total - results.len();
    let failed = results.iter().filter(|o| o.status != "ok").count();
    let ms = started.elapsed().as_millis();

    if out.json {
        out.line(
            &serde_json::json!({
                "event": "fleet_done",
                "targets": total,
                "ok": results.len() - failed,
                "failed": failed,
                "not_started": skipped,
                "ms": ms,
            })
            .to_string(),
        );
    } else {
        out.line(&table(
            &results,
            total,
            skipped,
            &file_name,
            &shard_text,
            jobs,
            ms,
        ));
    }
    let markdown = markdown(
        &results,
        skipped,
        &file_name,
        &shard_text,
        settings.environment,
    );
    super::summary::step_summary(&markdown, out);
    notify(settings, &results, skipped, &file_name, &shard_text, out);
    Ok(
        if interrupted() || results.iter().any(|o| o.code == exit::INTERRUPTED) {
            exit::INTERRUPTED
        } else if failed > 0 || skipped > 0 {
            exit::FINDINGS
        } else {
            exit::OK
        },
    )
}

/// How often a target is tried again after a catalog race with another target.
const RACE_RETRIES: u32 = 10;

/// One target: an ordinary deploy, printing nothing; its story comes back.
///
/// Targets on one server share its roles (and tablespaces): a migration that alters a role runs
/// on several targets at once, and PostgreSQL refuses all but one of the concurrent updates of
/// the role's row ("tuple concurrently updated"). The refused migration was rolled back whole,
/// so the target is simply deployed again, after a short random pause, like a person would.
/// What every target's deploy shares: the settings, the set validated once, the flags.
struct Fleet<'a> {
    settings: &'a Settings,
    vars: &'a VarSource,
    set: &'a crate::migration::MigrationSet,
    plan: &'a crate::plan::Plan,
    fixed: &'a BTreeMap<String, String>,
    args: &'a MigrateArgs,
    silent: &'a Output,
}

impl Fleet<'_> {
    fn deploy_one(&self, target: &Target) -> Outcome {
        let settings = self.settings;
        let started = Instant::now();
        let mut retries = 0;
        let mut applied = Vec::new();
        let (code, mut report) = loop {
            let mut report = DeployReport::new(&target.label, &settings.environment.to_string());
            let code = match self.attempt(target, &mut report) {
                Ok(c) => c,
                Err(e) => {
                    report.error(&e.message);
                    e.code
                }
            };
            applied.append(&mut report.applied);
            let race = report
                .failed
                .as_ref()
                .is_some_and(|f| catalog_race(&f.message));
            if race && retries < RACE_RETRIES && !interrupted() {
                retries += 1;
                let jitter = 50
                    + (std::process::id() as u64 * 7919 + started.elapsed().as_nanos() as u64)
                        % 250;
                std::thread::sleep(std::time::Duration::from_millis(
                    jitter * u64::from(retries),
                ));
                continue;
            }
            break (code, report);
        };
        report.applied = applied;
        let status = if report.error.is_some() && report.failed.is_none() {
            "error"
        } else if code == exit::OK {
            "ok"
        } else {
            "FAILED"
        };
        Outcome {
            label: target.label.clone(),
            status,
            report,
            ms: started.elapsed().as_millis(),
            code,
            retries,
        }
    }

    /// One deploy of one target.
    fn attempt(&self, target: &Target, report: &mut DeployReport) -> Result<u8, CliError> {
        let Fleet {
            settings,
            vars,
            set,
            plan,
            fixed,
            args,
            silent,
        } = *self;
        let url = target.url.clone().map_err(|m| CliError::usage(m, None))?;
        let mut s = settings.clone();
        s.database_url = Some(DatabaseUrl {
            url,
            source: "--targets".into(),
        });
        // Each target's backups in a folder of its own: two targets backed up in the same second
        // never share a file name.
        s.backup.dir = settings.backup.dir.join(folder_name(&target.label));
        let spec = super::database::spec(&s, vars, silent)?;
        // The fleet was confirmed as a whole; each target's gate still checks FORCE_RUN.
        s.run.confirm = Some(spec.database());
        report.target = spec.describe();
        run_deploy(
            &s,
            vars,
            &spec,
            set,
            plan,
            fixed,
            args.target.as_deref(),
            Safety {
                gate: true,
                backup: !s.deploy.skip_backup,
                health: !args.skip_health,
                validate: false,
            },
            silent,
            report,
        )
    }
}

/// Whether a failure is a race with another target on the same server over a shared catalog
/// (roles, role memberships and settings, databases, tablespaces, their comments): an update of
/// the same row ("tuple concurrently updated"), or the same name created twice at once (a
/// unique index of a shared catalog), which an `IF NOT EXISTS` guard cannot see coming.
fn catalog_race(message: &str) -> bool {
    const SHARED: [&str; 8] = [
        "\"pg_authid_",
        "\"pg_auth_members_",
        "\"pg_database_",
        "\"pg_tablespace_",
        "\"pg_shdescription_",
        "\"pg_shseclabel_",
        "\"pg_db_role_setting_",
        "\"pg_shdepend_",
    ];
    message.contains("tuple concurrently updated")
        || (message.contains("duplicate key value violates unique constraint")
            && SHARED.iter().any(|s| message.contains(s)))
}

/// A folder name for a target's backups: its label with every unusual character as `_`.
fn folder_name(label: &str) -> PathBuf {
    let name: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(name.trim_matches('_').to_string())
}

/// A line per finished target (`[n/total]`).
fn progress(out: &Output, n: usize, total: usize, o: &Outcome) {
    if out.json {
        out.line(
            &serde_json::json!({
                "event": "target",
                "target": o.label,
                "status": o.status,
                "applied": o.report.applied.len(),
                "ms": o.ms,
                "detail": o.detail(),
            })
            .to_string(),
        );
        return;
    }
    let width = total.to_string().len();
    out.line(&format!(
        "  [{n:>width$}/{total}] {:<6} {}  {} applied, {:.1} s{}",
        o.status,
        u(&o.label),
        o.report.applied.len(),
        o.ms as f64 / 1000.0,
        match o.detail() {
            d if d.is_empty() => String::new(),
            d => format!("  {}", u(&d)),
        }
    ));
}

fn table(
    results: &[Outcome],
    total: usize,
    skipped: usize,
    file: &str,
    shard: &str,
    jobs: usize,
    ms: u128,
) -> String {
    let ok = results.iter().filter(|o| o.status == "ok").count();
    let width = results
        .iter()
        .map(|o| o.label.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut t = format!(
        "\n{total} target(s) of {}{shard}, {jobs} at a time, in {:.1} s:\n  {:<6}  {:<width$}  {:>7}  {:>7}  detail\n",
        u(file),
        ms as f64 / 1000.0,
        "status",
        "target",
        "applied",
        "time"
    );
    for o in results {
        t.push_str(&format!(
            "  {:<6}  {:<width$}  {:>7}  {:>5.1} s  {}\n",
            o.status,
            u(&o.label),
            o.report.applied.len(),
            o.ms as f64 / 1000.0,
            u(&o.detail())
        ));
    }
    t.push_str(&format!(
        "{ok} ok, {} failed{}.",
        results.len() - ok,
        if skipped > 0 {
            format!(", {skipped} not started (interrupted)")
        } else {
            String::new()
        }
    ));
    if results.len() > ok {
        t.push_str(" Each target is independent: fix what failed and run the same command again; targets already up to date do nothing.");
    }
    t
}

fn markdown(
    results: &[Outcome],
    skipped: usize,
    file: &str,
    shard: &str,
    env: Environment,
) -> String {
    let ok = results.iter().filter(|o| o.status == "ok").count();
    let icon = if ok == results.len() && skipped == 0 {
        "✅"
    } else {
        "❌"
    };
    let mut md = format!(
        "## {icon} pgshift fleet deploy: {} ({env}{})\n\n{ok} ok, {} failed, {skipped} not started.\n\n| status | target | applied | time | detail |\n| --- | --- | ---: | ---: | --- |\n",
        cell(file),
        cell(shard),
        results.len() - ok
    );
    for o in results {
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} s | {} |\n",
            o.status,
            code(&o.label),
            o.report.applied.len(),
            o.ms as f64 / 1000.0,
            cell(&o.detail())
        ));
    }
    crate::sanitize::redact::redact(&md).into_owned()
}

/// One message for the whole fleet (not one per target).
fn notify(
    settings: &Settings,
    results: &[Outcome],
    skipped: usize,
    file: &str,
    shard: &str,
    out: &Output,
) {
    let Some(url) = &settings.notify_webhook else {
        return;
    };
    if settings.run.dry_run != DryRun::Off {
        return;
    }
    let bad: Vec<&Outcome> = results.iter().filter(|o| o.status != "ok").collect();
    let mut text = format!(
        "pgshift: fleet deploy of {}{shard} ({}): {} ok, {} failed, {skipped} not started",
        u(file),
        settings.environment,
        results.len() - bad.len(),
        bad.len()
    );
    for o in bad.iter().take(10) {
        text.push_str(&format!(
            "\n{} {}: {}",
            o.status,
            u(&o.label),
            u(&o.detail())
        ));
    }
    if bad.len() > 10 {
        text.push_str(&format!("\n… and {} more", bad.len() - 10));
    }
    let text = crate::sanitize::redact::redact(&text).into_owned();
    super::summary::post(url, &text, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn races_over_shared_catalogs_are_told_from_other_failures() {
        assert!(catalog_race("tuple concurrently updated"));
        assert!(catalog_race(
            "duplicate key value violates unique constraint \"pg_authid_rolname_index\""
        ));
        assert!(!catalog_race(
            "duplicate key value violates unique constraint \"users_pkey\""
        ));
        assert!(!catalog_race("relation \"posts\" already exists"));
    }

    #[test]
    fn shards_split_a_list_without_overlap_or_gap() {
        let all: Vec<usize> = (0..10).collect();
        let mut seen = Vec::new();
        for i in 1..=3 {
            seen.extend(shard(all.clone(), (i, 3)));
        }
        seen.sort();
        assert_eq!(seen, all);
        assert_eq!(shard(all, (2, 3)), [1, 4, 7]);
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_are_urls_or_variable_names_and_never_show_a_password() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tenants.txt");
        std::fs::write(
            &f,
            "# tenants\npostgresql://app:hunter2@db1:5432/t1\n\nTENANT_B   # from the environment\nMISSING\nnot a url\n",
        )
        .unwrap();
        let vars = VarSource::new(
            [("TENANT_B".to_string(), "postgresql://b@db2/t2".to_string())].into(),
            dir.path(),
        )
        .unwrap();
        let t = read_targets(&f, &vars).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].label, "app@db1:5432/t1");
        assert!(t[0].url.is_ok());
        assert_eq!(t[1].label, "TENANT_B");
        assert_eq!(t[1].url.as_ref().unwrap().expose(), "postgresql://b@db2/t2");
        assert_eq!(
            t[2].url.as_ref().unwrap_err(),
            "the variable MISSING is not set"
        );
        assert!(t[3].url.as_ref().unwrap_err().contains("line 6"));
        assert!(t.iter().all(|t| !t.label.contains("hunter2")));

        std::fs::write(&f, "TENANT_B\nTENANT_B\n").unwrap();
        assert!(read_targets(&f, &vars)
            .unwrap_err()
            .message
            .contains("twice"));

        // `#` starts a comment only at the start of a line or after whitespace: a password's
        // `#` stays in its URL.
        std::fs::write(
            &f,
            "postgresql://app:pa#ss@db4/t4 # tenant four\n  # indented comment\npostgresql://app:x@db5/t5#frag\n",
        )
        .unwrap();
        let t = read_targets(&f, &vars).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].url.as_ref().unwrap().expose(),
            "postgresql://app:pa#ss@db4/t4"
        );
        assert_eq!(t[0].label, "app@db4:5432/t4");
        assert_eq!(without_comment("a # b"), "a ");
        assert_eq!(without_comment("#all"), "");
        assert_eq!(without_comment("x#y"), "x#y");

        let toml = dir.path().join("fleet.toml");
        std::fs::write(
            &toml,
            "targets = [\"TENANT_B\", \"postgresql://c@db3/t3\"]\n",
        )
        .unwrap();
        let t = read_targets(&toml, &vars).unwrap();
        assert_eq!(t[1].label, "c@db3:5432/t3");
    }
}
