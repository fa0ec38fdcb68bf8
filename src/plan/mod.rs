//! The plan: the dependency graph of a migration set and the order it runs in.
//!
//! Order is a topological sort (Kahn's algorithm) whose ready set is a min-heap keyed by
//! (date, file name): every migration runs as early as its date allows once its dependencies
//! ran. Pure data in, pure data out.

pub mod render;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde::Serialize;

use crate::diagnostic::{Finding, Location};
use crate::migration::{MigrationSet, Version};

/// Why a migration is where it is in the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No dependencies: placed by its date and name.
    Date,
    /// Its dependencies had already run when its date came.
    DateAfterDependencies,
    /// Held back until this dependency ran, after migrations that sort later than itself.
    WaitsFor {
        /// The dependency it waited for.
        dependency: Version,
        /// Whether that dependency itself sorts later (by date, then name); if not, it was
        /// held back by its own dependencies.
        sorts_later: bool,
    },
    /// A repeatable migration: right after its dependencies, or, without any, after every
    /// versioned migration.
    Repeatable,
}

/// One position of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The migration.
    pub version: Version,
    /// Direct dependencies, in the order they run.
    pub dependencies: Vec<Version>,
    /// Why it is at this position.
    pub reason: Reason,
}

/// The execution order of a migration set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// Every migration, in the order it runs.
    pub steps: Vec<Step>,
    /// Index of each version in `steps`, made when first asked: a deploy with nothing to do
    /// never asks (10,000 versions copied and hashed for nothing).
    #[serde(skip)]
    index: std::sync::OnceLock<HashMap<Version, usize>>,
}

impl PartialEq for Plan {
    fn eq(&self, other: &Plan) -> bool {
        self.steps == other.steps
    }
}

impl Eq for Plan {}

impl Plan {
    /// A plan of these steps, in this order.
    pub fn new(steps: Vec<Step>) -> Plan {
        Plan {
            steps,
            index: std::sync::OnceLock::new(),
        }
    }

    /// 1-based position of a version in the plan.
    pub fn position(&self, version: &Version) -> Option<usize> {
        let index = self.index.get_or_init(|| {
            self.steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.version.clone(), i))
                .collect()
        });
        index.get(version).map(|i| i + 1)
    }

    /// The reason rendered as a sentence, with positions of the migrations it names.
    pub fn explain(&self, step: &Step) -> String {
        let pos = |v: &Version| {
            self.position(v)
                .map_or(String::new(), |p| format!(" (#{p})"))
        };
        match &step.reason {
            Reason::Date => "by date; no dependencies".to_string(),
            Reason::DateAfterDependencies => {
                let deps: Vec<_> = step
                    .dependencies
                    .iter()
                    .map(|d| format!("{d}{}", pos(d)))
                    .collect();
                format!("by date; after {}", deps.join(", "))
            }
            Reason::WaitsFor {
                dependency,
                sorts_later: true,
            } if dependency.date_str() > step.version.date_str() => format!(
                "waits for {dependency}{}, a dependency dated later",
                pos(dependency)
            ),
            Reason::WaitsFor {
                dependency,
                sorts_later: true,
            } => format!(
                "waits for {dependency}{}, a same-day dependency whose name sorts later",
                pos(dependency)
            ),
            Reason::WaitsFor { dependency, .. } => format!(
                "waits for {dependency}{}, a dependency that was itself held back",
                pos(dependency)
            ),
            Reason::Repeatable => match step.dependencies.last() {
                None => "repeatable; no dependencies: after every versioned migration".to_string(),
                Some(d) => format!(
                    "repeatable; right after its dependencies, the last {d}{}",
                    pos(d)
                ),
            },
        }
    }
}

