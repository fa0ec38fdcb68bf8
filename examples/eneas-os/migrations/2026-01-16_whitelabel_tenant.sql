-- =============================================
-- MIGRATION: White-label tenants (custom domains and branding)
-- Version: 2026-01-16
-- Author: Platform Team
-- Dependencies: 2025-12-28_create_core_tables_final.sql
-- =============================================

SET LOCAL lock_timeout = '5s';

ALTER TABLE tenants ADD COLUMN IF NOT EXISTS branding jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE TABLE IF NOT EXISTS tenant_domains (
  domain      text PRIMARY KEY CHECK (domain = lower(domain)),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  verified_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS tenant_domains_tenant_id_idx ON tenant_domains (tenant_id);

ALTER TABLE tenant_domains ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_domains_tenant ON tenant_domains
  FOR SELECT USING (tenant_id = app.current_tenant_id());

GRANT SELECT ON tenant_domains TO eneas_app;
