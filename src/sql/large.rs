//! Large texts (a data migration, a dump) in bounded memory: the text is cut into chunks of
//! whole statements (after a `;` outside literals and comments, as psql reads them), and
//! libpg_query's parser, on every core, finds each chunk's statements and checks their syntax
//! without building a tree for us; only the statements a rule or a deploy needs the tree of
//! (everything but `INSERT` and plain queries: see [`super::Skip`]) are decoded, one at a
//! time. Memory stays a few
//! chunks whatever the size of the text, and the time linear.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use pg_query::NodeEnum;

use super::{
    blank_comments, parse_small, skip_trivia, trim_end_trivia, Skip, Statement, SyntaxError, TxNeed,
};

/// Bytes scanned at once: the memory the parser needs is a few times this.
pub const WINDOW: usize = 1 << 18;

/// Consecutive complete statements of `sql`, as byte ranges of about `window` bytes each (more
/// when one statement is longer), cut after a `;` outside any literal or comment. The last
/// range ends at the end of `sql`.
pub fn chunks(sql: &str, window: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= sql.len() {
            return None;
        }
        let mut w = window.max(64);
        loop {
            let end = line_end(sql, pos + w);
            if end >= sql.len() {
                let r = pos..sql.len();
                pos = sql.len();
                return Some(r);
            }
            // The window may end inside a literal or a statement: cut after its last `;`
            // outside literals and comments, or look further.
            if let Some(cut) = super::variables::last_semicolon(&sql[pos..end]) {
                let r = pos..pos + cut;
                pos = r.end;
                return Some(r);
            }
            w *= 2;
        }
    })
}

/// The end of the line holding byte `at` (just past its `\n`), or the end of `sql`.
fn line_end(sql: &str, at: usize) -> usize {
    if at >= sql.len() {
        return sql.len();
    }
    sql.as_bytes()[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(sql.len(), |i| at + i + 1)
}

/// Parses a large `sql` chunk by chunk (see the module's text), the chunks on every core.
pub fn parse(sql: &str, window: usize, skip: Skip) -> Result<Vec<Statement>, SyntaxError> {
    let ranges: Vec<Range<usize>> = chunks(sql, window).collect();
    let mut parsed =
        crate::parallel::map(ranges.iter().collect(), 1, crate::parallel::cores(), |r| {
            parse_chunk(sql, r.clone(), skip)
        });
    let found = parsed.iter().map(|r| r.as_ref().map_or(0, Vec::len)).sum();
    let mut statements = Vec::with_capacity(found);
    let mut i = 0;
    while i < ranges.len() {
        let mut range = ranges[i].clone();
        let mut result = std::mem::replace(&mut parsed[i], Ok(Vec::new()));
        i += 1;
        // A chunk cut inside a statement the scanner cannot see the end of (a `BEGIN ATOMIC`
        // body holds `;`) ends the parser's input early: parse it again with the next chunk.
        loop {
            match result {
                Ok(found) => {
                    statements.extend(found);
                    break;
                }
                Err((e, true)) if i < ranges.len() => {
                    drop(e);
                    range.end = ranges[i].end;
                    i += 1;
                    result = parse_chunk(sql, range.clone(), skip);
                }
                Err((e, _)) => return Err(e),
            }
        }
    }
    // A CALL of a procedure whose PL/pgSQL commits, created in an earlier chunk.
    let mut committing: Vec<String> = Vec::new();
    for s in &mut statements {
        match &*s.node {
            NodeEnum::CreateFunctionStmt(f) => {
                committing.extend(super::plpgsql::committing_procedure(f));
            }
            NodeEnum::CallStmt(c) => {
                let name = c
                    .funccall
                    .as_ref()
                    .map(|f| super::plpgsql::dotted(&f.funcname));
                if name.is_some_and(|n| committing.contains(&n)) {
                    s.need = TxNeed::Autocommit("CALL of a procedure that commits");
                }
            }
            _ => {}
        }
    }
    Ok(statements)
}

/// The statements of one chunk; or its syntax error, and whether the error is at the end of
/// the chunk (then the chunk may have been cut inside a statement).
fn parse_chunk(
    sql: &str,
    range: Range<usize>,
    skip: Skip,
) -> Result<Vec<Statement>, (SyntaxError, bool)> {
    let text = blank_comments(&sql[range.clone()]);
    let pieces: Vec<Range<usize>> = match pg_query::split_with_parser(&text) {
        Ok(pieces) => pieces
            .iter()
            .map(|p| {
                let at = p.as_ptr() as usize - text.as_ptr() as usize;
                range.start + at..range.start + at + p.len()
            })
            .collect(),
        Err(_) => {
            let (message, cursor) =
                super::ffi::parse_error(&text).unwrap_or_else(|| ("syntax error".into(), 0));
            let offset = if cursor == 0 {
                text.len()
            } else {
                text.char_indices()
                    .nth(cursor - 1)
                    .map_or(text.len(), |(i, _)| i)
            };
            let at_end = text[offset..].trim().is_empty();
            return Err((
                SyntaxError {
                    message,
                    offset: range.start + offset,
                },
                at_end,
            ));
        }
    };
    let mut statements = Vec::with_capacity(pieces.len());
    let mut committing = Vec::new();
    for piece in pieces {
        let start = skip_trivia(sql, piece.start, piece.end);
        if start >= piece.end {
            continue;
        }
        let end = trim_end_trivia(sql, start, piece.end);
        if let Some(node) = light(&sql[start..end], skip) {
            statements.push(Statement {
                node,
                start,
                end,
                need: TxNeed::Transaction,
                base: 0,
            });
            continue;
        }
        let text = blank_comments(&sql[piece.clone()]);
        let parsed = parse_small(&text, &mut committing).map_err(|e| {
            (
                SyntaxError {
                    message: e.message,
                    offset: piece.start + e.offset,
                },
                false,
            )
        })?;
        statements.extend(parsed.into_iter().map(|mut s| {
            s.start += piece.start;
            s.end += piece.start;
            s.base += piece.start;
            s
        }));
    }
    Ok(statements)
}

/// The tree pgshift keeps for a statement that only reads or moves data (an `INSERT` when
/// `skip` says rows; a plain `SELECT`, or an `EXPLAIN`, `PREPARE` or `DECLARE` of a query): its
/// kind without its tree, one shared by all of a kind. No rule or fact looks inside one, and it
/// always runs in a transaction.
fn light(text: &str, skip: Skip) -> Option<Arc<NodeEnum>> {
    static KINDS: OnceLock<[Arc<NodeEnum>; 4]> = OnceLock::new();
    let [insert, explain, prepare, declare] = KINDS.get_or_init(|| {
        [
            NodeEnum::InsertStmt(Box::default()),
            NodeEnum::ExplainStmt(Box::default()),
            NodeEnum::PrepareStmt(Box::default()),
            NodeEnum::DeclareCursorStmt(Box::default()),
        ]
        .map(Arc::new)
    });
    let mut words = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty());
    let word = words.next().unwrap_or("").to_ascii_lowercase();
    if skip == Skip::RowsAndQueries && word == "insert" {
        return Some(Arc::clone(insert));
    }
    let kind = match word.as_str() {
        "select" => light_select(),
        "explain" => Arc::clone(explain),
        // `PREPARE TRANSACTION` is transaction control.
        "prepare"
            if !words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("transaction")) =>
        {
            Arc::clone(prepare)
        }
        "declare" => Arc::clone(declare),
        _ => return None,
    };
    // `SELECT … INTO t` creates a table; `set_config` changes the session: decode those.
    static KEEP: OnceLock<regex::Regex> = OnceLock::new();
    let keep = KEEP.get_or_init(|| {
        regex::Regex::new(r"(?i)\binto\b|set_config|pg_advisory|pg_terminate|pg_cancel")
            .expect("a valid pattern")
    });
    (!keep.is_match(text)).then_some(kind)
}

