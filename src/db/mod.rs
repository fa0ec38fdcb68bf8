//! The database: connections, the tracking tables, the deploy lock, and running migrations.
//! Nothing here prints; results and events go back to the caller.

pub mod connect;
pub mod conninfo;
pub mod execute;
pub mod lock;
pub mod tracking;