/// Orders `set`. Missing dependencies, self-dependencies and cycles are returned as error
/// findings (all of them, not just the first).
pub fn plan(set: &MigrationSet) -> Result<Plan, Vec<Finding>> {
    let n = set.migrations.len();
    let Graph {
        deps,
        dependents,
        mut findings,
    } = graph(set);

    let key = sort_keys(set, &deps);
    let mut order = Vec::with_capacity(n);
    let mut position = vec![usize::MAX; n];
    if deps.iter().all(Vec::is_empty) {
        // Nobody waits for anybody: the order is the places' (what the heap below would pop,
        // without 10,000 pops).
        order.extend(0..n);
        order.sort_by_key(|&i| (key[i], i));
        for (p, &i) in order.iter().enumerate() {
            position[i] = p;
        }
    } else {
        let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut ready: BinaryHeap<Reverse<(usize, usize)>> = (0..n)
            .filter(|&i| waiting[i] == 0)
            .map(|i| Reverse((key[i], i)))
            .collect();
        while let Some(Reverse((_, i))) = ready.pop() {
            position[i] = order.len();
            order.push(i);
            for &d in &dependents[i] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.push(Reverse((key[d], d)));
                }
            }
        }
    }
    if order.len() < n {
        findings.extend(cycle_findings(set, &deps, &position));
    }
    if !findings.is_empty() {
        findings.sort_by(Finding::by_place);
        return Err(findings);
    }

    let mut steps = Vec::with_capacity(n);
    let mut latest_key = None;
    for &i in &order {
        let m = &set.migrations[i];
        let mut ds = deps[i].clone();
        ds.sort_by_key(|&j| position[j]);
        let delayed = latest_key.is_some_and(|k| k > key[i]);
        let reason = match ds.last() {
            _ if m.is_repeatable() => Reason::Repeatable,
            None => Reason::Date,
            Some(&last) if delayed => Reason::WaitsFor {
                dependency: set.migrations[last].version.clone(),
                sorts_later: last > i,
            },
            Some(_) => Reason::DateAfterDependencies,
        };
        if !m.is_repeatable() {
            latest_key = latest_key.max(Some(key[i]));
        }
        steps.push(Step {
            version: m.version.clone(),
            dependencies: ds
                .iter()
                .map(|&j| set.migrations[j].version.clone())
                .collect(),
            reason,
        });
    }
    Ok(Plan::new(steps))
}

/// The dependency edges of a set, by index, and what is wrong with them (a dependency on
/// itself, on a migration that is not there).
struct Graph {
    /// `deps[i]`: the migrations `i` depends on.
    deps: Vec<Vec<usize>>,
    /// `dependents[j]`: the migrations that depend on `j`.
    dependents: Vec<Vec<usize>>,
    findings: Vec<Finding>,
}

fn graph(set: &MigrationSet) -> Graph {
    let n = set.migrations.len();
    if set.migrations.iter().all(|m| m.dependencies.is_empty()) {
        // No edge to find (most sets of thousands): no index of versions to build.
        return Graph {
            deps: vec![Vec::new(); n],
            dependents: vec![Vec::new(); n],
            findings: Vec::new(),
        };
    }
    let mut index: HashMap<&Version, usize> = set
        .migrations
        .iter()
        .enumerate()
        .map(|(i, m)| (&m.version, i))
        .collect();
    // A dependency on a version a baseline replaced (`squash`) is one on the baseline.
    let aliases = set.replaced();
    for (v, &i) in &aliases {
        index.entry(v).or_insert(i);
    }
    let mut findings = Vec::new();
    // deps[i]: indices migration i depends on; dependents[j]: migrations that depend on j.
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, m) in set.migrations.iter().enumerate() {
        for d in &m.dependencies {
            let at = m.locate(d.offset, d.len);
            match index.get(&d.version) {
                Some(&j) if j == i => findings.push(
                    Finding::error("deps/self", format!("{} depends on itself", m.version))
                        .at(at)
                        .help("remove this dependency"),
                ),
                Some(&j) => {
                    deps[i].push(j);
                    dependents[j].push(i);
                }
                None => findings.push(
                    Finding::error(
                        "deps/missing",
                        format!(
                            "{} depends on {}.sql, which is not in {}",
                            m.version,
                            d.version,
                            set.dir.display()
                        ),
                    )
                    .at(at)
                    .help(missing_help(set, &d.version)),
                ),
            }
        }
    }
    for list in deps.iter_mut().chain(dependents.iter_mut()) {
        list.sort_unstable();
        list.dedup();
    }

    Graph {
        deps,
        dependents,
        findings,
    }
}

