-- Down: 2026-01-20_comprehensive_rls_policies
REVOKE ALL ON integration_credentials FROM eneas_app;
DROP POLICY IF EXISTS contacts_shared ON contacts;
DROP POLICY IF EXISTS integration_credentials_admin ON integration_credentials;
DROP POLICY IF EXISTS notes_tenant ON notes;
DROP POLICY IF EXISTS tasks_tenant ON tasks;
ALTER TABLE integration_credentials DISABLE ROW LEVEL SECURITY;
ALTER TABLE notes DISABLE ROW LEVEL SECURITY;
ALTER TABLE tasks DISABLE ROW LEVEL SECURITY;
