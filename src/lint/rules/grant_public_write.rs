//! `dangerous/grant-public-write`: write or ALL privileges granted to PUBLIC, `anon` or
//! `authenticated` (Supabase's API roles). On a table whose row level security is on (enabled
//! by this migration or one before it), granting SELECT, INSERT, UPDATE and DELETE to the API
//! roles is Supabase's pattern: the policies decide which rows. TRUNCATE (which RLS does not
//! guard), ALL (which includes it), and grants to PUBLIC stay findings.

use pg_query::protobuf::{node::Node as N, RoleSpecType};
use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, QualName, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/grant-public-write",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "Write or ALL privileges granted to everyone (PUBLIC) or to an API role (anon, authenticated).",
    help: "grant only the privileges needed (often SELECT) to a specific role, and let row level security decide which rows; if this is intended, add `-- @allow: dangerous/grant-public-write <reason>`",
    check,
};

const WRITE: [&str; 5] = ["insert", "update", "delete", "truncate", "all"];
const OPEN_ROLES: [&str; 2] = ["anon", "authenticated"];

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::GrantStmt(g) = &s.node else {
            continue;
        };
        if !g.is_grant {
            continue;
        }
        let privileges: Vec<String> = g
            .privileges
            .iter()
            .filter_map(|p| match &p.node {
                Some(N::AccessPriv(a)) => Some(a.priv_name.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        // An empty list means ALL PRIVILEGES.
        let writes: Vec<&str> = if privileges.is_empty() {
            vec!["all"]
        } else {
            privileges
                .iter()
                .map(String::as_str)
                .filter(|p| WRITE.contains(p))
                .collect()
        };
        if writes.is_empty() {
            continue;
        }
        let open: Vec<String> = g
            .grantees
            .iter()
            .filter_map(|r| match &r.node {
                Some(N::RoleSpec(r)) if r.roletype == RoleSpecType::RolespecPublic as i32 => {
                    Some("PUBLIC".to_string())
                }
                Some(N::RoleSpec(r)) if OPEN_ROLES.contains(&r.rolename.as_str()) => {
                    Some(r.rolename.clone())
                }
                _ => None,
            })
            .collect();
        // Row level security guards the rows of tables it is on, for the API roles: only
        // TRUNCATE and ALL (which includes it) still open them.
        let guarded = g.objtype == pg_query::protobuf::ObjectType::ObjectTable as i32
            && g.targtype == pg_query::protobuf::GrantTargetType::AclTargetObject as i32
            && !g.objects.is_empty()
            && g.objects.iter().all(|o| match &o.node {
                Some(N::RangeVar(r)) => ctx
                    .facts
                    .rls_enabled_by(&QualName::of(r), ctx.migration.version.as_str()),
                _ => false,
            });
        let guarded = guarded && !open.iter().any(|r| r == "PUBLIC");
        let writes: Vec<&str> = if guarded {
            writes
                .into_iter()
                .filter(|w| matches!(*w, "truncate" | "all"))
                .collect()
        } else {
            writes
        };
        if !open.is_empty() && !writes.is_empty() {
            out.push(Violation::stmt(
                ctx,
                s,
                format!(
                    "GRANT {} to {}{}",
                    writes.join(", ").to_uppercase(),
                    open.join(", "),
                    if guarded {
                        " on a table with row level security: RLS guards rows, not TRUNCATE, which empties the table"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run, run_set};

    #[test]
    fn fires_on_writes_to_everyone() {
        assert_eq!(
            run(&RULE, "GRANT ALL ON t TO PUBLIC;"),
            ["GRANT ALL ON t TO PUBLIC"]
        );
        assert!(fires(&RULE, "GRANT SELECT, INSERT ON t TO anon;"));
        assert!(fires(
            &RULE,
            "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO authenticated;"
        ));
    }

    #[test]
    fn quiet_on_row_writes_to_api_roles_of_tables_with_rls_on() {
        let found = run_set(
            &RULE,
            &[
                (
                    "2026-01-01_todos",
                    "CREATE TABLE todos (id int, user_id uuid);\nALTER TABLE todos ENABLE ROW LEVEL SECURITY;\nCREATE POLICY own ON todos USING (auth.uid() = user_id);",
                ),
                (
                    "2026-01-02_grants",
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON public.todos TO anon, authenticated;",
                ),
                (
                    "2026-01-03_notes",
                    "GRANT INSERT, UPDATE ON notes TO authenticated;\nCREATE TABLE notes (id int);\nALTER TABLE notes ENABLE ROW LEVEL SECURITY;",
                ),
            ],
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn fires_on_truncate_all_public_or_tables_without_rls() {
        let found = run_set(
            &RULE,
            &[
                (
                    "2026-01-01_todos",
                    "CREATE TABLE todos (id int); ALTER TABLE todos ENABLE ROW LEVEL SECURITY; CREATE TABLE open_t (id int);",
                ),
                (
                    "2026-01-02_grants",
                    "GRANT TRUNCATE ON todos TO authenticated;\nGRANT ALL ON todos TO anon;\nGRANT INSERT ON todos TO PUBLIC;\nGRANT INSERT ON todos, open_t TO anon;",
                ),
                // RLS enabled only after the grant's migration: not yet guarded when it runs.
                ("2026-01-03_late", "GRANT DELETE ON later TO anon;"),
                ("2026-01-04_rls", "CREATE TABLE IF NOT EXISTS later (id int); ALTER TABLE later ENABLE ROW LEVEL SECURITY;"),
            ],
        );
        assert_eq!(found.len(), 5, "{found:?}");
    }

    #[test]
    fn stays_quiet_on_reads_and_named_roles() {
        assert!(!fires(
            &RULE,
            "GRANT SELECT ON t TO anon; GRANT ALL ON t TO app_writer; REVOKE ALL ON t FROM PUBLIC;"
        ));
    }
}
