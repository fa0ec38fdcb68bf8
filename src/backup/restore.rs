//! Restoring a backup with psql, in one transaction: what the backup does not hold dropped
//! first, the dump's own clean-up with CASCADE (so that nothing made after the backup, a
//! foreign key to a table the dump re-creates, a trigger calling its function, stands in the
//! way), the dump, and what the platform's schemas held that depended on it made again.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::process::Stdio;

use super::coverage::{Dependent, Others};
use super::{client, collect, gzip, io_err, tools, BackupError, Progress, Server};
use crate::db::connect::ConnectionSpec;

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub bytes: u64,
    /// Objects the backup did not hold, dropped first (`TABLE public.added_later`).
    pub dropped: Vec<String>,
}

/// An object of the database now, in the form a `--clean` dump names it: `TABLE`,
/// `public.orders`; `FUNCTION`, `public.f(integer)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DbObject {
    pub kind: String,
    pub name: String,
}

/// The objects a restore removes when the backup does not hold them: schemas, tables, views,
/// sequences, functions, types, domains and extensions the restoring role owns, except
/// extension members and the parts of other objects (owned sequences, row and array types),
/// which go with their owner; and nothing in the schemas the backup leaves out (`$1`).
pub const OBJECTS_SQL: &str = "
WITH mine AS (SELECT oid FROM pg_roles WHERE pg_has_role(current_user, oid, 'USAGE')),
ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e'),
user_ns AS (SELECT oid, nspname FROM pg_namespace
            WHERE nspname NOT IN ('information_schema', 'pg_catalog', 'pg_toast') AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
              AND nspname <> ALL($1::text[]))
SELECT 'SCHEMA', quote_ident(n.nspname) FROM user_ns n JOIN pg_namespace p ON p.oid = n.oid
 WHERE n.nspname <> 'public' AND p.nspowner IN (SELECT oid FROM mine)
   AND (('pg_namespace'::regclass, n.oid) NOT IN (SELECT classid, objid FROM ext))
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
       format('%I.%I', n.nspname, c.relname)
  FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner IN (SELECT oid FROM mine)
   AND (('pg_class'::regclass, c.oid) NOT IN (SELECT classid, objid FROM ext))
   AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
  FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
 WHERE p.proowner IN (SELECT oid FROM mine)
   AND (('pg_proc'::regclass, p.oid) NOT IN (SELECT classid, objid FROM ext))
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, format('%I.%I', n.nspname, t.typname)
  FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
 WHERE t.typowner IN (SELECT oid FROM mine) AND t.typtype IN ('e', 'r', 'd', 'c')
   AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
   AND (('pg_type'::regclass, t.oid) NOT IN (SELECT classid, objid FROM ext))
UNION ALL
SELECT 'EXTENSION', quote_ident(e.extname) FROM pg_extension e
 WHERE e.extowner IN (SELECT oid FROM mine) AND e.extname <> 'plpgsql'";

/// `DROP TABLE IF EXISTS public.p;` → (`TABLE`, `public.p`).
fn dropped_in_dump(line: &str) -> Option<DbObject> {
    let rest = line.strip_prefix("DROP ")?.strip_suffix(';')?;
    let (kind, name) = rest.split_once(" IF EXISTS ")?;
    Some(DbObject {
        kind: kind.to_string(),
        name: name.to_string(),
    })
}

/// The dump's head: its settings, then every DROP of a `--clean` dump, up to and including
/// the first line that creates something; and the objects those DROPs name.
fn dump_head(
    path: &Path,
    decoder: &mut impl BufRead,
) -> Result<(Vec<Vec<u8>>, HashSet<DbObject>), BackupError> {
    let mut head: Vec<Vec<u8>> = Vec::new();
    let mut held = HashSet::new();
    loop {
        let mut line = Vec::new();
        let n = decoder
            .read_until(b'\n', &mut line)
            .map_err(io_err(format!("cannot read {}", path.display())))?;
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let first_create = text.starts_with("CREATE ") || text.starts_with("COPY ");
        if let Some(o) = dropped_in_dump(text.trim_end()) {
            held.insert(o);
        }
        head.push(line);
        if first_create {
            break;
        }
    }
    Ok((head, held))
}

fn decoder(path: &Path) -> Result<impl BufRead, BackupError> {
    let file = File::open(path).map_err(io_err(format!("cannot open {}", path.display())))?;
    Ok(io::BufReader::with_capacity(
        gzip::BLOCK,
        flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(gzip::BLOCK, file)),
    ))
}

