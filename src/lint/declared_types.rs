//! Each column's declared type through the set, in little memory: a set of 20,000 tables has
//! tens of thousands of columns, kept until every rule has run. Tables and types are numbered
//! once each (most columns share a handful of types); a column is its table's number and its
//! name, with the plan places and type numbers of its declarations. The facts give it their
//! table names and column types (`facts::QualName`, `facts::ColumnType`).

use std::collections::HashMap;
use std::hash::Hash;

/// A column: its table's number and its name.
type Column = (u32, Box<str>);
/// A declaration: its plan place and its type's number.
type Declaration = (u32, u32);

#[derive(Debug, Clone)]
pub struct DeclaredTypes<Table, Type> {
    tables: HashMap<Table, u32>,
    types: Vec<Type>,
    type_ids: HashMap<Type, u32>,
    /// (table, column) to (plan place, type), oldest first.
    columns: HashMap<Column, Vec<Declaration>>,
}

impl<Table, Type> Default for DeclaredTypes<Table, Type> {
    fn default() -> Self {
        DeclaredTypes {
            tables: HashMap::new(),
            types: Vec::new(),
            type_ids: HashMap::new(),
            columns: HashMap::new(),
        }
    }
}

impl<Table: Hash + Eq + Clone, Type: Hash + Eq + Clone> DeclaredTypes<Table, Type> {
    /// Records that the migration at plan place `place` declares `t.column` of type `ty`
    /// (CREATE TABLE, ADD COLUMN, ALTER COLUMN … TYPE). Places come in plan order.
    pub fn note(&mut self, t: &Table, column: &str, place: usize, ty: Type) {
        let next = self.tables.len() as u32;
        let table = match self.tables.get(t) {
            Some(&id) => id,
            None => *self.tables.entry(t.clone()).or_insert(next),
        };
        let ty = match self.type_ids.get(&ty) {
            Some(&id) => id,
            None => {
                let id = self.types.len() as u32;
                self.types.push(ty.clone());
                self.type_ids.insert(ty, id);
                id
            }
        };
        // Most columns are declared once: room for one (a first push makes room for four).
        self.columns
            .entry((table, column.into()))
            .or_insert_with(|| Vec::with_capacity(1))
            .push((place as u32, ty));
    }

    /// The type of `t.column` as the migrations before plan place `here` left it.
    pub fn before(&self, t: &Table, column: &str, here: usize) -> Option<&Type> {
        let table = *self.tables.get(t)?;
        let (_, ty) = self
            .columns
            .get(&(table, Box::from(column)))?
            .iter()
            .rev()
            .find(|(at, _)| (*at as usize) < here)?;
        self.types.get(*ty as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::facts::{ColumnType, QualName};

    fn t(name: &str) -> QualName {
        QualName {
            schema: "public".into(),
            name: name.into(),
        }
    }

    fn ty(name: &str, mods: &[i64]) -> ColumnType {
        ColumnType {
            name: name.into(),
            mods: mods.to_vec(),
            array: false,
        }
    }

    #[test]
    fn the_type_before_a_place_is_the_last_declared_before_it() {
        let mut d = DeclaredTypes::default();
        d.note(&t("users"), "name", 0, ty("varchar", &[40]));
        d.note(&t("orders"), "name", 1, ty("text", &[]));
        d.note(&t("users"), "name", 3, ty("varchar", &[80]));
        assert_eq!(d.before(&t("users"), "name", 0), None);
        assert_eq!(
            d.before(&t("users"), "name", 1),
            Some(&ty("varchar", &[40]))
        );
        assert_eq!(
            d.before(&t("users"), "name", 3),
            Some(&ty("varchar", &[40]))
        );
        assert_eq!(
            d.before(&t("users"), "name", 4),
            Some(&ty("varchar", &[80]))
        );
        assert_eq!(d.before(&t("orders"), "name", 2), Some(&ty("text", &[])));
        assert_eq!(d.before(&t("orders"), "id", 2), None);
        assert_eq!(d.before(&t("missing"), "name", 9), None);
        // A type declared twice is kept once.
        d.note(&t("orders"), "note", 5, ty("text", &[]));
        assert_eq!(d.types.len(), 3);
        assert_eq!(d.before(&t("orders"), "note", 6), Some(&ty("text", &[])));
    }
}
