-- =============================================
-- MIGRATION: Row level security on every remaining table
-- Version: 2026-01-20
-- Author: Security Team
-- Dependencies: 2026-01-20_migrate_plaintext_credentials.sql, 2025-12-28_team_sharing.sql
-- =============================================
-- @depends-on: 2026-01-20_migrate_plaintext_credentials.sql
-- @depends-on: 2025-12-28_team_sharing.sql

SET LOCAL lock_timeout = '5s';

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration_credentials ENABLE ROW LEVEL SECURITY;

CREATE POLICY tasks_tenant ON tasks
  USING (tenant_id = app.current_tenant_id())
  WITH CHECK (tenant_id = app.current_tenant_id());

CREATE POLICY notes_tenant ON notes
  USING (tenant_id = app.current_tenant_id())
  WITH CHECK (tenant_id = app.current_tenant_id());

CREATE POLICY integration_credentials_admin ON integration_credentials
  USING (tenant_id = app.current_tenant_id() AND app.has_permission('settings.manage'))
  WITH CHECK (tenant_id = app.current_tenant_id() AND app.has_permission('settings.manage'));

-- Sharing: a contact shared with one of the user's teams is visible across tenants' owners.
CREATE POLICY contacts_shared ON contacts
  FOR SELECT USING (EXISTS (
    SELECT 1
    FROM shared_resources s
    JOIN team_members m ON m.team_id = s.team_id
    WHERE s.resource_type = 'contact' AND s.resource_id = contacts.id
      AND m.user_id = app.current_user_id()
  ));

GRANT SELECT, INSERT, UPDATE, DELETE ON integration_credentials TO eneas_app;
