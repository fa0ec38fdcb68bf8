//! Extensions: name, schema and version (changed in place with ALTER EXTENSION). Those made
//! with every database (plpgsql) are the server's, as pg_dump has it.

use super::{literal, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    // Those made with the database (plpgsql) are the server's, as pg_dump has it.
    let sql = "SELECT e.oid::int8, quote_ident(e.extname), quote_ident(n.nspname), e.extversion, obj_description(e.oid, 'pg_extension')
           FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
          WHERE e.oid >= 16384 AND (n.nspname <> ALL($1::text[])) ORDER BY 2";
    for row in r.rows("extensions", sql).await? {
        let oid: i64 = row.get(0);
        let name: String = row.get(1);
        let schema: String = row.get(2);
        let version: String = row.get(3);
        let key = Key {
            kind: Kind::Extension,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: None,
            definition: format!(
                "EXTENSION {name} WITH SCHEMA {schema} VERSION {}",
                literal(&version)
            ),
            detail: Detail::Extension {
                version,
                schema: schema.clone(),
            },
            create: vec![format!(
                "CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {schema};"
            )],
            drop: Some(format!("DROP EXTENSION {name};")),
            destructive: true,
            refs: vec![format!("pg_extension:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, &schema, &format!("EXTENSION {name}"), row.get(4));
    }
    Ok(())
}
