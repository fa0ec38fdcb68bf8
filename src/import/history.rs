//! What another tool has applied to a database, read from its history table: the source
//! versions (as `Foreign::source_version` names them), for `pgshift adopt`. Read only.

use tokio_postgres::Client;

use super::Tool;

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HistoryError {
    pub message: String,
    pub help: String,
}

fn missing(tool: Tool, table: &str) -> HistoryError {
    HistoryError {
        message: format!("{table} does not exist here: {} has not migrated this database (or keeps its history elsewhere)", tool.name()),
        help: "check the database (`--database-url`), or the tool: `pgshift adopt --from TOOL` reads supabase_migrations.schema_migrations, _prisma_migrations, schema_migrations (dbmate, golang-migrate), goose_db_version, flyway_schema_history or sqitch.changes".into(),
    }
}

async fn exists(client: &Client, table: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .get(0))
}

/// The versions `tool` applied, in the order it applied them, and warnings (a dirty
/// golang-migrate version…).
pub async fn applied(
    client: &Client,
    tool: Tool,
) -> Result<Result<(Vec<String>, Vec<String>), HistoryError>, tokio_postgres::Error> {
    let table = match tool {
        Tool::Supabase => "supabase_migrations.schema_migrations",
        Tool::Prisma => "_prisma_migrations",
        Tool::Dbmate | Tool::GolangMigrate => "schema_migrations",
        Tool::Goose => "goose_db_version",
        Tool::Flyway => "flyway_schema_history",
        Tool::Sqitch => "sqitch.changes",
        Tool::Numbered => {
            return Ok(Err(HistoryError {
                message: "a numbered set has no history table to read".into(),
                help: "record what the database already has with `pgshift baseline VERSION` (the last migration it has)".into(),
            }))
        }
    };
    if !exists(client, table).await? {
        return Ok(Err(missing(tool, table)));
    }
    let mut warnings = Vec::new();
    // Another tool's table, maybe changed by hand: a NULL version names nothing, and is left out.
    let text = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter()
            .filter_map(|r| r.try_get::<_, Option<String>>(0).ok().flatten())
            .collect()
    };
    let versions = match tool {
        Tool::Supabase => text(
            client
                .query("SELECT version::text FROM supabase_migrations.schema_migrations ORDER BY version", &[])
                .await?,
        ),
        Tool::Prisma => text(
            client
                .query(
                    "SELECT migration_name::text FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY started_at",
                    &[],
                )
                .await?,
        ),
        Tool::Dbmate => text(
            client
                .query("SELECT version::text FROM schema_migrations ORDER BY version", &[])
                .await?,
        ),
        Tool::GolangMigrate => {
            // One row: the current version; every version up to it is applied.
            let row = client
                .query_opt("SELECT version::bigint, dirty FROM schema_migrations LIMIT 1", &[])
                .await?;
            let row = row.map(|r| {
                let current: Option<i64> = r.try_get(0).ok().flatten();
                // A NULL `dirty` is not a clean version: treated as dirty.
                let dirty: bool = r.try_get::<_, Option<bool>>(1).ok().flatten().unwrap_or(true);
                (current, dirty)
            });
            match row {
                None | Some((None, _)) => Vec::new(),
                Some((Some(current), dirty)) => {
                    if dirty {
                        warnings.push(format!("golang-migrate marks version {current} dirty (it failed halfway): it is not recorded as applied; fix the database by hand, then run `pgshift migrate`"));
                    }
                    vec![format!("<={current}{}", if dirty { "!" } else { "" })]
                }
            }
        }
        Tool::Goose => {
            // goose adds a row per up and down: the last row of a version says its state.
            text(
                client
                    .query(
                        "SELECT version_id::text FROM (SELECT DISTINCT ON (version_id) version_id, is_applied FROM goose_db_version ORDER BY version_id, id DESC) v WHERE is_applied AND version_id > 0 ORDER BY version_id",
                        &[],
                    )
                    .await?,
            )
        }
        Tool::Flyway => text(
            client
                .query(
                    "SELECT version FROM (SELECT DISTINCT ON (version) version, success, type FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY version, installed_rank DESC) v WHERE success AND type NOT LIKE 'UNDO%' ORDER BY version",
                    &[],
                )
                .await?,
        ),
        Tool::Sqitch => text(
            client
                .query("SELECT change::text FROM sqitch.changes ORDER BY committed_at", &[])
                .await?,
        ),
        Tool::Numbered => unreachable!(),
    };
    Ok(Ok((versions, warnings)))
}

/// Whether the source version `v` (of an imported file) is among `applied` as `tool` records
/// it; `nth` is how many earlier files share `v`'s change name (Sqitch reworks).
pub fn is_applied(tool: Tool, applied: &[String], v: &str, nth: usize) -> bool {
    match tool {
        Tool::GolangMigrate => {
            let Some(limit) = applied.first().and_then(|a| a.strip_prefix("<=")) else {
                return false;
            };
            let (limit, dirty) = match limit.strip_suffix('!') {
                Some(l) => (l, true),
                None => (limit, false),
            };
            match (v.parse::<u64>(), limit.parse::<u64>()) {
                (Ok(v), Ok(l)) => v < l || (v == l && !dirty),
                _ => false,
            }
        }
        Tool::Sqitch => {
            let base = v.split(['@', '#']).next().unwrap_or(v);
            applied.iter().filter(|a| a.as_str() == base).count() > nth
        }
        _ => applied.iter().any(|a| a == v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golang_migrate_counts_up_to_the_current_version_but_not_a_dirty_one() {
        let clean = vec!["<=10".to_string()];
        assert!(is_applied(Tool::GolangMigrate, &clean, "2", 0));
        assert!(is_applied(Tool::GolangMigrate, &clean, "10", 0));
        assert!(!is_applied(Tool::GolangMigrate, &clean, "11", 0));
        let dirty = vec!["<=10!".to_string()];
        assert!(!is_applied(Tool::GolangMigrate, &dirty, "10", 0));
        assert!(is_applied(Tool::GolangMigrate, &dirty, "2", 0));
    }

    #[test]
    fn sqitch_counts_deploys_of_a_reworked_change() {
        let once = vec!["appschema".to_string(), "insert_user".to_string()];
        assert!(is_applied(Tool::Sqitch, &once, "insert_user@v1", 0));
        assert!(!is_applied(Tool::Sqitch, &once, "insert_user", 1));
    }
}
