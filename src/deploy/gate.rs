//! The environment gate (SPEC §6), for every command that changes a database: development
//! runs; staging and production need the database's name confirmed (typed on a terminal, or
//! `--confirm NAME` / `CONFIRM`); production also needs FORCE_RUN. Pure: the command line asks
//! the question; this decides.

use std::fmt;

use crate::config::Environment;

/// What is about to change the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Apply pending migrations.
    Migrate,
    /// Undo migrations through their down files.
    Rollback,
    /// Restore a backup.
    Restore,
    /// Change a record (accept a checksum, clear a failure).
    Repair,
    /// Delete a record.
    Forget,
    /// Record migrations as applied without running them.
    Baseline,
    /// Record what another tool applied.
    Adopt,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Migrate => "deploy to",
            Operation::Rollback => "roll back",
            Operation::Restore => "restore a backup into",
            Operation::Repair => "repair a record in",
            Operation::Forget => "forget a record in",
            Operation::Baseline => "baseline",
            Operation::Adopt => "adopt another tool's history in",
        })
    }
}

/// Everything the gate weighs, and shows.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// What is about to happen.
    pub operation: Operation,
    /// Where.
    pub environment: Environment,
    /// FORCE_RUN (or `--force`) is set.
    pub force: bool,
    /// `--confirm NAME` or `CONFIRM`.
    pub confirm: Option<&'a str>,
    /// A person can answer: stdin and stderr are terminals, and CI is not set.
    pub interactive: bool,
    /// `user@host:port/db`.
    pub target: &'a str,
    /// The name to type.
    pub database: &'a str,
    /// What will change: the migrations to apply or undo, the backup to restore…
    pub changes: &'a [String],
    /// Dangerous operations among them, `file:line: rule: message`.
    pub dangerous: &'a [String],
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Proceed,
    /// Show `prompt` and read the database's name; anything else is a refusal.
    Ask {
        /// What to show before asking for the database's name.
        prompt: String,
    },
    /// Stop, changing nothing.
    Refuse {
        /// Why.
        message: String,
        /// What it takes.
        help: String,
    },
}

/// Decides whether `request` may go ahead.
pub fn decide(r: &Request) -> Decision {
    let env = r.environment;
    if env == Environment::Development {
        return Decision::Proceed;
    }
    if env == Environment::Production && !r.force {
        return Decision::Refuse {
            message: format!(
                "refusing to {} production ({}) without FORCE_RUN=true",
                r.operation, r.target
            ),
            help: "set FORCE_RUN=true or pass --force, and confirm the database's name (--confirm NAME on CI); `--dry-run` shows what would run".into(),
        };
    }
    match r.confirm {
        Some(name) if name == r.database => Decision::Proceed,
        Some(_) => Decision::Refuse {
            message: format!(
                "the name given with --confirm (or CONFIRM) is not the database's: nothing was changed in {}",
                r.target
            ),
            help: format!("pass --confirm {} to {} it", r.database, r.operation),
        },
        None if r.interactive => Decision::Ask {
            prompt: prompt(r),
        },
        None => Decision::Refuse {
            message: format!(
                "to {} {} ({env}), pgshift needs the database's name confirmed, and there is no terminal to ask on: nothing was changed",
                r.operation,
                r.target
            ),
            help: format!(
                "pass --confirm {db} (or set CONFIRM={db})",
                db = r.database
            ),
        },
    }
}

/// What a person sees before typing the name.
fn prompt(r: &Request) -> String {
    let mut t = format!(
        "About to {} {} ({}).\n",
        r.operation, r.target, r.environment
    );
    if !r.changes.is_empty() {
        t.push_str(&format!("{} change(s):\n", r.changes.len()));
        for c in r.changes {
            t.push_str(&format!("  {c}\n"));
        }
    }
    if !r.dangerous.is_empty() {
        t.push_str(&format!("{} dangerous operation(s):\n", r.dangerous.len()));
        for d in r.dangerous {
            t.push_str(&format!("  {d}\n"));
        }
    }
    t.push_str(&format!(
        "Type the database name ({}) to go ahead, anything else to stop: ",
        r.database
    ));
    t
}

/// How a person is asked: the prompt shown, the line typed back (`None`: nothing came).
pub type Ask<'a> = dyn Fn(&str) -> Option<String> + Sync + 'a;

