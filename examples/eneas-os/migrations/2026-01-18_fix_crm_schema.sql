-- =============================================
-- MIGRATION: Fix CRM schema (deal stages, contact deletion)
-- Version: 2026-01-18
-- Author: CRM Team
-- Dependencies: 2025-12-28_create_crm_tables_final.sql
-- =============================================

SET LOCAL lock_timeout = '5s';

CREATE TYPE deal_stage AS ENUM ('lead', 'qualified', 'proposal', 'won', 'lost');

ALTER TABLE deals ADD COLUMN IF NOT EXISTS stage deal_stage NOT NULL DEFAULT 'lead';
ALTER TABLE deals ADD COLUMN IF NOT EXISTS expected_close date;

-- Deleting a contact used to fail when it had deals; keep the deal, forget the contact.
ALTER TABLE deals DROP CONSTRAINT IF EXISTS deals_contact_id_fkey;
ALTER TABLE deals ADD CONSTRAINT deals_contact_id_fkey
  FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE SET NULL NOT VALID;
-- @allow: locking/validate-in-same-migration deals holds a few thousand rows: the scan under the ADD's lock takes milliseconds, and the key must be valid when the migration commits
ALTER TABLE deals VALIDATE CONSTRAINT deals_contact_id_fkey;

-- @allow: locking/index-not-concurrent deals holds a few thousand rows; the build takes milliseconds and must commit with the new foreign key
CREATE INDEX IF NOT EXISTS deals_contact_id_idx ON deals (contact_id);

COMMENT ON COLUMN deals.status IS 'Deprecated: use stage';
