//! Row level security policies: command, roles, permissive or restrictive, USING and WITH
//! CHECK.

use super::{
    not_extension_member, relation, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT p.oid::int8, quote_ident(n.nspname), p.polrelid::regclass::text, quote_ident(p.polname), p.polpermissive,
                CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                (SELECT array_agg(CASE WHEN ro = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(ro)) END ORDER BY 1) FROM unnest(p.polroles) ro),
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), obj_description(p.oid, 'pg_policy')
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMA} AND {member}
          ORDER BY 3, 4",
        member = not_extension_member("pg_class", "c.oid"),
    );
    for row in r.rows("policies", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let table: String = row.get(2);
        let name: String = row.get(3);
        let permissive: bool = row.get(4);
        let command: String = row.get(5);
        let roles: Vec<String> = row.get(6);
        let using: Option<String> = row.get(7);
        let check: Option<String> = row.get(8);
        let mut def = format!(
            "CREATE POLICY {name} ON {table} AS {} FOR {command} TO {}",
            if permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            roles.join(", ")
        );
        if let Some(u) = using {
            def.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = check {
            def.push_str(&format!(" WITH CHECK ({c})"));
        }
        let key = Key {
            kind: Kind::Policy,
            name: format!("{table}.{name}"),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: Some(relation(snap, &table)),
            definition: def.clone(),
            detail: Detail::None,
            create: vec![format!("{def};")],
            drop: Some(format!("DROP POLICY {name} ON {table};")),
            destructive: false,
            refs: vec![format!("pg_policy:{oid}")],
            roles: roles.into_iter().filter(|r| r != "PUBLIC").collect(),
        });
        snap.add_comment(
            &key,
            &schema,
            &format!("POLICY {name} ON {table}"),
            row.get(9),
        );
    }
    Ok(())
}
