//! `rls/auth-per-row`: a policy that calls `auth.uid()`, `auth.jwt()`, `auth.role()`,
//! `auth.email()` or `current_setting()` bare: PostgreSQL calls it once per row. Wrapped in
//! `(select …)` it becomes an initplan, computed once per statement. The health check
//! `auth-per-row` looks for the same in the database.

use std::collections::HashSet;

use pg_query::{NodeEnum, NodeRef};

use crate::lint::{names, Ctx, Family, Rule, Violation, ALWAYS_INFO};

pub const RULE: Rule = Rule {
    id: "rls/auth-per-row",
    family: Family::Rls,
    levels: ALWAYS_INFO,
    summary: "A policy calls auth.uid() (or auth.jwt(), current_setting()) once per row instead of once per statement.",
    help: "write `(select auth.uid())` instead of `auth.uid()`: PostgreSQL then computes it once per query, which on a large table is the difference between milliseconds and seconds",
    check,
};

fn is_auth_call(f: &pg_query::protobuf::FuncCall) -> Option<String> {
    let name = names(&f.funcname).join(".");
    matches!(
        name.as_str(),
        "auth.uid"
            | "auth.jwt"
            | "auth.role"
            | "auth.email"
            | "current_setting"
            | "pg_catalog.current_setting"
    )
    .then_some(name)
}

/// The auth calls of a policy expression that no `(select …)` wraps.
fn bare_calls(expr: &NodeEnum) -> Vec<String> {
    let nodes = expr.nodes();
    let mut wrapped: HashSet<*const pg_query::protobuf::FuncCall> = HashSet::new();
    for (n, ..) in &nodes {
        if let NodeRef::SubLink(sl) = n {
            if let Some(sub) = sl.subselect.as_ref().and_then(|s| s.node.as_ref()) {
                for (inner, ..) in sub.nodes() {
                    if let NodeRef::FuncCall(f) = inner {
                        wrapped.insert(f as *const _);
                    }
                }
            }
        }
    }
    nodes
        .iter()
        .filter_map(|(n, ..)| match n {
            NodeRef::FuncCall(f) if !wrapped.contains(&(*f as *const _)) => is_auth_call(f),
            _ => None,
        })
        .collect()
}

fn check(ctx: &Ctx, out: &mut Vec<Violation>) {
    for s in ctx.statements() {
        let (qual, with_check) = match &*s.node {
            NodeEnum::CreatePolicyStmt(p) => (&p.qual, &p.with_check),
            NodeEnum::AlterPolicyStmt(p) => (&p.qual, &p.with_check),
            _ => continue,
        };
        let mut calls: Vec<String> = [qual, with_check]
            .into_iter()
            .flatten()
            .filter_map(|e| e.node.as_ref())
            .flat_map(bare_calls)
            .collect();
        calls.sort();
        calls.dedup();
        if let Some(first) = calls.first() {
            let at = ctx.find_in(s, first).unwrap_or(s.start);
            out.push(
                Violation::at(
                    at,
                    first.len(),
                    format!("{}() runs once per row in this policy", calls.join("(), ")),
                )
                .fix(format!("(select {first}())")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::testing::{fires, run};

    #[test]
    fn fires_on_a_bare_call() {
        assert_eq!(
            run(&RULE, "CREATE POLICY p ON t USING (owner = auth.uid());"),
            ["auth.uid"]
        );
        assert!(fires(
            &RULE,
            "CREATE POLICY p ON t FOR INSERT WITH CHECK (tenant = current_setting('app.tenant')::int);"
        ));
    }

    #[test]
    fn stays_quiet_when_wrapped_in_select() {
        assert!(!fires(
            &RULE,
            "CREATE POLICY p ON t USING (owner = (select auth.uid()) AND (SELECT auth.jwt()) ->> 'role' = 'admin');"
        ));
        assert!(!fires(&RULE, "CREATE POLICY p ON t USING (true);"));
    }
}
