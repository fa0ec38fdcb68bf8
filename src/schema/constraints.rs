//! Table constraints: primary keys, unique, checks, exclusion constraints and foreign keys
//! (NOT VALID and DEFERRABLE as `pg_get_constraintdef` writes them). One inherited from a
//! parent or cloned onto a partition is made with its parent's.

use super::{
    not_extension_member, relation, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT k.oid::int8, k.conindid::int8, quote_ident(n.nspname), k.conrelid::regclass::text, quote_ident(k.conname), k.contype::text,
                pg_get_constraintdef(k.oid), obj_description(k.oid, 'pg_constraint'),
                (SELECT i.indisreplident FROM pg_index i WHERE i.indexrelid = k.conindid AND k.contype IN ('p', 'u'))
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMA} AND k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conislocal AND k.conparentid = 0 AND {member}
          ORDER BY 4, 5",
        member = not_extension_member("pg_class", "c.oid"),
    );
    for row in r.rows("constraints", &sql).await? {
        let oid: i64 = row.get(0);
        let index: i64 = row.get(1);
        let schema: String = row.get(2);
        let table: String = row.get(3);
        let name: String = row.get(4);
        let contype: String = row.get(5);
        let def: String = row.get(6);
        let replica: Option<bool> = row.get(8);
        let kind = if contype == "f" {
            Kind::ForeignKey
        } else {
            Kind::Constraint
        };
        let key = Key {
            kind,
            name: format!("{table}.{name}"),
        };
        let mut create = vec![format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def};")];
        if replica == Some(true) {
            create.push(format!(
                "ALTER TABLE {table} REPLICA IDENTITY USING INDEX {name};"
            ));
        }
        let mut refs = vec![format!("pg_constraint:{oid}")];
        if index != 0 && contype != "f" {
            refs.push(format!("pg_class:{index}"));
        }
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: Some(relation(snap, &table)),
            definition: create.join(" "),
            detail: Detail::None,
            create,
            drop: Some(format!("ALTER TABLE {table} DROP CONSTRAINT {name};")),
            destructive: false,
            refs,
            roles: vec![],
        });
        snap.add_comment(
            &key,
            &schema,
            &format!("CONSTRAINT {name} ON {table}"),
            row.get(7),
        );
    }
    Ok(())
}
