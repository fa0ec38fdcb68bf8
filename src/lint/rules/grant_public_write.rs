//! `dangerous/grant-public-write`: write or ALL privileges granted to PUBLIC, `anon` or
//! `authenticated` (Supabase's API roles).

use pg_query::protobuf::{node::Node as N, RoleSpecType};
use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

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
        if !open.is_empty() {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

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
    fn stays_quiet_on_reads_and_named_roles() {
        assert!(!fires(
            &RULE,
            "GRANT SELECT ON t TO anon; GRANT ALL ON t TO app_writer; REVOKE ALL ON t FROM PUBLIC;"
        ));
    }
}
