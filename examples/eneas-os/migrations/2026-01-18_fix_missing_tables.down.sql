-- Down: 2026-01-18_fix_missing_tables
DROP TABLE IF EXISTS integration_credentials;
DROP TABLE IF EXISTS notes;
DROP TABLE IF EXISTS tasks;
