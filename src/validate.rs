//! Validation: every check on every file, no database needed. Files are read, substituted,
//! parsed and linted in parallel; the report is in a deterministic order.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Environment, RuleLevel};
use crate::diagnostic::{Counts, Finding, Level, Location};
use crate::lint::{self, Ctx, Family, ParsedFile, SetFacts};
use crate::migration::{load_dir, LoadError, Migration};
use crate::plan::{plan, Plan};
use crate::sql::variables::{PsqlScan, VarKind};

/// The groups of checks `--only` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    /// File names, encodings and includes of files (`filename/…`, `file/…`).
    Filenames,
    /// Headers and directives (`header/…`, `directive/…`).
    Headers,
    /// SQL syntax, psql variables and meta-commands (`sql/…`).
    Syntax,
    /// Dependencies (`deps/…`).
    Deps,
    /// The lint rules.
    Lint,
}

impl Check {
    /// Every check.
    pub const ALL: [Check; 5] = [
        Check::Filenames,
        Check::Headers,
        Check::Syntax,
        Check::Deps,
        Check::Lint,
    ];

    /// `filenames`, `headers`, `syntax`, `deps` or `lint`.
    pub fn parse(s: &str) -> Option<Check> {
        Some(match s.trim() {
            "filenames" => Check::Filenames,
            "headers" => Check::Headers,
            "syntax" => Check::Syntax,
            "deps" => Check::Deps,
            "lint" => Check::Lint,
            _ => return None,
        })
    }

    /// The check a finding belongs to, by its rule id.
    pub fn of(rule: &str) -> Check {
        match rule.split('/').next().unwrap_or("") {
            "filename" | "file" => Check::Filenames,
            "header" | "directive" => Check::Headers,
            "sql" => Check::Syntax,
            "deps" => Check::Deps,
            _ => Check::Lint,
        }
    }
}

/// Rules outside the lint registry whose level the config may change. The others report
/// broken files, which never deploy.
pub const CONFIGURABLE: [&str; 5] = [
    "header/missing-field",
    "header/dependencies-mismatch",
    "file/crlf",
    "directive/misplaced",
    "sql/missing-variable",
];

/// Checks the `[rules]` of the configuration against the known rules.
pub fn check_rule_config(rules: &BTreeMap<String, RuleLevel>) -> Result<(), String> {
    for id in rules.keys() {
        if lint::rules::find(id).is_some() || CONFIGURABLE.contains(&id.as_str()) {
            continue;
        }
        let known = matches!(
            Check::of(id),
            Check::Filenames | Check::Headers | Check::Syntax | Check::Deps
        );
        return Err(if known {
            format!("rule `{id}` in [rules] reports a broken file and cannot be configured")
        } else {
            format!(
                "unknown rule `{id}` in [rules]; `pgshift validate --format json` lists rule ids"
            )
        });
    }
    Ok(())
}

/// What to check and how.
pub struct Options<'a> {
    /// The migrations directory.
    pub dir: PathBuf,
    /// The environment (rule levels).
    pub environment: Environment,
    /// Files checked at once.
    pub parallel_jobs: usize,
    /// The schemas an API serves, for the RLS rules.
    pub exposed_schemas: Vec<String>,
    /// `exposed_schemas` comes from the config: without it, the rules look for evidence of an
    /// API in the set.
    pub exposed_configured: bool,
    /// Rule levels from the config.
    pub rules: BTreeMap<String, RuleLevel>,
    /// Checks to report (all when empty).
    pub only: Vec<Check>,
    /// Lint families to run (all when empty): `scan` runs secrets and dangerous only.
    pub families: Vec<Family>,
    /// The value of a psql variable (`--var`, environment, `.env`, config), if known.
    pub value_of: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The deploys that meet traffic set a `lock_timeout` for every migration (`[deploy]
    /// statement_lock_timeout`, 5 s by default in staging and production): files need not set
    /// their own.
    pub lock_timeout_configured: bool,
}

impl<'a> Options<'a> {
    /// Every check, as `settings` configure them (rule levels, exposed schemas, jobs), with
    /// psql variables' values from `value_of`.
    pub fn from_settings(
        settings: &crate::config::Settings,
        value_of: &'a (dyn Fn(&str) -> Option<String> + Sync),
    ) -> Options<'a> {
        Options {
            dir: settings.migrations.dir.clone(),
            environment: settings.environment,
            parallel_jobs: settings.deploy.parallel_jobs,
            exposed_schemas: settings.deploy.exposed_schemas.clone(),
            exposed_configured: settings.deploy.exposed_configured,
            rules: settings.rules.clone(),
            only: Vec::new(),
            families: Vec::new(),
            value_of,
            lock_timeout_configured: settings.traffic_has_lock_timeout(),
        }
    }
}

