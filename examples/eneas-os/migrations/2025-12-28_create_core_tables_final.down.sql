-- Down: 2025-12-28_create_core_tables_final
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS tenants;
