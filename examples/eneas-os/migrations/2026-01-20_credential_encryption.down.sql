-- Down: 2026-01-20_credential_encryption
-- Only safe before 2026-01-20_migrate_plaintext_credentials ran (pgshift refuses otherwise).
ALTER TABLE integration_credentials DROP COLUMN IF EXISTS secret_encrypted;
DROP FUNCTION IF EXISTS app.decrypt_secret(bytea);
DROP FUNCTION IF EXISTS app.encrypt_secret(text);
DROP TABLE IF EXISTS app.encryption_keys;
DROP EXTENSION IF EXISTS pgcrypto;
