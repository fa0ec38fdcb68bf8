//! `dangerous/security-definer-search-path`: SECURITY DEFINER function without SET search_path.

use pg_query::protobuf::node::Node as N;
use pg_query::NodeEnum;

use crate::lint::{def_bool, def_elems, names, Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/security-definer-search-path",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "A SECURITY DEFINER function without a fixed search_path can be hijacked by a caller's objects.",
    help: "add `SET search_path = pg_catalog, public, pg_temp` (or the schemas it needs) to the function",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let NodeEnum::CreateFunctionStmt(f) = &*s.node else {
            continue;
        };
        let definer =
            def_elems(&f.options).any(|d| d.defname == "security" && def_bool(d) == Some(true));
        let pinned = def_elems(&f.options).any(|d| {
            d.defname == "set"
                && matches!(d.arg.as_ref().and_then(|a| a.node.as_ref()), Some(N::VariableSetStmt(v)) if v.name == "search_path")
        });
        if definer && !pinned {
            let name = names(&f.funcname).join(".");
            let at = ctx.find_in(s, "security definer").unwrap_or(s.start);
            out.push(
                Violation::at(
                    at,
                    "security definer".len(),
                    format!("SECURITY DEFINER function {name} has no SET search_path"),
                )
                .fix("SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_without_search_path() {
        let sql =
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;";
        assert_eq!(run(&RULE, sql), ["SECURITY DEFINER"]);
    }

    #[test]
    fn stays_quiet_with_search_path_or_invoker() {
        assert!(!fires(&RULE, "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$ SELECT 1 $$;"));
        assert!(!fires(
            &RULE,
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"
        ));
    }
}
