-- =============================================
-- MIGRATION: Core tables (tenants, users)
-- Version: 2025-12-28
-- Author: Platform Team
-- Dependencies: 2025-12-28_enable_rls.sql
-- =============================================

CREATE TABLE IF NOT EXISTS tenants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]+$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  email       text NOT NULL,
  full_name   text,
  is_active   boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (lower(email));
CREATE INDEX IF NOT EXISTS users_tenant_id_idx ON users (tenant_id);

CREATE TRIGGER tenants_touch BEFORE UPDATE ON tenants
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
CREATE TRIGGER users_touch BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenants_own ON tenants
  FOR SELECT USING (id = app.current_tenant_id());

CREATE POLICY users_same_tenant ON users
  FOR SELECT USING (tenant_id = app.current_tenant_id());

CREATE POLICY users_update_self ON users
  FOR UPDATE USING (id = app.current_user_id())
  WITH CHECK (id = app.current_user_id());

GRANT SELECT ON tenants TO eneas_app;
GRANT SELECT, UPDATE ON users TO eneas_app;
