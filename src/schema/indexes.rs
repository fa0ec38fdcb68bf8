//! Indexes (unique, partial, expression, INCLUDE, operator classes, validity) that no
//! constraint owns, from `pg_get_indexdef`.

use super::{
    not_extension_member, relation, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    // An index that backs a constraint is the constraint's; one that is a partition of a
    // partitioned index is made with it.
    let sql = format!(
        "SELECT i.indexrelid::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, ic.relname), i.indrelid::regclass::text,
                pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisreplident, obj_description(i.indexrelid, 'pg_class')
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
                JOIN pg_namespace n ON n.oid = ic.relnamespace
          WHERE {USER_SCHEMA} AND {member}
            AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
            AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
          ORDER BY 3",
        member = not_extension_member("pg_class", "c.oid"),
    );
    for row in r.rows("indexes", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let name: String = row.get(2);
        let table: String = row.get(3);
        let def: String = row.get(4);
        let valid: bool = row.get(5);
        let replica: bool = row.get(6);
        // An index of a partitioned table is made on every partition too.
        let mut create = vec![format!("{};", def.replacen(" ON ONLY ", " ON ", 1))];
        if replica {
            let bare = name.rsplit('.').next().unwrap_or(&name);
            create.push(format!(
                "ALTER TABLE {table} REPLICA IDENTITY USING INDEX {bare};"
            ));
        }
        let definition = if valid {
            create.join(" ")
        } else {
            format!("{} (INVALID)", create.join(" "))
        };
        let key = Key {
            kind: Kind::Index,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: Some(relation(snap, &table)),
            definition,
            detail: Detail::None,
            create,
            drop: Some(format!("DROP INDEX {name};")),
            destructive: false,
            refs: vec![format!("pg_class:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, &schema, &format!("INDEX {name}"), row.get(7));
    }
    Ok(())
}
