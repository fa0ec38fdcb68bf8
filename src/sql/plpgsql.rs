//! PL/pgSQL bodies that end transactions: a DO block (or a procedure) whose code runs COMMIT or
//! ROLLBACK (batched backfills) cannot run inside a transaction block, so its file runs in
//! autocommit mode, like CONCURRENTLY. Found with PostgreSQL's own PL/pgSQL parser.

use pg_query::protobuf::{self, node::Node as N};

/// The `AS` body and `LANGUAGE` of a DO block or CREATE FUNCTION/PROCEDURE option list.
fn body_and_language(options: &[protobuf::Node]) -> (Option<&str>, Option<&str>) {
    let mut body = None;
    let mut language = None;
    for o in options {
        let Some(N::DefElem(d)) = &o.node else {
            continue;
        };
        let arg = d.arg.as_ref().and_then(|a| a.node.as_ref());
        match (d.defname.as_str(), arg) {
            ("as", Some(N::String(s))) => body = Some(s.sval.as_str()),
            ("as", Some(N::List(l))) => {
                if let Some(N::String(s)) = l.items.first().and_then(|i| i.node.as_ref()) {
                    body = Some(s.sval.as_str());
                }
            }
            ("language", Some(N::String(s))) => language = Some(s.sval.as_str()),
            _ => {}
        }
    }
    (body, language)
}

/// Whether PL/pgSQL `body` holds a COMMIT or ROLLBACK statement anywhere.
fn commits(body: &str) -> bool {
    // Cheap first: no such word, no such statement.
    let lower = body.to_ascii_lowercase();
    if !lower.contains("commit") && !lower.contains("rollback") {
        return false;
    }
    let mut tag = String::from("$pgshift_body$");
    while body.contains(&tag) {
        tag.insert(1, 'x');
    }
    let wrapped = format!(
        "CREATE FUNCTION pgshift_probe() RETURNS void LANGUAGE plpgsql AS {tag}{body}{tag}"
    );
    match pg_query::parse_plpgsql(&wrapped) {
        Ok(json) => {
            let text = json.to_string();
            text.contains("\"PLpgSQL_stmt_commit\"") || text.contains("\"PLpgSQL_stmt_rollback\"")
        }
        // A body PL/pgSQL cannot parse fails when it runs, whatever the mode.
        Err(_) => false,
    }
}

/// A DO block in PL/pgSQL (the default language) that commits or rolls back.
pub fn do_block_commits(d: &protobuf::DoStmt) -> bool {
    let (body, language) = body_and_language(&d.args);
    language.is_none_or(|l| l.eq_ignore_ascii_case("plpgsql")) && body.is_some_and(commits)
}

/// The name of a PL/pgSQL procedure that a CREATE PROCEDURE defines and that commits.
pub fn committing_procedure(f: &protobuf::CreateFunctionStmt) -> Option<String> {
    if !f.is_procedure {
        return None;
    }
    let (body, language) = body_and_language(&f.options);
    (language.is_some_and(|l| l.eq_ignore_ascii_case("plpgsql")) && body.is_some_and(commits))
        .then(|| dotted(&f.funcname))
}

/// `schema.name` of a list of `String` nodes.
pub fn dotted(list: &[protobuf::Node]) -> String {
    list.iter()
        .filter_map(|n| match &n.node {
            Some(N::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use crate::sql::{parse, TxNeed};

    fn needs(sql: &str) -> Vec<TxNeed> {
        parse(sql).unwrap().into_iter().map(|s| s.need).collect()
    }

    #[test]
    fn a_do_block_that_commits_needs_autocommit() {
        let backfill = "DO $$\nDECLARE n int;\nBEGIN\n  LOOP\n    UPDATE t SET v = 0 WHERE id IN (SELECT id FROM t WHERE v IS NULL LIMIT 1000);\n    GET DIAGNOSTICS n = ROW_COUNT;\n    EXIT WHEN n = 0;\n    COMMIT;\n  END LOOP;\nEND $$;";
        assert!(matches!(needs(backfill)[0], TxNeed::Autocommit(_)));
        let rolls_back = "DO LANGUAGE plpgsql $b$ BEGIN IF true THEN ROLLBACK; END IF; END $b$;";
        assert!(matches!(needs(rolls_back)[0], TxNeed::Autocommit(_)));
    }

    #[test]
    fn a_do_block_that_only_mentions_commit_stays_in_the_transaction() {
        assert!(matches!(
            needs("DO $$ BEGIN RAISE NOTICE 'commit later'; PERFORM 1; END $$;")[0],
            TxNeed::Transaction
        ));
        assert!(matches!(
            needs("DO $$ BEGIN INSERT INTO log VALUES ('rollback'); END $$;")[0],
            TxNeed::Transaction
        ));
    }

    #[test]
    fn a_call_of_a_committing_procedure_of_the_same_file_needs_autocommit() {
        let sql = "CREATE PROCEDURE backfill() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;\nCALL backfill();\nCALL other();";
        let n = needs(sql);
        assert!(matches!(n[0], TxNeed::Transaction));
        assert!(matches!(n[1], TxNeed::Autocommit(_)));
        assert!(matches!(n[2], TxNeed::Transaction));
    }
}
