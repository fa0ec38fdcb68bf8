//! `dangerous/grant-public-write`: write or ALL privileges granted to PUBLIC, `anon` or
//! `authenticated` (Supabase's API roles). On a table whose row level security is on (enabled
//! by this migration or one before it), granting SELECT, INSERT, UPDATE and DELETE to the API
//! roles is Supabase's pattern: the policies decide which rows. TRUNCATE, REFERENCES and
//! TRIGGER (which RLS does not guard) and ALL (which includes them) stay findings there, one
//! per file for all such grants (`supabase db diff` writes one statement per privilege and
//! role), at warning level. Grants to PUBLIC, and writes on tables without RLS, are findings
//! each.

use pg_query::protobuf::{node::Node as N, ObjectType, RoleSpecType};
use pg_query::NodeEnum;

use crate::diagnostic::Level;
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
/// What row level security does not guard.
const UNGUARDED: [&str; 4] = ["truncate", "references", "trigger", "all"];
const OPEN_ROLES: [&str; 2] = ["anon", "authenticated"];

/// The grants of one file to the API roles on named tables, gathered into one finding:
/// `supabase db diff` and `db pull` write one statement per privilege, role and table.
#[derive(Default)]
struct Gathered<'a> {
    first: Option<&'a crate::sql::Statement>,
    privileges: Vec<&'static str>,
    roles: Vec<String>,
    /// In the order first granted; `seen` keeps a dump of thousands of tables linear.
    tables: Vec<String>,
    seen: std::collections::HashSet<String>,
}

