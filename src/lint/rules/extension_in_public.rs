//! `hygiene/extension-in-public`: `CREATE EXTENSION` into an exposed schema (or with no schema,
//! which puts it in the first schema of the search_path, usually `public`): its functions and
//! types sit beside the tables an API serves. Informational: outside an API it is common. The
//! health check `extension-in-public` looks for the same in the database.

use pg_query::NodeEnum;

use crate::lint::{def_elems, def_string, Ctx, Family, Rule, Violation, ALWAYS_INFO};

pub const RULE: Rule = Rule {
    id: "hygiene/extension-in-public",
    family: Family::Hygiene,
    levels: ALWAYS_INFO,
    summary: "An extension created in an exposed schema puts its functions and types beside the tables the API serves.",
    help: "create it `WITH SCHEMA extensions` (Supabase's convention; `CREATE SCHEMA IF NOT EXISTS extensions` first)",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::CreateExtensionStmt(e) = &*s.node else {
            continue;
        };
        let schema = def_elems(&e.options)
            .find(|d| d.defname == "schema")
            .and_then(def_string);
        let lands = schema.clone().unwrap_or_else(|| "public".into());
        if e.extname != "plpgsql" && ctx.exposure(&lands).is_some() {
            out.push(
                Violation::stmt(
                    ctx,
                    s,
                    format!(
                        "extension {} goes into schema {lands}{}",
                        e.extname,
                        if schema.is_none() {
                            " (no WITH SCHEMA)"
                        } else {
                            ""
                        }
                    ),
                )
                .fix(format!(
                    "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA extensions;",
                    e.extname
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::fires;

    #[test]
    fn fires_without_a_schema_or_into_public() {
        assert!(fires(&RULE, "CREATE EXTENSION pgcrypto;"));
        assert!(fires(&RULE, "CREATE EXTENSION pg_trgm WITH SCHEMA public;"));
    }

    #[test]
    fn stays_quiet_in_the_extensions_schema() {
        assert!(!fires(
            &RULE,
            "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;"
        ));
    }
}
