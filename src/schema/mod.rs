//! A database's schema as data. [`read`] takes a [`Snapshot`] from the catalogs in one
//! REPEATABLE READ transaction, a few queries per object kind (one file per kind below), every
//! definition from the server's own deparse functions; [`compare`] finds what differs between
//! two snapshots and [`script`] writes the SQL that turns one into the other. `diff`, `drift`
//! and `health --drift` build on it. Nothing here prints.
//!
//! Every object is flattened into [`Object`]s with a [`Key`]: a table's columns, constraints,
//! indexes, triggers, policies, privileges and comment are objects of their own whose `parent`
//! is the table, so that comparing two snapshots is comparing two maps.

// One file per object kind, read in the order of `read` below.
mod acl;
pub mod compare;
mod constraints;
mod depend;
mod event_triggers;
mod extensions;
mod functions;
mod indexes;
mod not_compared;
mod policies;
mod publications;
mod schemas;
pub mod script;
mod sequences;
mod statistics;
mod tables;
mod triggers;
mod types;
mod views;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tokio_postgres::Client;

/// What an object is. The order is the order of creation when nothing else decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Schema,
    Extension,
    Type,
    Domain,
    DomainConstraint,
    Sequence,
    Function,
    Table,
    Column,
    Constraint,
    Index,
    ForeignKey,
    View,
    MaterializedView,
    Trigger,
    Policy,
    Statistics,
    SequenceOwner,
    Publication,
    EventTrigger,
    Privilege,
    DefaultPrivilege,
    Comment,
}

impl Kind {
    /// As a person says it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Schema => "schema",
            Kind::Extension => "extension",
            Kind::Type => "type",
            Kind::Domain => "domain",
            Kind::DomainConstraint => "domain constraint",
            Kind::Sequence => "sequence",
            Kind::Function => "function",
            Kind::Table => "table",
            Kind::Column => "column",
            Kind::Constraint => "constraint",
            Kind::Index => "index",
            Kind::ForeignKey => "foreign key",
            Kind::View => "view",
            Kind::MaterializedView => "materialized view",
            Kind::Trigger => "trigger",
            Kind::Policy => "policy",
            Kind::Statistics => "statistics",
            Kind::SequenceOwner => "sequence owner",
            Kind::Publication => "publication",
            Kind::EventTrigger => "event trigger",
            Kind::Privilege => "privilege",
            Kind::DefaultPrivilege => "default privilege",
            Kind::Comment => "comment",
        }
    }
}

/// An object's identity: its kind and its qualified name (with the argument types of a
/// function, the table of a column or constraint, the grantee of a privilege).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Key {
    pub kind: Kind,
    pub name: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.name)
    }
}

/// What some kinds need beyond their definition to be changed in place.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    None,
    Column(tables::ColumnFacts),
    Table(tables::TableFacts),
    Enum(Vec<String>),
    Function {
        result: String,
        args: String,
        is: char,
    },
    Sequence(String),
    Extension {
        version: String,
        schema: String,
    },
    Domain {
        base: String,
        default: Option<String>,
        not_null: bool,
    },
    Privilege {
        target: String,
        privilege: String,
        grantee: String,
        grantable: bool,
        column: Option<String>,
    },
    Comment {
        target: String,
        text: String,
    },
}

/// One object of a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Object {
    pub key: Key,
    /// The schema it lives in ("" for an event trigger or a publication).
    pub schema: String,
    /// The object it belongs to and goes with (a column's table, a privilege's object).
    pub parent: Option<Key>,
    /// What is compared: the server's own text of it.
    pub definition: String,
    #[serde(skip)]
    pub detail: Detail,
    /// The statements that create it.
    #[serde(skip)]
    pub create: Vec<String>,
    /// The statement that drops it (none: it goes with its parent only).
    #[serde(skip)]
    pub drop: Option<String>,
    /// Dropping it loses data (a table, a column, a schema, a type in use).
    #[serde(skip)]
    pub destructive: bool,
    /// How pg_depend names it (`pg_class:16412`, `pg_class:16412:3` for a column).
    #[serde(skip)]
    pub refs: Vec<String>,
    /// The roles its text names (grantees, a policy's roles).
    #[serde(skip)]
    pub roles: Vec<String>,
}