/// The objects the backup at `path` re-creates, as its `--clean` DROPs name them.
pub fn held(path: &Path) -> Result<HashSet<DbObject>, BackupError> {
    Ok(dump_head(path, &mut decoder(path)?)?.1)
}

/// The objects of the database now (`current`, from [`OBJECTS_SQL`]) that the backup does not
/// hold (`held`), in the order a restore drops them: extensions and schemas first (CASCADE
/// takes their contents), then the rest. A restore drops them before anything else, so that
/// the database is the backup's and nothing newer depends on what it re-creates.
pub fn not_held(held: &HashSet<DbObject>, current: &[DbObject]) -> Vec<DbObject> {
    let order = |k: &str| match k {
        "EXTENSION" => 0,
        "SCHEMA" => 1,
        _ => 2,
    };
    let mut extra: Vec<DbObject> = current
        .iter()
        .filter(|o| !held.contains(o))
        .cloned()
        .collect();
    extra.sort_by_key(|o| (order(&o.kind), o.kind.clone(), o.name.clone()));
    extra
}

/// What a restore does besides the dump.
#[derive(Debug, Clone, Default)]
pub struct RestorePlan {
    /// Dropped first: what the backup does not hold ([`not_held`]).
    pub drops: Vec<DbObject>,
    /// Made again last: what the schemas the backup leaves out held that depends on what it
    /// re-creates (its CASCADE takes them along).
    pub remake: Vec<Dependent>,
    /// What belongs to other roles: left out of the dump's statements.
    pub others: Others,
}

/// Whether a line of the dump's head is one of its settings (or a comment, a blank line, a
/// psql meta-command), before its clean-up starts.
fn is_setting(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    t.is_empty()
        || t.starts_with(b"--")
        || t.starts_with(b"SET ")
        || t.starts_with(b"SELECT pg_catalog.set_config(")
        || t.starts_with(b"\\")
}

/// A line of the dump's clean-up as the restore runs it: with CASCADE, so that what was made
/// after the backup and depends on the object goes with it (the dump makes again what it
/// holds); `None` for the DROP of an extension that belongs to another role.
fn clean_line(line: &[u8], others: &Others) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(line);
    let t = text.trim_end();
    if let Some(ext) = t
        .strip_prefix("DROP EXTENSION IF EXISTS ")
        .and_then(|r| r.strip_suffix(';'))
    {
        if others.extensions.contains(ext) {
            return None;
        }
    }
    let cascades = (t.starts_with("DROP ") && !t.starts_with("DROP USER MAPPING"))
        || (t.starts_with("ALTER TABLE ") && t.contains(" DROP CONSTRAINT IF EXISTS "));
    if cascades && t.ends_with(';') && !t.ends_with(" CASCADE;") {
        return Some(format!("{} CASCADE;\n", &t[..t.len() - 1]).into_bytes());
    }
    Some(line.to_vec())
}

/// Leaves out of the dump's body the entries the restoring role could not run: other roles'
/// default privileges, and comments on their extensions. An entry starts at its
/// `-- Name: …; Type: …; Schema: …; Owner: …` (or `-- Data for Name: …`) header; COPY data is
/// never read as one.
#[derive(Default)]
struct BodyFilter {
    in_copy: bool,
    skipping: bool,
}

impl BodyFilter {
    fn keep(&mut self, line: &[u8], others: &Others) -> bool {
        if self.in_copy {
            if line.trim_ascii_end() == b"\\." {
                self.in_copy = false;
            }
            return !self.skipping;
        }
        // Data, the dump's end and psql's own lines (`\unrestrict`) are never an entry to
        // leave out.
        if line.starts_with(b"-- Data for Name: ")
            || line.starts_with(super::COMPLETE.as_bytes())
            || line.starts_with(b"\\")
        {
            self.skipping = false;
        } else if line.starts_with(b"-- Name: ") {
            let header = String::from_utf8_lossy(line);
            let field = |key: &str| {
                header
                    .trim_end()
                    .trim_start_matches("-- ")
                    .split("; ")
                    .find_map(|f| f.strip_prefix(key).map(str::to_string))
                    .unwrap_or_default()
            };
            let (name, kind, owner) = (field("Name: "), field("Type: "), field("Owner: "));
            self.skipping = (kind == "DEFAULT ACL" && others.roles.contains(&owner))
                || (kind == "COMMENT"
                    && name
                        .strip_prefix("EXTENSION ")
                        .is_some_and(|e| others.extensions.contains(e)));
        }
        if line.starts_with(b"COPY ") && line.trim_ascii_end().ends_with(b" FROM stdin;") {
            self.in_copy = true;
        }
        !self.skipping
    }
}

