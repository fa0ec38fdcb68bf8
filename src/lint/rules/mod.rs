//! Every lint rule, one per file. Adding a rule: a new file here and one line in `ALL`.

use super::Rule;

mod add_column_scan;
mod add_required_column;
mod alter_column_type;
mod auth_per_row;
mod auth_users_exposed;
mod breaking_change;
mod bulk_update_without_batching;
mod cloud_token;
mod column_types;
mod concurrently_in_transaction;
mod connection_string;
mod constraint_not_valid;
mod copy_program;
mod create_if_not_exists;
mod delete_without_where;
mod disable_rls;
mod domain_check;
mod drop_column;
mod drop_database;
mod drop_index_not_concurrent;
mod drop_schema;
mod drop_table;
mod duplicate_index;
mod enabled_without_policy;
mod extension_in_public;
mod foreign_key_not_valid;
mod grant_public_write;
mod high_entropy_secret;
mod index_not_concurrent;
mod jwt;
mod literal_password;
mod missing_lock_timeout;
mod mixed_transaction_modes;
mod no_primary_key;
mod own_transaction;
mod policy_without_rls;
mod private_key;
mod rename;
mod security_definer_search_path;
mod security_definer_view;
mod set_not_null;
mod superuser_role;
mod table_without_rls;
mod truncate;
mod unindexed_foreign_key;
mod unique_without_index;
mod untrusted_language;
mod update_without_where;
mod validate_in_same_migration;
pub(crate) mod volatile_default;

/// All rules, in report order.
pub const ALL: &[&Rule] = &[
    &literal_password::RULE,
    &connection_string::RULE,
    &private_key::RULE,
    &jwt::RULE,
    &cloud_token::RULE,
    &high_entropy_secret::RULE,
    &drop_table::RULE,
    &drop_schema::RULE,
    &drop_database::RULE,
    &drop_column::RULE,
    &rename::RULE,
    &breaking_change::RULE,
    &add_required_column::RULE,
    &truncate::RULE,
    &delete_without_where::RULE,
    &update_without_where::RULE,
    &disable_rls::RULE,
    &grant_public_write::RULE,
    &superuser_role::RULE,
    &security_definer_search_path::RULE,
    &copy_program::RULE,
    &untrusted_language::RULE,
    &table_without_rls::RULE,
    &enabled_without_policy::RULE,
    &policy_without_rls::RULE,
    &auth_per_row::RULE,
    &security_definer_view::RULE,
    &auth_users_exposed::RULE,
    &index_not_concurrent::RULE,
    &drop_index_not_concurrent::RULE,
    &unique_without_index::RULE,
    &domain_check::RULE,
    &volatile_default::RULE,
    &add_column_scan::RULE,
    &set_not_null::RULE,
    &constraint_not_valid::RULE,
    &foreign_key_not_valid::RULE,
    &validate_in_same_migration::RULE,
    &alter_column_type::RULE,
    &concurrently_in_transaction::RULE,
    &bulk_update_without_batching::RULE,
    &missing_lock_timeout::RULE,
    &create_if_not_exists::RULE,
    &extension_in_public::RULE,
    &unindexed_foreign_key::RULE,
    &duplicate_index::RULE,
    &no_primary_key::RULE,
    &column_types::RULE,
    &mixed_transaction_modes::RULE,
    &own_transaction::RULE,
];

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs one rule on SQL written in a test.

    use std::path::{Path, PathBuf};

    use super::super::{Ctx, ParsedFile, Rule, SetFacts, Violation};
    use crate::config::Environment;
    use crate::migration::from_files;

    /// Violations of `rule` in each file of a set (files given as name and SQL, in plan order),
    /// with the text each one underlines.
    pub fn run_set(rule: &Rule, files: &[(&str, &str)]) -> Vec<(String, String)> {
        run_set_exposing(rule, files, true)
            .into_iter()
            .map(|(v, t, _)| (v, t))
            .collect()
    }

    /// [`run_set`] without `exposed_schemas` in the config: `public` counts as exposed only
    /// when the set shows an API.
    pub fn run_set_without_config(rule: &Rule, files: &[(&str, &str)]) -> Vec<(String, String)> {
        run_set_exposing(rule, files, false)
            .into_iter()
            .map(|(v, t, _)| (v, t))
            .collect()
    }

    /// The messages of `rule`'s violations in a set.
    pub fn messages(rule: &Rule, files: &[(&str, &str)], exposed_configured: bool) -> Vec<String> {
        run_set_exposing(rule, files, exposed_configured)
            .into_iter()
            .map(|(_, _, v)| v.message)
            .collect()
    }

    /// The violations of `rule` in one file.
    pub fn violations(rule: &Rule, sql: &str) -> Vec<Violation> {
        run_set_exposing(rule, &[("2026-01-01_test", sql)], true)
            .into_iter()
            .map(|(_, _, v)| v)
            .collect()
    }

    fn run_set_exposing(
        rule: &Rule,
        files: &[(&str, &str)],
        exposed_configured: bool,
    ) -> Vec<(String, String, Violation)> {
        let set = from_files(
            Path::new("m"),
            files.iter().map(|(n, sql)| {
                (
                    PathBuf::from(format!("m/{n}.sql")),
                    Ok(sql.as_bytes().to_vec()),
                )
            }),
            Environment::Development,
        );
        // As `validate` reads a set: the facts from the first pass's parse, the rules on the
        // same trees or on the rules' parse, with the tables named as the first pass named them.
        let mut facts = SetFacts::default();
        let parsed: Vec<ParsedFile> = set
            .migrations
            .iter()
            .map(|m| {
                let ((mut p, err, _), light) = ParsedFile::parse_for_facts(&m.source, &|_| None);
                assert!(err.is_none(), "{}: {err:?}", m.version);
                let resolved = facts.add(m.version.as_str(), &mut p);
                if light {
                    p = ParsedFile::parse_for_rules(&m.source, &|_| None).0;
                    SetFacts::replay(&mut p, &resolved);
                }
                p
            })
            .collect();
        let mut out = Vec::new();
        let exposed = ["public".to_string()];
        for (m, p) in set.migrations.iter().zip(&parsed) {
            let mut ctx = Ctx::new(m, p, &facts, &exposed);
            ctx.exposed_configured = exposed_configured;
            let mut v: Vec<Violation> = Vec::new();
            (rule.check)(&ctx, &mut v);
            for v in v {
                let text = match v.span {
                    super::super::Span::Parsed { offset, len } => {
                        ctx.sql()[offset..offset + len].to_string()
                    }
                    super::super::Span::Source { offset, len } => {
                        ctx.source()[offset..offset + len].to_string()
                    }
                };
                out.push((m.version.to_string(), text, v));
            }
        }
        out
    }

    /// The texts `rule` underlines in one file.
    pub fn run(rule: &Rule, sql: &str) -> Vec<String> {
        run_set(rule, &[("2026-01-01_test", sql)])
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    pub fn fires(rule: &Rule, sql: &str) -> bool {
        !run(rule, sql).is_empty()
    }
}
