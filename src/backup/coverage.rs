//! What a backup covers: every schema of the project, never the platform's. On Supabase the
//! `auth`, `storage`, `extensions`… schemas belong to the platform's roles (`supabase_admin`,
//! `supabase_auth_admin`, `supabase_storage_admin`), even where the deploying role is a member
//! of them: a backup leaves them out, and a restore never drops or re-creates them. What the
//! migrations put on the platform's tables (a trigger on `auth.users` calling a function of
//! `public`, a policy on `storage.objects`, a foreign key) depends on objects a restore
//! re-creates: those are read here before a restore and made again after it.

use std::collections::HashSet;

use super::DbObject;

/// The schemas a backup of this database leaves out, by name: those owned by a role that is
/// neither the current user nor one it is a member of, and those owned by a platform role
/// (`supabase_*`) other than the current user. `public`, the system's schemas and the schemas
/// of extensions (pg_dump's to handle) are never left out.
pub const OUTSIDE_SQL: &str = "
SELECT n.nspname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
 WHERE n.nspname NOT IN ('public', 'information_schema', 'pg_catalog')
   AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                      AND d.objid = n.oid AND d.deptype = 'e')
   AND r.rolname <> current_user
   AND (NOT pg_has_role(current_user, r.oid, 'USAGE') OR r.rolname LIKE 'supabase\\_%')
 ORDER BY 1";

/// The schemas a backup taken now leaves out (see [`OUTSIDE_SQL`]).
pub async fn outside(
    client: &tokio_postgres::Client,
) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(client
        .query(OUTSIDE_SQL, &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// pg_dump's `--exclude-schema` for each schema left out: the name in double quotes, so that
/// no character in it is read as a pattern.
pub fn exclude_args(outside: &[String]) -> Vec<String> {
    outside
        .iter()
        .map(|s| format!("--exclude-schema=\"{}\"", s.replace('"', "\"\"")))
        .collect()
}

/// An object in a schema a backup leaves out that depends on objects the backup holds: a
/// restore, which drops those with CASCADE, takes it along, and makes it again afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    /// `TRIGGER`, `POLICY`, `CONSTRAINT`; anything else cannot be made again.
    pub kind: String,
    /// `on_auth_user_created ON auth.users`.
    pub name: String,
    /// The statement that makes it again (schema-qualified), when it can be.
    pub definition: Option<String>,
    /// What it needs of the backup's schemas, named as a `--clean` dump names them.
    pub needs: Vec<DbObject>,
}

impl Dependent {
    /// `TRIGGER on_auth_user_created ON auth.users`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }

    /// Whether all it needs is held by the backup (`held`, the objects its dump re-creates).
    pub fn kept_by(&self, held: &HashSet<DbObject>) -> bool {
        self.needs.iter().all(|n| held.contains(n))
    }
}

/// Objects outside the backup's schemas (`$1`, the schemas left out) that depend on objects of
/// the schemas it covers: triggers, policies and constraints with the statement that makes
/// them again; anything else (a view, a column, a function) with none. Run with an empty
/// `search_path`, so that every name in a definition is qualified.
pub const DEPENDENTS_SQL: &str = "
WITH outside AS (SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])),
covered AS (SELECT oid, nspname FROM pg_namespace
             WHERE oid NOT IN (SELECT oid FROM outside)
               AND nspname NOT IN ('information_schema', 'pg_catalog') AND nspname NOT LIKE 'pg\\_%'),
needs AS (
  SELECT d.classid, d.objid, CASE d.refclassid
    WHEN 'pg_proc'::regclass THEN (
      SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END
             || ' ' || format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
        FROM pg_proc p JOIN covered n ON n.oid = p.pronamespace WHERE p.oid = d.refobjid)
    WHEN 'pg_class'::regclass THEN (
      SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                            WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END
             || ' ' || format('%I.%I', n.nspname, c.relname)
        FROM pg_class c JOIN covered n ON n.oid = c.relnamespace
       WHERE c.oid = coalesce((SELECT indrelid FROM pg_index WHERE indexrelid = d.refobjid), d.refobjid))
    WHEN 'pg_type'::regclass THEN (
      SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END || ' ' || format('%I.%I', n.nspname, t.typname)
        FROM pg_type t JOIN covered n ON n.oid = t.typnamespace WHERE t.oid = d.refobjid)
    END AS need
  FROM pg_depend d
 WHERE d.deptype IN ('n', 'a')
   AND d.refclassid IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass)
),
dependents AS (
  SELECT 'TRIGGER' AS kind, format('%I ON %s', t.tgname, t.tgrelid::regclass) AS name,
         pg_get_triggerdef(t.oid) || ';' AS definition, 'pg_trigger'::regclass AS classid, t.oid AS objid
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE NOT t.tgisinternal AND c.relnamespace IN (SELECT oid FROM outside)
  UNION ALL
  SELECT 'POLICY', format('%I ON %s', p.polname, p.polrelid::regclass),
         format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s;', p.polname, p.polrelid::regclass,
                CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                              WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
                CASE WHEN p.polroles = '{0}' THEN 'PUBLIC'
                     ELSE (SELECT string_agg(quote_ident(rolname), ', ' ORDER BY rolname)
                             FROM pg_roles WHERE oid = ANY(p.polroles)) END,
                ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
                ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'),
         'pg_policy'::regclass, p.oid
    FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
   WHERE c.relnamespace IN (SELECT oid FROM outside)
  UNION ALL
  SELECT 'CONSTRAINT', format('%I ON %s', co.conname, co.conrelid::regclass),
         format('ALTER TABLE %s ADD CONSTRAINT %I %s;', co.conrelid::regclass, co.conname,
                pg_get_constraintdef(co.oid)),
         'pg_constraint'::regclass, co.oid
    FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
   WHERE c.relnamespace IN (SELECT oid FROM outside)
  UNION ALL
  SELECT 'VIEW', r.ev_class::regclass::text, NULL, 'pg_rewrite'::regclass, r.oid
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
   WHERE c.relnamespace IN (SELECT oid FROM outside)
  UNION ALL
  SELECT 'COLUMN DEFAULT', format('%s.%I', a.adrelid::regclass, att.attname), NULL, 'pg_attrdef'::regclass, a.oid
    FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid
         JOIN pg_attribute att ON att.attrelid = a.adrelid AND att.attnum = a.adnum
   WHERE c.relnamespace IN (SELECT oid FROM outside)
  UNION ALL
  SELECT 'TABLE', c.oid::regclass::text, NULL, 'pg_class'::regclass, c.oid
    FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM outside)
  UNION ALL
  SELECT 'FUNCTION', p.oid::regprocedure::text, NULL, 'pg_proc'::regclass, p.oid
    FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM outside)
)
SELECT x.kind, x.name, x.definition, array_agg(DISTINCT n.need ORDER BY n.need)
  FROM dependents x JOIN needs n ON n.classid = x.classid AND n.objid = x.objid
 WHERE n.need IS NOT NULL
 GROUP BY x.kind, x.name, x.definition
 ORDER BY 1, 2";