/// A schema read from one database.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Snapshot {
    pub objects: BTreeMap<Key, Object>,
    /// Dependencies between objects (dependent → what it needs), from pg_depend.
    #[serde(skip)]
    pub depends: BTreeSet<(Key, Key)>,
    /// Kinds present in the database that are not modelled, with their count: never equal.
    pub not_compared: BTreeMap<String, i64>,
    /// The roles of the cluster (for the guarded CREATE ROLE of a diff).
    #[serde(skip)]
    pub roles: BTreeSet<String>,
    /// The server's version number (`150014`).
    pub server_version: i32,
    /// The role that read it, as an identifier (`quote_ident(current_user)`).
    pub user: String,
    /// That role is a superuser.
    pub superuser: bool,
    /// What the owner of a new function, type or table is given by default privileges here:
    /// (object type letter, schema or "", grantee).
    #[serde(skip)]
    pub default_grantees: BTreeSet<(char, String, String)>,
}

/// What a snapshot leaves out.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Schemas never read (besides pg_catalog, information_schema, pg_toast, pg_temp).
    pub ignore_schemas: Vec<String>,
    /// pgshift's tracking schema and table: its tables, their function, trigger and grants.
    pub tracking: Option<(String, String)>,
}

/// An error reading the catalogs.
#[derive(Debug, thiserror::Error)]
#[error("reading the schema ({what}) failed: {message}")]
pub struct SnapshotError {
    pub what: String,
    pub message: String,
}

pub(crate) fn failed(what: &str) -> impl Fn(tokio_postgres::Error) -> SnapshotError + '_ {
    move |e| SnapshotError {
        what: what.to_string(),
        message: e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or_else(|| e.to_string()),
    }
}

/// The reading of one snapshot: the client inside its transaction, and what it leaves out.
pub(crate) struct Reader<'a> {
    pub client: &'a Client,
    /// `$1` of every query: the schemas left out.
    pub skip: Vec<String>,
}

impl Reader<'_> {
    /// The rows of `sql`, whose `$1` is the list of schemas left out.
    pub async fn rows(
        &self,
        what: &str,
        sql: &str,
    ) -> Result<Vec<tokio_postgres::Row>, SnapshotError> {
        let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] = if sql.contains("$1") {
            &[&self.skip]
        } else {
            &[]
        };
        self.client.query(sql, params).await.map_err(failed(what))
    }
}

/// The SQL condition that a namespace `n` is the user's: not the system's, not left out
/// (`$1`).
pub(crate) const USER_SCHEMA: &str = "n.nspname <> ALL($1::text[]) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'";

/// The SQL condition that the object `oid` of catalog `cat` is not an extension's member.
pub(crate) fn not_extension_member(cat: &str, oid: &str) -> String {
    format!("NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '{cat}'::regclass AND x.objid = {oid} AND x.deptype = 'e')")
}