/// Restores `path` into `spec`'s database with psql and ON_ERROR_STOP, in one transaction (all
/// of it or nothing): after the dump's settings, the drops of `plan`, then the dump's clean-up
/// with CASCADE and the rest of the dump, then what `plan` makes again. pgshift writes the
/// BEGIN and the COMMIT itself, the COMMIT only after the whole file went in: should pgshift
/// die halfway, psql reads the end of its input without a COMMIT and the server rolls
/// everything back (psql's own `--single-transaction` would commit at the end of input,
/// whatever was read).
pub fn restore(
    spec: &ConnectionSpec,
    server: &Server,
    path: &Path,
    psql: Option<&Path>,
    plan: &RestorePlan,
    progress: &mut dyn FnMut(Progress),
) -> Result<Restored, BackupError> {
    let tool = tools::find("psql", psql, server.major)?;
    let mut decoder = decoder(path)?;
    let (head, _) = dump_head(path, &mut decoder)?;
    let mut dropped: Vec<String> = Vec::new();
    let mut clean = String::new();
    for o in &plan.drops {
        clean.push_str(&format!("DROP {} IF EXISTS {} CASCADE;\n", o.kind, o.name));
        dropped.push(format!("{} {}", o.kind, o.name));
    }
    let mut remake = String::new();
    for d in &plan.remake {
        if let Some(def) = &d.definition {
            remake.push_str(def);
            remake.push('\n');
        }
    }
    let (mut cmd, _pass) = client(&tool, spec, "pgshift restore")?;
    let mut child = cmd
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err(format!("cannot run {}", tool.path.display())))?;
    let stderr = collect(child.stderr.take().expect("piped"));
    let mut stdin = child.stdin.take().expect("piped");
    let mut bytes = 0u64;
    let fed = feed(
        &mut stdin,
        Parts {
            head: &head,
            clean: &clean,
            remake: &remake,
            others: &plan.others,
        },
        &mut decoder,
        &mut bytes,
        progress,
    );
    drop(stdin);
    let status = child.wait().map_err(io_err("psql did not finish"))?;
    let said = stderr.join().unwrap_or_default();
    if !status.success() || fed.is_err() {
        let why = match (&fed, said.is_empty()) {
            (Err(e), true) => format!("cannot read the backup: {e}"),
            _ => said,
        };
        return Err(BackupError::Failed {
            message: format!(
                "the restore of {} failed and was rolled back: {why}",
                path.display()
            ),
            help: "nothing was changed; `pgshift backup verify FILE` checks the file".into(),
        });
    }
    Ok(Restored { bytes, dropped })
}

/// What goes into psql besides the dump's body.
struct Parts<'a> {
    /// The dump's settings and clean-up, read first.
    head: &'a [Vec<u8>],
    /// The drops of what the backup does not hold.
    clean: &'a str,
    /// What is made again at the end.
    remake: &'a str,
    /// What belongs to other roles.
    others: &'a Others,
}