/// Each migration's place among those ready to run, smallest first. A versioned migration's
/// is its index (the set is in version order: by date, then name). A repeatable's is that of
/// the last versioned migration it needs, directly or through other repeatables, so that it
/// runs right after it; without one, after every versioned migration. Repeatables sort after
/// every dated version, so a repeatable and a versioned one never share a place: the ready
/// heap breaks the tie between a repeatable and its anchor by index (the anchor first).
fn sort_keys(set: &MigrationSet, deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut key: Vec<Option<usize>> = set
        .migrations
        .iter()
        .enumerate()
        .map(|(i, m)| (!m.is_repeatable()).then_some(i))
        .collect();
    // anchor[i]: the last versioned migration repeatable i needs, or n when none. Repeatables
    // depend on one another rarely and shallowly: settled by repeating passes (a cycle, which
    // the sort reports, only stops the passes).
    let mut anchor: Vec<Option<usize>> = vec![None; n];
    for _ in 0..n {
        let mut changed = false;
        for i in (0..n).filter(|&i| key[i].is_none()) {
            let a = deps[i]
                .iter()
                .filter_map(|&d| match key[d] {
                    Some(k) => Some(k),
                    None => anchor[d],
                })
                .max();
            if a > anchor[i] {
                anchor[i] = a;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for i in 0..n {
        if key[i].is_none() {
            key[i] = Some(anchor[i].unwrap_or(n));
        }
    }
    key.into_iter().map(|k| k.unwrap_or(n)).collect()
}

fn missing_help(set: &MigrationSet, wanted: &Version) -> String {
    let description = &wanted.as_str()[11..];
    let similar: Vec<_> = set
        .migrations
        .iter()
        .filter(|m| m.description == description || m.version.date_str() == wanted.date_str())
        .map(|m| m.file_name())
        .take(3)
        .collect();
    if similar.is_empty() {
        "add the missing migration, or correct the file name in this dependency".to_string()
    } else {
        format!("did you mean {}?", similar.join(" or "))
    }
}

/// Finds each dependency cycle among the migrations that could not be placed, as the whole
/// path `a → b → … → a`, reported once per cycle.
fn cycle_findings(set: &MigrationSet, deps: &[Vec<usize>], position: &[usize]) -> Vec<Finding> {
    let n = deps.len();
    let unplaced = |i: usize| position[i] == usize::MAX;
    let mut seen = vec![false; n];
    let mut findings = Vec::new();
    for start in (0..n).filter(|&i| unplaced(i)) {
        if seen[start] {
            continue;
        }
        // Walk "depends on" edges through unplaced migrations: each has an unplaced
        // dependency, so the walk must come back to a node on its own path or an earlier walk.
        let mut path = Vec::new();
        let mut on_path = HashMap::new();
        let mut cur = start;
        loop {
            if let Some(&at) = on_path.get(&cur) {
                let mut cycle: Vec<usize> = path[at..].to_vec();
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, &v)| v)
                    .map_or(0, |(k, _)| k);
                cycle.rotate_left(min);
                findings.push(cycle_finding(set, &cycle));
                break;
            }
            if seen[cur] {
                break;
            }
            seen[cur] = true;
            on_path.insert(cur, path.len());
            path.push(cur);
            match deps[cur].iter().copied().find(|&d| unplaced(d)) {
                Some(next) => cur = next,
                None => break,
            }
        }
    }
    findings
}

fn cycle_finding(set: &MigrationSet, cycle: &[usize]) -> Finding {
    let names: Vec<&str> = cycle
        .iter()
        .chain(cycle.first())
        .map(|&i| set.migrations[i].version.as_str())
        .collect();
    let first = &set.migrations[cycle[0]];
    let next = &set.migrations[cycle[1 % cycle.len()]].version;
    let at = first
        .dependencies
        .iter()
        .find(|d| &d.version == next)
        .map(|d| first.locate(d.offset, d.len))
        .unwrap_or_else(|| Location::file(&first.path));
    Finding::error(
        "deps/cycle",
        format!(
            "dependency cycle of {} migrations: {}",
            cycle.len(),
            names.join(" → ")
        ),
    )
    .at(at)
    .help("each migration depends on the next one; remove one of these dependencies so the chain has a start")
}

#[cfg(test)]
mod tests;
