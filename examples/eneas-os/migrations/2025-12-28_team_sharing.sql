-- =============================================
-- MIGRATION: Teams and resource sharing
-- Version: 2025-12-28
-- Author: Collaboration Team
-- Dependencies: 2025-12-29_rbac_system.sql, 2025-12-29_seed_granular_permissions.sql
-- =============================================
-- Written on the 28th but needs the permissions seeded on the 29th: pgshift runs it right
-- after them.

CREATE TABLE IF NOT EXISTS teams (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE TABLE IF NOT EXISTS team_members (
  team_id     uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  is_lead     boolean NOT NULL DEFAULT false,
  PRIMARY KEY (team_id, user_id)
);

CREATE TABLE IF NOT EXISTS shared_resources (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  team_id         uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  resource_type   text NOT NULL CHECK (resource_type IN ('contact', 'deal', 'company')),
  resource_id     uuid NOT NULL,
  permission_code text NOT NULL REFERENCES permissions (code),
  shared_by       uuid REFERENCES users (id),
  shared_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (team_id, resource_type, resource_id)
);

CREATE INDEX IF NOT EXISTS team_members_user_id_idx ON team_members (user_id);
CREATE INDEX IF NOT EXISTS shared_resources_resource_idx ON shared_resources (resource_type, resource_id);

INSERT INTO permissions (code, description) VALUES
  ('teams.manage', 'Create teams and share resources with them')
ON CONFLICT (code) DO NOTHING;

INSERT INTO role_permissions (role_id, permission_code)
SELECT id, 'teams.manage' FROM roles WHERE tenant_id IS NULL AND name = 'owner'
ON CONFLICT DO NOTHING;

ALTER TABLE teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared_resources ENABLE ROW LEVEL SECURITY;

CREATE POLICY teams_tenant ON teams
  USING (tenant_id = app.current_tenant_id())
  WITH CHECK (tenant_id = app.current_tenant_id() AND app.has_permission('teams.manage'));
CREATE POLICY team_members_visible ON team_members
  FOR SELECT USING (EXISTS (SELECT 1 FROM teams t WHERE t.id = team_id));
CREATE POLICY shared_resources_members ON shared_resources
  FOR SELECT USING (EXISTS (
    SELECT 1 FROM team_members m WHERE m.team_id = shared_resources.team_id
      AND m.user_id = app.current_user_id()
  ));

GRANT SELECT, INSERT, UPDATE, DELETE ON teams, team_members, shared_resources TO eneas_app;
