-- Down: 2025-12-28_enable_rls
-- The eneas_app role is cluster-wide and may serve other databases: it is kept.
REVOKE USAGE ON SCHEMA app FROM eneas_app;
DROP FUNCTION IF EXISTS app.touch_updated_at();
DROP FUNCTION IF EXISTS app.current_tenant_id();
DROP FUNCTION IF EXISTS app.current_user_id();
DROP SCHEMA IF EXISTS app;
