//! Supabase (SPEC §10): how a project's connection is found (`connection`), the Supabase CLI's
//! history table kept in step with pgshift's (`history`), and a stub of what a project gives
//! migrations (roles, auth, storage) for testing them on plain PostgreSQL.

pub mod connection;
pub mod history;

/// The stub `pgshift test --supabase` loads before the migrations: roles anon, authenticated,
/// service_role, authenticator, supabase_admin; schemas auth, storage, extensions,
/// supabase_migrations; auth.uid()/role()/jwt()/email() reading `request.jwt.claims`;
/// auth.users, storage.buckets, storage.objects, storage.foldername(). Idempotent.
pub const STUB_SQL: &str = include_str!("stub.sql");
