//! SQL through the real PostgreSQL parser (libpg_query): statements with their positions, what
//! each needs to run (a transaction or autocommit), syntax errors with exact positions, psql
//! variables, and the normalised checksum.

mod ffi;
mod large;
pub mod parsed;
mod plpgsql;
pub mod tree;
pub mod variables;

use pg_query::protobuf::{self, node::Node as N};
use pg_query::NodeEnum;
use sha2::{Digest, Sha256};

pub use pg_query::NodeEnum as Node;

/// How a statement must be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxNeed {
    /// Anything that can run inside a transaction block.
    Transaction,
    /// Cannot run inside a transaction block (`CREATE INDEX CONCURRENTLY`, `VACUUM`, …).
    Autocommit(&'static str),
    /// The file's own `BEGIN`, `COMMIT`, `ROLLBACK`, …
    TransactionControl(&'static str),
}

/// One statement of a file.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Its tree: shared, so that the rows of a large data file (each `INSERT` the same tree
    /// without its rows, see `large`) cost a pointer each, not a tree each.
    pub node: std::sync::Arc<NodeEnum>,
    /// Byte range of the statement's text (first token to last, no semicolon) in the parsed
    /// text.
    pub start: usize,
    pub end: usize,
    pub need: TxNeed,
    /// Where the positions in its tree (`location`) count from in the parsed text: 0, or
    /// the start of the piece it was parsed alone from (a large file's, see `large`).
    pub base: usize,
}

impl Statement {
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }

    /// The offset in the parsed text of a `location` of its tree.
    pub fn place(&self, location: i32) -> usize {
        self.base + usize::try_from(location).unwrap_or(0)
    }
}

/// The parser rejected the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// Byte offset of the error in the parsed text.
    pub offset: usize,
}

/// `sql` with the inside of every block comment replaced by spaces (line breaks kept), byte for
/// byte: offsets stay the same. PostgreSQL's lexer rescans the rest of a run of `/*/*/*…` at
/// each nesting level (its `xcstart` rule, then `yyless`), which is quadratic; comments mean
/// nothing to the parser, so it never sees them.
pub fn blank_comments(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains("/*") {
        return std::borrow::Cow::Borrowed(sql);
    }
    let spans = variables::scan(sql).block_comments;
    if spans.is_empty() {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut bytes = sql.as_bytes().to_vec();
    for (start, end) in spans {
        let closed = end >= start + 4 && sql[..end].ends_with("*/");
        let inner_end = if closed { end - 2 } else { end };
        for b in &mut bytes[start + 2..inner_end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    // The ranges start and end at ASCII `/*` and `*/`: whole characters are replaced.
    match String::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(_) => std::borrow::Cow::Borrowed(sql),
    }
}

/// Texts longer than this are parsed chunk by chunk, keeping no rows of data.
const LARGE: usize = 1 << 20;

/// Parses `sql` into statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>, SyntaxError> {
    if let Some(nul) = sql.find('\0') {
        return Err(SyntaxError {
            message: "the text holds a NUL byte, which PostgreSQL does not accept".into(),
            offset: nul,
        });
    }
    if sql.len() > LARGE {
        crate::memory::large_input();
        return large::parse(sql, large::WINDOW, Skip::RowsAndQueries);
    }
    parse_small(sql, &mut Vec::new())
}

/// Which statements a split parse (see `large`) leaves without their tree: the statement keeps
/// its kind, place and syntax check, with a shared empty tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Plain queries (`SELECT`, and `EXPLAIN`, `PREPARE` or `DECLARE` of one; no `INTO`,
    /// `set_config`, …): no lint rule reads one.
    Queries,
    /// `INSERT`s too: a large file's rows, or the set's facts (none come from them).
    RowsAndQueries,
}

/// [`parse`] for the set's facts only: every statement's syntax is checked, but the tree of an
/// `INSERT` or a plain query ([`Skip::RowsAndQueries`]: no facts come from them) is not decoded
/// — the statement gets a shared empty one, as a large data file's do. Also says whether the statements may differ
/// from [`parse`]'s (then the rules need the text parsed whole again). A syntax error is the
/// one [`parse`] finds.
///
/// A text that names `search_path` is parsed whole: its tables are named by the path in force,
/// which the first pass resolves for every statement (the second replays it).
pub fn parse_for_facts(sql: &str) -> Result<(Vec<Statement>, bool), SyntaxError> {
    parse_split(sql, Skip::RowsAndQueries)
}

