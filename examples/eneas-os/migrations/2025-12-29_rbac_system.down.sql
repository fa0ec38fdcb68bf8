-- Down: 2025-12-29_rbac_system
DROP TABLE IF EXISTS user_roles;
DROP FUNCTION IF EXISTS app.has_permission(text);
DROP TABLE IF EXISTS role_permissions;
DROP TABLE IF EXISTS permissions;
DROP TABLE IF EXISTS roles;
