//! `dangerous/untrusted-language`: functions or DO blocks in an untrusted language.

use pg_query::NodeEnum;

use crate::lint::{def_elems, def_string, Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/untrusted-language",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "Untrusted languages (plpython3u, plperlu, pltclu, C) run arbitrary code on the server.",
    help: "write the function in SQL or PL/pgSQL; if this is intended, add `-- @allow: dangerous/untrusted-language <reason>`",
    check,
};

fn untrusted(lang: &str) -> bool {
    let l = lang.to_ascii_lowercase();
    l == "c" || (l.starts_with("pl") && l.ends_with('u'))
}

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let lang = match &*s.node {
            NodeEnum::CreateFunctionStmt(f) => def_elems(&f.options)
                .find(|d| d.defname == "language")
                .and_then(def_string),
            NodeEnum::DoStmt(d) => def_elems(&d.args)
                .find(|d| d.defname == "language")
                .and_then(def_string),
            NodeEnum::CreatePlangStmt(p) => Some(p.plname.clone()),
            NodeEnum::CreateExtensionStmt(e) => Some(e.extname.clone()),
            _ => None,
        };
        if let Some(lang) = lang.filter(|l| untrusted(l)) {
            let at = ctx.find_in(s, &lang).unwrap_or(s.start);
            out.push(Violation::at(
                at,
                lang.len(),
                format!("{lang} is an untrusted language"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_untrusted_languages() {
        assert_eq!(
            run(
                &RULE,
                "CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS $$ return 1 $$;"
            ),
            ["plpython3u"]
        );
        assert!(fires(&RULE, "CREATE EXTENSION plperlu;"));
        assert!(fires(&RULE, "DO LANGUAGE plpython3u $$ import os $$;"));
    }

    #[test]
    fn stays_quiet_on_trusted_ones() {
        assert!(!fires(&RULE, "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$; CREATE EXTENSION pgcrypto; DO $$ BEGIN END $$;"));
    }
}
