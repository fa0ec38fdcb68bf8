//! The one place that keeps secrets out of what pgshift prints and records, and untrusted text
//! from acting on a terminal or a CI runner. Pure string functions, below every other room:
//! the database layer uses `redact` before writing to the tracking tables, the deploy uses it on
//! every event, and the command line runs every line it prints through `escape`.
//!
//! - [`redact`]: secrets (database passwords from any source, psql variable values) are
//!   remembered when they are learnt and replaced by `***` wherever text leaves pgshift.
//! - [`escape`]: control characters (ESC, BEL, CR, LF, …), bidirectional overrides and CI
//!   workflow commands (`::error …`, `##[…]`) in untrusted text are made visible and inert.

pub mod escape;
pub mod redact;
