-- Down: 2026-02-04_avatars_bucket
DROP POLICY IF EXISTS "users delete their own avatar" ON storage.objects;
DROP POLICY IF EXISTS "users replace their own avatar" ON storage.objects;
DROP POLICY IF EXISTS "users upload their own avatar" ON storage.objects;
DROP POLICY IF EXISTS "avatars are public" ON storage.objects;
DELETE FROM storage.buckets WHERE id = 'avatars';
