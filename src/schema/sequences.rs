//! Sequences, with their options, and OWNED BY as an object of its own (made after the
//! column it names). An identity column's sequence is the column's and is left out.

use super::{
    acl, not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    // An identity column's sequence is the column's: left out.
    let sql = format!(
        "SELECT c.oid::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, c.relname),
                concat_ws(' ', 'AS ' || format_type(s.seqtypid, NULL), 'START WITH ' || s.seqstart, 'INCREMENT BY ' || s.seqincrement,
                          'MINVALUE ' || s.seqmin, 'MAXVALUE ' || s.seqmax, 'CACHE ' || s.seqcache, CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END),
                (SELECT format('%s.%I', d.refobjid::regclass, a.attname) FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' LIMIT 1),
                obj_description(c.oid, 'pg_class'), {acl}, c.relpersistence = 'u'
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
          WHERE {USER_SCHEMA} AND c.relkind = 'S' AND {member}
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i')
          ORDER BY 3",
        acl = acl::column("c.relacl", "'s'", "c.relowner"),
        member = not_extension_member("pg_class", "c.oid"),
    );
    for row in r.rows("sequences", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let name: String = row.get(2);
        let options: String = row.get(3);
        let owned_by: Option<String> = row.get(4);
        let unlogged = if row.get::<_, bool>(7) {
            "UNLOGGED "
        } else {
            ""
        };
        let key = Key {
            kind: Kind::Sequence,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: None,
            definition: format!("{unlogged}{options}"),
            detail: Detail::Sequence(options.clone()),
            create: vec![format!("CREATE {unlogged}SEQUENCE {name} {options};")],
            drop: Some(format!("DROP SEQUENCE {name};")),
            destructive: false,
            refs: vec![format!("pg_class:{oid}")],
            roles: vec![],
        });
        if let Some(column) = owned_by {
            let owner = Key {
                kind: Kind::SequenceOwner,
                name: name.clone(),
            };
            snap.depends.insert((
                owner.clone(),
                Key {
                    kind: Kind::Column,
                    name: column.clone(),
                },
            ));
            snap.add(Object {
                key: owner,
                schema: schema.clone(),
                parent: Some(key.clone()),
                definition: format!("OWNED BY {column}"),
                detail: Detail::None,
                create: vec![format!("ALTER SEQUENCE {name} OWNED BY {column};")],
                drop: Some(format!("ALTER SEQUENCE {name} OWNED BY NONE;")),
                destructive: false,
                refs: vec![],
                roles: vec![],
            });
        }
        snap.add_comment(&key, &schema, &format!("SEQUENCE {name}"), row.get(5));
        acl::add(snap, &key, &schema, &format!("SEQUENCE {name}"), row.get(6));
    }
    Ok(())
}
