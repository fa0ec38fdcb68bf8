//! `dangerous/rename`: renaming a column or a table that existed before this migration: the
//! application still running during and after the deploy uses the old name, and fails.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/rename",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "Renaming a column or table breaks the application that still uses the old name while, and after, the migration runs.",
    help: "add the new column (or a view with the new name), deploy code that uses it, copy the data, then drop the old one in a later migration; if nothing reads the old name any more, add `-- @allow: dangerous/rename <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::RenameStmt(r) = &*s.node else {
            continue;
        };
        let what = if r.rename_type == ObjectType::ObjectColumn as i32 {
            format!("column {} of", r.subname)
        } else if r.rename_type == ObjectType::ObjectTable as i32 {
            "table".to_string()
        } else {
            continue;
        };
        if !ctx.existed_before(&r.relation) {
            continue;
        }
        let table = r
            .relation
            .as_ref()
            .map_or(String::new(), |t| t.relname.clone());
        let at = ctx.find_in(s, "rename").unwrap_or(s.start);
        out.push(Violation::at(
            at,
            "rename".len(),
            format!(
                "renaming {what} {table} to {} breaks code that uses the old name",
                r.newname
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_renaming_an_existing_column_or_table() {
        assert_eq!(
            run(&RULE, "ALTER TABLE users RENAME COLUMN name TO full_name;"),
            ["RENAME"]
        );
        assert!(fires(&RULE, "ALTER TABLE users RENAME TO accounts;"));
    }

    #[test]
    fn stays_quiet_on_a_table_created_here_or_other_renames() {
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (a int); ALTER TABLE t RENAME COLUMN a TO b;"
        ));
        assert!(!fires(&RULE, "ALTER INDEX i RENAME TO j;"));
    }
}
