//! `pgshift test`: a throwaway PostgreSQL (or an explicit `--database-url`), every migration
//! applied, then the status.

use std::collections::BTreeMap;

use crate::config::{Settings, VarSource};
use crate::db::connect::ConnectionSpec;

use super::database::load_and_plan;
use super::{CliError, Output};

pub fn run(settings: &Settings, vars: &VarSource, out: &Output) -> Result<u8, CliError> {
    let (set, plan) = load_and_plan(settings, out)?;
    // Only an explicit --database-url: a DATABASE_URL in the environment may well be a real
    // database, and `test` must never deploy there by accident.
    let explicit = settings
        .database_url
        .as_ref()
        .filter(|u| u.source == "--database-url");
    let (_cluster, spec) = if explicit.is_some() {
        (None, super::database::spec(settings, vars, out)?)
    } else {
        if !out.json {
            out.line("Starting a throwaway PostgreSQL in a temporary directory…");
        }
        let c = crate::ephemeral::Cluster::start(&crate::ephemeral::ClusterOptions::default())
            .map_err(|e| CliError::usage(e.to_string(), Some(e.help().to_string())))?;
        let db = c
            .create_database("pgshift_test")
            .map_err(|e| CliError::usage(e.to_string(), Some(e.help().to_string())))?;
        // The cluster's own URL alone: libpq's environment (PGSSLMODE…) is for real servers.
        let spec = ConnectionSpec::parse(&c.url(&db))
            .map_err(|e| CliError::usage(e.message, Some(e.help)))?;
        (Some(c), spec)
    };
    let code = super::migrate::run_deploy(
        settings,
        vars,
        &spec,
        &set,
        &plan,
        &BTreeMap::new(),
        None,
        // A throwaway cluster needs no gate; a database given by URL does. An empty test
        // database needs no backup.
        super::migrate::Safety {
            gate: explicit.is_some(),
            backup: false,
        },
        out,
    )?;
    let report = super::status::read(settings, &set, &plan, &spec)?;
    if !out.json {
        out.line("");
    }
    super::status::print(&report, out);
    Ok(code)
}