/// The result of a validation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The migrations directory.
    pub dir: PathBuf,
    /// The environment the findings' levels are for.
    pub environment: Environment,
    /// How many migrations were checked.
    pub files: usize,
    /// Every finding, allowed ones included, in file and line order.
    pub findings: Vec<Finding>,
    #[serde(skip)]
    /// The execution order, when the files could be ordered.
    pub plan: Option<Plan>,
}

impl Report {
    /// Findings per level.
    pub fn counts(&self) -> Counts {
        Counts::of(&self.findings)
    }

    /// Whether an error-level finding (not allowed) was found.
    pub fn has_errors(&self) -> bool {
        self.counts().errors > 0
    }

    /// Whether the findings stop a deploy: an error not accepted by `@allow`; with `force`
    /// (FORCE_RUN), dangerous operations go through.
    pub fn blocks_deploy(&self, force: bool) -> bool {
        self.findings.iter().any(|f| {
            f.allowed.is_none()
                && f.level == Level::Error
                && !(force && Check::of(&f.rule) == Check::Lint && f.rule.starts_with("dangerous/"))
        })
    }

    /// Findings accepted by `@allow`.
    pub fn allowed(&self) -> usize {
        self.findings.iter().filter(|f| f.allowed.is_some()).count()
    }
}

/// Validates the migrations under `opts.dir`.
pub fn validate(opts: &Options) -> Result<Report, LoadError> {
    let set = load_dir(&opts.dir, opts.environment)?;
    Ok(validate_set(&set, opts))
}

/// [`validate`], each finding handed to `emit` as [`validate_set_each`] does.
pub fn validate_each(opts: &Options, emit: &mut dyn FnMut(Finding)) -> Result<Report, LoadError> {
    let set = load_dir(&opts.dir, opts.environment)?;
    Ok(validate_set_each(&set, opts, emit))
}

/// Validates a set already loaded (the one a deploy is about to apply); `opts.dir` is not read.
pub fn validate_set(set: &crate::migration::MigrationSet, opts: &Options) -> Report {
    let mut findings = Vec::new();
    let mut report = validate_set_each(set, opts, &mut |f| findings.push(f));
    report.findings = findings;
    report
}

/// [`validate_set`], each finding handed to `emit` in file and line order as soon as no
/// finding still to come can go before it, rather than held: the report returned has no
/// findings of its own. Files are checked in the order of the first file each can report
/// about (its own, its down file, the files it includes).
pub fn validate_set_each(
    set: &crate::migration::MigrationSet,
    opts: &Options,
    emit: &mut dyn FnMut(Finding),
) -> Report {
    crate::memory::many_files();
    let mut in_order = InOrder::new(emit, opts);
    let mut set_findings = set.findings.clone();
    let planned = match plan(set) {
        Ok(p) => Some(p),
        Err(e) => {
            set_findings.extend(e);
            None
        }
    };
    for (k, f) in set_findings.into_iter().enumerate() {
        in_order.push((0, k), f);
    }

    let (kept, facts) = gather(set, planned.as_ref(), opts);
    let order = by_first_place(set);
    let next_place = |k: usize| order.get(k + 1).map(|&i| first_place(&set.migrations[i]));
    in_order.release(order.first().map(|&i| first_place(&set.migrations[i])));
    check_rules(set, kept, &facts, opts, &order, |k, i, found| {
        for (n, f) in found.into_iter().enumerate() {
            in_order.push((i + 1, n), f);
        }
        in_order.release(next_place(k));
    });
    in_order.release(None);
    Report {
        dir: set.dir.clone(),
        environment: opts.environment,
        files: set.migrations.len(),
        findings: Vec::new(),
        plan: planned,
    }
}

/// The first path a migration's findings can be at: its own file's, its down file's or an
/// included file's, whichever sorts first.
fn first_place(m: &Migration) -> &std::path::Path {
    let down = m.down.as_ref();
    std::iter::once(m.path.as_path())
        .chain(m.includes.paths())
        .chain(down.map(|d| d.path.as_path()))
        .chain(down.into_iter().flat_map(|d| d.includes.paths()))
        .min()
        .unwrap_or(m.path.as_path())
}

