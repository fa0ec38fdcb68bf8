-- Down: 2026-01-16_whitelabel_tenant
DROP TABLE IF EXISTS tenant_domains;
ALTER TABLE tenants DROP COLUMN IF EXISTS branding;