/// The tree of a plain `SELECT` whose own tree is not kept, shared.
pub(super) fn light_select() -> Arc<NodeEnum> {
    static SELECT: OnceLock<Arc<NodeEnum>> = OnceLock::new();
    Arc::clone(SELECT.get_or_init(|| Arc::new(NodeEnum::SelectStmt(Box::default()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of both parsers, as (text, kind, need).
    fn shape(sql: &str, stmts: &[Statement]) -> Vec<(String, String, TxNeed)> {
        stmts
            .iter()
            .map(|s| {
                let kind = format!("{:?}", s.node);
                let kind = kind.split('(').next().unwrap_or("").to_string();
                (s.text(sql).to_string(), kind, s.need.clone())
            })
            .collect()
    }

    const MIXED: &str = "-- data\nCREATE TABLE t (id int, note text);\n\
        INSERT INTO t VALUES (1, 'a;b'), (2, $$x;\ny$$);\n\
        /* a comment; with ; */ INSERT INTO t VALUES (3, E'\\';');\n\
        CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n\
        CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;\n\
        CALL p();\n\
        SELECT count(*) FROM t;\n\
        SELECT set_config('search_path', 'app', false);\n\
        CREATE INDEX CONCURRENTLY i ON t (id);\n\
        DO $$ BEGIN PERFORM 1; END $$;\n\
        COPY t FROM stdin;\n\
        UPDATE t SET note = 'x' WHERE id = 1;\n";

    #[test]
    fn any_window_gives_the_statements_of_the_whole_parse() {
        let sql = MIXED.repeat(5);
        let whole = super::super::parse_small(&sql, &mut Vec::new()).unwrap();
        for window in [1, 16, 50, 100, 333, 1000, 1 << 20] {
            let large = parse(&sql, window, Skip::RowsAndQueries).unwrap();
            let w = shape(&sql, &whole);
            let l = shape(&sql, &large);
            assert_eq!(w.len(), l.len(), "window {window}");
            for (a, b) in w.iter().zip(&l) {
                assert_eq!(a.0, b.0, "window {window}");
                assert_eq!(a.2, b.2, "window {window}: {}", a.0);
                assert_eq!(a.1, b.1, "window {window}: {}", a.0);
            }
        }
    }

    #[test]
    fn chunks_cover_the_text_once_at_statement_ends() {
        let sql = MIXED.repeat(3);
        for window in [1, 40, 200] {
            let ranges: Vec<_> = chunks(&sql, window).collect();
            assert_eq!(ranges.first().map(|r| r.start), Some(0));
            assert_eq!(ranges.last().map(|r| r.end), Some(sql.len()));
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert!(sql[..w[0].end].ends_with(';'), "{:?}", &sql[w[0].clone()]);
            }
        }
    }

    #[test]
    fn a_syntax_error_is_found_where_it_is_in_any_window() {
        let bad = format!("{}SELEC 1;\n{}", MIXED.repeat(4), MIXED.repeat(2));
        let expected = bad.find("SELEC 1").unwrap();
        for window in [1, 64, 500, 1 << 20] {
            let e = parse(&bad, window, Skip::RowsAndQueries).unwrap_err();
            assert_eq!(e.offset, expected, "window {window}: {}", e.message);
            assert!(e.message.contains("SELEC"), "{}", e.message);
        }
        let open = format!("{}SELECT (1;\n", MIXED.repeat(2));
        let e = parse(&open, 64, Skip::RowsAndQueries).unwrap_err();
        assert!(e.offset >= open.find("SELECT (1").unwrap(), "{e:?}");
        let unterminated = format!("{}SELECT 'never closed;\n", MIXED.repeat(2));
        let e = parse(&unterminated, 64, Skip::RowsAndQueries).unwrap_err();
        assert!(e.message.contains("unterminated"), "{e:?}");
    }

    fn fragment() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("'".to_string()),
            Just("E'\\''".to_string()),
            Just("\"".to_string()),
            Just("$$".to_string()),
            Just("$t$".to_string()),
            Just("--".to_string()),
            Just("/*".to_string()),
            Just("*/".to_string()),
            Just(";".to_string()),
            Just("\n".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("é✓".to_string()),
            Just("CREATE TABLE t (id int);".to_string()),
            Just("INSERT INTO t VALUES (1, 'a;b');".to_string()),
            Just("SELECT 1;".to_string()),
            Just(
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;"
                    .to_string()
            ),
            Just("CREATE INDEX CONCURRENTLY i ON t (id);".to_string()),
            Just("DO $$ BEGIN COMMIT; END $$;".to_string()),
            "[ -~]{0,8}".prop_map(|s| s),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            // 1,500 cases in CI; PGSHIFT_FUZZ_SCALE times as many in a long run.
            cases: 1500 * std::env::var("PGSHIFT_FUZZ_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1u32).max(1),
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whatever the text and the window, the chunked parse finds what the whole parse
        /// finds: the same statements, or a syntax error.
        #[test]
        fn the_chunked_parse_agrees_with_the_whole_parse(
            parts in proptest::collection::vec(fragment(), 0..30),
            window in 1usize..120,
        ) {
            let sql = parts.concat();
            if sql.contains('\0') {
                return Ok(());
            }
            let whole = super::super::parse_small(&sql, &mut Vec::new());
            let large = parse(&sql, window, Skip::RowsAndQueries);
            match (&whole, &large) {
                (Ok(w), Ok(l)) => proptest::prop_assert_eq!(shape(&sql, w), shape(&sql, l)),
                (Err(_), Err(_)) => {}
                _ => proptest::prop_assert!(false, "whole {:?} / chunked {:?} for {:?}", whole.as_ref().map(Vec::len), large.as_ref().map(Vec::len), sql),
            }
        }
    }

    #[test]
    fn data_statements_keep_no_rows() {
        let rows: Vec<String> = (0..1000).map(|i| format!("({i}, 'row {i}')")).collect();
        let sql = format!(
            "INSERT INTO t VALUES {};\nSELECT 1 INTO u;\n",
            rows.join(",")
        );
        let s = parse(&sql, 64, Skip::RowsAndQueries).unwrap();
        assert!(matches!(&*s[0].node, NodeEnum::InsertStmt(i) if i.select_stmt.is_none()));
        // `SELECT … INTO` creates a table: its tree is kept.
        assert!(matches!(&*s[1].node, NodeEnum::SelectStmt(q) if q.into_clause.is_some()));
    }
}
