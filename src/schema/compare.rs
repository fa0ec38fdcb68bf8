//! What differs between two snapshots: objects only in one, objects in both whose definitions
//! differ, and kinds present but not modelled (never taken as equal).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Key, Snapshot};

/// One object present on both sides with different definitions.
#[derive(Debug, Clone, Serialize)]
pub struct Different {
    pub key: Key,
    pub from: String,
    pub to: String,
}

/// What differs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Changes {
    pub only_in_from: Vec<Key>,
    pub only_in_to: Vec<Key>,
    pub different: Vec<Different>,
    /// Kinds not modelled: (FROM's count, TO's count).
    pub not_compared: BTreeMap<String, (i64, i64)>,
}

impl Changes {
    /// Nothing differs (kinds not compared are said, not counted).
    pub fn is_empty(&self) -> bool {
        self.only_in_from.is_empty() && self.only_in_to.is_empty() && self.different.is_empty()
    }

    /// How many objects differ in all.
    pub fn count(&self) -> usize {
        self.only_in_from.len() + self.only_in_to.len() + self.different.len()
    }
}

/// Compares `from` with `to`.
pub fn compare(from: &Snapshot, to: &Snapshot) -> Changes {
    let mut changes = Changes::default();
    for (key, object) in &from.objects {
        match to.objects.get(key) {
            None => changes.only_in_from.push(key.clone()),
            Some(other) if other.definition != object.definition => {
                changes.different.push(Different {
                    key: key.clone(),
                    from: object.definition.clone(),
                    to: other.definition.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for key in to.objects.keys() {
        if !from.objects.contains_key(key) {
            changes.only_in_to.push(key.clone());
        }
    }
    for (kind, n) in &from.not_compared {
        changes.not_compared.insert(kind.clone(), (*n, 0));
    }
    for (kind, n) in &to.not_compared {
        changes.not_compared.entry(kind.clone()).or_insert((0, 0)).1 = *n;
    }
    changes
}
