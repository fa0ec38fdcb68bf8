//! `locking/volatile-default`: ADD COLUMN with a volatile default rewrites the whole table
//! under an ACCESS EXCLUSIVE lock.

use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType};

use crate::lint::{
    alter_existing, json_func_names, names, to_json, Ctx, Family, Rule, Violation, ALWAYS_WARNING,
};

pub const RULE: Rule = Rule {
    id: "locking/volatile-default",
    family: Family::Locking,
    levels: ALWAYS_WARNING,
    summary: "ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), serial…) rewrites an existing table.",
    help: "add the column without a default (or with a constant one), set the default after, and fill existing rows in batches",
    check,
};

pub(crate) const VOLATILE: [&str; 9] = [
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "statement_timestamp",
];

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for (s, _, c) in
        alter_existing(ctx).filter(|(_, _, c)| c.subtype == AlterTableType::AtAddColumn as i32)
    {
        let Some(N::ColumnDef(col)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else {
            continue;
        };
        let serial = col.type_name.as_ref().is_some_and(|t| {
            names(&t.names)
                .last()
                .is_some_and(|n| n.ends_with("serial"))
        });
        let mut funcs = Vec::new();
        for k in &col.constraints {
            if let Some(N::Constraint(k)) = &k.node {
                if k.contype == ConstrType::ConstrDefault as i32 {
                    json_func_names(&to_json(&k.raw_expr), &mut funcs);
                }
            }
        }
        let volatile = funcs
            .iter()
            .find(|f| VOLATILE.contains(&f.to_ascii_lowercase().as_str()));
        if let Some(what) = volatile.cloned().or(serial.then(|| "serial".to_string())) {
            let at = ctx.find_in(s, &col.colname).unwrap_or(s.start);
            out.push(Violation::at(
                at,
                col.colname.len(),
                format!(
                    "column {} gets a volatile default ({what}): the table is rewritten",
                    col.colname
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_volatile_defaults() {
        assert_eq!(
            run(
                &RULE,
                "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();"
            ),
            ["token"]
        );
        assert!(fires(&RULE, "ALTER TABLE users ADD COLUMN n bigserial;"));
        assert!(fires(
            &RULE,
            "ALTER TABLE users ADD COLUMN r float DEFAULT random() * 10;"
        ));
    }

    #[test]
    fn quiet_on_constant_or_stable_defaults_and_new_tables() {
        assert!(!fires(&RULE, "ALTER TABLE users ADD COLUMN active boolean DEFAULT true, ADD COLUMN at timestamptz DEFAULT now();"));
        assert!(!fires(
            &RULE,
            "CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();"
        ));
    }
}