/// Adds to a short list (privileges, roles) once.
fn add_once<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl<'a> Gathered<'a> {
    fn add(
        &mut self,
        s: &'a crate::sql::Statement,
        privileges: &[&'static str],
        roles: &[String],
        table: String,
    ) {
        if privileges.is_empty() {
            return;
        }
        self.first.get_or_insert(s);
        privileges
            .iter()
            .for_each(|p| add_once(&mut self.privileges, *p));
        roles
            .iter()
            .for_each(|r| add_once(&mut self.roles, r.clone()));
        if self.seen.insert(table.clone()) {
            self.tables.push(table);
        }
    }

    /// One finding at the first grant: "GRANT … to … on t1, t2, t3 and 2 more, {why}".
    fn report(self, ctx: &Ctx, why: &str) -> Option<Violation> {
        let first = self.first?;
        let shown = self.tables.len().min(3);
        let more = match self.tables.len() - shown {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Some(Violation::stmt(
            ctx,
            first,
            format!(
                "GRANT {} to {} on {}{more}, {why}",
                self.privileges.join(", ").to_uppercase(),
                self.roles.join(", "),
                self.tables[..shown].join(", "),
            ),
        ))
    }
}

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    let mut rls_on = Gathered::default();
    let mut rls_off = Gathered::default();
    for s in ctx.statements() {
        let NodeEnum::GrantStmt(g) = &*s.node else {
            continue;
        };
        if !g.is_grant {
            continue;
        }
        let privileges = privileges(g);
        // An empty list means ALL PRIVILEGES.
        let granted =
            |p: &str| privileges.is_empty() && p == "all" || privileges.iter().any(|g| g == p);
        let open = open_grantees(g);
        if open.is_empty() {
            continue;
        }
        let table = g.objtype == ObjectType::ObjectTable as i32;
        let named: Vec<&pg_query::protobuf::RangeVar> = g
            .objects
            .iter()
            .filter_map(|o| match &o.node {
                Some(N::RangeVar(r)) => Some(r),
                _ => None,
            })
            .collect();
        // Named tables, to the API roles: row level security guards the rows of those it is
        // on (enabled by this migration or one before it).
        if table
            && g.targtype == pg_query::protobuf::GrantTargetType::AclTargetObject as i32
            && !named.is_empty()
            && named.len() == g.objects.len()
            && !open.iter().any(|r| r == "PUBLIC")
        {
            let unguarded: Vec<&'static str> =
                UNGUARDED.into_iter().filter(|p| granted(p)).collect();
            let writes: Vec<&'static str> = WRITE.into_iter().filter(|p| granted(p)).collect();
            for r in named {
                let t = QualName::of(r);
                // A view has no RLS of its own: a security_invoker view reads through its
                // tables' policies, and a definer view is `rls/security-definer-view`'s.
                if ctx.facts.is_view(&t) {
                    continue;
                }
                if ctx.facts.rls_enabled_by(&t, ctx.migration.version.as_str()) {
                    rls_on.add(s, &unguarded, &open, t.to_string());
                } else {
                    rls_off.add(s, &writes, &open, t.to_string());
                }
            }
            continue;
        }
        // Tables' rows, and CREATE in a schema; sequences, functions and types hold no rows
        // (`supabase db pull` grants ALL on every sequence to the API roles).
        let writes: Vec<&str> = if table {
            WRITE.into_iter().filter(|p| granted(p)).collect()
        } else if g.objtype == ObjectType::ObjectSchema as i32 {
            ["create", "all"]
                .into_iter()
                .filter(|p| granted(p))
                .collect()
        } else {
            Vec::new()
        };
        if !writes.is_empty() {
            out.push(Violation::stmt(
                ctx,
                s,
                format!(
                    "GRANT {} to {}",
                    writes.join(", ").to_uppercase(),
                    open.join(", ")
                ),
            ));
        }
    }
    out.extend(rls_off.report(
        ctx,
        "without row level security: the API roles read and change every row",
    ));
    out.extend(
        rls_on
            .report(
                ctx,
                "which have row level security: RLS guards rows, not TRUNCATE (it empties the table), REFERENCES or TRIGGER; revoke them from the API roles unless they need them",
            )
            .map(|v| v.level(Level::Warning)),
    );
}

/// The privileges a GRANT names, lower-case (none: ALL PRIVILEGES).
fn privileges(g: &pg_query::protobuf::GrantStmt) -> Vec<String> {
    g.privileges
        .iter()
        .filter_map(|p| match &p.node {
            Some(N::AccessPriv(a)) => Some(a.priv_name.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The grantees anyone can act as: PUBLIC and the API roles.
fn open_grantees(g: &pg_query::protobuf::GrantStmt) -> Vec<String> {
    g.grantees
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
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run, run_set, violations};

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
        // TRUNCATE and ALL on todos, in one finding; PUBLIC; open_t; later.
        assert_eq!(found.len(), 4, "{found:?}");
    }

    /// `supabase db diff` writes one GRANT per privilege and role: what RLS does not guard is
    /// said once for the file, at warning level in every environment.
    #[test]
    fn one_warning_per_file_for_what_rls_does_not_guard() {
        let mut diff = String::from(
            "create table \"public\".\"comments\" (\"id\" bigint not null);\nalter table \"public\".\"comments\" enable row level security;\n",
        );
        for role in ["anon", "authenticated", "service_role"] {
            for p in [
                "delete",
                "insert",
                "references",
                "select",
                "trigger",
                "truncate",
                "update",
            ] {
                diff += &format!("grant {p} on table \"public\".\"comments\" to \"{role}\";\n");
            }
        }
        let found = violations(&RULE, &diff);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].level, Some(Level::Warning));
        assert!(
            found[0].message.starts_with(
                "GRANT REFERENCES, TRIGGER, TRUNCATE to anon, authenticated on public.comments, which have row level security"
            ),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn stays_quiet_on_reads_and_named_roles() {
        assert!(!fires(
            &RULE,
            "GRANT SELECT ON t TO anon; GRANT ALL ON t TO app_writer; REVOKE ALL ON t FROM PUBLIC;"
        ));
        assert!(!fires(
            &RULE,
            "GRANT ALL ON SEQUENCE public.t_id_seq TO anon; GRANT ALL ON FUNCTION f() TO PUBLIC; GRANT USAGE ON SCHEMA public TO anon;"
        ));
        assert!(fires(&RULE, "GRANT CREATE ON SCHEMA public TO PUBLIC;"));
        // `supabase db pull` grants ALL on every view to the API roles.
        assert!(!fires(
            &RULE,
            "CREATE VIEW public.stats WITH (security_invoker = on) AS SELECT 1 AS one;\nGRANT ALL ON TABLE public.stats TO anon, authenticated;"
        ));
        assert!(fires(
            &RULE,
            "CREATE MATERIALIZED VIEW public.totals AS SELECT 1 AS one;\nGRANT ALL ON TABLE public.totals TO anon;"
        ));
    }
}