/// The migrations' indexes, by the first place each can report about (then by index).
fn by_first_place(set: &crate::migration::MigrationSet) -> Vec<usize> {
    let mut order: Vec<usize> = (0..set.migrations.len()).collect();
    // The files' own order already, when nothing is included and no down file sorts first.
    if !order.is_sorted_by_key(|&i| first_place(&set.migrations[i])) {
        order
            .sort_by(|&a, &b| first_place(&set.migrations[a]).cmp(first_place(&set.migrations[b])));
    }
    order
}

/// Findings on their way out, given their levels from the config and filtered as `--only`
/// and the families ask, then handed on in file and line order (the order of
/// [`Finding::by_place`], ties in the order they were found) once nothing to come can sort
/// before them.
struct InOrder<'e, 'o> {
    waiting: std::collections::BinaryHeap<std::cmp::Reverse<Waiting>>,
    emit: &'e mut dyn FnMut(Finding),
    opts: &'e Options<'o>,
}

/// A finding waiting, with where it was found: (0, n) the set's own, (i + 1, n) migration i's.
struct Waiting((usize, usize), Finding);

impl Waiting {
    fn key(&self) -> (impl Ord + '_, (usize, usize)) {
        (self.1.place(), self.0)
    }
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl<'e, 'o> InOrder<'e, 'o> {
    fn new(emit: &'e mut dyn FnMut(Finding), opts: &'e Options<'o>) -> Self {
        InOrder {
            waiting: std::collections::BinaryHeap::new(),
            emit,
            opts,
        }
    }

    /// Takes a finding found at `found` (see [`Waiting`]), unless the config or the checks
    /// asked for leave it out.
    fn push(&mut self, found: (usize, usize), mut f: Finding) {
        // Levels the config sets for the rules outside the lint registry.
        if let Some(level) = self.opts.rules.get(&f.rule) {
            if CONFIGURABLE.contains(&f.rule.as_str()) {
                f.level = match level {
                    RuleLevel::Off => return,
                    RuleLevel::Info => Level::Info,
                    RuleLevel::Warning => Level::Warning,
                    RuleLevel::Error => Level::Error,
                };
            }
        }
        if !self.opts.only.is_empty() && !self.opts.only.contains(&Check::of(&f.rule)) {
            return;
        }
        if !self.opts.families.is_empty()
            && Check::of(&f.rule) == Check::Lint
            && !lint::rules::find(&f.rule).is_some_and(|r| self.opts.families.contains(&r.family))
        {
            return;
        }
        self.waiting.push(std::cmp::Reverse(Waiting(found, f)));
    }

    /// Hands on every finding at a path before `until` (every one left when `None`).
    fn release(&mut self, until: Option<&std::path::Path>) {
        while let Some(std::cmp::Reverse(w)) = self.waiting.peek() {
            let before = until.is_none_or(|p| w.1.place().0 < p);
            if !before {
                break;
            }
            if let Some(std::cmp::Reverse(Waiting(_, f))) = self.waiting.pop() {
                (self.emit)(f);
            }
        }
    }
}

/// The first pass, in plan order: each file parsed (on every core), its syntax checked, its
/// facts added to the set's, and its tree dropped unless it is small enough to keep for the
/// rules (a set's trees are a hundred times its text: thousands of files would need
/// gigabytes). The rules need the facts of the whole set, so they come second.
fn gather(
    set: &crate::migration::MigrationSet,
    planned: Option<&Plan>,
    opts: &Options,
) -> (Vec<Kept>, SetFacts) {
    let order: Vec<usize> = match planned {
        // Facts are gathered in plan order; `steps` and `migrations` hold the same versions.
        Some(p) => p
            .steps
            .iter()
            .filter_map(|s| {
                set.migrations
                    .binary_search_by(|m| m.version.cmp(&s.version))
                    .ok()
            })
            .collect(),
        None => (0..set.migrations.len()).collect(),
    };
    let mut facts = SetFacts::default();
    let mut kept: Vec<Kept> = (0..set.migrations.len()).map(|_| Kept::default()).collect();
    let mut budget = KEEP_TREES;
    crate::parallel::for_each_ordered(
        &order,
        opts.parallel_jobs,
        2 * opts.parallel_jobs,
        |&i| parse_file(&set.migrations[i], opts),
        |k, (mut parsed, file_findings, light)| {
            let i = order[k];
            let resolved = facts.add(set.migrations[i].version.as_str(), &mut parsed);
            let cost = tree_cost(&parsed);
            // A tree from the split parse (empty trees for queries and rows, positions
            // counted from each statement) is not the rules' to read.
            let tree = (!light && cost <= budget).then(|| {
                budget -= cost;
                Box::new(parsed)
            });
            kept[i] = Kept {
                tree,
                resolved,
                findings: file_findings,
            };
        },
    );
    (kept, facts)
}

/// How many files the rules may run ahead of the one whose findings go out next.
const RULES_AHEAD: usize = 256;

/// The second pass: the rules on each file, in `order`, parsed again unless its tree was kept
/// (without the trees of plain queries, which no rule reads: they are most of a test suite's
/// memory), its schemas named as the first pass named them; the tree dropped on the thread that
/// checked it. `consume` takes each file's findings (the first pass's, then the rules') on
/// this thread, in `order`: the `k`-th, migration `i`. At most [`RULES_AHEAD`] files are
/// checked ahead of the one consumed.
fn check_rules(
    set: &crate::migration::MigrationSet,
    kept: Vec<Kept>,
    facts: &SetFacts,
    opts: &Options,
    order: &[usize],
    mut consume: impl FnMut(usize, usize, Vec<Finding>),
) {
    let rules: Vec<&lint::Rule> = lint::rules::ALL
        .iter()
        .copied()
        .filter(|r| opts.families.is_empty() || opts.families.contains(&r.family))
        .collect();
    // The kept trees move to the threads that check them; the first pass's findings stay here.
    let mut first = Vec::with_capacity(kept.len());
    let mut trees = Vec::with_capacity(kept.len());
    let mut resolved = Vec::with_capacity(kept.len());
    for k in kept {
        first.push(k.findings);
        trees.push(std::sync::Mutex::new(k.tree));
        resolved.push(k.resolved);
    }
    crate::parallel::for_each_ordered(
        order,
        opts.parallel_jobs,
        // What waits here is findings (each file's tree is dropped where it was checked): a
        // large file ahead must not leave the other threads idle.
        RULES_AHEAD.max(2 * opts.parallel_jobs),
        |&i| {
            let m = &set.migrations[i];
            let tree = trees[i].lock().ok().and_then(|mut t| t.take());
            let parsed = tree.map(|t| *t).unwrap_or_else(|| {
                let mut fresh = ParsedFile::parse_for_rules(&m.source, opts.value_of).0;
                SetFacts::replay(&mut fresh, &resolved[i]);
                fresh
            });
            let mut ctx = Ctx::new(m, &parsed, facts, &opts.exposed_schemas);
            ctx.lock_timeout_configured = opts.lock_timeout_configured;
            ctx.exposed_configured = opts.exposed_configured;
            lint::check(&ctx, &rules, opts.environment, &opts.rules)
        },
        |k, linted| {
            let i = order[k];
            let mut found = std::mem::take(&mut first[i]);
            found.extend(linted);
            consume(k, i, found);
        },
    );
}

/// What the first pass keeps of a file: its tree when small enough, how its schemas were
/// named, its syntax and variable findings.
#[derive(Default)]
struct Kept {
    /// Taken by the second pass.
    /// Boxed: most files of a large set keep none, and a `Kept` is made for every file.
    tree: Option<Box<ParsedFile>>,
    resolved: lint::Resolved,
    findings: Vec<Finding>,
}

/// The trees the first pass keeps for the second, in estimated bytes: a data file's rows (whose
/// trees are never decoded) are parsed once; the rest twice, in bounded memory.
const KEEP_TREES: usize = 2 << 20;

/// About how many bytes a parsed file's trees take: five hundred per byte of statement text
/// (as measured on PostgreSQL's regression SQL), except the rows of a large data file and a
/// COPY's data, which are never decoded.
fn tree_cost(parsed: &ParsedFile) -> usize {
    parsed
        .statements
        .iter()
        .map(|s| match &*s.node {
            pg_query::NodeEnum::InsertStmt(i) if i.relation.is_none() => 64,
            // Its data (`FROM stdin`) is never parsed.
            pg_query::NodeEnum::CopyStmt(_) => 4096,
            pg_query::NodeEnum::SelectStmt(q)
                if q.target_list.is_empty() && q.values_lists.is_empty() && q.larg.is_none() =>
            {
                64
            }
            _ => 500 * (s.end - s.start).max(1),
        })
        .sum()
}

/// Substitutes and parses one migration (and its down file); returns the parsed up file (for
/// the set's facts: see [`ParsedFile::parse_for_facts`]), the syntax, variable and
/// meta-command findings of both files, and whether the rules need the file parsed again.
fn parse_file(m: &Migration, opts: &Options) -> (ParsedFile, Vec<Finding>, bool) {
    let mut findings = Vec::new();
    let ((parsed, error, psql), light) = ParsedFile::parse_for_facts(&m.source, opts.value_of);
    file_findings(
        &m.source,
        &|o, l| m.locate(o, l),
        &parsed,
        error,
        &psql,
        opts,
        &mut findings,
    );
    for a in &m.front.directives.allows {
        if lint::rules::find(&a.rule).is_none() {
            findings.push(
                Finding::warning("directive/unknown-rule", format!("`@allow` names `{}`, which is not a lint rule", a.rule))
                    .at(m.locate_line(a.line))
                    .help("`pgshift validate --format json` lists the rule ids of findings; check the spelling"),
            );
        }
    }
    if let Some(down) = &m.down {
        let (dp, derr, dpsql) = ParsedFile::parse(&down.source, opts.value_of);
        file_findings(
            &down.source,
            &|o, l| down.locate(o, l),
            &dp,
            derr,
            &dpsql,
            opts,
            &mut findings,
        );
    }
    (parsed, findings, light)
}

/// `locate` turns an offset of `source` (the text that runs) into the place in a file.
fn file_findings(
    source: &str,
    locate: &dyn Fn(usize, usize) -> Location,
    parsed: &ParsedFile,
    error: Option<crate::sql::SyntaxError>,
    psql: &PsqlScan,
    opts: &Options,
    findings: &mut Vec<Finding>,
) {
    for c in psql.copies.iter().filter(|c| !c.terminated) {
        findings.push(
            Finding::error(
                "sql/copy-unterminated",
                "the data of this COPY … FROM stdin has no line `\\.` to end it",
            )
            .at(locate(c.start.min(source.len()), 1))
            .help("end the data with a line holding only `\\.`, as pg_dump writes it"),
        );
    }
    for u in &psql.unsupported {
        let shell = "compute the value before the deploy and pass it as a variable (--var NAME=VALUE, or NAME in the environment), then write :'name' in the SQL";
        let (message, help) = match u.what.as_str() {
            "`" | "\\!" | "\\setenv" | "\\o" | "\\g" => (
                format!(
                    "{} runs a shell command (or writes a file) on the machine that deploys: pgshift refuses it, since a migration must be the same SQL wherever it runs and must not start programs on CI or production hosts",
                    if u.what == "`" { "a backtick".to_string() } else { format!("`{}`", u.what) }
                ),
                shell,
            ),
            "\\set" => (
                "`\\set` with a computed value (a backtick, a variable) is not supported: only a literal value is".to_string(),
                "write the value itself (`\\set name value` or `\\set name 'a b'`), or pass it with --var NAME=VALUE",
            ),
            _ => (
                format!("psql meta-command `{}` is not supported", u.what),
                "use plain SQL; `\\set NAME value` sets a psql variable in the file, --var, the environment or [variables] from outside",
            ),
        };
        findings.push(
            Finding::error("sql/meta-command", message)
                .at(locate(u.start, u.what.len()))
                .help(help),
        );
    }
    for v in &psql.variables {
        if v.kind == VarKind::Defined
            || v.local.is_some()
            || (v.glued && v.kind == VarKind::Raw)
            || (opts.value_of)(&v.name).is_some()
        {
            continue;
        }
        findings.push(
            Finding::warning("sql/missing-variable", format!("psql variable :{} has no value", v.name))
                .at(locate(v.start, v.end - v.start))
                .help(format!(
                    "set {} in the environment or .env, add `{}` under [variables] in pgshift.toml, or pass --var {}=…; migrate refuses to run without it",
                    v.name.to_uppercase(),
                    v.name,
                    v.name
                )),
        );
    }
    if let Some(e) = error {
        let src_offset = parsed.sub.to_source(e.offset);
        // A message about a variable's value could quote the value: never print it.
        let variable = psql
            .variables
            .iter()
            .find(|v| parsed.sub.is_substituted(e.offset) && v.start == src_offset);
        let (message, help) = match variable {
            Some(v) => (
                format!("syntax error in the value of psql variable :{}", v.name),
                // A raw `:name` is pasted as it is; a password, a name or any text needs the
                // quoted form. The value is never shown.
                format!(
                    "a raw `:{0}` is pasted into the SQL as it is, so its value must itself be SQL; for a string (a password, a name) write `:'{0}'`, which psql and pgshift quote as a literal (`:\"{0}\"` quotes an identifier)",
                    v.name
                ),
            ),
            None => (
                e.message.clone(),
                "PostgreSQL's own parser rejects this; fix the statement at the caret".to_string(),
            ),
        };
        let len = source[src_offset.min(source.len())..]
            .find(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == ')')
            .unwrap_or(0)
            .max(1);
        findings.push(
            Finding::error("sql/syntax", message)
                .at(locate(src_offset, len))
                .help(help),
        );
    }
}
