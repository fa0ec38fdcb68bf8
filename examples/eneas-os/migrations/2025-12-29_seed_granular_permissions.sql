-- =============================================
-- MIGRATION: Seed granular permissions and built-in roles
-- Version: 2025-12-29
-- Author: Security Team
-- Dependencies: 2025-12-29_rbac_system.sql
-- =============================================

INSERT INTO permissions (code, description) VALUES
  ('contacts.read',    'See contacts'),
  ('contacts.write',   'Create and edit contacts'),
  ('deals.read',       'See deals'),
  ('deals.write',      'Create and edit deals'),
  ('roles.manage',     'Grant and revoke roles'),
  ('finances.read',    'See financial records'),
  ('finances.write',   'Record income and expenses'),
  ('settings.manage',  'Change tenant settings')
ON CONFLICT (code) DO NOTHING;

INSERT INTO roles (tenant_id, name, description) VALUES
  (NULL, 'owner',  'Everything'),
  (NULL, 'member', 'Day-to-day work'),
  (NULL, 'viewer', 'Read only')
ON CONFLICT DO NOTHING;

INSERT INTO role_permissions (role_id, permission_code)
SELECT r.id, p.code
FROM roles r
JOIN permissions p ON
     r.name = 'owner'
  OR (r.name = 'member' AND p.code IN ('contacts.read', 'contacts.write', 'deals.read', 'deals.write'))
  OR (r.name = 'viewer' AND p.code LIKE '%.read')
WHERE r.tenant_id IS NULL
ON CONFLICT DO NOTHING;
