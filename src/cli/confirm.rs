//! The environment gate on the command line: the library decides (`deploy::gate`); here the
//! question is asked on a terminal, and only there. With no terminal, or with CI set, pgshift
//! never waits for an answer.

use std::io::{BufRead, IsTerminal};

use crate::config::{parse_bool, Settings, VarSource};
use crate::db::connect::ConnectionSpec;
use crate::deploy::gate::{check, Operation, Request};
use crate::deploy::DeployError;

use super::Output;

/// A person can answer: stdin and stderr are terminals, and CI is not set (CI runners can
/// give a terminal, and nobody is there).
pub fn interactive(vars: &VarSource) -> bool {
    let ci = vars
        .get("CI")
        .is_some_and(|(v, _)| parse_bool(v).unwrap_or(!v.trim().is_empty()));
    !ci && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// What the gate weighs, besides the request's own lists.
pub struct Gate<'a> {
    pub settings: &'a Settings,
    pub vars: &'a VarSource,
    pub out: &'a Output,
    pub target: String,
    pub database: String,
}

impl Gate<'_> {
    /// Runs the gate for `operation` on `changes`; asks on a terminal when it must.
    pub fn check(
        &self,
        operation: Operation,
        changes: &[String],
        dangerous: &[String],
    ) -> Result<(), DeployError> {
        let request = Request {
            operation,
            environment: self.settings.environment,
            force: self.settings.run.force,
            confirm: self.settings.run.confirm.as_deref(),
            interactive: interactive(self.vars),
            target: &self.target,
            database: &self.database,
            changes,
            dangerous,
        };
        check(&request, Some(&|prompt: &str| ask(self.out, prompt)))
    }
}

/// Shows `prompt` on stderr and reads the answer from the terminal.
pub fn ask(out: &Output, prompt: &str) -> Option<String> {
    out.stderr(prompt);
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer);
    read.is_ok_and(|n| n > 0).then_some(answer)
}

/// The environment gate for commands on `spec`'s database.
pub fn gate_for<'a>(
    settings: &'a Settings,
    vars: &'a VarSource,
    out: &'a Output,
    spec: &ConnectionSpec,
) -> Gate<'a> {
    Gate {
        settings,
        vars,
        out,
        target: spec.describe(),
        database: spec.database(),
    }
}
