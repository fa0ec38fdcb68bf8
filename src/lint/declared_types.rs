//! Each column's declared type through the set, in little memory: a set of 20,000 tables has
//! tens of thousands of columns, kept until every rule has run. Tables and types are numbered
//! once each (most columns share a handful of types); a column is its table's number and its
//! name, with the plan places and type numbers of its declarations.

use std::collections::HashMap;

use super::facts::{ColumnType, QualName};

#[derive(Debug, Default, Clone)]
pub struct DeclaredTypes {
    tables: HashMap<QualName, u32>,
    types: Vec<ColumnType>,
    type_ids: HashMap<ColumnType, u32>,
    /// (table, column) to (plan place, type), oldest first.
    columns: HashMap<(u32, Box<str>), Vec<(u32, u32)>>,
}

impl DeclaredTypes {
    /// Records that the migration at plan place `place` declares `t.column` of type `ty`
    /// (CREATE TABLE, ADD COLUMN, ALTER COLUMN … TYPE). Places come in plan order.
    pub fn note(&mut self, t: &QualName, column: &str, place: usize, ty: ColumnType) {
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
    pub fn before(&self, t: &QualName, column: &str, here: usize) -> Option<&ColumnType> {
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
