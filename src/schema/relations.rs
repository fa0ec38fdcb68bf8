//! What lives on or beside tables: sequences (and their OWNED BY), constraints, indexes,
//! views and materialized views, triggers, policies, extended statistics. Each is an object
//! whose parent is its table (a view's trigger, a materialized view's index: the view).

use super::{
    acl, not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

/// The key of the relation (table, view or materialized view) named `name`, as read.
fn relation(snap: &Snapshot, name: &str) -> Key {
    for kind in [Kind::Table, Kind::View, Kind::MaterializedView] {
        let k = Key {
            kind,
            name: name.to_string(),
        };
        if snap.objects.contains_key(&k) {
            return k;
        }
    }
    Key {
        kind: Kind::Table,
        name: name.to_string(),
    }
}

pub(super) async fn sequences(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    // An identity column's sequence is the column's: left out.
    let sql = format!(
        "SELECT c.oid::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, c.relname),
                concat_ws(' ', 'AS ' || format_type(s.seqtypid, NULL), 'START WITH ' || s.seqstart, 'INCREMENT BY ' || s.seqincrement,
                          'MINVALUE ' || s.seqmin, 'MAXVALUE ' || s.seqmax, 'CACHE ' || s.seqcache, CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END),
                (SELECT format('%s.%I', d.refobjid::regclass, a.attname) FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' LIMIT 1),
                obj_description(c.oid, 'pg_class'), {acl}
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
        let key = Key {
            kind: Kind::Sequence,
            name: name.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: None,
            definition: options.clone(),
            detail: Detail::Sequence(options.clone()),
            create: vec![format!("CREATE SEQUENCE {name} {options};")],
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

pub(super) async fn constraints(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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

pub(super) async fn indexes(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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

pub(super) async fn views(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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

pub(super) async fn triggers(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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

pub(super) async fn policies(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT p.oid::int8, quote_ident(n.nspname), p.polrelid::regclass::text, quote_ident(p.polname), p.polpermissive,
                CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                (SELECT array_agg(CASE WHEN ro = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(ro)) END ORDER BY 1) FROM unnest(p.polroles) ro),
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), obj_description(p.oid, 'pg_policy')
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMA} AND {member}
          ORDER BY 3, 4",
        member = not_extension_member("pg_class", "c.oid"),
    );
    for row in r.rows("policies", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let table: String = row.get(2);
        let name: String = row.get(3);
        let permissive: bool = row.get(4);
        let command: String = row.get(5);
        let roles: Vec<String> = row.get(6);
        let using: Option<String> = row.get(7);
        let check: Option<String> = row.get(8);
        let mut def = format!(
            "CREATE POLICY {name} ON {table} AS {} FOR {command} TO {}",
            if permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            roles.join(", ")
        );
        if let Some(u) = using {
            def.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = check {
            def.push_str(&format!(" WITH CHECK ({c})"));
        }
        let key = Key {
            kind: Kind::Policy,
            name: format!("{table}.{name}"),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: Some(relation(snap, &table)),
            definition: def.clone(),
            detail: Detail::None,
            create: vec![format!("{def};")],
            drop: Some(format!("DROP POLICY {name} ON {table};")),
            destructive: false,
            refs: vec![format!("pg_policy:{oid}")],
            roles: roles.into_iter().filter(|r| r != "PUBLIC").collect(),
        });
        snap.add_comment(
            &key,
            &schema,
            &format!("POLICY {name} ON {table}"),
            row.get(9),
        );
    }
    Ok(())
}

pub(super) async fn statistics(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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
