//! Publications: their tables (with column lists and row filters from PostgreSQL 15), schemas
//! and options.

use super::{literal, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let v15 = snap.server_version >= 150000;
    let tables = if v15 {
        "(SELECT coalesce(array_agg(format('TABLE %s', pr.prrelid::regclass)
                    || CASE WHEN pr.prattrs IS NOT NULL THEN ' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = pr.prrelid AND a.attnum = ANY(pr.prattrs)) || ')' ELSE '' END
                    || CASE WHEN pr.prqual IS NOT NULL THEN ' WHERE (' || pg_get_expr(pr.prqual, pr.prrelid) || ')' ELSE '' END ORDER BY 1), '{}')
             FROM pg_publication_rel pr WHERE pr.prpubid = p.oid)
          || (SELECT coalesce(array_agg(format('TABLES IN SCHEMA %I', pn2.nspname) ORDER BY 1), '{}') FROM pg_publication_namespace pn JOIN pg_namespace pn2 ON pn2.oid = pn.pnnspid WHERE pn.pnpubid = p.oid)"
    } else {
        "(SELECT coalesce(array_agg(format('TABLE %s', pr.prrelid::regclass) ORDER BY 1), '{}') FROM pg_publication_rel pr WHERE pr.prpubid = p.oid)"
    };
    let sql = format!(
        "SELECT quote_ident(p.pubname), p.puballtables, concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END), p.pubviaroot, {tables},
                obj_description(p.oid, 'pg_publication')
           FROM pg_publication p ORDER BY 1"
    );
    for row in r.rows("publications", &sql).await? {
        let name: String = row.get(0);
        let all: bool = row.get(1);
        let publish: String = row.get(2);
        let via_root: bool = row.get(3);
        let members: Vec<String> = row.get(4);
        let what = if all {
            " FOR ALL TABLES".to_string()
        } else if members.is_empty() {
            String::new()
        } else {
            let (schemas, tables): (Vec<&String>, Vec<&String>) = members
                .iter()
                .partition(|m| m.starts_with("TABLES IN SCHEMA"));
            let mut parts: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
            parts.extend(schemas.iter().map(|s| s.to_string()));
            format!(" FOR {}", parts.join(", "))
        };
        let def = format!(
            "PUBLICATION {name}{what} WITH (publish = {}, publish_via_partition_root = {via_root})",
            literal(&publish)
        );
        let key = Key {
            kind: Kind::Publication,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: String::new(),
            parent: None,
            definition: def.clone(),
            detail: Detail::None,
            create: vec![format!("CREATE {def};")],
            drop: Some(format!("DROP PUBLICATION {name};")),
            destructive: false,
            refs: vec![],
            roles: vec![],
        });
        snap.add_comment(&key, "", &format!("PUBLICATION {name}"), row.get(5));
    }
    Ok(())
}
