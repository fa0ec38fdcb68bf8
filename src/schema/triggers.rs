//! Triggers (not the server's internal ones, nor those cloned onto partitions), from
//! `pg_get_triggerdef`, with their enabled state.

use super::{
    not_extension_member, relation, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    // A trigger cloned onto a partition from its parent's is made with the parent's.
    let sql = format!(
        "SELECT t.oid::int8, quote_ident(n.nspname), t.tgrelid::regclass::text, quote_ident(t.tgname), pg_get_triggerdef(t.oid),
                t.tgenabled::text, obj_description(t.oid, 'pg_trigger')
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMA} AND NOT t.tgisinternal AND t.tgparentid = 0 AND {member}
          ORDER BY 3, 4",
        member = not_extension_member("pg_class", "c.oid"),
    );
    for row in r.rows("triggers", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let table: String = row.get(2);
        let name: String = row.get(3);
        let def: String = row.get(4);
        let enabled: String = row.get(5);
        let mut create = vec![format!("{def};")];
        let state = match enabled.as_str() {
            "D" => Some("DISABLE TRIGGER"),
            "R" => Some("ENABLE REPLICA TRIGGER"),
            "A" => Some("ENABLE ALWAYS TRIGGER"),
            _ => None,
        };
        if let Some(s) = state {
            create.push(format!("ALTER TABLE {table} {s} {name};"));
        }
        let key = Key {
            kind: Kind::Trigger,
            name: format!("{table}.{name}"),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: Some(relation(snap, &table)),
            definition: create.join(" "),
            detail: Detail::None,
            create,
            drop: Some(format!("DROP TRIGGER {name} ON {table};")),
            destructive: false,
            refs: vec![format!("pg_trigger:{oid}")],
            roles: vec![],
        });
        snap.add_comment(
            &key,
            &schema,
            &format!("TRIGGER {name} ON {table}"),
            row.get(6),
        );
    }
    Ok(())
}
