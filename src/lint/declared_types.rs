//! Each column's declared type through the set, in little memory: a set of 20,000 tables has
//! tens of thousands of columns, kept until every rule has run. Tables come numbered (see
//! `tables`), and column names and types are numbered here, each distinct one once (most
//! columns share a handful of names and types); a column is its table's number and its name's,
//! with the plan places and type numbers of its declarations, the first held in place. The
//! facts give it their column types (`facts::ColumnType`).

use std::collections::HashMap;
use std::hash::Hash;

use super::tables::Table;

/// A column: its table's number and its name's.
type Column = (Table, u32);
/// A declaration: its plan place and its type's number.
type Declaration = (u32, u32);

#[derive(Debug, Clone)]
pub struct DeclaredTypes<Type> {
    names: HashMap<Box<str>, u32>,
    types: Vec<Type>,
    type_ids: HashMap<Type, u32>,
    /// (table, column) to its first declaration (plan place, type)…
    columns: HashMap<Column, Declaration>,
    /// … and to its later ones (`ALTER COLUMN … TYPE`, a column added again), oldest first:
    /// few columns have any, and a slot of the first map is 16 bytes.
    later: HashMap<Column, Vec<Declaration>>,
}

impl<Type> Default for DeclaredTypes<Type> {
    fn default() -> Self {
        DeclaredTypes {
            names: HashMap::new(),
            types: Vec::new(),
            type_ids: HashMap::new(),
            columns: HashMap::new(),
            later: HashMap::new(),
        }
    }
}

impl<Type: Hash + Eq + Clone> DeclaredTypes<Type> {
    /// Records that the migration at plan place `place` declares `t.column` of type `ty`
    /// (CREATE TABLE, ADD COLUMN, ALTER COLUMN … TYPE). Places come in plan order.
    pub fn note(&mut self, t: Table, column: &str, place: usize, ty: Type) {
        let name = match self.names.get(column) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                self.names.insert(column.into(), id);
                id
            }
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
        let declared = (place as u32, ty);
        match self.columns.entry((t, name)) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.later.entry((t, name)).or_default().push(declared)
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(declared);
            }
        }
    }

    /// The type of `t.column` as the migrations before plan place `here` left it.
    pub fn before(&self, t: Table, column: &str, here: usize) -> Option<&Type> {
        let name = *self.names.get(column)?;
        let first = self.columns.get(&(t, name))?;
        let later = self.later.get(&(t, name)).map_or(&[][..], Vec::as_slice);
        let (_, ty) = later
            .iter()
            .rev()
            .chain(std::iter::once(first))
            .find(|(at, _)| (*at as usize) < here)?;
        self.types.get(*ty as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::facts::ColumnType;
    use crate::lint::tables::QualName;
    use crate::lint::tables::Tables;

    fn t(name: &str) -> Table {
        // Numbered as the facts number them: the same name, the same number.
        thread_local!(static TABLES: std::cell::RefCell<Tables> = Default::default());
        TABLES.with(|tables| {
            tables.borrow_mut().number(&QualName {
                schema: "public".into(),
                name: name.into(),
            })
        })
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
        d.note(t("users"), "name", 0, ty("varchar", &[40]));
        d.note(t("orders"), "name", 1, ty("text", &[]));
        d.note(t("users"), "name", 3, ty("varchar", &[80]));
        assert_eq!(d.before(t("users"), "name", 0), None);
        assert_eq!(d.before(t("users"), "name", 1), Some(&ty("varchar", &[40])));
        assert_eq!(d.before(t("users"), "name", 3), Some(&ty("varchar", &[40])));
        assert_eq!(d.before(t("users"), "name", 4), Some(&ty("varchar", &[80])));
        assert_eq!(d.before(t("orders"), "name", 2), Some(&ty("text", &[])));
        assert_eq!(d.before(t("orders"), "id", 2), None);
        assert_eq!(d.before(t("missing"), "name", 9), None);
        // A type, or a column name, declared twice is kept once.
        d.note(t("orders"), "note", 5, ty("text", &[]));
        assert_eq!(d.types.len(), 3);
        assert_eq!(d.names.len(), 2);
        assert_eq!(d.before(t("orders"), "note", 6), Some(&ty("text", &[])));
        // A third declaration: each place sees the last one before it.
        d.note(t("users"), "name", 7, ty("varchar", &[120]));
        assert_eq!(d.before(t("users"), "name", 5), Some(&ty("varchar", &[80])));
        assert_eq!(
            d.before(t("users"), "name", 8),
            Some(&ty("varchar", &[120]))
        );
        assert_eq!(d.before(t("users"), "name", 2), Some(&ty("varchar", &[40])));
    }
}
