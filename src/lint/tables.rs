//! A table's name, and the tables a migration set names, each numbered once: the set's facts
//! about a table (the migration that made it, its RLS, policies, grants, keys, column types)
//! are kept under its number rather than under its name. A set of 20,000 tables held each
//! name in eight maps: a fifth of what validating it kept.

use std::collections::HashMap;

use pg_query::protobuf;

/// `schema.table`, schema defaulting to `public` (the usual search_path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualName {
    pub schema: String,
    pub name: String,
}

impl QualName {
    pub fn of(r: &protobuf::RangeVar) -> QualName {
        QualName {
            schema: if r.schemaname.is_empty() {
                "public".into()
            } else {
                r.schemaname.clone()
            },
            name: r.relname.clone(),
        }
    }
}

impl std::fmt::Display for QualName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// A table's number within one set's facts.
pub type Table = u32;

#[derive(Debug, Clone, Default)]
pub struct Tables(HashMap<QualName, Table>);

impl Tables {
    /// `t`'s number, given the next one when the set had not named it yet.
    pub fn number(&mut self, t: &QualName) -> Table {
        if let Some(&n) = self.0.get(t) {
            return n;
        }
        // More tables than `u32` counts cannot be held in memory: their names alone would
        // take more.
        let n = Table::try_from(self.0.len()).unwrap_or(Table::MAX);
        self.0.insert(t.clone(), n);
        n
    }

    /// `t`'s number, if the set named it: a table it never named has no facts.
    pub fn get(&self, t: &QualName) -> Option<Table> {
        self.0.get(t).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schema: &str, name: &str) -> QualName {
        QualName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    #[test]
    fn each_table_is_numbered_once_by_its_schema_and_name() {
        let mut tables = Tables::default();
        assert_eq!(tables.get(&t("public", "users")), None);
        let users = tables.number(&t("public", "users"));
        let app_users = tables.number(&t("app", "users"));
        assert_ne!(
            users, app_users,
            "the same name in another schema is another table"
        );
        assert_eq!(tables.number(&t("public", "users")), users);
        assert_eq!(tables.get(&t("public", "users")), Some(users));
        assert_eq!(tables.get(&t("app", "users")), Some(app_users));
        assert_eq!(tables.get(&t("public", "Users")), None);
    }
}
