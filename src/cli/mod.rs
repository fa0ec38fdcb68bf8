//! The command line: flags (clap), and one file per subcommand gluing flags to the library.
//! Nothing here runs SQL; everything printed to the terminal is printed from here.

mod adopt;
mod backup;
mod baseline;
mod confirm;
mod database;
mod deploying;
mod diff;
mod drift;
mod events;
mod fleet;
mod forget;
mod graph;
mod health;
mod history;
mod import;
mod init;
mod man;
mod migrate;
mod new;
mod order;
use crate::report::terminal as output;
mod repair;
mod review;
mod rollback;
mod squash;
mod status;
mod stop;
mod summary;
mod test;
mod validate;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ConfigError, DryRun, Flags, Settings, VarSource};

pub use output::Output;

const EXAMPLES: &str = "\
Examples:
  pgshift order                              show the execution order and why
  pgshift graph --format mermaid             draw the dependency graph
  pgshift new add_user_profiles --depends-on 2026-01-20_create_users_table
  pgshift --env production migrate --confirm mydb
  DATABASE_URL=postgres://… pgshift status";

/// Deploy SQL migrations to PostgreSQL and Supabase without surprises.
#[derive(Debug, Parser)]
#[command(name = "pgshift", version, after_help = EXAMPLES)]
pub struct Cli {
    /// Migrations directory [default: migrations, or `[migrations] dir` in pgshift.toml]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Configuration file [default: ./pgshift.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Environment: development (dev), staging, production (prod) [env: ENVIRONMENT]
    #[arg(long, global = true, value_name = "ENV")]
    pub env: Option<String>,
    /// Database connection URL [env: DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Machine-readable output: JSON (one event per line for long-running commands)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print every statement with its timing [env: DEBUG]
    #[arg(long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check file names, headers, SQL syntax, dependencies and lint rules (no database needed)
    #[command(
        after_help = "Examples:\n  pgshift validate\n  pgshift --env production validate --format github     annotations in a pull request\n  pgshift validate --format sarif > pgshift.sarif         for GitHub code scanning\n  pgshift validate --only syntax,deps"
    )]
    Validate(ValidateArgs),
    /// Security rules only: secrets and dangerous operations
    #[command(after_help = "Example:\n  pgshift scan --format json")]
    Scan(FormatArgs),
    /// Dependency checks; prints the order
    #[command(after_help = "Example:\n  pgshift --dir db/migrations deps")]
    Deps,
    /// Execution order, with the reason for each position
    #[command(after_help = "Example:\n  pgshift --dir examples/eneas-os/migrations order")]
    Order,
    /// Draw the dependency graph
    #[command(after_help = "Example:\n  pgshift graph --format dot | dot -Tsvg > migrations.svg")]
    Graph(GraphArgs),
    /// Apply pending migrations
    #[command(
        visible_alias = "deploy",
        after_help = "Examples:\n  pgshift migrate --dry-run                 what would run\n  pgshift migrate --dry-run=rehearse        run it in a transaction that is rolled back\n  pgshift --env staging migrate --confirm shop_staging\n  FORCE_RUN=true pgshift --env production migrate --confirm shop\n  pgshift migrate --targets tenants.txt --shard 1/4\n  pgshift migrate --var app_password=\"$APP_PASSWORD\" --notify-webhook \"$NOTIFY_WEBHOOK_URL\""
    )]
    Migrate(MigrateArgs),
    /// Emergency stop: cancel the running deploy (from any machine); it rolls back its current migration
    #[command(
        after_help = "Examples:\n  pgshift stop\n  pgshift --env production stop --terminate-after 10    end its session if it has not stopped in 10 s"
    )]
    Stop(StopArgs),
    /// Applied, pending, failed, modified and unknown migrations
    #[command(after_help = "Examples:\n  pgshift status\n  pgshift --json status | jq .counts")]
    Status,
    /// Wait until every migration is applied (an application's start-up); never locks, works on a replica
    #[command(
        after_help = "Examples:\n  pgshift wait                                  up to 300 s, a look every 2 s\n  pgshift wait --timeout 600 --interval 5 && exec ./server\n\nExit 0: every migration is applied; 1: still behind at the timeout (what is missing is named); 2: the database could not be reached or read until the timeout (or refused the password at once). Use the deploying role's connection: pgshift's tables are closed to every other role."
    )]
    Wait(WaitArgs),
    /// Past runs, newest first
    #[command(after_help = "Example:\n  pgshift history --limit 20")]
    History(HistoryArgs),
    /// Undo migrations with their down files (the last run by default)
    #[command(
        after_help = "Examples:\n  pgshift rollback                      the migrations of the last deploy\n  pgshift rollback --to 2026-01-20_create_finances_table --cascade\n  pgshift rollback --from-backup        restore the newest backup"
    )]
    Rollback(RollbackArgs),
    /// Create, list, restore and prune backups
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Check the database: records, tables, indexes, and the security of the exposed schemas
    #[command(
        after_help = "Examples:\n  pgshift health\n  pgshift health --format markdown >> \"$GITHUB_STEP_SUMMARY\""
    )]
    Health(HealthArgs),
    /// Apply every migration to a throwaway PostgreSQL with its data tests, check its health (and the down files)
    #[command(
        after_help = "Examples:\n  pgshift test --rollback\n  pgshift test --supabase --rollback\n  pgshift test --rollback --junit test-results.xml      one JUnit case per step, for CI\n  pgshift test --database-url postgresql://localhost/empty_db\n\nData tests: migrations/tests/<version>.before.sql runs just before that migration, <version>.after.sql just after it (rolled back)."
    )]
    Test(TestArgs),
    /// What turns one schema into another: SQL psql runs, or a summary (FROM and TO: a database URL, a migrations folder, or `empty`)
    #[command(
        after_help = "Examples:\n  pgshift diff --from migrations --to \"$DEV_DATABASE_URL\"                 what the dev database has that the migrations do not make\n  pgshift diff --from empty --to migrations > schema.sql                 the whole schema as one script\n  pgshift diff --from \"$STAGING_URL\" --to \"$PROD_URL\" --format text\n  pgshift diff --from migrations --to \"$DEV_DATABASE_URL\" --write add_orders   write it as a migration pair\n\nExit 0: no difference; 1: differences; 2: error. Destructive statements are comments unless --allow-drop."
    )]
    Diff(DiffArgs),
    /// The database against what its applied migrations build: changes made by hand
    #[command(
        after_help = "Examples:\n  pgshift drift\n  pgshift --env production drift --format github\n  pgshift drift --targets tenants.txt\n\nExit 0: no drift; 1: drift; 2: error. Supabase's platform schemas are left out unless --include-platform; [drift] ignore_schemas and ignore in pgshift.toml."
    )]
    Drift(DriftArgs),
    /// Replace the migrations up to VERSION with one baseline file, proven equal first
    #[command(
        after_help = "Examples:\n  pgshift squash --to 2026-03-31_add_invoices\n  pgshift squash --to 2026-03-31_add_invoices --supabase --targets tenants.txt\n\nThe baseline (schema from the catalogs, then the rows the migrations wrote) is written only once a fresh deploy of the new set and of the old one give the same schema and rows. The replaced files move to squashed/."
    )]
    Squash(SquashArgs),
    /// What a pull request's migrations do: conflicts with the base branch, locks, lint of the changed files
    #[command(
        after_help = "Examples:\n  pgshift review --base origin/main                        Markdown for the pull request's comment\n  pgshift review --base origin/main --rehearse --format text\n  pgshift review --base origin/main --stats-from REPLICA_URL   durations from a replica's table sizes\n\nExit 0: no conflict and nothing blocking; 1: a conflict, a blocking finding or a lock prediction the rehearsal contradicted; 2: error."
    )]
    Review(ReviewArgs),
    /// Accept an applied migration's new checksum, or clear a failed record
    #[command(after_help = "Example:\n  pgshift repair 2026-01-21_add_user_profiles")]
    Repair(RecordArgs),
    /// Delete a migration's record (the schema is left as it is)
    #[command(after_help = "Example:\n  pgshift forget 2026-01-21_failed_migration")]
    Forget(RecordArgs),
    /// Mark every migration up to VERSION as applied on an existing database
    #[command(
        after_help = "Example:\n  pgshift --env production baseline 2026-01-20_create_finances_table --force --confirm shop"
    )]
    Baseline(RecordArgs),
    /// Create a migration file dated today with its header filled in
    #[command(
        after_help = "Example:\n  pgshift new \"add user profiles\" --depends-on 2026-01-20_create_users_table.sql"
    )]
    New(NewArgs),
    /// Create pgshift.toml, the migrations, backups and logs folders, and .gitignore entries
    #[command(
        after_help = "Examples:\n  pgshift init\n  pgshift init --ci github        also writes .github/workflows/migrations.yml"
    )]
    Init(InitArgs),
    /// Record as applied the imported migrations another tool's history says it applied
    #[command(
        after_help = "Examples:\n  pgshift adopt --from prisma\n  pgshift --env production adopt --from dbmate --force --confirm shop"
    )]
    Adopt(AdoptArgs),
    /// Turn another tool's migrations into pgshift files (never overwriting)
    #[command(
        after_help = "Examples:\n  pgshift import --from supabase .                 (reads supabase/migrations)\n  pgshift import --from dbmate db/migrations\n  pgshift import --from flyway src/main/resources/db/migration\n  pgshift import --from sqitch sqitch/"
    )]
    Import(ImportArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  pgshift completions bash > /etc/bash_completion.d/pgshift"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), made from this command line's definition: pgshift's, or
    /// one command's; --dir writes every page into a folder
    #[command(
        after_help = "Examples:\n  pgshift man > /usr/local/share/man/man1/pgshift.1 && man pgshift\n  pgshift man backup restore      # the page of `pgshift backup restore`\n  pgshift man --dir /usr/local/share/man/man1   # pgshift.1, pgshift-migrate.1, …"
    )]
    Man {
        /// The command whose page to print (`migrate`, `backup restore`)
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
        /// Write every page (pgshift.1 and one per command) into DIR
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
}

