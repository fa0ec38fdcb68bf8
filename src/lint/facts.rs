//! What the whole migration set does to tables, in plan order: where each table is created,
//! whether RLS is enabled on it, and how many policies it has. Rules about RLS and about
//! "a table that existed before this migration" read these facts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use pg_query::protobuf::{self, node::Node as N, AlterTableType};
use pg_query::NodeEnum;

use super::alter_cmds;
pub use super::tables::QualName;
use super::tables::{Table, Tables};

/// The table a statement creates (regular, persistent tables only).
pub fn created_table(node: &NodeEnum) -> Option<QualName> {
    match node {
        NodeEnum::CreateStmt(s) => s
            .relation
            .as_ref()
            .filter(|r| r.relpersistence != "t")
            .map(QualName::of),
        NodeEnum::CreateTableAsStmt(s) => s
            .into
            .as_ref()
            .and_then(|i| i.rel.as_ref())
            .filter(|r| r.relpersistence != "t")
            .map(QualName::of),
        _ => None,
    }
}

/// The roles of Supabase's API (PostgREST): a set that grants to them, or writes policies for
/// them, is served by an API.
pub const API_ROLES: [&str; 4] = ["anon", "authenticated", "service_role", "authenticator"];

/// The schemas of the `search_path` in force at each statement of a file (its `text` and
/// `statements`): set by the last `SET [LOCAL] search_path`, `RESET search_path` or
/// `set_config('search_path', …)` before it; `["public"]` before any (each migration starts
/// from the default; `"$user"` and the system schemas are left out, as no table is made there).
/// One pass over the file.
pub fn search_paths(text: &str, statements: &[crate::sql::Statement]) -> Vec<Arc<[String]>> {
    static SET_CONFIG: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let set_config = SET_CONFIG.get_or_init(|| {
        regex::Regex::new(r"(?i)set_config\s*\(\s*'search_path'\s*,\s*'([^']*)'")
            .expect("a valid pattern")
    });
    let default: Arc<[String]> = Arc::from(vec!["public".to_string()]);
    let usable = |schemas: Vec<String>| -> Arc<[String]> {
        let kept: Vec<String> = schemas
            .into_iter()
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty() && !matches!(s.as_str(), "$user" | "pg_catalog" | "pg_temp"))
            .collect();
        if kept.is_empty() {
            default.clone()
        } else {
            Arc::from(kept)
        }
    };
    let mut current = default.clone();
    let mut out = Vec::with_capacity(statements.len());
    for s in statements {
        out.push(current.clone());
        match &*s.node {
            NodeEnum::VariableSetStmt(v) if v.name.eq_ignore_ascii_case("search_path") => {
                let values: Vec<String> = v
                    .args
                    .iter()
                    .filter_map(|a| match &a.node {
                        Some(N::AConst(c)) => match &c.val {
                            Some(protobuf::a_const::Val::Sval(s)) => Some(s.sval.clone()),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect();
                current = usable(values);
            }
            NodeEnum::SelectStmt(_) => {
                if let Some(c) = set_config.captures(s.text(text)) {
                    current = usable(c[1].split(',').map(str::to_string).collect());
                }
            }
            _ => {}
        }
    }
    out
}

/// The name (last part) of the function, procedure, view, materialized view, type, domain or
/// sequence a statement makes.
pub fn made_object(node: &NodeEnum) -> Option<String> {
    match node {
        NodeEnum::CreateFunctionStmt(f) => super::names(&f.funcname).last().cloned(),
        NodeEnum::ViewStmt(v) => v.view.as_ref().map(|r| r.relname.clone()),
        NodeEnum::CreateTableAsStmt(c) => c
            .into
            .as_ref()
            .and_then(|i| i.rel.as_ref())
            .map(|r| r.relname.clone()),
        NodeEnum::CompositeTypeStmt(c) => c.typevar.as_ref().map(|r| r.relname.clone()),
        NodeEnum::CreateEnumStmt(e) => super::names(&e.type_name).last().cloned(),
        NodeEnum::CreateDomainStmt(d) => super::names(&d.domainname).last().cloned(),
        NodeEnum::CreateSeqStmt(q) => q.sequence.as_ref().map(|r| r.relname.clone()),
        _ => None,
    }
}

/// A column's declared type: its name (the last part, lower-case: `varchar`, `numeric`…), its
/// modifiers (`varchar(40)`: `[40]`) and whether it is an array.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnType {
    pub name: String,
    pub mods: Vec<i64>,
    pub array: bool,
}

impl ColumnType {
    /// The type a `TypeName` names; `None` when a modifier is not a plain number.
    pub fn of(t: &protobuf::TypeName) -> Option<ColumnType> {
        let name = super::names(&t.names).last()?.to_ascii_lowercase();
        let mut mods = Vec::new();
        for m in &t.typmods {
            match &m.node {
                Some(N::AConst(c)) => match &c.val {
                    Some(protobuf::a_const::Val::Ival(i)) => mods.push(i64::from(i.ival)),
                    _ => return None,
                },
                _ => return None,
            }
        }
        Some(ColumnType {
            name,
            mods,
            array: !t.array_bounds.is_empty(),
        })
    }

    /// Whether PostgreSQL changes a column from `self` to `to` without rewriting the table (or
    /// scanning it): the binary-coercible changes that loosen or keep the limit.
    pub fn changes_in_place(&self, to: &ColumnType) -> bool {
        let within = |from: &[i64], to: &[i64]| match (from, to) {
            (_, []) => true,
            ([], _) => false,
            ([a], [b]) => b >= a,
            ([p, s], [q, r]) => q >= p && r == s,
            ([p], [q, 0]) => q >= p,
            _ => false,
        };
        if self.array != to.array {
            return false;
        }
        match (self.name.as_str(), to.name.as_str()) {
            ("varchar", "varchar") | ("numeric", "numeric") | ("varbit", "varbit") => {
                within(&self.mods, &to.mods)
            }
            ("varchar", "text") | ("cidr", "inet") => to.mods.is_empty(),
            ("text", "varchar") => to.mods.is_empty(),
            (a, b) => a == b && self.mods == to.mods,
        }
    }
}

/// The column of a `CHECK (col IS NOT NULL)` constraint.
fn not_null_test(k: &protobuf::Constraint) -> Option<String> {
    if k.contype != protobuf::ConstrType::ConstrCheck as i32 {
        return None;
    }
    let Some(N::NullTest(t)) = k.raw_expr.as_ref().and_then(|e| e.node.as_ref()) else {
        return None;
    };
    if t.nulltesttype != protobuf::NullTestType::IsNotNull as i32 {
        return None;
    }
    match t.arg.as_ref().and_then(|a| a.node.as_ref()) {
        Some(N::ColumnRef(c)) => match super::names(&c.fields).as_slice() {
            [column] => Some(column.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// What `text` does with Supabase's `auth` schema (calls `auth.uid()`, `auth.jwt()`,
/// `auth.role()`, `auth.email()`, or reads `auth.users`), if anything.
fn auth_call(text: &str) -> Option<String> {
    static CALL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let call = CALL.get_or_init(|| {
        regex::Regex::new(r"(?i)\bauth\s*\.\s*(?:(uid|jwt|role|email)\s*\(|(users)\b)")
            .expect("a valid pattern")
    });
    call.captures(text).map(|c| match c.get(1) {
        Some(f) => format!("calls auth.{}()", f.as_str().to_ascii_lowercase()),
        None => "reads auth.users".to_string(),
    })
}

/// Facts about the set, gathered over every migration's statements in plan order.
#[derive(Debug, Clone, Default)]
pub struct SetFacts {
    /// Every table the set names, numbered: the facts below hold the numbers.
    tables: Tables,
    /// The tables the set creates, with the plan place of the migration that does.
    created: HashMap<Table, u32>,
    /// The tables whose RLS is on at the end of the set, with where it was first enabled: the
    /// migration's place in the plan.
    rls_enabled_at: HashMap<Table, usize>,
    /// Each migration's place in the plan, and the version at each place.
    order: HashMap<Arc<str>, usize>,
    versions: Vec<Arc<str>>,
    /// Tables granted some privilege to PUBLIC or an API role, and schemas whose tables all
    /// are (`GRANT … ON ALL TABLES IN SCHEMA`).
    api_grants: HashSet<Table>,
    api_schema_grants: HashSet<String>,
    /// What shows that an API serves the database, first found: a grant to `anon`, a policy
    /// for `authenticated`, a call of `auth.uid()`…
    api_evidence: Option<String>,
    policies: HashMap<Table, usize>,
    dropped: HashSet<Table>,
    /// `CHECK (col IS NOT NULL)` constraints, by table and name: their column.
    not_null_checks: HashMap<(Table, String), String>,
    /// For each (table, column), the first plan place where such a check was valid (added
    /// without NOT VALID, or validated).
    not_null_valid_at: HashMap<(Table, String), usize>,
    /// Each column's type as the set declares it, with the plan place of each declaration
    /// (CREATE TABLE, ADD COLUMN, ALTER COLUMN … TYPE), oldest first.
    column_types: super::declared_types::DeclaredTypes<ColumnType>,
    /// Functions, procedures, views, types and sequences by name (the last part): the plan place
    /// of the first migration that makes one.
    objects_made: HashMap<String, usize>,
    /// The views the set makes (not materialized views): they have no RLS of their own.
    views: HashSet<Table>,
    /// Primary keys, unique constraints and indexes.
    keys: super::keys::Keys,
}

/// What naming the schemas of one file took from the set before it: the tables it found
/// there. With it, [`SetFacts::replay`] names them again the same way in a fresh parse of the
/// file, once the whole set is known.
#[derive(Debug, Clone, Default)]
pub struct Resolved(HashSet<QualName>);

impl SetFacts {
    /// Records one migration's statements (call in plan order), after naming the schema of
    /// each unqualified table as the server would under the file's `search_path`.
    /// Returns what naming the schemas took from the set so far, for [`SetFacts::replay`].
    pub fn add(&mut self, version: &str, file: &mut super::ParsedFile) -> Resolved {
        let mut found = HashSet::new();
        let (tables, created) = (&self.tables, &self.created);
        let paths = Self::resolve_search_path(file, &mut |t: &QualName| {
            let known = tables.get(t).is_some_and(|t| created.contains_key(&t));
            if known {
                found.insert(t.clone());
            }
            known
        });
        let (statements, text) = (&file.statements, &file.sub.text);
        // One place per migration added, whatever its version: the version at each place is
        // the one added there.
        let place = self.versions.len();
        let version: Arc<str> = Arc::from(version);
        self.order.insert(version.clone(), place);
        self.versions.push(version.clone());
        let version = &*version;
        if self.api_evidence.is_none() {
            self.api_evidence = auth_call(text).map(|f| format!("{version} {f}"));
        }
        for (s, path) in statements.iter().zip(&paths) {
            self.keys.add(&s.node, &mut self.tables);
            self.note_api(version, &s.node);
            self.note_column_types(&s.node, place);
            if let Some(name) = made_object(&s.node) {
                self.objects_made.entry(name).or_insert(place);
            }
            if let NodeEnum::ViewStmt(v) = &*s.node {
                if let Some(r) = &v.view {
                    self.views.insert(self.tables.number(&QualName::of(r)));
                }
            }
            if let Some(t) = created_table(&s.node) {
                let t = self.tables.number(&t);
                self.dropped.remove(&t);
                self.rls_enabled_at.remove(&t);
                self.created.insert(t, place as u32);
            }
            match &*s.node {
                NodeEnum::AlterTableStmt(a) => {
                    let Some(rel) = &a.relation else { continue };
                    let t = self.tables.number(&QualName::of(rel));
                    for c in alter_cmds(a) {
                        self.note_not_null_check(t, c, place);
                        if c.subtype == AlterTableType::AtEnableRowSecurity as i32 {
                            self.rls_enabled_at.entry(t).or_insert(place);
                        } else if c.subtype == AlterTableType::AtDisableRowSecurity as i32 {
                            self.rls_enabled_at.remove(&t);
                        }
                    }
                }
                NodeEnum::CreatePolicyStmt(p) => {
                    if let Some(rel) = &p.table {
                        let t = self.tables.number(&QualName::of(rel));
                        *self.policies.entry(t).or_default() += 1;
                    }
                }
                NodeEnum::DropStmt(d)
                    if d.remove_type == protobuf::ObjectType::ObjectTable as i32 =>
                {
                    for o in &d.objects {
                        if let Some(N::List(l)) = &o.node {
                            let parts = super::names(&l.items);
                            let t = match parts.as_slice() {
                                [name] => self.find(path, name),
                                [.., schema, name] => QualName {
                                    schema: schema.clone(),
                                    name: name.clone(),
                                },
                                [] => continue,
                            };
                            self.dropped.insert(self.tables.number(&t));
                        }
                    }
                }
                _ => {}
            }
        }
        Resolved(found)
    }

    /// The migration that created the table, if one of the set did.
    pub fn created_by(&self, t: &QualName) -> Option<&str> {
        let place = *self.created.get(&self.tables.get(t)?)?;
        self.versions.get(place as usize).map(|v| &**v)
    }

    /// Whether RLS is enabled on the table at the end of the set.
    pub fn rls_enabled(&self, t: &QualName) -> bool {
        self.tables
            .get(t)
            .is_some_and(|t| self.rls_enabled_at.contains_key(&t))
    }

    /// Number of policies created on the table in the whole set.
    pub fn policy_count(&self, t: &QualName) -> usize {
        self.tables
            .get(t)
            .and_then(|t| self.policies.get(&t).copied())
            .unwrap_or(0)
    }

    /// Whether the set gives the table a primary key (and does not drop it after).
    pub fn has_primary_key(&self, t: &QualName) -> bool {
        self.tables
            .get(t)
            .is_some_and(|t| self.keys.has_primary_key(t))
    }

    /// Whether one of the table's indexes (or keys) leads with `cols`, in any order.
    pub fn indexed(&self, t: &QualName, cols: &[String]) -> bool {
        self.tables
            .get(t)
            .is_some_and(|t| self.keys.indexed(t, cols))
    }

    /// How many of the table's indexes (and keys) have exactly these columns, in this order.
    pub fn identical_indexes(&self, t: &QualName, cols: &[String]) -> usize {
        self.tables
            .get(t)
            .map_or(0, |t| self.keys.identical(t, cols))
    }

    /// Names the schema of every unqualified table of `file` as the server would: a table a
    /// statement creates goes into the first schema of the `search_path` in force (`SET`,
    /// `SET LOCAL`, `set_config`, `RESET`; each migration starts from the default, `public`), and
    /// a table it uses is the first of that path that holds one of that name (as far as the set
    /// says), else again the first schema. Returns the path in force at each statement.
    /// Names the schemas of a fresh parse of a file as [`SetFacts::add`] named them in its
    /// first one.
    pub fn replay(file: &mut super::ParsedFile, resolved: &Resolved) {
        Self::resolve_search_path(file, &mut |t| resolved.0.contains(t));
    }

    fn resolve_search_path(
        file: &mut super::ParsedFile,
        created: &mut dyn FnMut(&QualName) -> bool,
    ) -> Vec<Arc<[String]>> {
        let paths = search_paths(&file.sub.text, &file.statements);
        if paths.iter().all(|p| p[..] == ["public"]) {
            return paths;
        }
        let mut made_here: HashSet<QualName> = HashSet::new();
        for (s, path) in file.statements.iter_mut().zip(&paths) {
            if path[..] == ["public"] {
                if let Some(t) = created_table(&s.node) {
                    made_here.insert(t);
                }
                continue;
            }
            let first = path[0].clone();
            match Arc::make_mut(&mut s.node) {
                NodeEnum::CreateStmt(c) => {
                    if let Some(r) = c.relation.as_mut().filter(|r| r.schemaname.is_empty()) {
                        r.schemaname = first.clone();
                    }
                }
                NodeEnum::CreateTableAsStmt(c) => {
                    if let Some(r) = c
                        .into
                        .as_mut()
                        .and_then(|i| i.rel.as_mut())
                        .filter(|r| r.schemaname.is_empty())
                    {
                        r.schemaname = first.clone();
                    }
                }
                _ => {}
            }
            let mut known = |schema: &str, name: &str| {
                let t = QualName {
                    schema: schema.to_string(),
                    name: name.to_string(),
                };
                made_here.contains(&t) || created(&t)
            };
            // SAFETY: the pointers come from `s.node`, which is borrowed mutably for this loop
            // alone and not changed otherwise while they are used; only a string field of each
            // RangeVar is written, which moves no node.
            unsafe {
                for (n, ..) in Arc::make_mut(&mut s.node).nodes_mut() {
                    if let pg_query::NodeMut::RangeVar(r) = n {
                        let Some(r) = r.as_mut() else { continue };
                        if r.schemaname.is_empty() && r.relpersistence != "t" {
                            r.schemaname = path
                                .iter()
                                .find(|schema| known(schema, &r.relname))
                                .unwrap_or(&first)
                                .clone();
                        }
                    }
                }
            }
            if let Some(t) = created_table(&s.node) {
                made_here.insert(t);
            }
        }
        paths
    }

    /// The table `name` under `path`: the first schema that holds one, else the first schema.
    fn find(&self, path: &[String], name: &str) -> QualName {
        let schema = path
            .iter()
            .find(|schema| {
                self.tables
                    .get(&QualName {
                        schema: schema.to_string(),
                        name: name.to_string(),
                    })
                    .is_some_and(|t| self.created.contains_key(&t))
            })
            .unwrap_or(&path[0]);
        QualName {
            schema: schema.clone(),
            name: name.to_string(),
        }
    }

    /// Whether RLS is enabled on the table by migration `version` or one before it in the
    /// plan (and not disabled again since).
    pub fn rls_enabled_by(&self, t: &QualName, version: &str) -> bool {
        let at = self.tables.get(t).and_then(|t| self.rls_enabled_at.get(&t));
        match (at, self.order.get(version)) {
            (Some(at), Some(here)) => at <= here,
            _ => false,
        }
    }

    /// Records the column types a CREATE TABLE or ALTER TABLE declares.
    fn note_column_types(&mut self, node: &NodeEnum, place: usize) {
        let mut note = |t: &QualName, column: &str, ty: &Option<protobuf::TypeName>| {
            if let Some(ty) = ty.as_ref().and_then(ColumnType::of) {
                let t = self.tables.number(t);
                self.column_types.note(t, column, place, ty);
            }
        };
        match node {
            NodeEnum::CreateStmt(c) => {
                let Some(rel) = &c.relation else { return };
                let t = QualName::of(rel);
                for e in &c.table_elts {
                    if let Some(N::ColumnDef(d)) = &e.node {
                        note(&t, &d.colname, &d.type_name);
                    }
                }
            }
            NodeEnum::AlterTableStmt(a) => {
                let Some(rel) = &a.relation else { return };
                let t = QualName::of(rel);
                for c in alter_cmds(a) {
                    let Some(N::ColumnDef(d)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else {
                        continue;
                    };
                    if c.subtype == AlterTableType::AtAddColumn as i32 {
                        note(&t, &d.colname, &d.type_name);
                    } else if c.subtype == AlterTableType::AtAlterColumnType as i32 {
                        note(&t, &c.name, &d.type_name);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether a migration of the set makes a view (not a materialized view) of this name.
    pub fn is_view(&self, t: &QualName) -> bool {
        self.tables.get(t).is_some_and(|t| self.views.contains(&t))
    }

    /// Whether a migration before `version` makes a function, procedure, view, type or
    /// sequence of this name.
    pub fn object_made_before(&self, name: &str, version: &str) -> bool {
        match (self.objects_made.get(name), self.order.get(version)) {
            (Some(at), Some(here)) => at < here,
            _ => false,
        }
    }

    /// The type of `t.column` as the migrations before `version` left it, if the set says.
    pub fn column_type_before(
        &self,
        t: &QualName,
        column: &str,
        version: &str,
    ) -> Option<&ColumnType> {
        let here = *self.order.get(version)?;
        self.column_types.before(self.tables.get(t)?, column, here)
    }

    /// Records an `ADD CONSTRAINT … CHECK (col IS NOT NULL)` or the VALIDATE of one.
    fn note_not_null_check(&mut self, t: Table, c: &protobuf::AlterTableCmd, place: usize) {
        if c.subtype == AlterTableType::AtValidateConstraint as i32 {
            if let Some(column) = self.not_null_checks.get(&(t, c.name.clone())) {
                self.not_null_valid_at
                    .entry((t, column.clone()))
                    .or_insert(place);
            }
            return;
        }
        if c.subtype != AlterTableType::AtAddConstraint as i32 {
            return;
        }
        let Some(N::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else {
            return;
        };
        if let Some(column) = not_null_test(k) {
            if !k.skip_validation {
                self.not_null_valid_at
                    .entry((t, column.clone()))
                    .or_insert(place);
            }
            self.not_null_checks.insert((t, k.conname.clone()), column);
        }
    }

    /// The column of a `CHECK (col IS NOT NULL)` constraint named `name` on `t`, if the set
    /// adds one.
    pub fn not_null_check(&self, t: &QualName, name: &str) -> Option<&str> {
        self.not_null_checks
            .get(&(self.tables.get(t)?, name.to_string()))
            .map(String::as_str)
    }

    /// Whether a migration before `version` made a `CHECK (column IS NOT NULL)` on `t` valid:
    /// SET NOT NULL then uses it instead of scanning the table (PostgreSQL 12+).
    pub fn not_null_valid_before(&self, t: &QualName, column: &str, version: &str) -> bool {
        let (Some(here), Some(t)) = (self.order.get(version), self.tables.get(t)) else {
            return false;
        };
        self.not_null_valid_at
            .get(&(t, column.to_string()))
            .is_some_and(|at| at < here)
    }

    /// Whether any migration grants the table (or every table of its schema) to PUBLIC or an
    /// API role.
    pub fn granted_to_api(&self, t: &QualName) -> bool {
        self.tables
            .get(t)
            .is_some_and(|t| self.api_grants.contains(&t))
            || self.api_schema_grants.contains(&t.schema)
    }

    /// What shows that an API (Supabase, PostgREST) serves this database, if anything does.
    pub fn api_evidence(&self) -> Option<&str> {
        self.api_evidence.as_deref()
    }

    /// Grants and policies for the API's roles: evidence that an API serves the database,
    /// and the tables it is given.
    fn note_api(&mut self, version: &str, node: &NodeEnum) {
        let role_names = |roles: &[protobuf::Node]| -> Vec<(bool, String)> {
            roles
                .iter()
                .filter_map(|r| match &r.node {
                    Some(N::RoleSpec(r)) => Some((
                        r.roletype == protobuf::RoleSpecType::RolespecPublic as i32,
                        r.rolename.clone(),
                    )),
                    _ => None,
                })
                .collect()
        };
        let evidence = |roles: &[(bool, String)]| {
            roles
                .iter()
                .find(|(_, r)| API_ROLES.contains(&r.as_str()))
                .map(|(_, r)| r.clone())
        };
        let grant = match node {
            NodeEnum::GrantStmt(g) => Some(g),
            NodeEnum::AlterDefaultPrivilegesStmt(d) => d.action.as_ref(),
            _ => None,
        };
        if let Some(g) = grant.filter(|g| g.is_grant) {
            let roles = role_names(&g.grantees);
            if let (None, Some(r)) = (&self.api_evidence, evidence(&roles)) {
                self.api_evidence = Some(format!("{version} grants to `{r}`"));
            }
            let open = roles
                .iter()
                .any(|(public, r)| *public || r == "anon" || r == "authenticated");
            if open && matches!(node, NodeEnum::GrantStmt(_)) {
                if g.targtype == protobuf::GrantTargetType::AclTargetAllInSchema as i32 {
                    self.api_schema_grants.extend(super::names(&g.objects));
                } else if g.objtype == protobuf::ObjectType::ObjectTable as i32 {
                    for o in &g.objects {
                        if let Some(N::RangeVar(r)) = &o.node {
                            self.api_grants.insert(self.tables.number(&QualName::of(r)));
                        }
                    }
                }
            }
        }
        if let NodeEnum::CreatePolicyStmt(p) = node {
            if let (None, Some(r)) = (&self.api_evidence, evidence(&role_names(&p.roles))) {
                self.api_evidence = Some(format!("a policy of {version} is for `{r}`"));
            }
        }
        if let NodeEnum::GrantRoleStmt(g) = node {
            let granted: Vec<(bool, String)> = g
                .granted_roles
                .iter()
                .filter_map(|r| match &r.node {
                    Some(N::AccessPriv(a)) => Some((false, a.priv_name.clone())),
                    _ => None,
                })
                .chain(role_names(&g.grantee_roles))
                .collect();
            if let (None, Some(r)) = (&self.api_evidence, evidence(&granted)) {
                self.api_evidence = Some(format!("{version} grants the role `{r}`"));
            }
        }
    }

    /// Whether the table is dropped by a later migration.
    pub fn dropped(&self, t: &QualName) -> bool {
        self.tables
            .get(t)
            .is_some_and(|t| self.dropped.contains(&t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts_of(files: &[(&str, &str)]) -> SetFacts {
        let mut facts = SetFacts::default();
        for (version, sql) in files {
            let source = std::sync::Arc::new(sql.to_string());
            let (mut file, err, _) = super::super::ParsedFile::parse(&source, &|_| None);
            assert!(err.is_none(), "{err:?}");
            facts.add(version, &mut file);
        }
        facts
    }

    fn t(schema: &str, name: &str) -> QualName {
        QualName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    #[test]
    fn unqualified_tables_follow_the_search_path_as_the_server_would() {
        let facts = facts_of(&[
            ("2026-01-01_public", "CREATE TABLE users (id int);"),
            (
                "2026-01-02_app",
                "SET search_path TO app, public;\nCREATE TABLE notes (id int);\nALTER TABLE notes ENABLE ROW LEVEL SECURITY;\nALTER TABLE users ENABLE ROW LEVEL SECURITY;\nRESET search_path;\nCREATE TABLE later (id int);",
            ),
            (
                "2026-01-03_config",
                "SELECT set_config('search_path', 'billing, public', true);\nCREATE TABLE invoices (id int);\nSET LOCAL search_path = \"$user\", audit;\nCREATE TABLE log (id int);",
            ),
            // Each migration starts from the default.
            ("2026-01-04_next", "CREATE TABLE plain (id int);"),
        ]);
        for (schema, name) in [
            ("public", "users"),
            ("app", "notes"),
            ("public", "later"),
            ("billing", "invoices"),
            ("audit", "log"),
            ("public", "plain"),
        ] {
            assert!(
                facts.created_by(&t(schema, name)).is_some(),
                "{schema}.{name}"
            );
        }
        assert!(facts.created_by(&t("public", "notes")).is_none());
        // `users` under `app, public` is the public one the set made.
        assert!(facts.rls_enabled(&t("app", "notes")));
        assert!(facts.rls_enabled(&t("public", "users")));
    }
}
