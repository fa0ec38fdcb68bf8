-- =============================================
-- MIGRATION: Move plaintext credentials into the encrypted column
-- Version: 2026-01-20
-- Author: Security Team
-- Dependencies: 2026-01-20_credential_encryption.sql
-- =============================================
-- Irreversible on purpose: there is no down file. To undo, restore the backup taken before
-- the deploy.

SET LOCAL lock_timeout = '5s';

-- @allow: locking/bulk-update-without-batching one row per tenant and provider: a few hundred rows at most
UPDATE integration_credentials
SET secret_encrypted = app.encrypt_secret(secret)
WHERE secret IS NOT NULL AND secret_encrypted IS NULL;

-- @allow: dangerous/drop-column the plaintext copy is the risk this migration removes; the encrypted column holds every value
ALTER TABLE integration_credentials DROP COLUMN secret;