impl Command {
    /// Whether the command reads little on its own: the index, the records, a report. One
    /// that does not (validation, a review, a schema's diff) parses files by the hundred from
    /// its start; the library says so from inside the others when they come to it
    /// ([`crate::memory`]).
    pub fn reads_little(&self) -> bool {
        matches!(
            self,
            Command::Status
                | Command::Migrate(_)
                | Command::Wait(_)
                | Command::History(_)
                | Command::Health(_)
                | Command::Stop(_)
                | Command::Deps
                | Command::Order
                | Command::Graph(_)
        )
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Markdown,
    Github,
    Sarif,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Only these checks: filenames, headers, syntax, deps, lint
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum HealthFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: HealthFormat,
    /// Also compare the schema with what the applied migrations build (`pgshift drift`)
    #[arg(long)]
    pub drift: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DiffFormat {
    Sql,
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The schema to start from: a database URL, a migrations folder, or `empty`
    #[arg(long, value_name = "SRC")]
    pub from: String,
    /// The schema to reach: a database URL, a migrations folder, or `empty`
    #[arg(long, value_name = "SRC")]
    pub to: String,
    #[arg(long, value_enum, default_value = "sql")]
    pub format: DiffFormat,
    /// Include destructive statements (DROP of a table, column, type or schema; a type change that can lose data)
    #[arg(long)]
    pub allow_drop: bool,
    /// Write the difference as migrations named NAME (with down files) in the --from folder
    #[arg(long, value_name = "NAME")]
    pub write: Option<String>,
    /// Load the Supabase stub before building a migrations folder
    #[arg(long)]
    pub supabase: bool,
    /// Schemas left out of the comparison
    #[arg(long, value_delimiter = ',', value_name = "SCHEMAS")]
    pub ignore_schemas: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DriftFormat {
    Text,
    Json,
    Markdown,
    Github,
    Sarif,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReviewFormat {
    Markdown,
    Github,
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The branch the pull request goes into (its files are the applied history)
    #[arg(long, value_name = "REF")]
    pub base: String,
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ReviewFormat,
    /// Build REF's schema on a throwaway PostgreSQL and observe each statement's locks in pg_locks
    #[arg(long)]
    pub rehearse: bool,
    /// Estimate durations from the table sizes of this database (read-only; a replica is enough): a URL, or the name of an environment variable holding one
    #[arg(long, value_name = "URL")]
    pub stats_from: Option<String>,
    /// Load the Supabase stub before building REF's schema (with --rehearse)
    #[arg(long)]
    pub supabase: bool,
}

#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The last migration the baseline replaces
    #[arg(long, value_name = "VERSION")]
    pub to: String,
    /// Load the Supabase stub, and carry statements on its schemas verbatim
    #[arg(long)]
    pub supabase: bool,
    /// Refuse while a database listed in FILE has not applied every migration up to VERSION
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: DriftFormat,
    /// A file of database URLs (or names of environment variables holding them), one per line
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Compare Supabase's platform schemas too (auth, storage, realtime, …)
    #[arg(long)]
    pub include_platform: bool,
    /// Load the Supabase stub before building the migrations
    #[arg(long)]
    pub supabase: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Text,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DryRunArg {
    Plan,
    Rehearse,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Print the plan and change nothing; `=rehearse` also runs it in a rolled-back transaction [env: DRY_RUN]
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "plan")]
    pub dry_run: Option<DryRunArg>,
    /// Stop after this version
    #[arg(long, value_name = "VERSION")]
    pub target: Option<String>,
    /// Allow production, and dangerous operations [env: FORCE_RUN]
    #[arg(long)]
    pub force: bool,
    /// The database name, confirming the deploy without a prompt [env: CONFIRM]
    #[arg(long, value_name = "DBNAME")]
    pub confirm: Option<String>,
    /// Do not back up first [env: SKIP_BACKUP]
    #[arg(long)]
    pub skip_backup: bool,
    /// Do not run the health check after applying
    #[arg(long)]
    pub skip_health: bool,
    /// Seconds per migration [env: TIMEOUT; default: 300]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Seconds to wait for another deployer [default: 60]
    #[arg(long, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
    /// psql variable for `:NAME` in migrations (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Post the result to this Slack-compatible webhook (or the variable `[notify] webhook_env`
    /// names)
    #[arg(
        long,
        value_name = "URL",
        env = "NOTIFY_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub notify_webhook: Option<String>,
    /// Deploy to every database listed in FILE (a URL or variable name per line, or a .toml
    /// `targets = […]`), PARALLEL_JOBS at a time
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// With --targets: only every N-th target, starting with the I-th (a CI matrix of N jobs)
    #[arg(long, value_name = "I/N", requires = "targets")]
    pub shard: Option<String>,
    /// Run a failed repeatable migration again although its file did not change (after
    /// fixing what it needed in the database)
    #[arg(long)]
    pub retry_failed: bool,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Give up after SECS (exit 1 when behind, 2 when unreachable)
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// Look again every SECS
    #[arg(long, value_name = "SECS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// End the deployer's session if it still holds the lock after SECS
    #[arg(long, value_name = "SECS")]
    pub terminate_after: Option<u64>,
}

/// A version, and what the environment gate needs.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The migration, e.g. 2026-01-21_add_user_profiles (`.sql` optional)
    pub version: String,
    /// Allow production [env: FORCE_RUN]
    #[arg(long)]
    pub force: bool,
    /// The database name, confirming without a prompt [env: CONFIRM]
    #[arg(long, value_name = "DBNAME")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Roll back this migration only
    #[arg(long, value_name = "V", conflicts_with_all = ["to", "from_backup"])]
    pub version: Option<String>,
    /// Roll back every applied migration after V (V stays)
    #[arg(long, value_name = "V", conflicts_with = "from_backup")]
    pub to: Option<String>,
    /// Restore the newest backup of this database (or FILE) instead of running down files
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    pub from_backup: Option<String>,
    /// With --from-backup: the database the backup was taken of, to restore it into another
    #[arg(long, value_name = "DBNAME", requires = "from_backup")]
    pub from_database: Option<String>,
    /// Roll back the applied migrations that depend on it too (first)
    #[arg(long)]
    pub cascade: bool,
    /// Print what would be rolled back; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Allow production [env: FORCE_RUN]
    #[arg(long)]
    pub force: bool,
    /// The database name, confirming without a prompt [env: CONFIRM]
    #[arg(long, value_name = "DBNAME")]
    pub confirm: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back the database up now (pg_dump, gzip, verified, with a manifest)
    #[command(after_help = "Example:\n  pgshift backup create")]
    Create,
    /// The backups in the backup folder, newest first
    #[command(after_help = "Example:\n  pgshift backup list")]
    List,
    /// Read a backup whole: gzip integrity, the dump's completion line, its manifest
    #[command(
        after_help = "Example:\n  pgshift backup verify backups/migrations/backup_before_migration_20261124_100211.sql.gz"
    )]
    Verify { file: PathBuf },
    /// Restore a backup into the database (psql, one transaction), through the gate
    #[command(
        after_help = "Examples:\n  pgshift --env production backup restore backups/migrations/backup_before_migration_20261124_100211.sql.gz --force --confirm shop\n  pgshift backup restore backups/migrations/backup_20261124_100211.sql.gz --from-database shop   # a backup of shop into this database"
    )]
    Restore {
        /// The backup: a name `backup list` prints, or a path
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Show what the restore would do (the backup, the migrations it undoes, what it
        /// drops); ask nothing, change nothing
        #[arg(long)]
        dry_run: bool,
        /// The database the backup was taken of: needed to restore it into another database,
        /// or when it has no manifest
        #[arg(long, value_name = "DBNAME")]
        from_database: Option<String>,
        /// Allow production [env: FORCE_RUN]
        #[arg(long)]
        force: bool,
        /// The database name, confirming without a prompt [env: CONFIRM]
        #[arg(long, value_name = "DBNAME")]
        confirm: Option<String>,
    },
    /// Remove all but the newest N backups (never the newest)
    #[command(after_help = "Example:\n  pgshift backup prune --keep 5")]
    Prune {
        #[arg(long, value_name = "N")]
        keep: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Check every down file: up → schema and rows → down → the same schema and rows as before up → up again
    #[arg(long)]
    pub rollback: bool,
    /// Load a stub of Supabase's roles and schemas (anon, authenticated, auth.uid(), storage…) first
    #[arg(long)]
    pub supabase: bool,
    /// Write JUnit XML to FILE: one test case per step (before, up, after, down) and the health check
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Print TAP (version 13) on stdout instead of the text: one test case per step
    #[arg(long)]
    pub tap: bool,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The tool whose history table the database has
    #[arg(long = "from", value_enum, value_name = "TOOL")]
    pub from: crate::import::Tool,
    /// Allow production [env: FORCE_RUN]
    #[arg(long)]
    pub force: bool,
    /// The database name, confirming without a prompt [env: CONFIRM]
    #[arg(long, value_name = "DBNAME")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The tool whose layout SOURCE has
    #[arg(long = "from", value_enum, value_name = "TOOL")]
    pub from: crate::import::Tool,
    /// The other tool's migrations folder, or its project folder (default: this folder)
    #[arg(default_value = ".")]
    pub source: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CiKind {
    Github,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also write a CI pipeline: validate, test, deploy per environment
    #[arg(long, value_enum, value_name = "SYSTEM")]
    pub ci: Option<CiKind>,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the migration does, e.g. add_user_profiles or "add user profiles"
    #[arg(required = true, num_args = 1..)]
    pub description: Vec<String>,
    /// A migration this one needs (repeatable)
    #[arg(long, value_name = "FILE")]
    pub depends_on: Vec<String>,
    /// Do not write the .down.sql beside it
    #[arg(long)]
    pub no_down: bool,
    /// A repeatable migration: `repeatable/NAME.sql`, run again whenever its SQL changes
    /// (views, functions, policies, grants)
    #[arg(long)]
    pub repeatable: bool,
}

/// Exit codes (SPEC §16).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FINDINGS: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const REFUSED: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

/// An error to print once, at the top, with its exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub help: Option<String>,
    pub code: u8,
}

impl CliError {
    pub fn usage(message: impl Into<String>, help: impl Into<Option<String>>) -> CliError {
        CliError {
            message: message.into(),
            help: help.into(),
            code: exit::USAGE,
        }
    }
}

impl From<crate::db::connect::ConnectError> for CliError {
    /// A connection that failed (exit 2), or that SIGINT/SIGTERM ended (exit 130).
    fn from(e: crate::db::connect::ConnectError) -> Self {
        CliError {
            code: if e.interrupted {
                exit::INTERRUPTED
            } else {
                exit::USAGE
            },
            message: e.message,
            help: Some(e.help),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        let help = match &e {
            ConfigError::Invalid { .. } => None,
            ConfigError::Parse { .. } => Some(
                "see the comments in `pgshift init`'s pgshift.toml for every setting".to_string(),
            ),
            ConfigError::Read { .. } => Some("check the path given with --config".to_string()),
        };
        CliError::usage(e.to_string(), help)
    }
}

impl From<crate::migration::LoadError> for CliError {
    fn from(e: crate::migration::LoadError) -> Self {
        CliError::usage(e.to_string(), Some(e.help().to_string()))
    }
}

impl Cli {
    fn flags(&self) -> Flags {
        let mut flags = Flags {
            dir: self.dir.clone(),
            config: self.config.clone(),
            env: self.env.clone(),
            database_url: self.database_url.clone(),
            json: self.json,
            debug: self.debug,
            ..Flags::default()
        };
        if let Command::Migrate(m) = &self.command {
            flags.dry_run = m.dry_run.map(|d| match d {
                DryRunArg::Plan => DryRun::Plan,
                DryRunArg::Rehearse => DryRun::Rehearse,
            });
            flags.force = m.force;
            flags.skip_backup = m.skip_backup;
            flags.timeout = m.timeout;
            flags.lock_timeout = m.lock_timeout;
            flags.confirm = m.confirm.clone();
            flags.notify_webhook = m.notify_webhook.clone().filter(|w| !w.trim().is_empty());
            flags.retry_failed = m.retry_failed;
        }
        if let Command::Rollback(r) = &self.command {
            flags.force = r.force;
            flags.confirm = r.confirm.clone();
        }
        if let Command::Repair(r) | Command::Forget(r) | Command::Baseline(r) = &self.command {
            flags.force = r.force;
            flags.confirm = r.confirm.clone();
        }
        if let Command::Adopt(a) = &self.command {
            flags.force = a.force;
            flags.confirm = a.confirm.clone();
        }
        if let Command::Backup(BackupCommand::Restore { force, confirm, .. }) = &self.command {
            flags.force = *force;
            flags.confirm = confirm.clone();
        }
        flags
    }
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    crate::interrupt::signals::install();
    let out = Output::detect(cli.json);
    let code = match dispatch(&cli, &out) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e.message, e.help.as_deref());
            e.code
        }
    };
    // What the command did stands; that its output was lost is an error too, so that a
    // script does not take an empty answer for a whole one.
    if let Some(e) = output::stdout_error() {
        let json = Output { json: false, ..out };
        json.error(
            &format!("cannot write the output to stdout: {e}"),
            Some("the command itself ran (a deploy's events are in logs/); send stdout where it can be written: a file on a disk with room, or a pipe"),
        );
        if code == exit::OK {
            return ExitCode::from(exit::USAGE);
        }
    }
    ExitCode::from(code)
}