/// Runs the gate on `request`: proceeds, refuses, or asks through `ask` (when the request is
/// interactive) and proceeds only when the database's name is typed back.
pub fn check(request: &Request, ask: Option<&Ask>) -> Result<(), super::DeployError> {
    use super::DeployError;
    match decide(request) {
        Decision::Proceed => Ok(()),
        Decision::Refuse { message, help } => Err(DeployError::Refused { message, help }),
        Decision::Ask { prompt } => {
            let answer = ask.and_then(|ask| ask(&prompt));
            if answer.is_some_and(|a| confirmed(&a, request.database)) {
                return Ok(());
            }
            Err(DeployError::Refused {
                message: format!(
                    "the name typed is not the database's: nothing was changed in {}",
                    request.target
                ),
                help: format!(
                    "run again and type {db} exactly, or pass --confirm {db}",
                    db = request.database
                ),
            })
        }
    }
}

/// Whether a typed answer confirms.
pub fn confirmed(answer: &str, database: &str) -> bool {
    answer.trim_end_matches(['\n', '\r']).trim() == database
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        env: Environment,
        force: bool,
        confirm: Option<&str>,
        interactive: bool,
    ) -> Request<'_> {
        Request {
            operation: Operation::Migrate,
            environment: env,
            force,
            confirm,
            interactive,
            target: "app@db.example.com:5432/shop",
            database: "shop",
            changes: &[],
            dangerous: &[],
        }
    }

    #[test]
    fn the_matrix() {
        use Environment::*;
        let refuse = |d: &Decision| matches!(d, Decision::Refuse { .. });
        let ask = |d: &Decision| matches!(d, Decision::Ask { .. });
        for interactive in [false, true] {
            for force in [false, true] {
                let d = decide(&request(Development, force, None, interactive));
                assert_eq!(d, Decision::Proceed);
            }
            // Staging: a confirmation, FORCE_RUN or not.
            for force in [false, true] {
                assert_eq!(
                    decide(&request(Staging, force, Some("shop"), interactive)),
                    Decision::Proceed
                );
                assert!(refuse(&decide(&request(
                    Staging,
                    force,
                    Some("shops"),
                    interactive
                ))));
                let none = decide(&request(Staging, force, None, interactive));
                assert!(
                    if interactive {
                        ask(&none)
                    } else {
                        refuse(&none)
                    },
                    "{none:?}"
                );
            }
            // Production: FORCE_RUN first, then a confirmation.
            for confirm in [None, Some("shop"), Some("x")] {
                let d = decide(&request(Production, false, confirm, interactive));
                assert!(
                    matches!(&d, Decision::Refuse { message, .. } if message.contains("without FORCE_RUN")),
                    "{d:?}"
                );
            }
            assert_eq!(
                decide(&request(Production, true, Some("shop"), interactive)),
                Decision::Proceed
            );
            let none = decide(&request(Production, true, None, interactive));
            assert!(if interactive {
                ask(&none)
            } else {
                refuse(&none)
            });
        }
    }

    #[test]
    fn refusals_name_what_to_pass_and_never_echo_the_given_name() {
        let d = decide(&request(
            Environment::Staging,
            false,
            Some("sh0p-typo"),
            false,
        ));
        let Decision::Refuse { message, help } = d else {
            panic!()
        };
        assert!(!message.contains("sh0p-typo") && !help.contains("sh0p-typo"));
        assert_eq!(help, "pass --confirm shop to deploy to it");
        let Decision::Refuse { help, message } =
            decide(&request(Environment::Staging, false, None, false))
        else {
            panic!()
        };
        assert_eq!(help, "pass --confirm shop (or set CONFIRM=shop)");
        assert_eq!(message, "to deploy to app@db.example.com:5432/shop (staging), pgshift needs the database's name confirmed, and there is no terminal to ask on: nothing was changed");
    }

    #[test]
    fn the_prompt_shows_target_changes_and_dangerous_operations() {
        let changes = ["2026-01-02_drop_legacy".to_string()];
        let dangerous = ["migrations/2026-01-02_drop_legacy.sql:7:1: dangerous/drop-table: DROP TABLE deletes the table".to_string()];
        let mut r = request(Environment::Production, true, None, true);
        r.changes = &changes;
        r.dangerous = &dangerous;
        let Decision::Ask { prompt } = decide(&r) else {
            panic!()
        };
        assert!(prompt.starts_with("About to deploy to app@db.example.com:5432/shop (production).\n1 change(s):\n  2026-01-02_drop_legacy\n1 dangerous operation(s):\n  migrations/2026-01-02_drop_legacy.sql:7:1"), "{prompt}");
        assert!(
            prompt.ends_with("Type the database name (shop) to go ahead, anything else to stop: ")
        );
        assert!(confirmed("shop\n", "shop"));
        assert!(!confirmed("Shop\n", "shop"));
        assert!(!confirmed("", "shop"));
    }
}
