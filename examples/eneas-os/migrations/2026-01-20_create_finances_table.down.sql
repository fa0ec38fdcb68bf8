-- Down: 2026-01-20_create_finances_table
DROP TABLE IF EXISTS finances;