/// `text` as an SQL string literal (names come quoted from the server's `quote_ident`). A
/// control or bidirectional character is written as an escape (`E'\x1b'`, `E'\n'`), so that
/// the script holds none raw: it prints unchanged, and no line of it starts inside a value.
pub fn literal(text: &str) -> String {
    let plain = |c: char| {
        !c.is_control()
            && !matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if text.chars().all(plain) {
        return crate::sql::variables::quote_literal(text);
    }
    let mut out = String::from("E'");
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if plain(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('\'');
    out
}

/// Reads the schema of the database `client` is connected to, in one REPEATABLE READ, READ
/// ONLY transaction (the session must not be in one).
pub async fn read(client: &Client, scope: &Scope) -> Result<Snapshot, SnapshotError> {
    // Every name the deparse functions write is qualified (as pg_dump has it).
    client
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL search_path = ''",
        )
        .await
        .map_err(failed("begin"))?;
    let read = read_in(client, scope).await;
    let end = if read.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = client.batch_execute(end).await.map_err(failed("commit"));
    let snap = read?;
    ended?;
    Ok(snap)
}

/// The reading itself, inside the transaction `read` opened.
async fn read_in(client: &Client, scope: &Scope) -> Result<Snapshot, SnapshotError> {
    let mut snap = Snapshot::default();
    {
        let reader = Reader {
            client,
            skip: scope.ignore_schemas.clone(),
        };
        let row = client
            .query_one(
                "SELECT current_setting('server_version_num')::int, (SELECT coalesce(array_agg(rolname::text), '{}') FROM pg_roles), quote_ident(current_user), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
                &[],
            )
            .await
            .map_err(failed("server"))?;
        snap.server_version = row.get(0);
        snap.roles = row.get::<_, Vec<String>>(1).into_iter().collect();
        snap.user = row.get(2);
        snap.superuser = row.get::<_, Option<bool>>(3).unwrap_or(false);
        // Relations before what hangs on them (a constraint finds its table's key).
        schemas::read(&reader, &mut snap).await?;
        extensions::read(&reader, &mut snap).await?;
        types::read(&reader, &mut snap).await?;
        sequences::read(&reader, &mut snap).await?;
        functions::read(&reader, &mut snap).await?;
        tables::read(&reader, &mut snap).await?;
        views::read(&reader, &mut snap).await?;
        constraints::read(&reader, &mut snap).await?;
        indexes::read(&reader, &mut snap).await?;
        triggers::read(&reader, &mut snap).await?;
        policies::read(&reader, &mut snap).await?;
        statistics::read(&reader, &mut snap).await?;
        publications::read(&reader, &mut snap).await?;
        event_triggers::read(&reader, &mut snap).await?;
        acl::default_privileges(&reader, &mut snap).await?;
        not_compared::read(&reader, &mut snap).await?;
        if let Some((schema, table)) = &scope.tracking {
            leave_out_tracking(&mut snap, schema, table);
        }
        depend::read(&reader, &mut snap).await?;
    }
    Ok(snap)
}

/// pgshift's own objects: its three tables (and all that hangs on them) and the event log's
/// guard function.
fn leave_out_tracking(snap: &mut Snapshot, schema: &str, table: &str) {
    let own: Vec<String> = ["", "_events", "_meta"]
        .iter()
        .map(|s| qualified(schema, &format!("{table}{s}")))
        .collect();
    let guard = format!(
        "{}()",
        qualified(schema, &format!("{table}_events_append_only"))
    );
    fn qualified(schema: &str, name: &str) -> String {
        use crate::sql::variables::display_identifier as q;
        format!("{}.{}", q(schema), q(name))
    }
    let mine = |k: &Key| {
        (matches!(k.kind, Kind::Table | Kind::Sequence) && own.contains(&k.name))
            || (k.kind == Kind::Function && k.name == guard)
    };
    snap.retain(|o| !mine(&o.key));
    // Its own schema too, when pgshift made one and nothing else is in it.
    let schema_key = Key {
        kind: Kind::Schema,
        name: crate::sql::variables::display_identifier(schema),
    };
    let used = snap.objects.values().any(|o| {
        o.schema == schema_key.name && o.key != schema_key && o.parent.as_ref() != Some(&schema_key)
    });
    if schema != "public" && !used {
        snap.retain(|o| o.key != schema_key);
    }
}

/// The key of the relation (table, view or materialized view) named `name`, as read.
pub(crate) fn relation(snap: &Snapshot, name: &str) -> Key {
    for kind in [Kind::Table, Kind::View, Kind::MaterializedView] {
        let k = Key {
            kind,
            name: name.to_string(),
        };
        if snap.objects.contains_key(&k) {
            return k;
        }
    }
    Key {
        kind: Kind::Table,
        name: name.to_string(),
    }
}

impl Snapshot {
    /// Adds an object, with its comment and privileges as objects of their own.
    pub(crate) fn add(&mut self, object: Object) {
        self.objects.insert(object.key.clone(), object);
    }

    /// The object's comment as an object whose parent it is (`target` as COMMENT ON names it).
    pub(crate) fn add_comment(
        &mut self,
        parent: &Key,
        schema: &str,
        target: &str,
        text: Option<String>,
    ) {
        let Some(text) = text else { return };
        let key = Key {
            kind: Kind::Comment,
            name: format!("on {target}"),
        };
        self.add(Object {
            key,
            schema: schema.to_string(),
            parent: Some(parent.clone()),
            definition: text.clone(),
            detail: Detail::Comment {
                target: target.to_string(),
                text: text.clone(),
            },
            create: vec![format!("COMMENT ON {target} IS {};", literal(&text))],
            drop: Some(format!("COMMENT ON {target} IS NULL;")),
            destructive: false,
            refs: vec![],
            roles: vec![],
        });
    }

    /// Each object's children (the objects whose parent it is).
    pub fn children(&self) -> BTreeMap<&Key, Vec<&Key>> {
        let mut map: BTreeMap<&Key, Vec<&Key>> = BTreeMap::new();
        for o in self.objects.values() {
            if let Some(p) = &o.parent {
                map.entry(p).or_default().push(&o.key);
            }
        }
        map
    }

    /// The schema as `user` would have made it: default privileges `FOR ROLE` this snapshot's
    /// reader (who built it, on a throwaway cluster) become `FOR ROLE user`. A migrations
    /// folder is built by the throwaway cluster's superuser; the database it is compared with
    /// was built by its deployer.
    pub fn as_built_by(&mut self, user: &str) {
        if self.user == user || self.user.is_empty() {
            return;
        }
        let (old, new) = (
            format!("FOR ROLE {} ", self.user),
            format!("FOR ROLE {user} "),
        );
        let keys: Vec<Key> = self
            .objects
            .keys()
            .filter(|k| k.kind == Kind::DefaultPrivilege && k.name.starts_with(&old))
            .cloned()
            .collect();
        for k in keys {
            let Some(mut o) = self.objects.remove(&k) else {
                continue;
            };
            o.key.name = o.key.name.replacen(&old, &new, 1);
            o.definition = o.definition.replacen(&old, &new, 1);
            o.create = o.create.iter().map(|c| c.replacen(&old, &new, 1)).collect();
            o.drop = o.drop.map(|d| d.replacen(&old, &new, 1));
            for r in o.roles.iter_mut().filter(|r| **r == self.user) {
                *r = user.to_string();
            }
            self.objects.insert(o.key.clone(), o);
        }
        self.user = user.to_string();
    }

    /// Leaves out every object `keep` refuses, with what hangs on it.
    pub fn retain(&mut self, keep: impl Fn(&Object) -> bool) {
        let mut gone: BTreeSet<Key> = self
            .objects
            .values()
            .filter(|o| !keep(o))
            .map(|o| o.key.clone())
            .collect();
        loop {
            let more: Vec<Key> = self
                .objects
                .values()
                .filter(|o| !gone.contains(&o.key))
                .filter(|o| o.parent.as_ref().is_some_and(|p| gone.contains(p)))
                .map(|o| o.key.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            gone.extend(more);
        }
        self.objects.retain(|k, _| !gone.contains(k));
        let objects = &self.objects;
        self.depends
            .retain(|(a, b)| objects.contains_key(a) && objects.contains_key(b));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_literal_holds_no_raw_control_character() {
        assert_eq!(super::literal("it's"), "'it''s'");
        assert_eq!(super::literal("a\nb\u{1b}[2J\\"), "E'a\\nb\\x1b[2J\\\\'");
        assert_eq!(super::literal("\u{202e}x"), "E'\\u202ex'");
    }
}
