//! Views and materialized views: `pg_get_viewdef`'s text and their options.

use super::{
    acl, not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT c.oid::int8, c.reltype::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, c.relname), c.relkind::text,
                pg_get_viewdef(c.oid, true), c.reloptions, c.relispopulated, obj_description(c.oid, 'pg_class'), {acl}
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMA} AND c.relkind IN ('v', 'm') AND {member}
          ORDER BY 4",
        acl = acl::column("c.relacl", "'r'", "c.relowner"),
        member = not_extension_member("pg_class", "c.oid"),
    );
    for row in r.rows("views", &sql).await? {
        let oid: i64 = row.get(0);
        let rowtype: i64 = row.get(1);
        let schema: String = row.get(2);
        let name: String = row.get(3);
        let materialized = row.get::<_, String>(4) == "m";
        let body: String = row.get(5);
        let body = body.trim().trim_end_matches(';').trim_end().to_string();
        let options: Option<Vec<String>> = row.get(6);
        let with = options
            .filter(|o| !o.is_empty())
            .map(|o| format!(" WITH ({})", o.join(", ")))
            .unwrap_or_default();
        let (kind, word) = if materialized {
            (Kind::MaterializedView, "MATERIALIZED VIEW")
        } else {
            (Kind::View, "VIEW")
        };
        let data = if !materialized {
            ""
        } else if row.get::<_, bool>(7) {
            " WITH DATA"
        } else {
            " WITH NO DATA"
        };
        let definition = format!("CREATE {word} {name}{with} AS\n{body}");
        let key = Key {
            kind,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: None,
            definition: definition.clone(),
            detail: Detail::None,
            create: vec![format!("{definition}{data};")],
            drop: Some(format!("DROP {word} {name};")),
            destructive: false,
            refs: vec![format!("pg_class:{oid}"), format!("pg_type:{rowtype}")],
            roles: vec![],
        });
        snap.add_comment(&key, &schema, &format!("{word} {name}"), row.get(8));
        acl::add(snap, &key, &schema, &format!("TABLE {name}"), row.get(9));
    }
    Ok(())
}
