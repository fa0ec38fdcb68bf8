-- =============================================
-- MIGRATION: Encrypt integration credentials at rest
-- Version: 2026-01-20
-- Author: Security Team
-- Dependencies: 2026-01-18_fix_missing_tables.sql
-- =============================================

SET LOCAL lock_timeout = '5s';

-- @allow: hygiene/extension-in-public no API serves this database, and the functions below call pgcrypto unqualified
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

-- One symmetric key, generated in the database and readable by no API role.
CREATE TABLE IF NOT EXISTS app.encryption_keys (
  id          int PRIMARY KEY CHECK (id = 1),
  key         bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON app.encryption_keys FROM PUBLIC;

INSERT INTO app.encryption_keys (id, key)
VALUES (1, gen_random_bytes(32))
ON CONFLICT (id) DO NOTHING;

CREATE OR REPLACE FUNCTION app.encrypt_secret(plain text) RETURNS bytea
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
  SELECT pgp_sym_encrypt(plain, encode(key, 'hex'))
  FROM app.encryption_keys WHERE id = 1
$$;

CREATE OR REPLACE FUNCTION app.decrypt_secret(cipher bytea) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
  SELECT pgp_sym_decrypt(cipher, encode(key, 'hex'))
  FROM app.encryption_keys WHERE id = 1
$$;

REVOKE ALL ON FUNCTION app.encrypt_secret(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app.decrypt_secret(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.encrypt_secret(text), app.decrypt_secret(bytea) TO eneas_app;

ALTER TABLE integration_credentials ADD COLUMN IF NOT EXISTS secret_encrypted bytea;
