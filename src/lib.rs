//! pgshift deploys SQL migrations to PostgreSQL and Supabase: it validates them, orders them by
//! their declared dependencies, and (in later versions) backs up, applies, rolls back and checks
//! the database's health.
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

pub mod api;
pub mod backup;
pub mod cli;
pub mod config;
pub mod db;
pub mod deploy;
pub mod diagnostic;
pub mod ephemeral;
pub mod health;
pub mod import;
pub mod lint;
pub mod migration;
pub mod notify;
pub mod plan;
pub mod report;
pub mod sanitize;
pub mod scaffold;
pub mod sql;
pub mod supabase;
pub mod validate;
