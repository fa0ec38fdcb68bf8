//! `secrets/high-entropy-secret`: a random-looking string assigned to a secret-like name
//! (INSERT/UPDATE columns, SET parameters, column defaults).

use std::sync::LazyLock;

use pg_query::protobuf::{a_const::Val, node::Node as N, AConst};
use pg_query::NodeEnum;
use regex::Regex;

use crate::lint::{Ctx, Family, Rule, Violation, ALWAYS_ERROR};
use crate::sql::Statement;

pub const RULE: Rule = Rule {
    id: "secrets/high-entropy-secret",
    family: Family::Secrets,
    levels: ALWAYS_ERROR,
    summary: "A random-looking literal assigned to a secret-like name (password, token, api_key…).",
    help: "pass the value at run time with a psql variable (`:'api_key'` ← API_KEY), or store it in a secret store",
    check,
};

static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(passw(or)?d|secret|token|api_?key|private_?key|credential|auth_?key|access_?key|signing_?key|encryption_?key)")
        .expect("valid regex")
});

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = s.chars().count() as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Looks like a generated secret: long, no spaces, random-looking.
fn looks_secret(value: &str) -> bool {
    value.chars().count() >= 12 && !value.chars().any(char::is_whitespace) && entropy(value) >= 3.3
}

fn string_const(node: Option<&N>) -> Option<&AConst> {
    match node? {
        N::AConst(c) if matches!(c.val, Some(Val::Sval(_))) => Some(c),
        N::TypeCast(t) => string_const(t.arg.as_ref().and_then(|a| a.node.as_ref())),
        _ => None,
    }
}

fn report(ctx: &Ctx, st: &Statement, name: &str, c: &AConst, out: &mut Vec<Violation>) {
    let Some(Val::Sval(s)) = &c.val else { return };
    let at = st.place(c.location);
    if SECRET_NAME.is_match(name) && looks_secret(&s.sval) && !ctx.file.sub.is_substituted(at) {
        let len = s.sval.len() + 2;
        out.push(Violation::at(
            at,
            len,
            format!("{name} is given a literal that looks like a secret"),
        ));
    }
}

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        match &*s.node {
            NodeEnum::InsertStmt(i) => {
                let cols: Vec<String> = i
                    .cols
                    .iter()
                    .filter_map(|c| match &c.node {
                        Some(N::ResTarget(r)) => Some(r.name.clone()),
                        _ => None,
                    })
                    .collect();
                let Some(N::SelectStmt(sel)) = i.select_stmt.as_ref().and_then(|s| s.node.as_ref())
                else {
                    continue;
                };
                for row in &sel.values_lists {
                    let Some(N::List(l)) = &row.node else {
                        continue;
                    };
                    for (col, v) in cols.iter().zip(&l.items) {
                        if let Some(c) = string_const(v.node.as_ref()) {
                            report(ctx, s, col, c, out);
                        }
                    }
                }
            }
            NodeEnum::UpdateStmt(u) => {
                for t in &u.target_list {
                    if let Some(N::ResTarget(r)) = &t.node {
                        if let Some(c) = string_const(r.val.as_ref().and_then(|v| v.node.as_ref()))
                        {
                            report(ctx, s, &r.name, c, out);
                        }
                    }
                }
            }
            NodeEnum::VariableSetStmt(v) => set_args(ctx, s, v, out),
            NodeEnum::AlterRoleSetStmt(a) => {
                if let Some(v) = &a.setstmt {
                    set_args(ctx, s, v, out);
                }
            }
            NodeEnum::AlterDatabaseSetStmt(a) => {
                if let Some(v) = &a.setstmt {
                    set_args(ctx, s, v, out);
                }
            }
            NodeEnum::CreateStmt(c) => {
                for e in &c.table_elts {
                    let Some(N::ColumnDef(col)) = &e.node else {
                        continue;
                    };
                    for con in &col.constraints {
                        if let Some(N::Constraint(k)) = &con.node {
                            if let Some(c) =
                                string_const(k.raw_expr.as_ref().and_then(|x| x.node.as_ref()))
                            {
                                report(ctx, s, &col.colname, c, out);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn set_args(
    ctx: &Ctx,
    st: &Statement,
    v: &pg_query::protobuf::VariableSetStmt,
    out: &mut Vec<Violation>,
) {
    for a in &v.args {
        if let Some(c) = string_const(a.node.as_ref()) {
            report(ctx, st, &v.name, c, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_generated_values_under_secret_names() {
        assert_eq!(
            run(
                &RULE,
                "INSERT INTO integrations (name, api_key) VALUES ('mail', 'k8Zq3vT9xLm2Pw7R');"
            ),
            ["'k8Zq3vT9xLm2Pw7R'"]
        );
        assert!(fires(
            &RULE,
            "UPDATE settings SET jwt_secret = 'Xh3!kP9@qL2#vB7$';"
        ));
        assert!(fires(
            &RULE,
            "ALTER DATABASE app SET app.encryption_key = 'f3A9kQ2xZ7mB4nV8';"
        ));
        assert!(fires(
            &RULE,
            "CREATE TABLE t (token text DEFAULT 'a9F3kQ2xZ7mB4nV8');"
        ));
    }

    #[test]
    fn stays_quiet_on_ordinary_data() {
        assert!(!fires(
            &RULE,
            "INSERT INTO permissions (code, description) VALUES ('contacts.read', 'See contacts');"
        ));
        assert!(!fires(
            &RULE,
            "UPDATE users SET password_hint = 'name of your first pet';"
        ));
        assert!(!fires(
            &RULE,
            "INSERT INTO tokens (kind, token) VALUES ('reset', 'aaaaaaaaaaaaaaaa');"
        ));
        assert!(!fires(
            &RULE,
            "UPDATE integrations SET api_key = :'api_key';"
        ));
    }
}
