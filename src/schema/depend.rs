//! The dependencies between the objects of a snapshot: pg_depend's (a view on its tables, a
//! default on its function, a foreign key on the referenced key), each side named as the
//! object that carries it (a default is its column's, a view's rewrite rule is the view's, an
//! array type is its element's), and each object on its parent.

use std::collections::HashMap;

use super::{Key, Reader, Snapshot, SnapshotError};

const SQL: &str = "SELECT
  CASE d.classid
    WHEN 'pg_attrdef'::regclass THEN (SELECT 'pg_class:' || a.adrelid || ':' || a.adnum FROM pg_attrdef a WHERE a.oid = d.objid)
    WHEN 'pg_rewrite'::regclass THEN (SELECT 'pg_class:' || w.ev_class FROM pg_rewrite w WHERE w.oid = d.objid)
    ELSE d.classid::regclass::text || ':' || d.objid || CASE WHEN d.objsubid <> 0 THEN ':' || d.objsubid ELSE '' END END,
  CASE d.refclassid
    WHEN 'pg_type'::regclass THEN (SELECT 'pg_type:' || CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END FROM pg_type t WHERE t.oid = d.refobjid)
    ELSE d.refclassid::regclass::text || ':' || d.refobjid || CASE WHEN d.refobjsubid <> 0 THEN ':' || d.refobjsubid ELSE '' END END
  FROM pg_depend d
 WHERE d.deptype IN ('n', 'a') AND d.objid >= 16384 AND d.refobjid >= 16384
   AND $1::text[] IS NOT NULL
   -- A serial's sequence is owned by its column (OWNED BY, made after both): not a need.
   AND NOT (d.classid = 'pg_class'::regclass AND d.deptype = 'a' AND d.refclassid = 'pg_class'::regclass
            AND (SELECT c.relkind FROM pg_class c WHERE c.oid = d.objid) = 'S')";

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let mut by_ref: HashMap<&str, &Key> = HashMap::new();
    for o in snap.objects.values() {
        for r in &o.refs {
            by_ref.insert(r.as_str(), &o.key);
        }
    }
    let find = |r: &str| -> Option<Key> {
        by_ref.get(r).copied().cloned().or_else(|| {
            // A column that is not an object of its own (a view's) is its relation's.
            let (owner, _) = r.rsplit_once(':').filter(|(o, _)| o.contains(':'))?;
            by_ref.get(owner).copied().cloned()
        })
    };
    let mut edges = Vec::new();
    for row in r.rows("dependencies", SQL).await? {
        let (Some(a), Some(b)) = (
            row.get::<_, Option<String>>(0),
            row.get::<_, Option<String>>(1),
        ) else {
            continue;
        };
        if let (Some(a), Some(b)) = (find(&a), find(&b)) {
            if a != b {
                edges.push((a, b));
            }
        }
    }
    for o in snap.objects.values() {
        if let Some(p) = &o.parent {
            edges.push((o.key.clone(), p.clone()));
        }
        if let super::Detail::Table(t) = &o.detail {
            let parents = t
                .inherits
                .iter()
                .chain(t.partition_of.iter().map(|(p, _)| p));
            for p in parents {
                edges.push((
                    o.key.clone(),
                    Key {
                        kind: super::Kind::Table,
                        name: p.clone(),
                    },
                ));
            }
        }
    }
    // A table is made with its columns: what a column needs (its type, its default's
    // function or sequence, another table's row type), the table needs.
    let lifted: Vec<(Key, Key)> = edges
        .iter()
        .filter(|(a, _)| a.kind == super::Kind::Column)
        .filter_map(|(a, b)| {
            let table = snap.objects.get(a)?.parent.clone()?;
            let same_table =
                b == &table || snap.objects.get(b).and_then(|o| o.parent.as_ref()) == Some(&table);
            (!same_table).then(|| (table, b.clone()))
        })
        .collect();
    edges.extend(lifted);
    snap.depends.extend(edges);
    let objects = &snap.objects;
    snap.depends
        .retain(|(a, b)| objects.contains_key(a) && objects.contains_key(b));
    Ok(())
}
