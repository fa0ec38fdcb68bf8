//! A migration's text after psql substitution, parsed: what validation, the lint rules and the
//! health checks read.

use crate::sql::variables::Substituted;
use crate::sql::Statement;

/// A file after psql substitution and parsing.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    pub sub: Substituted,
    pub statements: Vec<Statement>,
    /// Set when the file did not parse; rules then see no statements.
    pub syntax_error: bool,
}

/// The text a placeholder `:'name'` or `:"name"` stands for while checking: the value never
/// matters to the syntax, so validation needs no secrets.
pub const PLACEHOLDER: &str = "pgshift_variable";

/// Whose trees a parse makes.
#[derive(Clone, Copy)]
enum For {
    All,
    Facts,
    Rules,
}

/// A file parsed: the file, the syntax error if any, and the psql scan.
pub type ParseOutcome = (
    ParsedFile,
    Option<crate::sql::SyntaxError>,
    crate::sql::variables::PsqlScan,
);

impl ParsedFile {
    /// Substitutes psql variables and parses. Quoted forms get placeholders; a raw `:name`
    /// gets its value when `value_of` knows it (its text is part of the syntax), else `NULL`.
    pub fn parse(
        source: &std::sync::Arc<String>,
        value_of: &dyn Fn(&str) -> Option<String>,
    ) -> ParseOutcome {
        ParsedFile::parse_as(source, value_of, For::All).0
    }

    /// [`ParsedFile::parse`] for the set's facts only ([`crate::sql::parse_for_facts`]); also
    /// says whether the rules need the file parsed whole again.
    pub fn parse_for_facts(
        source: &std::sync::Arc<String>,
        value_of: &dyn Fn(&str) -> Option<String>,
    ) -> (ParseOutcome, bool) {
        ParsedFile::parse_as(source, value_of, For::Facts)
    }

    /// [`ParsedFile::parse`] for the lint rules ([`crate::sql::parse_for_rules`]): the trees of
    /// plain queries are left out.
    pub fn parse_for_rules(
        source: &std::sync::Arc<String>,
        value_of: &dyn Fn(&str) -> Option<String>,
    ) -> ParseOutcome {
        ParsedFile::parse_as(source, value_of, For::Rules).0
    }

    fn parse_as(
        source: &std::sync::Arc<String>,
        value_of: &dyn Fn(&str) -> Option<String>,
        trees: For,
    ) -> (ParseOutcome, bool) {
        use crate::sql::variables::{quote_identifier, quote_literal, scan, substitute, VarKind};
        let psql = scan(source);
        let sub = substitute(source, &psql, |v| match v.kind {
            VarKind::Literal => Some(quote_literal(PLACEHOLDER)),
            VarKind::Identifier => Some(quote_identifier(PLACEHOLDER)),
            VarKind::Defined => Some(
                if value_of(&v.name).is_some() {
                    "TRUE"
                } else {
                    "FALSE"
                }
                .into(),
            ),
            VarKind::Raw => match value_of(&v.name) {
                Some(value) => Some(value),
                None if v.glued => None,
                None => Some("NULL".into()),
            },
        });
        let parsed = match trees {
            For::Facts => crate::sql::parse_for_facts(&sub.text),
            For::Rules => crate::sql::parse_for_rules(&sub.text).map(|s| (s, false)),
            For::All => crate::sql::parse(&sub.text).map(|s| (s, false)),
        };
        match parsed {
            Ok((statements, light)) => (
                (
                    ParsedFile {
                        sub,
                        statements,
                        syntax_error: false,
                    },
                    None,
                    psql,
                ),
                light,
            ),
            Err(e) => (
                (
                    ParsedFile {
                        sub,
                        statements: Vec::new(),
                        syntax_error: true,
                    },
                    Some(e),
                    psql,
                ),
                false,
            ),
        }
    }
}
