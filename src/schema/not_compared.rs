//! The kinds pgshift does not model, counted where they are the user's: named in every
//! comparison, never taken as equal.

use super::{not_extension_member, Reader, Snapshot, SnapshotError, USER_SCHEMA};

/// Kinds pgshift does not model, counted where they are the user's.
pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
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
            "typed tables (OF type)",
            format!("(SELECT count(*) FROM pg_class o JOIN pg_namespace n ON n.oid = o.relnamespace WHERE o.reloftype <> 0 AND {USER_SCHEMA} AND {})", not_extension_member("pg_class", "o.oid")),
        ),
        (
            "comments on view columns",
            format!("(SELECT count(*) FROM pg_description d JOIN pg_class o ON o.oid = d.objoid AND d.classoid = 'pg_class'::regclass JOIN pg_namespace n ON n.oid = o.relnamespace WHERE d.objsubid > 0 AND o.relkind IN ('v', 'm') AND {USER_SCHEMA})"),
        ),
        (
            "column privileges on views",
            format!("(SELECT count(*) FROM pg_attribute a JOIN pg_class o ON o.oid = a.attrelid JOIN pg_namespace n ON n.oid = o.relnamespace WHERE a.attacl IS NOT NULL AND o.relkind IN ('v', 'm') AND {USER_SCHEMA})"),
        ),
        (
            "rules",
            format!("(SELECT count(*) FROM pg_rewrite o JOIN pg_class c ON c.oid = o.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace WHERE o.rulename <> '_RETURN' AND {USER_SCHEMA})"),
        ),
        ("casts", global("pg_cast", "o", "")),
        ("foreign-data wrappers", global("pg_foreign_data_wrapper", "o", "")),
        ("foreign servers", global("pg_foreign_server", "o", "")),
        ("user mappings", "(SELECT count(*) FROM pg_user_mappings)".to_string()),
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
