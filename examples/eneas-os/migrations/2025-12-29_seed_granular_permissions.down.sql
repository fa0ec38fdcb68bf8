-- Down: 2025-12-29_seed_granular_permissions
DELETE FROM roles WHERE tenant_id IS NULL AND name IN ('owner', 'member', 'viewer');
DELETE FROM permissions WHERE code IN (
  'contacts.read', 'contacts.write', 'deals.read', 'deals.write',
  'roles.manage', 'finances.read', 'finances.write', 'settings.manage'
);
