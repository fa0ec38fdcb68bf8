-- =============================================
-- MIGRATION: Avatars bucket
-- Version: 2026-02-04
-- Author: Platform Team
-- Dependencies: 2026-02-01_create_profiles.sql
-- =============================================
-- A public bucket for avatars. Anyone may read them; a signed-in user may write only under a
-- folder named after their id: avatars/<user id>/<file>.

-- storage.objects serves every file request: wait 5 s at most for its lock, then fail and retry.
SET LOCAL lock_timeout = '5s';

INSERT INTO storage.buckets (id, name, public) VALUES ('avatars', 'avatars', true);

CREATE POLICY "avatars are public" ON storage.objects
  FOR SELECT TO anon, authenticated USING (bucket_id = 'avatars');

CREATE POLICY "users upload their own avatar" ON storage.objects
  FOR INSERT TO authenticated
  WITH CHECK (bucket_id = 'avatars' AND (storage.foldername(name))[1] = (select auth.uid())::text);

CREATE POLICY "users replace their own avatar" ON storage.objects
  FOR UPDATE TO authenticated
  USING (bucket_id = 'avatars' AND (storage.foldername(name))[1] = (select auth.uid())::text);

CREATE POLICY "users delete their own avatar" ON storage.objects
  FOR DELETE TO authenticated
  USING (bucket_id = 'avatars' AND (storage.foldername(name))[1] = (select auth.uid())::text);
