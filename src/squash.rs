//! `pgshift squash --to VERSION`: the migrations up to VERSION (in plan order) become one
//! baseline file, as named stages:
//!
//! 1. [`select`]: the versioned migrations up to VERSION (a repeatable among them refuses);
//! 2. [`schema_sql`]: the schema they build, read from the catalogs of a throwaway database
//!    they were applied to, as `diff --from empty` writes it;
//! 3. [`carried`]: their statements that write rows (INSERT, UPDATE, DELETE, MERGE, COPY with
//!    its data, a SELECT called for its effect such as `setval`) and those on schemas the
//!    snapshot leaves out (a trigger on Supabase's `auth.users`), verbatim, in order;
//! 4. [`baseline_text`]: the file, whose `-- @replaces:` lines name every version it stands
//!    for (a database that has them all records it without running it);
//! 5. [`prove`]: a fresh deploy of the old set and of the new one, each on a throwaway
//!    database, must give the same schema (an empty diff) and the same rows (a checksum per
//!    table); otherwise nothing is written and the difference is returned;
//! 6. [`write`]: the baseline written, the squashed files (with their down files) moved to
//!    `<migrations>/squashed/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pg_query::NodeEnum;

use crate::db::connect::ConnectionSpec;
use crate::diff::{failed, Builder, DiffError};
use crate::migration::{Migration, MigrationSet, Version, SQUASHED_DIR};
use crate::plan::Plan;
use crate::schema::Scope;

/// What a squash makes, before it is written.
#[derive(Debug, Clone)]
pub struct Squash {
    /// The baseline's version (`<date>_baseline_<name>`).
    pub version: String,
    /// Its text.
    pub text: String,
    /// The migrations it replaces, in plan order.
    pub replaced: Vec<Version>,
    /// Their files (up and down), relative to the migrations directory.
    pub files: Vec<PathBuf>,
    /// Statements carried verbatim.
    pub carried: usize,
}

/// Stage 1: the versioned migrations of the plan up to `to`, in plan order.
pub fn select<'s>(
    set: &'s MigrationSet,
    plan: &Plan,
    to: &str,
) -> Result<Vec<&'s Migration>, DiffError> {
    let version = Version::parse_reference(to).map_err(|e| failed(e.to_string(), e.help()))?;
    let Some(position) = plan.position(&version) else {
        return Err(failed(
            format!("--to {to} is not a migration in {}", set.dir.display()),
            "`pgshift order` lists the versions in the order they run",
        ));
    };
    if version.is_repeatable() {
        return Err(failed(
            format!("--to {to} is a repeatable migration"),
            "squash up to a versioned migration; repeatables stay as they are",
        ));
    }
    let mut out = Vec::new();
    for step in &plan.steps[..position] {
        let Some(m) = set.get(&step.version) else {
            continue;
        };
        if let Some(envs) = &m.front.directives.environments {
            let names: Vec<&str> = envs.iter().map(|e| e.as_str()).collect();
            return Err(failed(
                format!(
                    "{} runs only in {} (`@env`): a baseline runs in every environment",
                    m.version,
                    names.join(", ")
                ),
                "squash up to a version before it, or move what it does (seed data) out of the migrations",
            ));
        }
        if m.is_repeatable() {
            return Err(failed(
                format!(
                    "{} runs before {to} (a migration up to it depends on it): a baseline cannot replace a repeatable",
                    m.version
                ),
                "squash up to a version before it, or make what needs it depend on a later version",
            ));
        }
        out.push(m);
    }
    Ok(out)
}

