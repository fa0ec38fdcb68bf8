//! Schemas, with their comment and privileges.

use super::{
    acl, not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT n.oid::int8, quote_ident(n.nspname), obj_description(n.oid, 'pg_namespace'), {acl}
           FROM pg_namespace n WHERE {USER_SCHEMA} AND {member} ORDER BY 2",
        acl = acl::column("n.nspacl", "'n'", "n.nspowner"),
        member = not_extension_member("pg_namespace", "n.oid"),
    );
    for row in r.rows("schemas", &sql).await? {
        let oid: i64 = row.get(0);
        let name: String = row.get(1);
        let key = Key {
            kind: Kind::Schema,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: name.clone(),
            parent: None,
            definition: format!("SCHEMA {name}"),
            detail: Detail::None,
            create: vec![format!("CREATE SCHEMA IF NOT EXISTS {name};")],
            drop: Some(format!("DROP SCHEMA {name};")),
            destructive: true,
            refs: vec![format!("pg_namespace:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, &name, &format!("SCHEMA {name}"), row.get(2));
        acl::add(snap, &key, &name, &format!("SCHEMA {name}"), row.get(3));
    }
    Ok(())
}
