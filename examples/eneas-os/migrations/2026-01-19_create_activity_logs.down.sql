-- Down: 2026-01-19_create_activity_logs
DROP TABLE IF EXISTS activity_logs;
