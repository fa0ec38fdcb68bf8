-- Down: 2026-02-01_create_profiles
DROP TABLE IF EXISTS public.profiles;
