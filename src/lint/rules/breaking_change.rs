//! `dangerous/breaking-change`: a change the application that is still running during (and
//! right after) a deploy cannot survive: dropping a constraint, a column default, a function, a
//! view, a type or a sequence that existed before the migration, renaming one of them (tables
//! and columns are `dangerous/rename`'s), or moving one to another schema (`SET SCHEMA`).
//! Each message says how to do it in expand/contract steps instead.

use std::collections::HashSet;

use pg_query::protobuf::{node::Node as N, AlterTableType, ObjectType};
use pg_query::NodeEnum;

use crate::diagnostic::Level;
use crate::lint::facts::made_object;
use crate::lint::{alter_existing, names, Ctx, Family, Rule, Violation};

pub const RULE: Rule = Rule {
    id: "dangerous/breaking-change",
    family: Family::Dangerous,
    levels: [Level::Info, Level::Warning, Level::Warning],
    summary: "A change the running application cannot survive: DROP of a constraint, default, function, view, type or sequence, a rename of one, or SET SCHEMA.",
    help: "expand, then contract: add the new object beside the old one, deploy code that uses it, and drop the old one in a later migration once nothing uses it; if nothing does already, add `-- @allow: dangerous/breaking-change <reason>`",
    check,
};

/// Object kinds the running application calls or reads, with the way to change each safely.
fn kind(t: i32) -> Option<(&'static str, &'static str)> {
    let kinds = [
        (ObjectType::ObjectFunction, "function", "create the new function beside the old one (a new name or signature), switch callers, drop the old one later"),
        (ObjectType::ObjectProcedure, "procedure", "create the new procedure beside the old one, switch callers, drop the old one later"),
        (ObjectType::ObjectView, "view", "create the new view beside the old one (or CREATE OR REPLACE it keeping its columns), switch readers, drop the old one later"),
        (ObjectType::ObjectMatview, "materialized view", "create the new materialized view beside the old one, switch readers, drop the old one later"),
        (ObjectType::ObjectType, "type", "add the new type beside the old one, move columns and code to it, drop the old one later"),
        (ObjectType::ObjectDomain, "domain", "add the new domain beside the old one, move columns and code to it, drop the old one later"),
        (ObjectType::ObjectSequence, "sequence", "keep the sequence until no default or code calls nextval on it, then drop it in a later migration"),
    ];
    kinds
        .into_iter()
        .find(|(k, ..)| *k as i32 == t)
        .map(|(_, name, how)| (name, how))
}

/// The last name of an object in a DROP or ALTER … SET SCHEMA (`schema.name`, `name(args)`).
fn object_name(o: &pg_query::protobuf::Node) -> Option<String> {
    match o.node.as_ref()? {
        N::List(l) => names(&l.items).last().cloned(),
        N::ObjectWithArgs(f) => names(&f.objname).last().cloned(),
        N::TypeName(t) => names(&t.names).last().cloned(),
        N::String(s) => Some(s.sval.clone()),
        _ => None,
    }
}

/// The name a RENAME or SET SCHEMA acts on: its object's, else its table's.
fn target_name(
    object: &Option<Box<pg_query::protobuf::Node>>,
    relation: &Option<pg_query::protobuf::RangeVar>,
) -> String {
    object
        .as_deref()
        .and_then(object_name)
        .or_else(|| relation.as_ref().map(|t| t.relname.clone()))
        .unwrap_or_default()
}

