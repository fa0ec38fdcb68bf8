-- Down: 2026-02-03_create_posts
DROP TABLE IF EXISTS public.posts;
