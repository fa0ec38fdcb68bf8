-- =============================================
-- MIGRATION: Tables the CRM screens expected but production never had
-- Version: 2026-01-18
-- Author: CRM Team
-- Dependencies: 2025-12-28_create_crm_tables_final.sql
-- =============================================

CREATE TABLE IF NOT EXISTS tasks (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  deal_id     uuid REFERENCES deals (id) ON DELETE CASCADE,
  assignee_id uuid REFERENCES users (id) ON DELETE SET NULL,
  title       text NOT NULL,
  due_at      timestamptz,
  done_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS notes (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  contact_id  uuid REFERENCES contacts (id) ON DELETE CASCADE,
  author_id   uuid REFERENCES users (id) ON DELETE SET NULL,
  body        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Credentials of third-party integrations (mail, calendar). Stored in plain text by the old
-- code; encrypted by 2026-01-20_credential_encryption.
CREATE TABLE IF NOT EXISTS integration_credentials (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  provider    text NOT NULL,
  secret      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, provider)
);

CREATE INDEX IF NOT EXISTS tasks_tenant_id_idx ON tasks (tenant_id);
CREATE INDEX IF NOT EXISTS tasks_assignee_open_idx ON tasks (assignee_id) WHERE done_at IS NULL;
CREATE INDEX IF NOT EXISTS notes_contact_id_idx ON notes (contact_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON tasks, notes TO eneas_app;
