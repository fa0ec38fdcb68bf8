-- =============================================
-- MIGRATION: Index foreign keys
-- Version: 2026-01-22
-- Author: Platform Team
-- Dependencies: 2025-12-28_create_crm_tables_final.sql, 2025-12-28_team_sharing.sql, 2025-12-29_rbac_system.sql, 2026-01-16_notifications_system.sql, 2026-01-18_fix_missing_tables.sql, 2026-01-19_create_activity_logs.sql, 2026-01-20_create_finances_table.sql
-- =============================================
-- Every foreign key gets an index that starts with its columns: without one, deleting a user,
-- a tenant or a deal scans each referencing table under lock (`pgshift health` and
-- `pgshift validate` both reported them). Built CONCURRENTLY: the tables take writes meanwhile,
-- so the file runs outside a transaction, one statement at a time.

CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_owner_id_idx ON contacts (owner_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS shared_resources_permission_code_idx ON shared_resources (permission_code);
CREATE INDEX CONCURRENTLY IF NOT EXISTS shared_resources_shared_by_idx ON shared_resources (shared_by);
CREATE INDEX CONCURRENTLY IF NOT EXISTS role_permissions_permission_code_idx ON role_permissions (permission_code);
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_tenant_id_idx ON notifications (tenant_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_user_id_idx ON notifications (user_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_deal_id_idx ON tasks (deal_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_assignee_id_idx ON tasks (assignee_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_tenant_id_idx ON notes (tenant_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_author_id_idx ON notes (author_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS activity_logs_actor_id_idx ON activity_logs (actor_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS finances_created_by_idx ON finances (created_by);
