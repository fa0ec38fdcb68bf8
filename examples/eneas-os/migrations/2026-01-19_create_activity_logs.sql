-- =============================================
-- MIGRATION: Activity logs (audit trail)
-- Version: 2026-01-19
-- Author: Security Team
-- Dependencies: 2025-12-28_create_core_tables_final.sql
-- =============================================

CREATE TABLE IF NOT EXISTS activity_logs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
  action      text NOT NULL,
  subject     text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS activity_logs_tenant_created_idx
  ON activity_logs (tenant_id, created_at DESC);

ALTER TABLE activity_logs ENABLE ROW LEVEL SECURITY;

-- Append-only for the application: it may write and read its tenant's log, never change it.
CREATE POLICY activity_logs_read ON activity_logs
  FOR SELECT USING (tenant_id = app.current_tenant_id());
CREATE POLICY activity_logs_append ON activity_logs
  FOR INSERT WITH CHECK (tenant_id = app.current_tenant_id() AND actor_id = app.current_user_id());

GRANT SELECT, INSERT ON activity_logs TO eneas_app;
