#![warn(missing_docs)]
//! pgshift deploys SQL migrations to PostgreSQL and Supabase: it validates them with the real
//! parser, orders them by their declared dependencies, backs the database up, applies each
//! migration in one transaction with its record, rolls back, and checks the database's health.
//! The deploy is one pipeline ([`pipeline::Deploy`]); the command line (`cli`) only parses
//! flags, calls it and prints its events. `docs/development.md` maps the modules.
//!
//! ```
//! use pgshift::config::Environment;
//! use pgshift::migration::from_files;
//! use std::path::{Path, PathBuf};
//!
//! let files = vec![
//!     (PathBuf::from("m/2026-01-02_b.sql"), Ok(b"-- @depends-on: 2026-01-03_c.sql\nSELECT 2;".to_vec())),
//!     (PathBuf::from("m/2026-01-03_c.sql"), Ok(b"SELECT 3;".to_vec())),
//!     (PathBuf::from("m/2026-01-01_a.sql"), Ok(b"SELECT 1;".to_vec())),
//! ];
//! let set = from_files(Path::new("m"), files, Environment::Development);
//! let plan = pgshift::plan::plan(&set).expect("no cycle");
//! let order: Vec<_> = plan.steps.iter().map(|s| s.version.as_str()).collect();
//! assert_eq!(order, ["2026-01-01_a", "2026-01-03_c", "2026-01-02_b"]);
//! ```

// The library: what a program embedding pgshift uses (`api` first), documented item by item.
pub mod api;
pub mod config;
pub mod datatest;
pub mod deploy;
pub mod diagnostic;
pub mod ephemeral;
pub mod fleet;
pub mod health;
pub mod interrupt;
pub mod migration;
pub mod notify;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod roundtrip;
pub mod validate;

// The rooms behind it: public for pgshift's own command line, tests and benchmarks, not an
// interface for others (their items may change without notice).
#[doc(hidden)]
pub mod backup;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod db;
#[doc(hidden)]
pub mod diff;
#[doc(hidden)]
pub mod files;
#[doc(hidden)]
pub mod import;
#[doc(hidden)]
pub mod lint;
#[doc(hidden)]
pub mod memory;
#[doc(hidden)]
pub mod parallel;
#[doc(hidden)]
pub mod retry;
#[doc(hidden)]
pub mod review;
#[doc(hidden)]
pub mod sanitize;
#[doc(hidden)]
pub mod scaffold;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod sql;
#[doc(hidden)]
pub mod squash;
#[doc(hidden)]
pub mod supabase;
