-- Down: 2026-01-16_notifications_system
DROP TABLE IF EXISTS notifications;
