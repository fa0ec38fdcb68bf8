//! A repeatable migration whose `CREATE OR REPLACE` the server refuses: a view whose columns
//! change shape, a function whose return type changes. What depends on the objects the file
//! defines is read from the catalogs (pg_depend, through a schema snapshot); the objects are
//! dropped with it (CASCADE), the file runs, and every dependent is made again, in dependency
//! order: from its own repeatable file when one defines it, else from the catalog's
//! definition. All of it in the file's transaction, with its record: replaced whole, or not
//! at all.
//!
//! Dependents that hold data are never dropped: a column whose default or generated
//! expression calls the function, a table typed by the view. The file fails instead, with
//! what to write.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use pg_query::NodeEnum;
use tokio_postgres::Client;

use crate::db::execute::{Mode, Prepared};
use crate::migration::MigrationSet;
use crate::schema::{self, Key, Kind, Snapshot};
use crate::sql::variables::quote_identifier;

/// Whether a failure is the server refusing to replace: 42P16 (invalid_table_definition:
/// "cannot drop columns from view", "cannot change name of view column …") or 42P13
/// (invalid_function_definition: "cannot change return type of existing function", "cannot
/// change name of input parameter …").
pub(super) fn cannot_replace(sqlstate: Option<&str>) -> bool {
    matches!(sqlstate, Some("42P16" | "42P13"))
}

/// How a refused replacement is made: the drops sent first, the re-creations after the file,
/// and what they are.
#[derive(Debug, Default)]
pub(super) struct Replacement {
    /// `DROP … CASCADE` of the file's objects, sent right after BEGIN.
    pub first: String,
    /// The dependents made again (and the records of the repeatables run again), after the
    /// file's record.
    pub after: String,
    /// The dependents made again from the catalog, as `view public.report`.
    pub from_catalog: Vec<String>,
    /// The repeatables run again because they define dependents.
    pub from_files: Vec<String>,
}

/// The views and functions a file creates or replaces, and the kinds of children it makes
/// itself (a GRANT in it: the grants of its objects are its own, not restored).
#[derive(Debug, Default)]
struct Defined {
    /// As `to_regclass` reads them.
    views: Vec<String>,
    /// As `to_regprocedure` reads them (`"public"."f"(integer, text)`), when the signature
    /// could be written.
    signatures: Vec<String>,
    /// `(schema or "", name)` of every function, overloads included.
    functions: Vec<(String, String)>,
    /// The kinds of children the file makes itself.
    makes: BTreeSet<Kind>,
}

fn defined(p: &Prepared) -> Defined {
    let mut d = Defined::default();
    for s in &p.statements {
        let Ok(tree) = pg_query::parse(s.text(&p.sub.text), 0) else {
            continue;
        };
        let Some(node) = tree
            .protobuf
            .stmts
            .first()
            .and_then(|r| r.stmt.as_ref())
            .and_then(|n| n.node.as_ref())
        else {
            continue;
        };
        match node {
            NodeEnum::ViewStmt(v) => {
                if let Some(r) = &v.view {
                    d.views.push(qualified(&r.schemaname, &r.relname));
                }
            }
            NodeEnum::CreateFunctionStmt(f) => {
                let names: Vec<String> = f
                    .funcname
                    .iter()
                    .filter_map(|n| match &n.node {
                        Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                        _ => None,
                    })
                    .collect();
                if let Some(name) = names.last() {
                    let schema = if names.len() > 1 {
                        names[names.len() - 2].clone()
                    } else {
                        String::new()
                    };
                    if let Some(sig) = signature(&tree, f, &schema, name) {
                        d.signatures.push(sig);
                    }
                    d.functions.push((schema, name.clone()));
                }
            }
            NodeEnum::GrantStmt(_) => {
                d.makes.insert(Kind::Privilege);
            }
            NodeEnum::CommentStmt(_) => {
                d.makes.insert(Kind::Comment);
            }
            NodeEnum::CreateTrigStmt(_) => {
                d.makes.insert(Kind::Trigger);
            }
            NodeEnum::IndexStmt(_) => {
                d.makes.insert(Kind::Index);
            }
            NodeEnum::CreatePolicyStmt(_) => {
                d.makes.insert(Kind::Policy);
            }
            NodeEnum::CreateStatsStmt(_) => {
                d.makes.insert(Kind::Statistics);
            }
            _ => {}
        }
    }
    d
}