/// Writes the whole restore into psql's input: BEGIN, the settings, the drops, the clean-up
/// with CASCADE, the dump (filtered when other roles' statements must be left out), what is
/// made again, COMMIT. `bytes` counts the dump read.
fn feed(
    out: &mut impl Write,
    parts: Parts<'_>,
    decoder: &mut impl BufRead,
    bytes: &mut u64,
    progress: &mut dyn FnMut(Progress),
) -> io::Result<()> {
    // The drops go after the dump's own settings (search_path, `\restrict`…), before its
    // clean-up's first statement.
    let split = parts
        .head
        .iter()
        .position(|l| !is_setting(l))
        .unwrap_or(parts.head.len().saturating_sub(1));
    out.write_all(b"BEGIN;\n")?;
    for line in &parts.head[..split] {
        out.write_all(line)?;
    }
    out.write_all(parts.clean.as_bytes())?;
    let mut body = BodyFilter::default();
    for line in &parts.head[split..] {
        if let Some(l) = clean_line(line, parts.others) {
            if body.keep(&l, parts.others) {
                out.write_all(&l)?;
            }
        }
    }
    *bytes += parts.head.iter().map(|l| l.len() as u64).sum::<u64>();
    let mut report = |bytes: u64| {
        progress(Progress {
            read: bytes,
            written: bytes,
        })
    };
    if parts.others.roles.is_empty() && parts.others.extensions.is_empty() {
        // Nothing to leave out: the dump streams through in blocks.
        let mut buf = vec![0u8; gzip::BLOCK];
        loop {
            let n = decoder.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            *bytes += n as u64;
            report(*bytes);
        }
    } else {
        let mut line = Vec::new();
        let mut last = 0u64;
        loop {
            line.clear();
            if decoder.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            *bytes += line.len() as u64;
            if body.keep(&line, parts.others) {
                out.write_all(&line)?;
            }
            if *bytes >= last + gzip::BLOCK as u64 {
                last = *bytes;
                report(*bytes);
            }
        }
    }
    // A dump's last line may lack its line break.
    out.write_all(b"\n")?;
    out.write_all(parts.remake.as_bytes())?;
    out.write_all(b"COMMIT;\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn others() -> Others {
        Others {
            roles: ["supabase_admin".to_string()].into_iter().collect(),
            extensions: ["pgcrypto".to_string()].into_iter().collect(),
        }
    }

    #[test]
    fn the_clean_up_cascades_and_leaves_other_roles_extensions_alone() {
        let o = others();
        let c = |l: &str| clean_line(l.as_bytes(), &o).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(
            c("ALTER TABLE IF EXISTS ONLY auth.users DROP CONSTRAINT IF EXISTS users_pkey;\n"),
            Some("ALTER TABLE IF EXISTS ONLY auth.users DROP CONSTRAINT IF EXISTS users_pkey CASCADE;\n".into())
        );
        assert_eq!(
            c("DROP FUNCTION IF EXISTS public.f(a integer);\n"),
            Some("DROP FUNCTION IF EXISTS public.f(a integer) CASCADE;\n".into())
        );
        assert_eq!(c("DROP EXTENSION IF EXISTS pgcrypto;\n"), None);
        assert_eq!(
            c("DROP EXTENSION IF EXISTS citext;\n"),
            Some("DROP EXTENSION IF EXISTS citext CASCADE;\n".into())
        );
        let keep = "ALTER TABLE IF EXISTS public.t ALTER COLUMN id DROP DEFAULT;\n";
        assert_eq!(c(keep), Some(keep.into()));
        assert_eq!(c("CREATE SCHEMA a;\n"), Some("CREATE SCHEMA a;\n".into()));
    }

    #[test]
    fn other_roles_default_privileges_are_left_out_but_copy_data_never_is() {
        let o = others();
        let dump = "--\n-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: supabase_admin\n--\n\nALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES TO anon;\n\n\
--\n-- Name: EXTENSION pgcrypto; Type: COMMENT; Schema: -; Owner: \n--\n\nCOMMENT ON EXTENSION pgcrypto IS 'x';\n\n\
--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: me\n--\n\nCOPY public.t (a) FROM stdin;\n-- Name: x; Type: DEFAULT ACL; Schema: -; Owner: supabase_admin\nkept row\n\\.\n\n\
--\n-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: me\n--\n\nALTER DEFAULT PRIVILEGES FOR ROLE me IN SCHEMA public GRANT ALL ON TABLES TO anon;\n\
--\n-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: public; Owner: supabase_admin\n--\n\nALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES TO anon;\n\n\
--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n";
        let mut f = BodyFilter::default();
        let kept: String = dump
            .split_inclusive('\n')
            .filter(|l| f.keep(l.as_bytes(), &o))
            .collect();
        assert!(!kept.contains("FOR ROLE supabase_admin"), "{kept}");
        assert!(!kept.contains("COMMENT ON EXTENSION"), "{kept}");
        assert!(
            kept.contains(
                "-- Name: x; Type: DEFAULT ACL; Schema: -; Owner: supabase_admin\nkept row\n"
            ),
            "{kept}"
        );
        assert!(kept.contains("FOR ROLE me IN SCHEMA"), "{kept}");
        assert!(
            kept.ends_with("-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n"),
            "{kept}"
        );
    }

    #[test]
    fn the_settings_end_where_the_clean_up_starts() {
        assert!(is_setting(b"SET lock_timeout = 0;\n"));
        assert!(is_setting(
            b"SELECT pg_catalog.set_config('search_path', '', false);\n"
        ));
        assert!(is_setting(b"\\restrict abc\n"));
        assert!(is_setting(b"\n"));
        assert!(!is_setting(
            b"ALTER TABLE IF EXISTS ONLY a.b DROP CONSTRAINT IF EXISTS c;\n"
        ));
        assert!(!is_setting(b"DROP TABLE IF EXISTS a.b;\n"));
    }
}
