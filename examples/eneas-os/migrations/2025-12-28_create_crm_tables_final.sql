-- =============================================
-- MIGRATION: CRM tables (companies, contacts, deals)
-- Version: 2025-12-28
-- Author: CRM Team
-- Dependencies: 2025-12-28_create_core_tables_final.sql
-- =============================================

CREATE TABLE IF NOT EXISTS companies (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name        text NOT NULL,
  website     text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS contacts (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  company_id  uuid REFERENCES companies (id),
  owner_id    uuid REFERENCES users (id),
  first_name  text NOT NULL,
  last_name   text,
  email       text,
  phone       text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS deals (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  contact_id  uuid REFERENCES contacts (id),
  title       text NOT NULL,
  amount      numeric(14, 2) NOT NULL DEFAULT 0,
  status      text NOT NULL DEFAULT 'open',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS companies_tenant_id_idx ON companies (tenant_id);
CREATE INDEX IF NOT EXISTS contacts_tenant_id_idx ON contacts (tenant_id);
CREATE INDEX IF NOT EXISTS contacts_company_id_idx ON contacts (company_id);
CREATE INDEX IF NOT EXISTS deals_tenant_id_idx ON deals (tenant_id);

ALTER TABLE companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE deals ENABLE ROW LEVEL SECURITY;

CREATE POLICY companies_tenant ON companies
  USING (tenant_id = app.current_tenant_id())
  WITH CHECK (tenant_id = app.current_tenant_id());
CREATE POLICY contacts_tenant ON contacts
  USING (tenant_id = app.current_tenant_id())
  WITH CHECK (tenant_id = app.current_tenant_id());
CREATE POLICY deals_tenant ON deals
  USING (tenant_id = app.current_tenant_id())
  WITH CHECK (tenant_id = app.current_tenant_id());

GRANT SELECT, INSERT, UPDATE, DELETE ON companies, contacts, deals TO eneas_app;