fn qualified(schema: &str, name: &str) -> String {
    if schema.is_empty() {
        quote_identifier(name)
    } else {
        format!("{}.{}", quote_identifier(schema), quote_identifier(name))
    }
}

/// A function's signature as `to_regprocedure` reads it: its input parameters' types, written
/// by the parser's own deparser (names, defaults and output parameters left out).
fn signature(
    tree: &pg_query::ParseResult,
    f: &pg_query::protobuf::CreateFunctionStmt,
    schema: &str,
    name: &str,
) -> Option<String> {
    use pg_query::protobuf::FunctionParameterMode as M;
    let mut g = f.clone();
    g.replace = false;
    g.options.clear();
    g.sql_body = None;
    g.return_type = None;
    g.parameters = f
        .parameters
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::FunctionParameter(p))
                if !matches!(M::try_from(p.mode), Ok(M::FuncParamOut | M::FuncParamTable)) =>
            {
                let mut p = p.clone();
                p.name.clear();
                p.defexpr = None;
                p.mode = M::FuncParamDefault as i32;
                Some(pg_query::protobuf::Node {
                    node: Some(NodeEnum::FunctionParameter(p)),
                })
            }
            _ => None,
        })
        .collect();
    let mut result = tree.protobuf.clone();
    let raw = result.stmts.first_mut()?;
    raw.stmt = Some(Box::new(pg_query::protobuf::Node {
        node: Some(NodeEnum::CreateFunctionStmt(Box::new(g))),
    }));
    let text = pg_query::deparse(&result, Default::default()).ok()?;
    // `CREATE FUNCTION name(types…) …`: the parenthesised list after the name.
    let open = text.find('(')?;
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let args = &text[open..=open + i];
                    return Some(format!("{}{args}", qualified(schema, name)));
                }
            }
            _ => {}
        }
    }
    None
}

/// `DROP … IF EXISTS` of the views and functions a file defines: the undoing of a repeatable
/// that had no earlier text. Without CASCADE: what depends on them stops the rollback.
pub(super) fn drops(p: &Prepared) -> String {
    let d = defined(p);
    let mut sql = String::new();
    for v in &d.views {
        sql.push_str(&format!("DROP VIEW IF EXISTS {v};\n"));
    }
    for f in &d.signatures {
        sql.push_str(&format!("DROP ROUTINE IF EXISTS {f};\n"));
    }
    sql
}

/// Kinds that hold data or shape a table: dropping them to replace a view or function would
/// lose rows or columns.
fn holds_data(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Column
            | Kind::Table
            | Kind::Type
            | Kind::Domain
            | Kind::DomainConstraint
            | Kind::Sequence
            | Kind::SequenceOwner
            | Kind::Schema
            | Kind::Extension
            | Kind::ForeignKey
            | Kind::Publication
    )
}

/// Why a replacement cannot be made; the message says what to do.
pub(super) type Refusal = String;

/// The run a refused replacement goes on in: a deploy's or a rollback's.
pub(super) struct Context<'a, 'e> {
    pub client: &'a Client,
    pub set: &'a MigrationSet,
    pub values: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub run: &'a crate::db::execute::RunContext<'a>,
    pub out: &'a super::Emitter<'e>,
}

