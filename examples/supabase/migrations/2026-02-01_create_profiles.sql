-- =============================================
-- MIGRATION: Create profiles
-- Version: 2026-02-01
-- Author: Platform Team
-- Dependencies: none
-- =============================================
-- One public profile per user of Supabase Auth. Everyone may read profiles; a user may
-- change only their own. `(select auth.uid())` is computed once per statement, not per row.

CREATE TABLE IF NOT EXISTS public.profiles (
  id          uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  username    text UNIQUE CHECK (char_length(username) BETWEEN 3 AND 32),
  full_name   text,
  avatar_url  text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY "profiles are readable by everyone" ON public.profiles
  FOR SELECT TO anon, authenticated USING (true);

CREATE POLICY "users insert their own profile" ON public.profiles
  FOR INSERT TO authenticated WITH CHECK ((select auth.uid()) = id);

CREATE POLICY "users update their own profile" ON public.profiles
  FOR UPDATE TO authenticated USING ((select auth.uid()) = id) WITH CHECK ((select auth.uid()) = id);
