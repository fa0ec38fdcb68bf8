-- =============================================
-- MIGRATION: Financial tracking
-- Version: 2026-01-20
-- Author: Finance Team
-- Dependencies: 2026-01-20_comprehensive_rls_policies.sql
-- =============================================

-- @allow: hygiene/column-types currency holds ISO 4217 codes, exactly three letters: char(3) is the type for it
CREATE TABLE IF NOT EXISTS finances (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  deal_id      uuid REFERENCES deals (id) ON DELETE SET NULL,
  kind         text NOT NULL CHECK (kind IN ('income', 'expense')),
  amount       numeric(14, 2) NOT NULL CHECK (amount >= 0),
  currency     char(3) NOT NULL DEFAULT 'EUR',
  occurred_on  date NOT NULL DEFAULT current_date,
  description  text,
  created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS finances_tenant_occurred_idx ON finances (tenant_id, occurred_on DESC);
CREATE INDEX IF NOT EXISTS finances_deal_id_idx ON finances (deal_id);

ALTER TABLE finances ENABLE ROW LEVEL SECURITY;

CREATE POLICY finances_read ON finances
  FOR SELECT USING (tenant_id = app.current_tenant_id() AND app.has_permission('finances.read'));
CREATE POLICY finances_write ON finances
  FOR INSERT WITH CHECK (tenant_id = app.current_tenant_id() AND app.has_permission('finances.write'));

GRANT SELECT, INSERT ON finances TO eneas_app;
