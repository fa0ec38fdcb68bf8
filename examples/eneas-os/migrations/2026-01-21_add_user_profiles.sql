-- =============================================
-- MIGRATION: Add user profiles
-- Version: 2026-01-21
-- Author: Platform Team
-- Dependencies: 2025-12-28_create_core_tables_final.sql
-- =============================================

CREATE TABLE IF NOT EXISTS user_profiles (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  email       text NOT NULL,
  avatar_url  text,
  locale      text NOT NULL DEFAULT 'en',
  timezone    text NOT NULL DEFAULT 'UTC',
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER user_profiles_touch BEFORE UPDATE ON user_profiles
  FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();

ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY user_profiles_own ON user_profiles
  USING (user_id = app.current_user_id())
  WITH CHECK (user_id = app.current_user_id());

CREATE INDEX IF NOT EXISTS idx_user_profiles_email ON user_profiles (email);

GRANT SELECT, INSERT, UPDATE ON user_profiles TO eneas_app;
