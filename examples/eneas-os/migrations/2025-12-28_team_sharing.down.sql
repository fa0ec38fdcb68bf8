-- Down: 2025-12-28_team_sharing
DROP TABLE IF EXISTS shared_resources;
DROP TABLE IF EXISTS team_members;
DROP TABLE IF EXISTS teams;
DELETE FROM permissions WHERE code = 'teams.manage';
