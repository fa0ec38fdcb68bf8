//! `locking/alter-column-type`: ALTER COLUMN … TYPE usually rewrites the table and its indexes
//! under an ACCESS EXCLUSIVE lock.

use std::collections::HashMap;

use pg_query::protobuf::{node::Node as N, AlterTableType};

use crate::lint::facts::ColumnType;
use crate::lint::{alter_existing, Ctx, Family, QualName, Rule, Violation, ALWAYS_WARNING};

pub const RULE: Rule = Rule {
    id: "locking/alter-column-type",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "ALTER COLUMN … TYPE rewrites an existing table and its indexes while holding an exclusive lock.",
    help: "add a new column, backfill it in batches, switch the code, then drop the old column (changes that need no rewrite, such as varchar(n) to text or a longer varchar, are not reported when the set declares the column's type)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    let version = ctx.migration.version.as_str();
    // Types this migration gave columns so far (by an earlier ALTER … TYPE).
    let mut changed: HashMap<(QualName, String), ColumnType> = HashMap::new();
    for (s, a, c) in alter_existing(ctx)
        .filter(|(_, _, c)| c.subtype == AlterTableType::AtAlterColumnType as i32)
    {
        let Some(def) = c.def.as_ref().and_then(|d| match d.node.as_ref() {
            Some(N::ColumnDef(d)) => Some(d),
            _ => None,
        }) else {
            continue;
        };
        let to = def.type_name.as_ref().and_then(ColumnType::of);
        let table = a.relation.as_ref().map(QualName::of);
        if let (Some(to), Some(table)) = (to, table) {
            let key = (table, c.name.clone());
            let from = changed
                .get(&key)
                .or_else(|| ctx.facts.column_type_before(&key.0, &key.1, version))
                .cloned();
            changed.insert(key, to.clone());
            // varchar(n) to text, a longer varchar or numeric: no rewrite, no scan (a USING
            // clause computes every row again).
            if def.raw_default.is_none() && from.is_some_and(|from| from.changes_in_place(&to)) {
                continue;
            }
        }
        let at = ctx.find_in(s, "type").unwrap_or(s.start);
        out.push(Violation::at(
            at,
            4,
            format!(
                "changing the type of {} rewrites the table under an exclusive lock",
                c.name
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, messages, run};

    #[test]
    fn fires_on_existing_tables() {
        assert_eq!(
            run(&RULE, "ALTER TABLE users ALTER COLUMN id TYPE bigint;"),
            ["TYPE"]
        );
    }

    /// Changes PostgreSQL makes in the catalog alone, when the set says the old type; any
    /// other, or an unknown old type, still fires.
    #[test]
    fn quiet_on_changes_without_a_rewrite() {
        let found = messages(
            &RULE,
            &[
                (
                    "2026-01-01_t",
                    "CREATE TABLE t (a varchar(40), b varchar(40), c numeric(10, 2), d text, e varchar(40), f int, g varchar(40));",
                ),
                (
                    "2026-01-02_change",
                    "ALTER TABLE t ALTER COLUMN a TYPE text, ALTER COLUMN b TYPE varchar(80), ALTER COLUMN c TYPE numeric(12, 2);\nALTER TABLE t ALTER COLUMN d TYPE varchar;\nALTER TABLE t ALTER COLUMN e TYPE varchar(20);\nALTER TABLE t ALTER COLUMN f TYPE bigint;\nALTER TABLE t ALTER COLUMN g TYPE text USING upper(g);\nALTER TABLE t ALTER COLUMN unknown TYPE text;",
                ),
            ],
            false,
        );
        let columns: Vec<&str> = found
            .iter()
            .map(|m| m.split_whitespace().nth(4).unwrap_or(""))
            .collect();
        assert_eq!(columns, ["e", "f", "g", "unknown"], "{found:?}");
    }

    #[test]
    fn quiet_on_new_tables() {
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); ALTER TABLE t ALTER COLUMN a TYPE bigint;"
        ));
    }
}
