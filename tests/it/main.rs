//! pgshift's integration tests, in one binary (linked once): a module per area, each against
//! the real `pgshift` binary and a throwaway PostgreSQL that the first test to need one starts
//! for all (`common::cluster`). Roles are the whole cluster's: a test that makes one gives it a
//! name of its own.

mod common;

mod adopt;
mod api;
mod backup;
mod ci;
mod cli;
mod deploy;
mod diff;
mod docs;
mod ephemeral;
mod examples;
mod faults;
mod fleet;
mod gate;
mod health;
mod import;
mod install;
mod lint_precision;
mod locking;
mod records;
mod repeatable;
mod review;
mod robustness;
mod rollback;
mod security;
mod squash;
mod stop;
mod supabase;
mod supabase_restore;
mod test_command;
mod tls;
mod unchanged;
mod validate;
mod wait;