/// A violation underlining `word` in statement `s` (its start when the word is not there).
fn at_word(ctx: &Ctx, s: &crate::sql::Statement, word: &str, message: String) -> Violation {
    let at = ctx.find_in(s, word).unwrap_or(s.start);
    Violation::at(at, word.len(), message)
}

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    // Names this migration creates (or creates again): dropping and making them in one
    // transaction replaces them at once.
    let made_here: HashSet<String> = ctx
        .statements()
        .iter()
        .filter_map(|s| match &*s.node {
            // What is renamed to a name takes its place: Prisma replaces an enum by making
            // `Role_new`, renaming `Role` to `Role_old` and `Role_new` to `Role`, and dropping
            // `Role_old`, all in one migration.
            NodeEnum::RenameStmt(r) if kind(r.rename_type).is_some() => Some(r.newname.clone()),
            node => made_object(node),
        })
        .collect();
    let new_here = |name: &str| made_here.contains(name);
    for s in ctx.statements() {
        match &*s.node {
            NodeEnum::DropStmt(d) => {
                let Some((what, how)) = kind(d.remove_type) else {
                    continue;
                };
                for name in d.objects.iter().filter_map(object_name) {
                    // DROP … IF EXISTS of what no earlier migration made: a cleanup of
                    // something that may not be there, not a known object.
                    let unknown = d.missing_ok
                        && !ctx
                            .facts
                            .object_made_before(&name, ctx.migration.version.as_str());
                    if new_here(&name) || unknown {
                        continue;
                    }
                    out.push(Violation::stmt(
                        ctx,
                        s,
                        format!("dropping {what} {name} breaks the running application if it still uses it; instead: {how}"),
                    ));
                }
            }
            NodeEnum::RenameStmt(r) => {
                let Some((what, how)) = kind(r.rename_type) else {
                    continue;
                };
                let name = target_name(&r.object, &r.relation);
                if new_here(&name) {
                    continue;
                }
                out.push(at_word(
                    ctx,
                    s,
                    "rename",
                    format!("renaming {what} {name} to {} breaks code that uses the old name; instead: {how}", r.newname),
                ));
            }
            NodeEnum::AlterObjectSchemaStmt(a) => {
                let name = target_name(&a.object, &a.relation);
                if new_here(&name)
                    || a.relation
                        .as_ref()
                        .is_some_and(|_| !ctx.existed_before(&a.relation))
                {
                    continue;
                }
                out.push(at_word(
                    ctx,
                    s,
                    "set schema",
                    format!("moving {name} to schema {} breaks code that names it with its old schema (or finds it through search_path); instead: create it in the new schema, switch the code, drop the old one later", a.newschema),
                ));
            }
            _ => {}
        }
    }
    // Constraints added and defaults set by this migration: a DROP of the same one is a
    // replacement, atomic in the migration's transaction.
    let table_of = |a: &pg_query::protobuf::AlterTableStmt| {
        a.relation
            .as_ref()
            .map_or(String::new(), |r| r.relname.clone())
    };
    // Tables this migration drops: what it drops from them first goes with them.
    let dropped_tables: HashSet<String> = ctx
        .statements()
        .iter()
        .filter_map(|s| match &*s.node {
            NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => Some(d),
            _ => None,
        })
        .flat_map(|d| d.objects.iter().filter_map(object_name))
        .collect();
    let mut added: HashSet<(String, String)> = HashSet::new();
    for (_, a, c) in alter_existing(ctx) {
        if c.subtype == AlterTableType::AtAddConstraint as i32 {
            if let Some(N::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) {
                added.insert((table_of(a), k.conname.clone()));
            }
        } else if c.subtype == AlterTableType::AtColumnDefault as i32 && c.def.is_some() {
            added.insert((table_of(a), c.name.clone()));
        }
    }
    for (s, a, c) in alter_existing(ctx) {
        let table = table_of(a);
        if dropped_tables.contains(&table) || added.contains(&(table.clone(), c.name.clone())) {
            continue;
        }
        if c.subtype == AlterTableType::AtDropConstraint as i32 {
            out.push(at_word(
                ctx,
                s,
                "drop constraint",
                format!("dropping constraint {} of {table} can break the running application (an ON CONFLICT on it fails; rows it kept out get in); instead: add the new constraint first, deploy code that relies on it, drop the old one later", c.name),
            ));
        } else if c.subtype == AlterTableType::AtColumnDefault as i32 && c.def.is_none() {
            out.push(at_word(
                ctx,
                s,
                "drop default",
                format!("dropping the default of {table}.{} breaks inserts of the running application that leave the column out; instead: deploy code that always sets it, then drop the default in a later migration", c.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, messages, run};

    #[test]
    fn fires_on_drops_renames_and_moves_of_existing_objects() {
        for (sql, underlined) in [
            (
                "DROP FUNCTION public.total(int);",
                "DROP FUNCTION public.total(int)",
            ),
            ("DROP VIEW active_users;", "DROP VIEW active_users"),
            ("DROP TYPE mood;", "DROP TYPE mood"),
            ("DROP SEQUENCE order_seq;", "DROP SEQUENCE order_seq"),
            (
                "ALTER TABLE orders DROP CONSTRAINT orders_code_key;",
                "DROP CONSTRAINT",
            ),
            (
                "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;",
                "DROP DEFAULT",
            ),
            ("ALTER FUNCTION total(int) RENAME TO grand_total;", "RENAME"),
            ("ALTER VIEW active_users RENAME TO live_users;", "RENAME"),
            ("ALTER TABLE orders SET SCHEMA archive;", "SET SCHEMA"),
            (
                "ALTER FUNCTION total(int) SET SCHEMA billing;",
                "SET SCHEMA",
            ),
        ] {
            assert_eq!(run(&RULE, sql), [underlined], "{sql}");
        }
    }

    /// IF EXISTS of what the set never made is a cleanup; of what it made, a drop.
    #[test]
    fn if_exists_fires_only_on_what_the_set_made() {
        let found = messages(
            &RULE,
            &[
                (
                    "2026-01-01_v",
                    "CREATE VIEW active_users AS SELECT 1 AS one;",
                ),
                (
                    "2026-01-02_drop",
                    "DROP VIEW IF EXISTS active_users;\nDROP FUNCTION IF EXISTS never_made();",
                ),
            ],
            false,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("dropping view active_users"),
            "{found:?}"
        );
    }

    #[test]
    fn quiet_when_replaced_in_the_same_migration_or_made_here() {
        for sql in [
            "DROP FUNCTION IF EXISTS total(int);\nCREATE FUNCTION total(int) RETURNS int LANGUAGE sql AS 'SELECT 1';",
            "DROP VIEW v; CREATE VIEW v AS SELECT 1 AS one;",
            "CREATE TABLE t (a int DEFAULT 1, CONSTRAINT c CHECK (a > 0)); ALTER TABLE t ALTER COLUMN a DROP DEFAULT, DROP CONSTRAINT c;",
            "CREATE TABLE t (a int); ALTER TABLE t SET SCHEMA archive;",
            "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new'; DROP INDEX i; DROP TRIGGER x ON orders;",
            "ALTER TABLE deals DROP CONSTRAINT IF EXISTS deals_fk;\nALTER TABLE deals ADD CONSTRAINT deals_fk FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE SET NULL NOT VALID;",
            "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT, ALTER COLUMN status SET DEFAULT 'open';",
            // Prisma: an enum replaced by a new one.
            "CREATE TYPE \"Role_new\" AS ENUM ('USER', 'ADMIN');\nALTER TABLE \"User\" ALTER COLUMN \"role\" DROP DEFAULT;\nALTER TABLE \"User\" ALTER COLUMN \"role\" TYPE \"Role_new\" USING (\"role\"::text::\"Role_new\");\nALTER TYPE \"Role\" RENAME TO \"Role_old\";\nALTER TYPE \"Role_new\" RENAME TO \"Role\";\nDROP TYPE \"Role_old\";\nALTER TABLE \"User\" ALTER COLUMN \"role\" SET DEFAULT 'USER';",
            // Prisma: a table's foreign keys dropped before the table.
            "ALTER TABLE \"Profile\" DROP CONSTRAINT \"Profile_userId_fkey\";\nDROP TABLE \"Profile\";",
        ] {
            assert!(!fires(&RULE, sql), "{sql}");
        }
    }
}
