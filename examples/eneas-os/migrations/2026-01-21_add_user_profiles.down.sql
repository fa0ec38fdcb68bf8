-- Down: 2026-01-21_add_user_profiles
DROP TABLE IF EXISTS user_profiles;