/// `p`, whose CREATE OR REPLACE the server `refused`, made ready to run whole: the
/// replacement planned and told, `p` with the drops first. Returns it and the SQL that goes
/// after its record (the dependents made again); or the refusal, saying why it cannot be.
pub(super) async fn whole(
    c: &Context<'_, '_>,
    p: &Prepared,
    refused: crate::db::execute::Failure,
) -> Result<(Prepared, String), crate::db::execute::Failure> {
    let t = c.run.tracking;
    let scope = schema::Scope {
        ignore_schemas: Vec::new(),
        tracking: Some((t.schema.clone(), t.table.clone())),
    };
    let values = c.values;
    let prepare = |m: &crate::migration::Migration| super::prepare(m, values).ok();
    let record = |q: &Prepared| crate::db::execute::applied_sql(c.run, q, "0");
    let r = match plan(c.client, p, c.set, &scope, &prepare, &record).await {
        Ok(r) => r,
        Err(why) => {
            let mut f = refused;
            f.message = format!("{}; it cannot be replaced whole: {why}", f.message);
            return Err(f);
        }
    };
    c.out.emit(super::Event::Replacing {
        version: p.version.clone(),
        reason: refused.message.clone(),
        from_catalog: r.from_catalog,
        from_files: r.from_files,
    });
    let mut q = p.clone();
    q.first = r.first;
    Ok((q, r.after))
}

/// A replacement that failed after the file ran: in the making again of its dependents (sent
/// after the record, so the failure reads as bookkeeping's: said as it is).
pub(super) fn dependents_failed(
    version: &str,
    mut f: crate::db::execute::Failure,
) -> crate::db::execute::Failure {
    if f.bookkeeping {
        // The server's message follows the bookkeeping's words (`Failure::of_bookkeeping`).
        let server = f
            .message
            .split_once("together): ")
            .map_or(f.message.as_str(), |(_, m)| m);
        f.message = format!(
            "{version} ran, but what depends on its objects could not be made again after it (everything was rolled back): {server}"
        );
    }
    f
}

