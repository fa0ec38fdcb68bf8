-- Down: 2026-01-22_index_foreign_keys
DROP INDEX CONCURRENTLY IF EXISTS finances_created_by_idx;
DROP INDEX CONCURRENTLY IF EXISTS activity_logs_actor_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS notes_author_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS notes_tenant_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_assignee_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS tasks_deal_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS notifications_user_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS notifications_tenant_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS role_permissions_permission_code_idx;
DROP INDEX CONCURRENTLY IF EXISTS shared_resources_shared_by_idx;
DROP INDEX CONCURRENTLY IF EXISTS shared_resources_permission_code_idx;
DROP INDEX CONCURRENTLY IF EXISTS contacts_owner_id_idx;