/// Stage 2: the schema `squashed` build, as SQL (`diff --from empty`): they are applied to
/// `spec` (a throwaway database), and an empty one beside it is compared with it.
pub async fn schema_sql(
    builder: &mut Builder<'_>,
    (set, plan): (&MigrationSet, &Plan),
    spec: &ConnectionSpec,
    to: &Version,
    scope: &Scope,
) -> Result<String, DiffError> {
    builder.build_to(spec, set, plan, Some(to.clone())).await?;
    let built = crate::diff::read(spec, scope).await?;
    let empty = builder.database()?;
    if builder.supabase {
        crate::supabase::load_stub(&empty)
            .await
            .map_err(|e| failed(e.to_string(), "the Supabase stub could not be loaded"))?;
    }
    let empty = crate::diff::read(&empty, scope).await?;
    let changes = crate::schema::compare::compare(&empty, &built);
    let script = crate::schema::script::script(&empty, &built, &changes);
    if !script.warnings.is_empty() {
        return Err(failed(
            format!(
                "the schema up to {to} cannot be written whole: {}",
                script.warnings.join("; ")
            ),
            "squash up to another version, or keep these migrations",
        ));
    }
    Ok(script.render(false))
}

/// Stage 3: the statements of `m` a schema snapshot does not hold, verbatim: those that write
/// rows, and those on a schema outside the snapshot (`not_owned`).
pub fn carried(m: &Migration, not_owned: &[String]) -> Vec<String> {
    let (parsed, _, psql) = crate::sql::parsed::ParsedFile::parse(&m.source, &|_| None);
    let source = m.source.as_str();
    let mut out = Vec::new();
    for s in &parsed.statements {
        let (start, end) = (parsed.sub.to_source(s.start), parsed.sub.to_source(s.end));
        let text = source[start..end].trim();
        match &*s.node {
            NodeEnum::CopyStmt(c) if c.is_from && c.filename.is_empty() && !c.is_program => {
                if let Some(d) = psql.copies.iter().find(|d| d.start >= end) {
                    out.push(format!("{text};\n{}\\.", &source[d.start..d.end]));
                }
            }
            NodeEnum::InsertStmt(_)
            | NodeEnum::UpdateStmt(_)
            | NodeEnum::DeleteStmt(_)
            | NodeEnum::MergeStmt(_)
            | NodeEnum::CopyStmt(_) => out.push(format!("{text};")),
            // A SELECT run for its effect (`setval`, `cron.schedule`); not a session setting
            // (`set_config`, as pg_dump writes), which would change how the rest runs.
            NodeEnum::SelectStmt(sel)
                if sel.into_clause.is_none()
                    && !text.to_ascii_lowercase().contains("set_config(") =>
            {
                out.push(format!("{text};"))
            }
            node if target_schema(node).is_some_and(|t| not_owned.contains(&t)) => {
                out.push(format!("{text};"))
            }
            _ => {}
        }
    }
    out
}

/// The schema of the object a statement creates or changes, when it names one.
fn target_schema(node: &NodeEnum) -> Option<String> {
    let relation = match node {
        NodeEnum::CreateTrigStmt(t) => t.relation.as_ref(),
        NodeEnum::CreateStmt(t) => t.relation.as_ref(),
        NodeEnum::AlterTableStmt(t) => t.relation.as_ref(),
        NodeEnum::IndexStmt(t) => t.relation.as_ref(),
        NodeEnum::CreatePolicyStmt(t) => t.table.as_ref(),
        NodeEnum::AlterPolicyStmt(t) => t.table.as_ref(),
        NodeEnum::ViewStmt(t) => t.view.as_ref(),
        NodeEnum::RuleStmt(t) => t.relation.as_ref(),
        NodeEnum::CreateFunctionStmt(f) => {
            let names: Vec<&str> = f
                .funcname
                .iter()
                .filter_map(|n| match &n.node {
                    Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                    _ => None,
                })
                .collect();
            return (names.len() > 1).then(|| names[names.len() - 2].to_string());
        }
        NodeEnum::GrantStmt(g) => g.objects.iter().find_map(|o| match &o.node {
            Some(NodeEnum::RangeVar(r)) => Some(r),
            _ => None,
        }),
        _ => None,
    }?;
    (!relation.schemaname.is_empty()).then(|| relation.schemaname.clone())
}

