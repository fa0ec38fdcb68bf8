//! Privileges, item by item (grantee, privilege, grant option), as objects whose parent is the
//! object they are on; and default privileges. An object with no ACL has its kind's default
//! (`acldefault`): PUBLIC's EXECUTE on a function and USAGE on a type are compared like any
//! grant. The owner's own privileges are not compared: owners differ from one database to the
//! next, and `pg_dump --no-owner` leaves them out too.

use super::{Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError};

/// An SQL expression: the ACL `acl` (or the default of `letter` for `owner`) as `text[]` of
/// `grantee<TAB>privilege<TAB>grantable`, the owner's own entries left out.
pub(super) fn column(acl: &str, letter: &str, owner: &str) -> String {
    format!(
        "(SELECT coalesce(array_agg(concat_ws(E'\\t', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END, x.privilege_type, x.is_grantable::text) ORDER BY 1), '{{}}')
           FROM aclexplode(coalesce({acl}, acldefault({letter}, {owner}))) x WHERE x.grantee <> {owner})"
    )
}

/// The same for a column's ACL, which has no default.
pub(super) fn column_acl(acl: &str, owner: &str) -> String {
    format!(
        "(SELECT coalesce(array_agg(concat_ws(E'\\t', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END, x.privilege_type, x.is_grantable::text) ORDER BY 1), '{{}}')
           FROM aclexplode({acl}) x WHERE x.grantee <> {owner})"
    )
}

/// One privilege object per entry of `entries` (as [`column`] makes them) on `target` (`TABLE
/// public.users`).
pub(super) fn add(
    snap: &mut Snapshot,
    parent: &Key,
    schema: &str,
    target: &str,
    entries: Vec<String>,
) {
    add_on(snap, parent, schema, target, None, entries);
}

/// The same for the privileges on one column.
pub(super) fn add_on(
    snap: &mut Snapshot,
    parent: &Key,
    schema: &str,
    target: &str,
    column: Option<&str>,
    entries: Vec<String>,
) {
    for entry in entries {
        let mut f = entry.split('\t');
        let (Some(grantee), Some(privilege), Some(grantable)) = (f.next(), f.next(), f.next())
        else {
            continue;
        };
        let grantable = grantable == "true";
        let what = match column {
            Some(c) => format!("{privilege} ({c})"),
            None => privilege.to_string(),
        };
        let key = Key {
            kind: Kind::Privilege,
            name: format!("{what} ON {target} TO {grantee}"),
        };
        let option = if grantable { " WITH GRANT OPTION" } else { "" };
        snap.add(Object {
            key,
            schema: schema.to_string(),
            parent: Some(parent.clone()),
            definition: format!("GRANT {what} ON {target} TO {grantee}{option}"),
            detail: Detail::Privilege {
                target: target.to_string(),
                privilege: privilege.to_string(),
                grantee: grantee.to_string(),
                grantable,
                column: column.map(str::to_string),
            },
            create: vec![format!("GRANT {what} ON {target} TO {grantee}{option};")],
            drop: Some(format!("REVOKE {what} ON {target} FROM {grantee};")),
            destructive: false,
            refs: vec![],
            roles: if grantee == "PUBLIC" {
                vec![]
            } else {
                vec![grantee.to_string()]
            },
        });
    }
}

/// `ALTER DEFAULT PRIVILEGES`: one object per role, schema, object type, grantee and privilege.
pub(super) async fn default_privileges(
    r: &Reader<'_>,
    snap: &mut Snapshot,
) -> Result<(), SnapshotError> {
    // An entry for all schemas replaces the built-in default (PUBLIC's EXECUTE on functions
    // and USAGE on types, the owner's all): only what differs from that default is an object,
    // a grant or a revoke. An entry for one schema only adds grants.
    let sql = "WITH d AS (
                 SELECT d.defaclrole, d.defaclnamespace, d.defaclobjtype, d.defaclacl AS acl,
                        CASE WHEN d.defaclnamespace = 0
                             THEN acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's'::\"char\" ELSE d.defaclobjtype END, d.defaclrole)
                             END AS base
                   FROM pg_default_acl d),
               items AS (
                 SELECT d.*, x.grantee, x.privilege_type, x.is_grantable, true AS granted
                   FROM d CROSS JOIN LATERAL aclexplode(d.acl) x
                  WHERE NOT EXISTS (SELECT 1 FROM aclexplode(d.base) b WHERE b.grantee = x.grantee AND b.privilege_type = x.privilege_type AND b.is_grantable = x.is_grantable)
                 UNION ALL
                 SELECT d.*, b.grantee, b.privilege_type, b.is_grantable, false
                   FROM d CROSS JOIN LATERAL aclexplode(d.base) b
                  WHERE NOT EXISTS (SELECT 1 FROM aclexplode(d.acl) x WHERE x.grantee = b.grantee AND x.privilege_type = b.privilege_type))
               SELECT quote_ident(pg_get_userbyid(i.defaclrole)), CASE WHEN i.defaclnamespace = 0 THEN NULL ELSE quote_ident(n.nspname) END,
                      i.defaclobjtype::text,
                      CASE WHEN i.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(i.grantee)) END, i.privilege_type, i.is_grantable, i.granted
                 FROM items i LEFT JOIN pg_namespace n ON n.oid = i.defaclnamespace
                WHERE i.grantee <> i.defaclrole
                  AND (i.defaclnamespace = 0 OR (n.nspname <> ALL($1::text[])))
                ORDER BY 1, 2, 3, 4, 5";
    for row in r.rows("default privileges", sql).await? {
        let role: String = row.get(0);
        let schema: Option<String> = row.get(1);
        let letter: String = row.get(2);
        let grantee: String = row.get(3);
        let privilege: String = row.get(4);
        let grantable: bool = row.get(5);
        let granted: bool = row.get(6);
        let objects = match letter.as_str() {
            "r" => "TABLES",
            "S" => "SEQUENCES",
            "f" => "FUNCTIONS",
            "T" => "TYPES",
            "n" => "SCHEMAS",
            _ => continue,
        };
        let c = letter.chars().next().unwrap_or('r');
        if granted {
            snap.default_grantees
                .insert((c, schema.clone().unwrap_or_default(), grantee.clone()));
        }
        let scope = match &schema {
            Some(s) => format!("FOR ROLE {role} IN SCHEMA {s}"),
            None => format!("FOR ROLE {role}"),
        };
        let option = if grantable && granted {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        let grant = format!("{scope} GRANT {privilege} ON {objects} TO {grantee}");
        let revoke = format!("{scope} REVOKE {privilege} ON {objects} FROM {grantee}");
        // A revoke of the built-in default is an object too; dropping it grants again.
        let (name, undo) = if granted {
            (grant, revoke)
        } else {
            (revoke, grant)
        };
        snap.add(Object {
            key: Key {
                kind: Kind::DefaultPrivilege,
                name: name.clone(),
            },
            schema: schema.clone().unwrap_or_default(),
            parent: schema.as_ref().map(|s| Key {
                kind: Kind::Schema,
                name: s.clone(),
            }),
            definition: format!("{name}{option}"),
            detail: Detail::None,
            create: vec![format!("ALTER DEFAULT PRIVILEGES {name}{option};")],
            drop: Some(format!("ALTER DEFAULT PRIVILEGES {undo};")),
            destructive: false,
            refs: vec![],
            roles: [role.clone(), grantee.clone()]
                .into_iter()
                .filter(|g| g != "PUBLIC")
                .collect(),
        });
    }
    Ok(())
}
