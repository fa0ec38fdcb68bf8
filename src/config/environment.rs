//! The deployment environments and how their names are written.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a deploy goes. Decides finding levels, confirmation and the production gate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    /// Everything allowed; findings are warnings (alias `dev`).
    Development,
    /// Error-level findings block; deploys need the database's name confirmed.
    Staging,
    /// Also needs FORCE_RUN; dangerous operations blocked unless forced (alias `prod`).
    Production,
}

impl Environment {
    /// The spellings accepted, for messages.
    pub const ACCEPTED: &'static str = "development (or dev), staging, production (or prod)";

    /// The name, lower-case.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }

    /// The three environments, least strict first.
    pub fn all() -> [Environment; 3] {
        [
            Environment::Development,
            Environment::Staging,
            Environment::Production,
        ]
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the environments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a known environment; accepted: {}", Environment::ACCEPTED)]
pub struct UnknownEnvironment;

impl FromStr for Environment {
    type Err = UnknownEnvironment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Environment::Development),
            "staging" => Ok(Environment::Staging),
            "production" | "prod" => Ok(Environment::Production),
            _ => Err(UnknownEnvironment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_aliases() {
        assert_eq!("dev".parse(), Ok(Environment::Development));
        assert_eq!("Production".parse(), Ok(Environment::Production));
        assert_eq!("prod".parse(), Ok(Environment::Production));
        assert_eq!("staging".parse(), Ok(Environment::Staging));
        assert_eq!("prd".parse::<Environment>(), Err(UnknownEnvironment));
    }
}