/// Stage 4: the baseline's text.
pub fn baseline_text(
    to: &Migration,
    replaced: &[Version],
    schema: &str,
    carried: &[(Version, Vec<String>)],
) -> String {
    let mut text = format!(
        "-- =============================================\n\
         -- MIGRATION: Baseline of {} migrations up to {}\n\
         -- Version: {}\n\
         -- Author: pgshift squash\n\
         -- Dependencies: None\n\
         -- =============================================\n\
         -- Written by `pgshift squash --to {}`: the schema the migrations it replaces built\n\
         -- (read from the catalogs), then their statements that write rows or touch schemas\n\
         -- outside the snapshot, verbatim and in order. Their files are in {SQUASHED_DIR}/.\n\
         -- A database that has every version below recorded records this file without\n\
         -- running it.\n",
        replaced.len(),
        to.version,
        to.version.date_str(),
        to.version,
    );
    for chunk in replaced.chunks(8) {
        let names: Vec<&str> = chunk.iter().map(Version::as_str).collect();
        text.push_str(&format!("-- @replaces: {}\n", names.join(", ")));
    }
    text.push('\n');
    text.push_str(schema);
    let any = carried.iter().any(|(_, s)| !s.is_empty());
    if any {
        text.push_str(
            "\n-- Rows and statements outside the schema snapshot, as the migrations had them.\n",
        );
        // The script's settings end here: the statements run as they did.
        text.push_str("RESET check_function_bodies;\nRESET client_min_messages;\n");
    }
    for (version, statements) in carried.iter().filter(|(_, s)| !s.is_empty()) {
        text.push_str(&format!("\n-- from {version}\n"));
        for s in statements {
            text.push_str(s);
            text.push('\n');
        }
    }
    text
}

/// Stages 1 to 4, on the builder's throwaway cluster. Returns the squash, and the database
/// the old set was applied to up to VERSION (the proof deploys the rest of it there).
pub async fn squash(
    builder: &mut Builder<'_>,
    set: &MigrationSet,
    plan: &Plan,
    to: &str,
    scope: &Scope,
) -> Result<(Squash, ConnectionSpec), DiffError> {
    let squashed = select(set, plan, to)?;
    let last = squashed
        .last()
        .copied()
        .ok_or_else(|| failed("nothing to squash", "give a later --to"))?;
    let old = builder.database()?;
    let schema = schema_sql(builder, (set, plan), &old, &last.version, scope).await?;
    let not_owned: Vec<String> = scope.ignore_schemas.clone();
    let carried: Vec<(Version, Vec<String>)> = squashed
        .iter()
        .map(|m| (m.version.clone(), carried(m, &not_owned)))
        .collect();
    // A baseline squashed again: what it replaced is replaced by the new one.
    let mut replaced: Vec<Version> = Vec::new();
    for m in &squashed {
        replaced.push(m.version.clone());
        replaced.extend(
            m.front
                .directives
                .replaces
                .iter()
                .filter_map(|v| Version::parse_reference(v).ok()),
        );
    }
    let mut files = Vec::new();
    for m in &squashed {
        files.push(relative(&set.dir, &m.path));
        if let Some(d) = &m.down {
            files.push(relative(&set.dir, &d.path));
        }
    }
    let squash = Squash {
        version: format!("{}_baseline_{}", last.version.date_str(), last.description),
        text: baseline_text(last, &replaced, &schema, &carried),
        replaced,
        files,
        carried: carried.iter().map(|(_, s)| s.len()).sum(),
    };
    Ok((squash, old))
}

fn relative(dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(dir).unwrap_or(path).to_path_buf()
}

