-- =============================================
-- MIGRATION: Create posts
-- Version: 2026-02-03
-- Author: Platform Team
-- Dependencies: 2026-02-01_create_profiles.sql
-- =============================================
-- Posts: published ones are public; drafts are seen by their author only.

CREATE TABLE IF NOT EXISTS public.posts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  author_id   uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
  title       text NOT NULL CHECK (char_length(title) > 0),
  body        text NOT NULL DEFAULT '',
  published   boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- The foreign key's index: deleting a profile must not scan every post.
CREATE INDEX IF NOT EXISTS posts_author_id_idx ON public.posts (author_id);

ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;

CREATE POLICY "published posts are public" ON public.posts
  FOR SELECT TO anon, authenticated USING (published);

CREATE POLICY "authors read their drafts" ON public.posts
  FOR SELECT TO authenticated USING ((select auth.uid()) = author_id);

CREATE POLICY "authors write their posts" ON public.posts
  FOR ALL TO authenticated
  USING ((select auth.uid()) = author_id)
  WITH CHECK ((select auth.uid()) = author_id);
