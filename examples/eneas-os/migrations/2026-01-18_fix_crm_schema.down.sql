-- Down: 2026-01-18_fix_crm_schema
DROP INDEX IF EXISTS deals_contact_id_idx;
ALTER TABLE deals DROP CONSTRAINT IF EXISTS deals_contact_id_fkey;
ALTER TABLE deals ADD CONSTRAINT deals_contact_id_fkey
  FOREIGN KEY (contact_id) REFERENCES contacts (id);
ALTER TABLE deals DROP COLUMN IF EXISTS expected_close;
ALTER TABLE deals DROP COLUMN IF EXISTS stage;
DROP TYPE IF EXISTS deal_stage;
COMMENT ON COLUMN deals.status IS NULL;