/// [`parse`] for the lint rules: the same statements, but a plain query's tree
/// ([`Skip::Queries`]: no rule reads one, and it takes a hundred times its text) is not
/// decoded. A text that names
/// `search_path` is parsed whole, as [`parse_for_facts`] parses it, so that the first pass's
/// naming of its tables replays onto the same trees.
pub fn parse_for_rules(sql: &str) -> Result<Vec<Statement>, SyntaxError> {
    parse_split(sql, Skip::Queries).map(|(s, _)| s)
}

/// [`parse`], or the split parse leaving out what `skip` says when the text holds such
/// statements; and whether it was split.
fn parse_split(sql: &str, skip: Skip) -> Result<(Vec<Statement>, bool), SyntaxError> {
    // Splitting costs the parser a second pass over what it decodes: only worth it when the
    // file holds queries or rows (a file of DDL alone is parsed whole).
    static SPLIT: std::sync::OnceLock<[regex::Regex; 3]> = std::sync::OnceLock::new();
    let [queries, rows_or_queries, path] = SPLIT.get_or_init(|| {
        [
            r"(?i)\b(select|explain|prepare|declare)\b",
            r"(?i)\b(select|insert|explain|prepare|declare)\b",
            r"(?i)search_path",
        ]
        .map(|p| regex::Regex::new(p).expect("a valid pattern"))
    });
    let skipped = match skip {
        Skip::Queries => queries,
        Skip::RowsAndQueries => rows_or_queries,
    };
    let split =
        sql.len() <= LARGE && !sql.contains('\0') && skipped.is_match(sql) && !path.is_match(sql);
    if !split {
        // The statements `parse` gives (a large file's rows are never decoded for anyone).
        return parse(sql).map(|s| (s, false));
    }
    match large::parse(sql, large::WINDOW, skip) {
        // Each statement parsed on its own: its trees' positions count from it, not the file.
        Ok(s) => Ok((s, true)),
        Err(_) => parse(sql).map(|s| (s, false)),
    }
}

/// Parses `sql` whole. `committing` holds the procedures seen so far whose PL/pgSQL commits
/// (a CALL of one cannot run in a transaction), and gets this text's.
fn parse_small(sql: &str, committing: &mut Vec<String>) -> Result<Vec<Statement>, SyntaxError> {
    let blank = blank_comments(sql);
    let result = match pg_query::parse(&blank, 0) {
        Ok(r) => r,
        Err(_) => {
            // Positions count characters of the text parsed (multi-byte characters of
            // comments became one space per byte): convert with that text.
            let sql: &str = &blank;
            let Some((message, cursor)) = ffi::parse_error(sql) else {
                // PostgreSQL's parser accepted the text; its tree is nested deeper than the
                // tree decoder goes (an expression of hundreds of `+` or `||`).
                return Ok(parse_each(sql, committing));
            };
            // The cursor counts characters from 1; 0 means "no position": the end.
            let offset = if cursor == 0 {
                sql.len()
            } else {
                sql.char_indices()
                    .nth(cursor - 1)
                    .map_or(sql.len(), |(i, _)| i)
            };
            return Err(SyntaxError { message, offset });
        }
    };
    let mut statements = Vec::with_capacity(result.protobuf.stmts.len());
    for raw in result.protobuf.stmts {
        let Some(node) = raw.stmt.and_then(|n| n.node) else {
            continue;
        };
        let loc = raw.stmt_location.max(0) as usize;
        let end = if raw.stmt_len == 0 {
            sql.len()
        } else {
            (loc + raw.stmt_len as usize).min(sql.len())
        };
        let start = skip_trivia(sql, loc, end);
        let end = trim_end_trivia(sql, start, end);
        let mut need = tx_need(&node);
        match &node {
            NodeEnum::CreateFunctionStmt(f) => {
                committing.extend(plpgsql::committing_procedure(f));
            }
            NodeEnum::CallStmt(c) => {
                let name = c.funccall.as_ref().map(|f| plpgsql::dotted(&f.funcname));
                if name.is_some_and(|n| committing.contains(&n)) {
                    need = TxNeed::Autocommit("CALL of a procedure that commits");
                }
            }
            _ => {}
        }
        statements.push(Statement {
            node: std::sync::Arc::new(node),
            start,
            end,
            need,
            base: 0,
        });
    }
    Ok(statements)
}