/// The migrations folder as the squash leaves it, in `into`: every file but the squashed
/// ones (and `squashed/`), and the baseline.
pub fn new_set(dir: &Path, squash: &Squash, into: &Path) -> std::io::Result<()> {
    copy_tree(
        dir,
        into,
        &|rel| rel.starts_with(SQUASHED_DIR) || squash.files.iter().any(|f| f == rel),
        dir,
    )?;
    std::fs::write(into.join(format!("{}.sql", squash.version)), &squash.text)
}

fn copy_tree(
    from: &Path,
    to: &Path,
    skip: &dyn Fn(&Path) -> bool,
    root: &Path,
) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let rel = relative(root, &path);
        if skip(&rel) || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()), skip, root)?;
        } else {
            std::fs::copy(&path, to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Stage 5: the old set and the new one, each deployed on a fresh throwaway database, give
/// the same schema and the same rows. `old_db` is where the old set was applied up to VERSION
/// (its deploy goes on there). Returns the differences (empty: proven).
pub async fn prove(
    builder: &mut Builder<'_>,
    (old, old_db): (&Path, &ConnectionSpec),
    new: &Path,
    scope: &Scope,
) -> Result<Vec<String>, DiffError> {
    let mut sides = Vec::new();
    for (dir, is_new) in [(old, false), (new, true)] {
        let (set, plan) = crate::diff::load(builder.settings, dir)?;
        let spec = if is_new {
            builder.database()?
        } else {
            old_db.clone()
        };
        let built = if is_new {
            builder.build_to(&spec, &set, &plan, None).await
        } else {
            builder.deploy(&spec, &set, &plan, None).await
        };
        built
            .map_err(|e| if is_new {
                failed(
                    format!("the squashed set does not deploy on a fresh database, so nothing was written: {e}"),
                    "a statement carried verbatim no longer fits the final schema (an INSERT naming a column a later migration dropped): squash up to a version before that change, or name the columns in the INSERT",
                )
            } else {
                e
            })?;
        let snap = crate::diff::read(&spec, scope).await?;
        let rows = rows(&spec, scope).await?;
        sides.push((snap, rows));
    }
    let (old_side, new_side) = (&sides[0], &sides[1]);
    let mut differences = Vec::new();
    let changes = crate::schema::compare::compare(&old_side.0, &new_side.0);
    for k in &changes.only_in_from {
        differences.push(format!("only the old set makes {k}"));
    }
    for k in &changes.only_in_to {
        differences.push(format!("only the baseline makes {k}"));
    }
    for d in &changes.different {
        differences.push(format!(
            "{} differs:\n    old set:  {}\n    baseline: {}",
            d.key, d.from, d.to
        ));
    }
    for (table, sum) in &old_side.1 {
        match new_side.1.get(table) {
            Some(other) if other == sum => {}
            Some(other) => differences.push(format!(
                "the rows of {table} differ: {} row(s) with the old set, {} with the baseline",
                sum.0, other.0
            )),
            None => {}
        }
    }
    Ok(differences)
}

/// A column default that gives another value on each build: the time, a random number or
/// UUID. Such columns are left out of the row checksums (both builds write them at another
/// moment); every other column, and the row count, must be equal.
const VOLATILE_DEFAULT: &str = "now\\(\\)|current_timestamp|current_date|current_time|localtime|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random\\(|gen_random_uuid|uuid_generate_";

/// Each table's row count and a checksum of its rows (as text, sorted): the platform's too
/// (a storage bucket is the project's data), not the histories of pgshift and of the Supabase
/// CLI (the new set records one baseline where the old one recorded each migration).
async fn rows(
    spec: &ConnectionSpec,
    scope: &Scope,
) -> Result<BTreeMap<String, (i64, String)>, DiffError> {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let client = spec
        .connect(tx)
        .await
        .map_err(|e| failed(e.message, e.help))?;
    let mut skip: Vec<String> = vec!["supabase_migrations".into()];
    if let Some((schema, table)) = &scope.tracking {
        skip.extend(crate::db::tracking::Tracking::new(schema, table).own_tables());
    }
    crate::datatest::rows(&client, &skip, Some(VOLATILE_DEFAULT))
        .await
        .map_err(|e| failed(e, "report it"))
}

/// Stage 6: the baseline written into `dir`, the squashed files moved to `dir/squashed/`
/// (their folders kept). Returns the files moved, where they went.
pub fn write(dir: &Path, squash: &Squash) -> std::io::Result<Vec<PathBuf>> {
    // Nothing is overwritten: a file of that name in `squashed/` stops it before anything
    // moves.
    if let Some(taken) = squash
        .files
        .iter()
        .map(|rel| dir.join(SQUASHED_DIR).join(rel))
        .find(|to| crate::files::exists(to))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists already", taken.display()),
        ));
    }
    let baseline = dir.join(format!("{}.sql", squash.version));
    let mut f = crate::files::create_new(&baseline, 0o644)?;
    std::io::Write::write_all(&mut f, squash.text.as_bytes())?;
    let mut moved = Vec::new();
    for rel in &squash.files {
        let to = dir.join(SQUASHED_DIR).join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(dir.join(rel), &to)?;
        moved.push(to);
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(sql: &str) -> Migration {
        let set = crate::migration::from_files(
            Path::new("m"),
            [(
                PathBuf::from("m/2026-01-01_a.sql"),
                Ok(sql.as_bytes().to_vec()),
            )],
            crate::config::Environment::Development,
        );
        set.migrations[0].clone()
    }

    #[test]
    fn rows_and_statements_outside_the_snapshot_are_carried_verbatim() {
        let m = migration(
            "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nCOPY t FROM stdin;\n2\n3\n\\.\nUPDATE t SET id = id + 1;\nSELECT setval('s', 3);\nCREATE TRIGGER x AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.f();\nCREATE TABLE public.p (id uuid REFERENCES auth.users);\nCREATE TABLE x AS SELECT 1;\n",
        );
        let carried = carried(&m, &["auth".to_string()]);
        assert_eq!(
            carried,
            [
                "INSERT INTO t VALUES (1);",
                "COPY t FROM stdin;\n2\n3\n\\.",
                "UPDATE t SET id = id + 1;",
                "SELECT setval('s', 3);",
                "CREATE TRIGGER x AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.f();",
            ]
        );
    }

    #[test]
    fn nothing_is_written_over_a_file_already_in_squashed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("2026-01-01_a.sql"), "SELECT 1;").unwrap();
        std::fs::create_dir(d.join(SQUASHED_DIR)).unwrap();
        std::fs::write(d.join(SQUASHED_DIR).join("2026-01-01_a.sql"), "old").unwrap();
        let squash = Squash {
            version: "2026-01-01_baseline_a".into(),
            text: "SELECT 1;".into(),
            replaced: vec![],
            files: vec![PathBuf::from("2026-01-01_a.sql")],
            carried: 0,
        };
        let e = write(d, &squash).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(!d.join("2026-01-01_baseline_a.sql").exists());
        assert!(d.join("2026-01-01_a.sql").exists());
        let kept = std::fs::read_to_string(d.join(SQUASHED_DIR).join("2026-01-01_a.sql")).unwrap();
        assert_eq!(kept, "old");
    }

    #[test]
    fn the_baseline_names_every_version_it_replaces() {
        let m = migration("SELECT 1;");
        let replaced: Vec<Version> = (0..10)
            .map(|i| Version::parse_reference(&format!("2026-01-01_m{i}")).unwrap())
            .collect();
        let text = baseline_text(&m, &replaced, "CREATE TABLE t ();\n", &[]);
        let mut found = Vec::new();
        let fm =
            crate::migration::header::parse_front_matter(Path::new("b.sql"), &text, &mut found);
        assert_eq!(fm.directives.replaces.len(), 10, "{text}");
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            fm.header.version.map(|v| v.value).as_deref(),
            Some("2026-01-01")
        );
    }
}