fn settings(cli: &Cli) -> Result<(Settings, VarSource, PathBuf), CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}"), None))?;
    let vars = VarSource::from_process(&cwd)?;
    let mut settings = Settings::resolve(&cli.flags(), &vars, &cwd)?;
    if let Some(w) = &settings.notify_webhook {
        crate::sanitize::redact::remember(w.expose());
    }
    settings.relative_to(&cwd);
    Ok((settings, vars, cwd))
}

fn dispatch(cli: &Cli, out: &Output) -> Result<u8, CliError> {
    if let Command::Man { command, dir } = &cli.command {
        return man::run(command, dir.as_deref());
    }
    if let Command::Completions { shell } = &cli.command {
        use clap::CommandFactory;
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "pgshift", &mut script);
        output::write_stdout(&script);
        return Ok(exit::OK);
    }
    let (settings, vars, cwd) = settings(cli)?;
    match &cli.command {
        Command::Validate(args) => {
            validate::run(&settings, &vars, &args.only, &[], args.format, out)
        }
        Command::Scan(args) => validate::run(
            &settings,
            &vars,
            &[],
            &[crate::lint::Family::Secrets, crate::lint::Family::Dangerous],
            args.format,
            out,
        ),
        Command::Deps => order::deps(&settings, out),
        Command::Order => order::run(&settings, out),
        Command::Migrate(args) => match &args.targets {
            Some(file) => fleet::run(&settings, &vars, args, file, out),
            None => migrate::migrate(&settings, &vars, args, out),
        },
        Command::Status => status::run(&settings, &vars, out),
        Command::Wait(args) => wait::run(&settings, &vars, args, out),
        Command::Stop(args) => stop::run(&settings, &vars, args, out),
        Command::Health(args) => health::run(&settings, &vars, args, out),
        Command::Diff(args) => diff::run(&settings, &vars, args, out),
        Command::Drift(args) => drift::run(&settings, &vars, args, out),
        Command::Squash(args) => squash::run(&settings, &vars, args, out),
        Command::Review(args) => review::run(&settings, &vars, args, out),
        Command::History(args) => history::run(&settings, &vars, args, out),
        Command::Test(args) => test::run(&settings, &vars, args, out),
        Command::Graph(args) => graph::run(&settings, &vars, args, out),
        Command::Backup(command) => backup::run(&settings, &vars, command, out),
        Command::Rollback(args) => rollback::run(&settings, &vars, args, out),
        Command::Repair(r) => repair::run(&settings, &vars, &r.version, out),
        Command::Forget(r) => forget::run(&settings, &vars, &r.version, out),
        Command::Baseline(r) => baseline::run(&settings, &vars, &r.version, out),
        Command::New(args) => new::run(&settings, args, &cwd, out),
        Command::Init(args) => init::run(&settings, args, &cwd, out),
        Command::Import(args) => import::run(&settings, args.from, &args.source, out),
        Command::Adopt(args) => adopt::run(&settings, &vars, args.from, out),
        // Printed before the settings are read, above.
        Command::Completions { .. } | Command::Man { .. } => Ok(exit::OK),
    }
}