/// `sql`, which PostgreSQL's parser accepts, statement by statement: a statement whose tree is
/// too deep to decode is kept as an opaque query (it runs in the migration's transaction; no
/// lint rule sees inside it), the others are parsed as usual.
fn parse_each(sql: &str, committing: &mut Vec<String>) -> Vec<Statement> {
    let pieces = pg_query::split_with_parser(sql).unwrap_or_default();
    let mut statements = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let base = piece.as_ptr() as usize - sql.as_ptr() as usize;
        match pg_query::parse(piece, 0)
            .ok()
            .map(|_| parse_small(piece, committing))
        {
            Some(Ok(parsed)) => statements.extend(parsed.into_iter().map(|mut st| {
                st.start += base;
                st.end += base;
                st.base += base;
                st
            })),
            _ => {
                let end = base + piece.len();
                let start = skip_trivia(sql, base, end);
                statements.push(Statement {
                    node: large::light_select(),
                    start,
                    end: trim_end_trivia(sql, start, end),
                    need: TxNeed::Transaction,
                    base: 0,
                });
            }
        }
    }
    statements
}

/// The offset just past the (possibly nested) `/* … */` comment opening at `start`, or the end
/// of `b` when it is not closed. The one place that knows how SQL block comments nest.
pub fn block_comment_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Skips whitespace and comments from `i`.
pub fn skip_trivia(sql: &str, mut i: usize, end: usize) -> usize {
    let b = sql.as_bytes();
    while i < end {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"--") {
            i = sql[i..end].find('\n').map_or(end, |k| i + k);
        } else if b[i..].starts_with(b"/*") {
            i = block_comment_end(&b[..end], i);
        } else {
            break;
        }
    }
    i
}

fn trim_end_trivia(sql: &str, start: usize, end: usize) -> usize {
    let t = sql[start..end].trim_end();
    start + t.trim_end_matches(';').trim_end().len()
}

fn has_defelem(options: &[protobuf::Node], name: &str) -> bool {
    options
        .iter()
        .any(|o| matches!(&o.node, Some(N::DefElem(d)) if d.defname == name))
}

/// Whether a statement can run in a transaction block.
pub fn tx_need(node: &NodeEnum) -> TxNeed {
    use protobuf::TransactionStmtKind as K;
    match node {
        NodeEnum::IndexStmt(s) if s.concurrent => TxNeed::Autocommit("CREATE INDEX CONCURRENTLY"),
        NodeEnum::DropStmt(s) if s.concurrent => TxNeed::Autocommit("DROP INDEX CONCURRENTLY"),
        NodeEnum::ReindexStmt(s) if has_defelem(&s.params, "concurrently") => {
            TxNeed::Autocommit("REINDEX CONCURRENTLY")
        }
        NodeEnum::ReindexStmt(s)
            if s.kind == protobuf::ReindexObjectType::ReindexObjectSystem as i32
                || s.kind == protobuf::ReindexObjectType::ReindexObjectDatabase as i32 =>
        {
            TxNeed::Autocommit("REINDEX SYSTEM/DATABASE")
        }
        NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => TxNeed::Autocommit("VACUUM"),
        NodeEnum::DoStmt(d) if plpgsql::do_block_commits(d) => {
            TxNeed::Autocommit("a DO block that commits")
        }
        NodeEnum::AlterSystemStmt(_) => TxNeed::Autocommit("ALTER SYSTEM"),
        NodeEnum::CreatedbStmt(_) => TxNeed::Autocommit("CREATE DATABASE"),
        NodeEnum::DropdbStmt(_) => TxNeed::Autocommit("DROP DATABASE"),
        NodeEnum::CreateTableSpaceStmt(_) => TxNeed::Autocommit("CREATE TABLESPACE"),
        NodeEnum::DropTableSpaceStmt(_) => TxNeed::Autocommit("DROP TABLESPACE"),
        NodeEnum::ClusterStmt(s) if s.relation.is_none() => TxNeed::Autocommit("CLUSTER"),
        NodeEnum::CreateSubscriptionStmt(_) => TxNeed::Autocommit("CREATE SUBSCRIPTION"),
        NodeEnum::DropSubscriptionStmt(_) => TxNeed::Autocommit("DROP SUBSCRIPTION"),
        NodeEnum::TransactionStmt(s) => TxNeed::TransactionControl(match K::try_from(s.kind) {
            Ok(K::TransStmtBegin) => "BEGIN",
            Ok(K::TransStmtStart) => "START TRANSACTION",
            Ok(K::TransStmtCommit) => "COMMIT",
            Ok(K::TransStmtRollback) => "ROLLBACK",
            Ok(K::TransStmtSavepoint) => "SAVEPOINT",
            Ok(K::TransStmtRelease) => "RELEASE",
            Ok(K::TransStmtRollbackTo) => "ROLLBACK TO",
            Ok(K::TransStmtPrepare) => "PREPARE TRANSACTION",
            Ok(K::TransStmtCommitPrepared) => "COMMIT PREPARED",
            Ok(K::TransStmtRollbackPrepared) => "ROLLBACK PREPARED",
            _ => "transaction control",
        }),
        _ => TxNeed::Transaction,
    }
}

