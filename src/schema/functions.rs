//! Functions, procedures and aggregates, one object per signature (overloads are objects of
//! their own). A function's or procedure's text is `pg_get_functiondef`'s, with SECURITY
//! DEFINER, SET options, volatility and the body; an aggregate's is made from `pg_aggregate`.

use super::{
    acl, not_extension_member, Detail, Key, Kind, Object, Reader, Snapshot, SnapshotError,
    USER_SCHEMA,
};

pub(super) async fn read(r: &Reader<'_>, snap: &mut Snapshot) -> Result<(), SnapshotError> {
    let sql = format!(
        "SELECT p.oid::int8, quote_ident(n.nspname), format('%I.%I', n.nspname, p.proname), pg_get_function_identity_arguments(p.oid),
                p.prokind::text, CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
                pg_get_function_result(p.oid), pg_get_function_arguments(p.oid),
                (SELECT concat_ws(', ', 'SFUNC = ' || a.aggtransfn::regproc::text, 'STYPE = ' || format_type(a.aggtranstype, NULL),
                        CASE WHEN a.aggtransspace <> 0 THEN 'SSPACE = ' || a.aggtransspace END,
                        CASE WHEN a.aggfinalfn <> 0 THEN 'FINALFUNC = ' || a.aggfinalfn::regproc::text END,
                        CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END,
                        CASE WHEN a.aggcombinefn <> 0 THEN 'COMBINEFUNC = ' || a.aggcombinefn::regproc::text END,
                        CASE WHEN a.aggserialfn <> 0 THEN 'SERIALFUNC = ' || a.aggserialfn::regproc::text END,
                        CASE WHEN a.aggdeserialfn <> 0 THEN 'DESERIALFUNC = ' || a.aggdeserialfn::regproc::text END,
                        CASE WHEN a.agginitval IS NOT NULL THEN 'INITCOND = ' || quote_literal(a.agginitval) END,
                        CASE WHEN a.aggmtransfn <> 0 THEN 'MSFUNC = ' || a.aggmtransfn::regproc::text || ', MINVFUNC = ' || a.aggminvtransfn::regproc::text || ', MSTYPE = ' || format_type(a.aggmtranstype, NULL) END,
                        CASE WHEN a.aggmfinalfn <> 0 THEN 'MFINALFUNC = ' || a.aggmfinalfn::regproc::text END,
                        CASE WHEN a.aggminitval IS NOT NULL THEN 'MINITCOND = ' || quote_literal(a.aggminitval) END,
                        CASE WHEN a.aggsortop <> 0 THEN 'SORTOP = ' || a.aggsortop::regoperator::text END,
                        CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END,
                        CASE WHEN a.aggkind = 'h' THEN 'HYPOTHETICAL' END)
                   FROM pg_aggregate a WHERE a.aggfnoid = p.oid),
                obj_description(p.oid, 'pg_proc'),
                {acl}
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE {USER_SCHEMA} AND {member}
            -- A range's constructors are made with it.
            AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i')
          ORDER BY 3, 4",
        acl = acl::column("p.proacl", "'f'", "p.proowner"),
        member = not_extension_member("pg_proc", "p.oid"),
    );
    for row in r.rows("functions", &sql).await? {
        let oid: i64 = row.get(0);
        let schema: String = row.get(1);
        let name: String = row.get(2);
        let identity: String = row.get(3);
        let prokind: String = row.get(4);
        let def: Option<String> = row.get(5);
        let result: Option<String> = row.get(6);
        let args: String = row.get(7);
        let aggregate: Option<String> = row.get(8);
        let is = prokind.chars().next().unwrap_or('f');
        let word = match is {
            'p' => "PROCEDURE",
            'a' => "AGGREGATE",
            _ => "FUNCTION",
        };
        let signature = format!("{name}({identity})");
        let create = match (is, def) {
            ('a', _) => format!(
                "CREATE AGGREGATE {name}({}) ({});",
                if args.is_empty() {
                    "*".to_string()
                } else {
                    args.clone()
                },
                aggregate.unwrap_or_default()
            ),
            (_, Some(d)) => format!("{};", d.trim_end()),
            (_, None) => continue,
        };
        let key = Key {
            kind: Kind::Function,
            name: signature.clone(),
        };
        snap.add(Object {
            key: key.clone(),
            schema: schema.clone(),
            parent: None,
            definition: create.clone(),
            detail: Detail::Function {
                result: result.unwrap_or_default(),
                args,
                is,
            },
            create: vec![create],
            drop: Some(format!("DROP {word} {signature};")),
            destructive: false,
            refs: vec![format!("pg_proc:{oid}")],
            roles: vec![],
        });
        snap.add_comment(&key, &schema, &format!("{word} {signature}"), row.get(9));
        // GRANT knows no AGGREGATE: an aggregate's privileges are a function's.
        let grant_word = if is == 'p' { "PROCEDURE" } else { "FUNCTION" };
        acl::add(
            snap,
            &key,
            &schema,
            &format!("{grant_word} {signature}"),
            row.get(10),
        );
    }
    Ok(())
}
