-- =============================================
-- MIGRATION: Enable row level security foundations
-- Version: 2025-12-28
-- Author: Platform Team
-- Dependencies: None
-- =============================================
-- Row level security only applies to roles that neither own the tables nor are superusers,
-- so the application connects as its own role, eneas_app. Its password comes from the
-- APP_PASSWORD environment variable (psql variable :app_password), never from this file.

CREATE SCHEMA IF NOT EXISTS app;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eneas_app') THEN
    CREATE ROLE eneas_app NOLOGIN;
  END IF;
END
$$;

ALTER ROLE eneas_app WITH LOGIN PASSWORD :'app_password';

GRANT USAGE ON SCHEMA app TO eneas_app;

-- The request context: the API sets these per transaction (SET LOCAL app.user_id = ...).
CREATE OR REPLACE FUNCTION app.current_user_id() RETURNS uuid
LANGUAGE sql STABLE
AS $$
  SELECT NULLIF(current_setting('app.user_id', true), '')::uuid
$$;

CREATE OR REPLACE FUNCTION app.current_tenant_id() RETURNS uuid
LANGUAGE sql STABLE
AS $$
  SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid
$$;

-- Keeps updated_at honest on every table that has one.
CREATE OR REPLACE FUNCTION app.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