/// SHA-256 of the SQL's tokens without comments and whitespace, keywords and unquoted
/// identifiers lower-cased: an edit of comments, spacing or keyword case keeps it. `None`
/// when the text cannot be scanned.
pub fn normalized_checksum(sql: &str) -> Option<String> {
    normalized_checksum_of(sql, &variables::scan(sql).copies)
}

/// [`normalized_checksum`] of a text whose `COPY … FROM stdin` data were found already.
pub fn normalized_checksum_of(sql: &str, copies: &[variables::CopyData]) -> Option<String> {
    let mut h = Sha256::new();
    // The data of a `COPY … FROM stdin` is not SQL: it counts as it is, byte for byte.
    let mut pos = 0;
    for c in copies {
        normalized_into(&mut h, &sql[pos..c.start])?;
        h.update(&sql.as_bytes()[c.start..c.end]);
        h.update([0u8]);
        pos = c.block_end;
    }
    normalized_into(&mut h, &sql[pos..])?;
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Adds the normalized tokens of `sql` to `h`: chunk by chunk (cut between statements, so
/// between tokens) when it is large, since its tokens would take many times its size.
fn normalized_into(h: &mut Sha256, sql: &str) -> Option<()> {
    if sql.len() > LARGE {
        crate::memory::large_input();
        normalized_in(h, sql, large::chunks(sql, large::WINDOW))
    } else {
        normalized_in(h, sql, std::iter::once(0..sql.len()))
    }
}

/// Adds the normalized tokens of `sql`, scanned range by range, to `h`.
fn normalized_in(
    h: &mut Sha256,
    sql: &str,
    ranges: impl Iterator<Item = std::ops::Range<usize>>,
) -> Option<()> {
    let ranges: Vec<_> = ranges.collect();
    // One chunk per core at a time, hashed in order.
    let cores = crate::parallel::cores();
    for batch in ranges.chunks(cores) {
        for tokens in crate::parallel::map(batch.iter().collect(), 1, cores, |r| {
            normalized_tokens(&sql[r.clone()])
        }) {
            h.update(tokens?);
        }
    }
    Some(())
}

/// The lexer's tokens of `sql` (comments among them), with the offsets of `sql`; `None` when
/// the lexer fails.
pub fn tokens(sql: &str) -> Option<Vec<protobuf::ScanToken>> {
    // No token at all: the library would hand back a null array, which it cannot take.
    if sql.trim().is_empty() {
        return Some(Vec::new());
    }
    pg_query::scan_tokens(&blank_comments(sql)).ok()
}

/// The tokens of `sql` without comments, keywords and unquoted identifiers lower-cased, each
/// followed by a NUL byte.
fn normalized_tokens(sql: &str) -> Option<Vec<u8>> {
    use protobuf::{KeywordKind, Token};
    let tokens = tokens(sql)?;
    let mut out = Vec::with_capacity(sql.len());
    for t in tokens {
        if t.token == Token::SqlComment as i32 || t.token == Token::CComment as i32 {
            continue;
        }
        let text = sql
            .get(t.start.max(0) as usize..t.end.max(0) as usize)
            .unwrap_or("");
        let fold = t.keyword_kind != KeywordKind::NoKeyword as i32
            || (t.token == Token::Ident as i32 && !text.starts_with('"'));
        let lower_already = text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase());
        if fold && !lower_already {
            out.extend_from_slice(text.to_lowercase().as_bytes());
        } else {
            out.extend_from_slice(text.as_bytes());
        }
        out.push(0);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_have_exact_ranges() {
        let sql = "-- header\nCREATE TABLE a (id int);\n\n/* c */ SELECT 1 ;\nSELECT 'x;y'";
        let stmts = parse(sql).unwrap();
        let texts: Vec<_> = stmts.iter().map(|s| s.text(sql)).collect();
        assert_eq!(
            texts,
            ["CREATE TABLE a (id int)", "SELECT 1", "SELECT 'x;y'"]
        );
    }

    #[test]
    fn syntax_error_positions_are_byte_offsets_even_after_multibyte_text() {
        let sql = "SELECT 'héllo wörld ✓';\nSELEC 1;";
        let e = parse(sql).unwrap_err();
        assert_eq!(e.message, "syntax error at or near \"SELEC\"");
        assert_eq!(&sql[e.offset..e.offset + 5], "SELEC");
        let e = parse("SELECT (1").unwrap_err();
        assert_eq!(e.message, "syntax error at end of input");
        assert_eq!(e.offset, 9);
    }

    #[test]
    fn knows_what_needs_autocommit() {
        let need = |sql: &str| parse(sql).unwrap().remove(0).need;
        assert_eq!(
            need("CREATE INDEX CONCURRENTLY i ON t (a)"),
            TxNeed::Autocommit("CREATE INDEX CONCURRENTLY")
        );
        assert_eq!(
            need("DROP INDEX CONCURRENTLY i"),
            TxNeed::Autocommit("DROP INDEX CONCURRENTLY")
        );
        assert_eq!(
            need("REINDEX (CONCURRENTLY) INDEX i"),
            TxNeed::Autocommit("REINDEX CONCURRENTLY")
        );
        assert_eq!(
            need("REINDEX INDEX CONCURRENTLY i"),
            TxNeed::Autocommit("REINDEX CONCURRENTLY")
        );
        assert_eq!(need("VACUUM t"), TxNeed::Autocommit("VACUUM"));
        assert_eq!(need("ANALYZE t"), TxNeed::Transaction);
        assert_eq!(
            need("ALTER SYSTEM SET work_mem = '64MB'"),
            TxNeed::Autocommit("ALTER SYSTEM")
        );
        assert_eq!(
            need("CREATE DATABASE d"),
            TxNeed::Autocommit("CREATE DATABASE")
        );
        assert_eq!(need("CREATE INDEX i ON t (a)"), TxNeed::Transaction);
        assert_eq!(need("BEGIN"), TxNeed::TransactionControl("BEGIN"));
        assert_eq!(need("COMMIT"), TxNeed::TransactionControl("COMMIT"));
        assert_eq!(need("ROLLBACK"), TxNeed::TransactionControl("ROLLBACK"));
    }

    #[test]
    fn normalized_checksum_ignores_comments_spacing_and_keyword_case() {
        let a = normalized_checksum("CREATE TABLE t (id int); -- note").unwrap();
        let b = normalized_checksum("create   table T\n(id INT);").unwrap();
        let c = normalized_checksum("CREATE TABLE t (id bigint);").unwrap();
        let d = normalized_checksum("CREATE TABLE \"T\" (id int);").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(
            normalized_checksum("SELECT 'a'").unwrap(),
            normalized_checksum("SELECT 'A'").unwrap()
        );
    }

    #[test]
    fn the_normalized_checksum_of_a_large_text_is_the_same_chunk_by_chunk() {
        let sql =
            "CREATE TABLE t (a text); /* c; */ INSERT INTO t VALUES ('x;y'), ($$;$$);\n-- n\n"
                .repeat(50);
        let digest = |ranges: &mut dyn Iterator<Item = std::ops::Range<usize>>| {
            let mut h = Sha256::new();
            normalized_in(&mut h, &sql, ranges).map(|()| h.finalize())
        };
        let whole = digest(&mut std::iter::once(0..sql.len()));
        for window in [1, 30, 200] {
            assert_eq!(digest(&mut large::chunks(&sql, window)), whole);
        }
        assert!(whole.is_some());
    }

    #[test]
    fn copy_data_counts_byte_for_byte_in_the_normalized_checksum() {
        let a = "COPY t FROM stdin;\n1\tA  b\n\\.\nSELECT 1;\n";
        let spaced = "copy  t FROM stdin ;\n1\tA  b\n\\.\n  SELECT 1; -- x\n";
        let other = "COPY t FROM stdin;\n1\tA b\n\\.\nSELECT 1;\n";
        assert_eq!(normalized_checksum(a), normalized_checksum(spaced));
        assert_ne!(normalized_checksum(a), normalized_checksum(other));
    }

    #[test]
    fn comments_are_blanked_for_the_parser_without_moving_anything() {
        let sql =
            "/* é /* nested ✓ */ still */ SELECT '/* not a comment */' AS x; -- /* line\nSELEC 1;";
        let blank = blank_comments(sql);
        assert_eq!(blank.len(), sql.len());
        assert!(blank.contains("'/* not a comment */'"), "{blank}");
        assert!(blank.starts_with("/*") && !blank.contains('é'), "{blank}");
        let err = parse(sql).unwrap_err();
        assert_eq!(err.offset, sql.find("SELEC 1").unwrap());
        let deep = format!(
            "{}x{}\nSELECT 1;",
            "/*".repeat(200_000),
            "*/".repeat(200_000)
        );
        let statements = parse(&deep).unwrap();
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0].text(&deep), "SELECT 1");
        assert_eq!(normalized_checksum(&deep), normalized_checksum("SELECT 1;"));
        let open = "SELECT 1; /* never closed é";
        assert_eq!(parse(open).unwrap_err().offset, open.find("/*").unwrap());
    }

    #[test]
    fn the_facts_parse_skips_the_trees_of_queries_and_rows_but_not_their_syntax() {
        let sql = "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n/* c; */ SELECT count(*) FROM t;\nSELECT set_config('lock_timeout', '1s', false);\nALTER TABLE t ADD COLUMN n text;\n";
        let whole = parse(sql).unwrap();
        let (split, again) = parse_for_facts(sql).unwrap();
        assert!(
            again,
            "statements parsed one by one: the rules parse the file again"
        );
        let places = |s: &[Statement]| -> Vec<(usize, usize, TxNeed)> {
            s.iter().map(|s| (s.start, s.end, s.need.clone())).collect()
        };
        assert_eq!(places(&split), places(&whole));
        let kinds: Vec<String> = split
            .iter()
            .map(|s| {
                format!("{:?}", s.node)
                    .split('(')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "CreateStmt",
                "InsertStmt",
                "SelectStmt",
                "SelectStmt",
                "AlterTableStmt"
            ]
        );
        // The row and the plain query share an empty tree; set_config and the DDL keep theirs.
        assert!(matches!(&*split[1].node, Node::InsertStmt(i) if i.relation.is_none()));
        assert!(matches!(&*split[2].node, Node::SelectStmt(q) if q.target_list.is_empty()));
        assert!(matches!(&*split[3].node, Node::SelectStmt(q) if !q.target_list.is_empty()));
        assert_eq!(
            format!("{:?}", split[0].node),
            format!("{:?}", whole[0].node)
        );
        // A syntax error in a query is found, and it is the one `parse` finds.
        let bad = "CREATE TABLE t (id int);\nSELECT 1 + FROM t;\nINSERT INTO t VALUES (2);\n";
        assert_eq!(parse_for_facts(bad).unwrap_err(), parse(bad).unwrap_err());
        // DDL alone, or a text naming search_path: parsed whole, as `parse` does.
        for sql in [
            "CREATE TABLE t (id int);\nCOMMENT ON TABLE t IS 'x';\n",
            "SET search_path = app, public;\nINSERT INTO t VALUES (1);\n",
        ] {
            let (s, again) = parse_for_facts(sql).unwrap();
            assert!(!again, "{sql}");
            assert_eq!(format!("{s:?}"), format!("{:?}", parse(sql).unwrap()));
        }
    }

    #[test]
    fn the_rules_parse_skips_only_the_trees_of_queries() {
        let sql = "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1, 'k');\nSELECT count(*) FROM t;\n\
            EXPLAIN (COSTS OFF) SELECT * FROM t WHERE id = 1;\nPREPARE q (int) AS SELECT * FROM t WHERE id = $1;\n\
            DECLARE c CURSOR FOR SELECT * FROM t;\nPREPARE TRANSACTION 'x';\nSELECT * INTO u FROM t;\n";
        let whole = parse(sql).unwrap();
        let rules = parse_for_rules(sql).unwrap();
        let places = |s: &[Statement]| -> Vec<(usize, usize, TxNeed)> {
            s.iter().map(|s| (s.start, s.end, s.need.clone())).collect()
        };
        assert_eq!(places(&rules), places(&whole));
        let kind = |n: &Node| format!("{n:?}").split('(').next().unwrap().to_string();
        for (r, w) in rules.iter().zip(&whole) {
            assert_eq!(kind(&r.node), kind(&w.node), "{}", w.text(sql));
        }
        // The row keeps its tree (a secret may sit in its values), as do the DDL, the
        // transaction control and the SELECT that creates a table.
        // Their positions count from the statement (`place` turns them into the text's).
        let unplaced = |n: &Node| {
            let re = regex::Regex::new(r"location: -?\d+").unwrap();
            re.replace_all(&format!("{n:?}"), "location").into_owned()
        };
        for i in [0, 1, 6, 7] {
            assert_eq!(
                unplaced(&rules[i].node),
                unplaced(&whole[i].node),
                "{}",
                whole[i].text(sql)
            );
        }
        let Node::InsertStmt(i) = &*rules[1].node else {
            panic!("an INSERT")
        };
        let Some(protobuf::node::Node::SelectStmt(values)) =
            i.select_stmt.as_ref().and_then(|s| s.node.as_ref())
        else {
            panic!("its VALUES")
        };
        let Some(N::List(row)) = &values.values_lists[0].node else {
            panic!("a row")
        };
        let Some(N::AConst(k)) = &row.items[1].node else {
            panic!("a constant")
        };
        assert_eq!(rules[1].place(k.location), sql.find("'k'").unwrap());
        assert!(matches!(rules[6].need, TxNeed::TransactionControl(_)));
        // The queries share empty trees of their kind.
        assert!(matches!(&*rules[2].node, Node::SelectStmt(q) if q.target_list.is_empty()));
        assert!(matches!(&*rules[3].node, Node::ExplainStmt(e) if e.query.is_none()));
        assert!(matches!(&*rules[4].node, Node::PrepareStmt(p) if p.query.is_none()));
        assert!(matches!(&*rules[5].node, Node::DeclareCursorStmt(d) if d.query.is_none()));
        // A syntax error inside a query is still found, the one `parse` finds.
        let bad = "CREATE TABLE t (id int);\nEXPLAIN SELECT 1 + FROM t;\n";
        assert_eq!(parse_for_rules(bad).unwrap_err(), parse(bad).unwrap_err());
    }
}

#[cfg(test)]
mod deep_tests {
    use super::*;

    #[test]
    fn a_tree_deeper_than_the_decoder_goes_is_still_parsed_statement_by_statement() {
        let deep = format!("SELECT {}1", "1 + ".repeat(2000));
        let sql =
            format!("CREATE TABLE t (id int);\n{deep};\nCREATE INDEX CONCURRENTLY i ON t (id);\n");
        let statements = parse(&sql).expect("PostgreSQL accepts it");
        assert_eq!(statements.len(), 3);
        assert!(matches!(*statements[0].node, NodeEnum::CreateStmt(_)));
        assert_eq!(statements[1].text(&sql), deep);
        assert!(matches!(statements[2].need, TxNeed::Autocommit(_)));
        // A real syntax error in such a file is still one.
        let bad = format!("{deep};\nSELECT FROM FROM;\n");
        assert!(parse(&bad).is_err());
    }
}
