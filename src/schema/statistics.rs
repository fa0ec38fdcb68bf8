//! Extended statistics, from `pg_get_statisticsobjdef`.

use super::{
    not_extension_member, relation, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT s.oid::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, s.stxname), s.stxrelid::regclass::text,
                pg_get_statisticsobjdef(s.oid), obj_description(s.oid, 'pg_statistic_ext')
           FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
          WHERE {USER_SCHEMA} AND {member}
          ORDER BY 3",
        member = not_extension_member("pg_statistic_ext", "s.oid"),
    );
    for row in r.rows("statistics", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let name: String = row.get(2);
        let table: String = row.get(3);
        let def: String = row.get(4);
        let key = Key {
            kind: Kind::Statistics,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: Some(relation(snap, &table)),
            definition: def.clone(),
            detail: Detail::None,
            create: vec![format!("{def};")],
            drop: Some(format!("DROP STATISTICS {name};")),
            destructive: false,
            refs: vec![format!("pg_statistic_ext:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, &schema, &format!("STATISTICS {name}"), row.get(5));
    }
    Ok(())
}
