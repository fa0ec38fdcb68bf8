-- =============================================
-- MIGRATION: Role-based access control
-- Version: 2025-12-29
-- Author: Security Team
-- Dependencies: 2025-12-28_create_core_tables_final.sql
-- =============================================

CREATE TABLE IF NOT EXISTS roles (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL: built-in role
  name        text NOT NULL,
  description text,
  UNIQUE NULLS NOT DISTINCT (tenant_id, name)
);

CREATE TABLE IF NOT EXISTS permissions (
  code        text PRIMARY KEY CHECK (code ~ '^[a-z_]+\.[a-z_]+$'),
  description text NOT NULL
);

CREATE TABLE IF NOT EXISTS role_permissions (
  role_id         uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  permission_code text NOT NULL REFERENCES permissions (code) ON DELETE CASCADE,
  PRIMARY KEY (role_id, permission_code)
);

CREATE TABLE IF NOT EXISTS user_roles (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role_id     uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  granted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, role_id)
);

CREATE INDEX IF NOT EXISTS user_roles_role_id_idx ON user_roles (role_id);

-- Runs as its owner so policies can call it without granting the RBAC tables to everyone;
-- search_path is pinned so a caller cannot shadow the tables it reads.
CREATE OR REPLACE FUNCTION app.has_permission(wanted text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
  SELECT EXISTS (
    SELECT 1
    FROM user_roles ur
    JOIN role_permissions rp ON rp.role_id = ur.role_id
    WHERE ur.user_id = app.current_user_id()
      AND rp.permission_code = wanted
  )
$$;

REVOKE ALL ON FUNCTION app.has_permission(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.has_permission(text) TO eneas_app;

ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE role_permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_roles ENABLE ROW LEVEL SECURITY;

CREATE POLICY roles_visible ON roles
  FOR SELECT USING (tenant_id IS NULL OR tenant_id = app.current_tenant_id());
CREATE POLICY permissions_readable ON permissions
  FOR SELECT USING (true);
CREATE POLICY role_permissions_readable ON role_permissions
  FOR SELECT USING (true);
CREATE POLICY user_roles_admin ON user_roles
  USING (app.has_permission('roles.manage'))
  WITH CHECK (app.has_permission('roles.manage'));

GRANT SELECT ON roles, permissions, role_permissions TO eneas_app;
GRANT SELECT, INSERT, DELETE ON user_roles TO eneas_app;