/// The objects outside `outside`'s schemas that depend on the covered ones.
pub async fn dependents(
    client: &tokio_postgres::Client,
    outside: &[String],
) -> Result<Vec<Dependent>, tokio_postgres::Error> {
    // Definitions with every name qualified, whatever the session's search_path.
    client
        .batch_execute("BEGIN READ ONLY; SET LOCAL search_path = ''")
        .await?;
    let rows = client.query(DEPENDENTS_SQL, &[&outside]).await;
    client.batch_execute("COMMIT").await?;
    Ok(rows?
        .iter()
        .map(|r| Dependent {
            kind: r.get(0),
            name: r.get(1),
            definition: r.get(2),
            needs: r
                .get::<_, Vec<String>>(3)
                .iter()
                .filter_map(|n| parse_need(n))
                .collect(),
        })
        .collect())
}

/// `FUNCTION public.f()` → (`FUNCTION`, `public.f()`); the kind may be two words.
fn parse_need(need: &str) -> Option<DbObject> {
    let two = ["MATERIALIZED VIEW ", "FOREIGN TABLE "];
    let (kind, name) = match two.iter().find(|k| need.starts_with(**k)) {
        Some(k) => (k.trim_end(), &need[k.len()..]),
        None => need.split_once(' ')?,
    };
    Some(DbObject {
        kind: kind.to_string(),
        name: name.to_string(),
    })
}

/// The roles the current user acts as (a member of), and the extensions that belong to
/// other roles: a restore leaves out what it could not run for them (their default
/// privileges, dropping or commenting their extensions).
#[derive(Debug, Clone, Default)]
pub struct Others {
    /// Roles whose default privileges the restoring role may not change.
    pub roles: HashSet<String>,
    /// Extensions the restoring role does not own.
    pub extensions: HashSet<String>,
}

/// What belongs to other roles in this database.
pub async fn others(client: &tokio_postgres::Client) -> Result<Others, tokio_postgres::Error> {
    let roles = client
        .query(
            "SELECT rolname FROM pg_roles WHERE NOT pg_has_role(current_user, oid, 'MEMBER')",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let extensions = client
        .query(
            "SELECT quote_ident(extname) FROM pg_extension WHERE NOT pg_has_role(current_user, extowner, 'MEMBER')",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Others { roles, extensions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_needed_read_as_the_dump_names_them() {
        let o = |k: &str, n: &str| DbObject {
            kind: k.into(),
            name: n.into(),
        };
        assert_eq!(
            parse_need("FUNCTION public.f(a integer)"),
            Some(o("FUNCTION", "public.f(a integer)"))
        );
        assert_eq!(
            parse_need("MATERIALIZED VIEW public.m"),
            Some(o("MATERIALIZED VIEW", "public.m"))
        );
        let d = Dependent {
            kind: "TRIGGER".into(),
            name: "t ON auth.users".into(),
            definition: None,
            needs: vec![o("FUNCTION", "public.f()")],
        };
        assert!(d.kept_by(&[o("FUNCTION", "public.f()")].into_iter().collect()));
        assert!(!d.kept_by(&HashSet::new()));
    }

    #[test]
    fn a_schema_name_is_never_a_pattern() {
        assert_eq!(
            exclude_args(&["auth".into(), "we\"ird.*".into()]),
            vec![
                "--exclude-schema=\"auth\"".to_string(),
                "--exclude-schema=\"we\"\"ird.*\"".to_string()
            ]
        );
    }
}
