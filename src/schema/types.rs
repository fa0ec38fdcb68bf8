//! Types: enums (their values in order), composite types, domains (with their constraints as
//! objects of their own) and ranges. Array types, tables' row types and the multirange that
//! goes with each range are the server's and are left out.

use super::{
    acl, not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT t.oid::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, t.typname), t.typtype::text,
                CASE t.typtype
                  WHEN 'e' THEN (SELECT coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder), '{{}}') FROM pg_enum e WHERE e.enumtypid = t.oid)
                  WHEN 'c' THEN (SELECT coalesce(array_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
                                         || CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT typcollation FROM pg_type WHERE oid = a.atttypid)
                                                 THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END ORDER BY a.attnum), '{{}}')
                                 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
                  ELSE '{{}}'::text[] END,
                format_type(t.typbasetype, t.typtypmod),
                CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> (SELECT typcollation FROM pg_type WHERE oid = t.typbasetype)
                     THEN t.typcollation::regcollation::text END,
                t.typdefault, t.typnotnull,
                (SELECT concat_ws(', ', 'SUBTYPE = ' || format_type(rg.rngsubtype, NULL),
                        CASE WHEN rg.rngsubopc <> (SELECT o.oid FROM pg_opclass o WHERE o.opcmethod = (SELECT oid FROM pg_am WHERE amname = 'btree') AND o.opcintype = rg.rngsubtype AND o.opcdefault)
                             THEN 'SUBTYPE_OPCLASS = ' || (SELECT format('%I.%I', on2.nspname, o.opcname) FROM pg_opclass o JOIN pg_namespace on2 ON on2.oid = o.opcnamespace WHERE o.oid = rg.rngsubopc) END,
                        CASE WHEN rg.rngcollation <> 0 AND rg.rngcollation <> (SELECT typcollation FROM pg_type WHERE oid = rg.rngsubtype) THEN 'COLLATION = ' || rg.rngcollation::regcollation::text END,
                        CASE WHEN rg.rngcanonical <> 0 THEN 'CANONICAL = ' || rg.rngcanonical::regproc::text END,
                        CASE WHEN rg.rngsubdiff <> 0 THEN 'SUBTYPE_DIFF = ' || rg.rngsubdiff::regproc::text END)
                   FROM pg_range rg WHERE rg.rngtypid = t.oid),
                obj_description(t.oid, 'pg_type'),
                {acl}
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE {USER_SCHEMA} AND t.typtype IN ('e', 'c', 'd', 'r')
            AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
            AND {member}
          ORDER BY 3",
        acl = acl::column("t.typacl", "'T'", "t.typowner"),
        member = not_extension_member("pg_type", "t.oid"),
    );
    for row in r.rows("types", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let name: String = row.get(2);
        let typtype: String = row.get(3);
        let comment: Option<String> = row.get(10);
        let (kind, detail, create, definition) = match typtype.as_str() {
            "e" => enumeration(&name, row.get(4)),
            "c" => {
                let def = format!("({})", row.get::<_, Vec<String>>(4).join(", "));
                (
                    Kind::Type,
                    Detail::None,
                    format!("CREATE TYPE {name} AS {def};"),
                    def,
                )
            }
            "r" => {
                let def = format!(
                    "RANGE ({})",
                    row.get::<_, Option<String>>(9).unwrap_or_default()
                );
                (
                    Kind::Type,
                    Detail::None,
                    format!("CREATE TYPE {name} AS {def};"),
                    def,
                )
            }
            _ => domain(&name, row.get(5), row.get(6), row.get(7), row.get(8)),
        };
        let key = Key {
            kind,
            name: name.clone(),
        };
        let word = if kind == Kind::Domain {
            "DOMAIN"
        } else {
            "TYPE"
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: None,
            definition,
            detail,
            create: vec![create],
            drop: Some(format!("DROP {word} {name};")),
            destructive: true,
            refs: vec![format!("pg_type:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, &schema, &format!("{word} {name}"), comment);
        acl::add(snap, &key, &schema, &format!("TYPE {name}"), row.get(11));
    }
    domain_constraints(r, snap).await
}

type Shape = (Kind, Detail, String, String);

/// An enum: its values in order.
fn enumeration(name: &str, values: Vec<String>) -> Shape {
    let quoted: Vec<String> = values.iter().map(|v| super::literal(v)).collect();
    let def = format!("ENUM ({})", quoted.join(", "));
    (
        Kind::Type,
        Detail::Enum(values),
        format!("CREATE TYPE {name} AS {def};"),
        def,
    )
}

/// A domain: its base type (and collation) decide what it is; its default and NOT NULL change
/// in place.
fn domain(
    name: &str,
    base: String,
    collation: Option<String>,
    default: Option<String>,
    not_null: bool,
) -> Shape {
    let mut def = base;
    if let Some(c) = &collation {
        def.push_str(&format!(" COLLATE {c}"));
    }
    let extra = format!(
        "{}{}",
        default
            .as_ref()
            .map(|d| format!(" DEFAULT {d}"))
            .unwrap_or_default(),
        if not_null { " NOT NULL" } else { "" }
    );
    (
        Kind::Domain,
        Detail::Domain {
            base: def.clone(),
            default,
            not_null,
        },
        format!("CREATE DOMAIN {name} AS {def}{extra};"),
        format!("{def}{extra}"),
    )
}

/// A domain's CHECK constraints, each an object whose parent is the domain.
async fn domain_constraints(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT c.oid::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, t.typname), quote_ident(c.conname),
                pg_get_constraintdef(c.oid), obj_description(c.oid, 'pg_constraint')
           FROM pg_constraint c JOIN pg_type t ON t.oid = c.contypid JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE {USER_SCHEMA} AND c.contype = 'c' AND {member}
          ORDER BY 3, 4",
        member = not_extension_member("pg_type", "t.oid"),
    );
    for row in r.rows("domain constraints", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let domain: String = row.get(2);
        let name: String = row.get(3);
        let def: String = row.get(4);
        let parent = Key {
            kind: Kind::Domain,
            name: domain.clone(),
        };
        let key = Key {
            kind: Kind::DomainConstraint,
            name: format!("{domain}.{name}"),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: Some(parent),
            definition: def.clone(),
            detail: Detail::None,
            create: vec![format!(
                "ALTER DOMAIN {domain} ADD CONSTRAINT {name} {def};"
            )],
            drop: Some(format!("ALTER DOMAIN {domain} DROP CONSTRAINT {name};")),
            destructive: false,
            refs: vec![format!("pg_constraint:{oid}")],
            roles: vec![],
        });
        snap.add_comment(
            &key,
            &schema,
            &format!("CONSTRAINT {name} ON DOMAIN {domain}"),
            row.get(5),
        );
    }
    Ok(())
}