/// Plans the replacement of `p` (a repeatable of `set`), read from the database `client` is
/// connected to (outside any transaction: the deploy holds its lock, so nothing of pgshift's
/// changes it meanwhile). `prepare` prepares another repeatable of the set to run again.
pub(super) async fn plan(
    client: &Client,
    p: &Prepared,
    set: &MigrationSet,
    scope: &schema::Scope,
    prepare: &dyn Fn(&crate::migration::Migration) -> Option<Prepared>,
    record: &dyn Fn(&Prepared) -> String,
) -> Result<Replacement, Refusal> {
    let mine = defined(p);
    let snap = schema::read(client, scope)
        .await
        .map_err(|e| format!("its dependents could not be read: {e}"))?;
    let by_ref = refs(&snap);
    // The file's objects as they are now.
    let targets = existing(client, &by_ref, &mine, true).await;
    if targets.is_empty() {
        return Err("the objects it replaces could not be found in the database (only views and functions defined with CREATE OR REPLACE are replaced whole)".into());
    }
    let target_keys: BTreeSet<Key> = targets.iter().map(|(k, _)| k.clone()).collect();
    let dependents = dependents_of(&snap, &target_keys);
    if let Some(k) = dependents.iter().find(|k| holds_data(k.kind)) {
        return Err(format!(
            "{k} depends on it, and dropping it to replace the {} would lose data; change it in a versioned migration (drop or change the dependent there first)",
            target_keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    // Which dependents another repeatable defines: that file runs again.
    let mut owner: HashMap<Key, usize> = HashMap::new();
    let others: Vec<(&crate::migration::Migration, Prepared)> = set
        .migrations
        .iter()
        .filter(|m| m.is_repeatable() && m.version.as_str() != p.version)
        .filter_map(|m| prepare(m).map(|q| (m, q)))
        .collect();
    let mut makes: HashMap<Key, BTreeSet<Kind>> = HashMap::new();
    for k in &target_keys {
        makes.insert(k.clone(), mine.makes.clone());
    }
    for (i, (_, q)) in others.iter().enumerate() {
        let theirs = defined(q);
        let keys = existing(client, &by_ref, &theirs, false).await;
        for (k, _) in keys.into_iter().filter(|(k, _)| dependents.contains(k)) {
            owner.insert(k.clone(), i);
            makes.insert(k, theirs.makes.clone());
        }
    }
    // A child of an object its file makes again is the file's when the file makes that kind
    // of child (its GRANTs); else it is restored from the catalog.
    let from_catalog: BTreeSet<Key> = dependents
        .iter()
        .filter(|k| !owner.contains_key(*k))
        .filter(|k| {
            let parent = snap.objects.get(*k).and_then(|o| o.parent.as_ref());
            !parent
                .and_then(|p| makes.get(p))
                .is_some_and(|kinds| kinds.contains(&k.kind))
        })
        .cloned()
        .collect();
    let sql = catalog_sql(&snap, &from_catalog);
    let mut r = Replacement::default();
    for (_, drop) in &targets {
        r.first.push_str(drop);
        r.first.push('\n');
    }
    let mut ran = BTreeSet::new();
    for k in order(&snap, &dependents) {
        if let Some(&i) = owner.get(&k) {
            if ran.insert(i) {
                let (m, q) = &others[i];
                if q.mode != Mode::Transaction || q.statements.iter().any(|s| s.copy.is_some()) {
                    return Err(format!(
                        "{} defines {k}, which depends on it, and cannot run inside this transaction ({})",
                        m.version, q.mode
                    ));
                }
                r.after.push_str(&q.sub.text);
                r.after.push_str("\n;\n");
                r.after.push_str(&record(q));
                r.after.push('\n');
                r.from_files.push(m.version.to_string());
            }
        } else if let Some(statements) = sql.get(&k) {
            for s in statements {
                r.after.push_str(s);
                r.after.push('\n');
            }
            r.from_catalog.push(k.to_string());
        }
    }
    Ok(r)
}

/// The objects `d` defines as they are in the database, each with its DROP: its views, and
/// its functions by their signatures (`exact`) or every overload of their names.
async fn existing(
    client: &Client,
    by_ref: &HashMap<String, Key>,
    d: &Defined,
    exact: bool,
) -> Vec<(Key, String)> {
    let mut out = Vec::new();
    for v in &d.views {
        out.extend(resolve(client, by_ref, "to_regclass", "pg_class", v, "VIEW").await);
    }
    if exact {
        for s in &d.signatures {
            // ROUTINE: a procedure too.
            out.extend(resolve(client, by_ref, "to_regprocedure", "pg_proc", s, "ROUTINE").await);
        }
    } else {
        for (schema, name) in &d.functions {
            out.extend(overloads(client, by_ref, schema, name).await);
        }
    }
    out
}

/// Every object by the catalog rows it stands for (`pg_class:16390`).
fn refs(snap: &Snapshot) -> HashMap<String, Key> {
    let mut by_ref = HashMap::new();
    for o in snap.objects.values() {
        for r in &o.refs {
            by_ref.insert(r.clone(), o.key.clone());
        }
    }
    by_ref
}

/// The object `name` names (through `function`, e.g. `to_regclass`), with its DROP … CASCADE.
async fn resolve(
    client: &Client,
    by_ref: &HashMap<String, Key>,
    function: &str,
    catalog: &str,
    name: &str,
    word: &str,
) -> Option<(Key, String)> {
    let sql = format!("SELECT {function}($1)::oid::int8, {function}($1)::text");
    let row = client.query_opt(&sql, &[&name]).await.ok()??;
    let oid: Option<i64> = row.get(0);
    let text: Option<String> = row.get(1);
    let key = by_ref.get(&format!("{catalog}:{}", oid?))?.clone();
    let word = if key.kind == Kind::MaterializedView {
        "MATERIALIZED VIEW"
    } else {
        word
    };
    Some((key, format!("DROP {word} {} CASCADE;", text?)))
}

/// Every overload of the function `schema.name` (the current schema when none is written).
async fn overloads(
    client: &Client,
    by_ref: &HashMap<String, Key>,
    schema: &str,
    name: &str,
) -> Vec<(Key, String)> {
    let sql = "SELECT p.oid::int8 FROM pg_proc p
                WHERE p.proname = $2
                  AND p.pronamespace = CASE WHEN $1 = '' THEN (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                                            ELSE (SELECT oid FROM pg_namespace WHERE nspname = $1) END";
    let Ok(rows) = client.query(sql, &[&schema, &name]).await else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| by_ref.get(&format!("pg_proc:{}", r.get::<_, i64>(0))))
        .map(|k| (k.clone(), String::new()))
        .collect()
}

/// Everything that depends on `targets`, directly or not (their children too), without them.
fn dependents_of(snap: &Snapshot, targets: &BTreeSet<Key>) -> BTreeSet<Key> {
    let mut needed_by: HashMap<&Key, Vec<&Key>> = HashMap::new();
    for (a, b) in &snap.depends {
        needed_by.entry(b).or_default().push(a);
    }
    let mut seen: BTreeSet<Key> = BTreeSet::new();
    let mut todo: Vec<&Key> = targets.iter().collect();
    while let Some(k) = todo.pop() {
        for &d in needed_by.get(k).map(Vec::as_slice).unwrap_or(&[]) {
            if !targets.contains(d) && seen.insert(d.clone()) {
                todo.push(d);
            }
        }
    }
    seen
}

/// `keys` in dependency order (what an object needs first; ties by key).
fn order(snap: &Snapshot, keys: &BTreeSet<Key>) -> Vec<Key> {
    let mut waiting: BTreeMap<&Key, usize> = keys.iter().map(|k| (k, 0)).collect();
    let mut needed_by: HashMap<&Key, Vec<&Key>> = HashMap::new();
    for (a, b) in &snap.depends {
        if keys.contains(a) && keys.contains(b) {
            *waiting.entry(a).or_default() += 1;
            needed_by.entry(b).or_default().push(a);
        }
    }
    let mut ready: BTreeSet<&Key> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut out = Vec::new();
    while let Some(k) = ready.pop_first() {
        out.push(k.clone());
        for &d in needed_by.get(k).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(n) = waiting.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
    }
    out
}

/// The statements that make `keys` again, from the snapshot (as `diff` would write them: an
/// object with exactly the privileges and comments it had).
fn catalog_sql(snap: &Snapshot, keys: &BTreeSet<Key>) -> HashMap<Key, Vec<String>> {
    let mut without = snap.clone();
    without.retain(|o| !keys.contains(&o.key));
    let changes = schema::compare::compare(&without, snap);
    let script = schema::script::script(&without, snap, &changes);
    let mut out: HashMap<Key, Vec<String>> = HashMap::new();
    for s in script.statements {
        if keys.contains(&s.object) && !s.destructive {
            out.entry(s.object).or_default().push(s.sql);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature_of(sql: &str) -> Option<String> {
        let tree = pg_query::parse(sql, 0).unwrap();
        let node = tree.protobuf.stmts[0].stmt.as_ref()?.node.as_ref()?;
        let NodeEnum::CreateFunctionStmt(f) = node else {
            return None;
        };
        signature(&tree, f, "s", "f")
    }

    #[test]
    fn a_signature_keeps_the_input_types_only() {
        assert_eq!(
            signature_of("CREATE OR REPLACE FUNCTION s.f(a integer, OUT b text, c numeric(10,2) DEFAULT 1) RETURNS record LANGUAGE sql AS 'select 1'").as_deref(),
            Some("\"s\".\"f\"(int, numeric(10, 2))")
        );
        assert_eq!(
            signature_of("CREATE FUNCTION f() RETURNS TABLE (x int) LANGUAGE sql AS 'select 1'")
                .as_deref(),
            Some("\"s\".\"f\"()")
        );
        assert_eq!(
            signature_of(
                "CREATE FUNCTION f(VARIADIC xs text[]) RETURNS int LANGUAGE sql AS 'select 1'"
            )
            .as_deref(),
            Some("\"s\".\"f\"(text[])")
        );
    }

    #[test]
    fn the_server_refusing_to_replace_is_told_from_other_failures() {
        assert!(cannot_replace(Some("42P16")));
        assert!(cannot_replace(Some("42P13")));
        assert!(!cannot_replace(Some("42601")));
        assert!(!cannot_replace(None));
    }
}
