//! Schemas, extensions, publications, event triggers; and the count of every kind present
//! that is not modelled, so that it is named and never taken as equal.

use super::{
    acl, literal, not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn schemas(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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

pub(super) async fn extensions(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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

pub(super) async fn publications(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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

pub(super) async fn event_triggers(
    r: &Reader<'_>,
    snap: &mut Snapshot,
) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT e.oid::int8, quote_ident(e.evtname), e.evtevent, e.evtfoid::regproc::text, e.evtenabled::text,
                (SELECT string_agg(quote_literal(t), ', ' ORDER BY t) FROM unnest(e.evttags) t), obj_description(e.oid, 'pg_event_trigger')
           FROM pg_event_trigger e WHERE {member} ORDER BY 2",
        member = not_extension_member("pg_event_trigger", "e.oid"),
    );
    for row in r.rows("event triggers", &sql).await? {
        let oid: i64 = row.get(0);
        let name: String = row.get(1);
        let event: String = row.get(2);
        let function: String = row.get(3);
        let enabled: String = row.get(4);
        let tags: Option<String> = row.get(5);
        let when = tags
            .map(|t| format!(" WHEN TAG IN ({t})"))
            .unwrap_or_default();
        let mut create = vec![format!(
            "CREATE EVENT TRIGGER {name} ON {event}{when} EXECUTE FUNCTION {function}();"
        )];
        let state = match enabled.as_str() {
            "D" => Some("DISABLE"),
            "R" => Some("ENABLE REPLICA"),
            "A" => Some("ENABLE ALWAYS"),
            _ => None,
        };
        if let Some(s) = state {
            create.push(format!("ALTER EVENT TRIGGER {name} {s};"));
        }
        let key = Key {
            kind: Kind::EventTrigger,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: String::new(),
            parent: None,
            definition: create.join(" "),
            detail: Detail::None,
            create,
            drop: Some(format!("DROP EVENT TRIGGER {name};")),
            destructive: false,
            refs: vec![format!("pg_event_trigger:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, "", &format!("EVENT TRIGGER {name}"), row.get(6));
    }
    Ok(())
}

/// Kinds pgshift does not model, counted where they are the user's.
pub(super) async fn not_compared(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let in_user = |catalog: &str, ns: &str, alias: &str| {
        format!(
            "(SELECT count(*) FROM {catalog} {alias} JOIN pg_namespace n ON n.oid = {alias}.{ns} WHERE {USER_SCHEMA} AND {})",
            not_extension_member(catalog, &format!("{alias}.oid"))
        )
    };
    let global = |catalog: &str, alias: &str, extra: &str| {
        format!(
            "(SELECT count(*) FROM {catalog} {alias} WHERE {alias}.oid >= 16384 AND {} AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = '{catalog}'::regclass AND i.objid = {alias}.oid AND i.deptype = 'i') {extra})",
            not_extension_member(catalog, &format!("{alias}.oid"))
        )
    };
    let kinds: Vec<(&str, String)> = vec![
        ("operator classes", in_user("pg_opclass", "opcnamespace", "o")),
        ("operator families", in_user("pg_opfamily", "opfnamespace", "o")),
        ("operators", in_user("pg_operator", "oprnamespace", "o")),
        ("collations", in_user("pg_collation", "collnamespace", "o")),
        ("conversions", in_user("pg_conversion", "connamespace", "o")),
        ("text search configurations", in_user("pg_ts_config", "cfgnamespace", "o")),
        ("text search dictionaries", in_user("pg_ts_dict", "dictnamespace", "o")),
        ("text search parsers", in_user("pg_ts_parser", "prsnamespace", "o")),
        ("text search templates", in_user("pg_ts_template", "tmplnamespace", "o")),
        (
            "foreign tables",
            format!("(SELECT count(*) FROM pg_class o JOIN pg_namespace n ON n.oid = o.relnamespace WHERE o.relkind = 'f' AND {USER_SCHEMA} AND {})", not_extension_member("pg_class", "o.oid")),
        ),
        (
            "rules",
            format!("(SELECT count(*) FROM pg_rewrite o JOIN pg_class c ON c.oid = o.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace WHERE o.rulename <> '_RETURN' AND {USER_SCHEMA})"),
        ),
        ("casts", global("pg_cast", "o", "")),
        ("foreign-data wrappers", global("pg_foreign_data_wrapper", "o", "")),
        ("foreign servers", global("pg_foreign_server", "o", "")),
        ("user mappings", "(SELECT count(*) FROM pg_user_mapping)".to_string()),
        ("procedural languages", global("pg_language", "o", "")),
        ("transforms", global("pg_transform", "o", "")),
        ("access methods", global("pg_am", "o", "")),
        ("security labels", "(SELECT count(*) FROM pg_seclabel)".to_string()),
    ];
    let sql = format!(
        "SELECT {}",
        kinds
            .iter()
            .map(|(_, q)| q.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = r.rows("kinds not compared", &sql).await?;
    if let Some(row) = rows.first() {
        for (i, (name, _)) in kinds.iter().enumerate() {
            let n: i64 = row.get(i);
            if n > 0 {
                snap.not_compared.insert(name.to_string(), n);
            }
        }
    }
    Ok(())
}
