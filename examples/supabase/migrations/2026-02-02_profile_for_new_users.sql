-- =============================================
-- MIGRATION: Profile for new users
-- Version: 2026-02-02
-- Author: Platform Team
-- Dependencies: 2026-02-01_create_profiles.sql
-- =============================================
-- Every user who signs up gets a profile. The trigger runs as the user Supabase Auth connects
-- as, so the function is SECURITY DEFINER; its search_path is empty and every name in it is
-- qualified, so nobody can slip their own `profiles` in front of ours.

CREATE FUNCTION public.handle_new_user() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
  INSERT INTO public.profiles (id, full_name, avatar_url)
  VALUES (NEW.id, NEW.raw_user_meta_data ->> 'full_name', NEW.raw_user_meta_data ->> 'avatar_url');
  RETURN NEW;
END
$$;

-- Only the trigger calls it: not an API endpoint.
REVOKE EXECUTE ON FUNCTION public.handle_new_user() FROM PUBLIC, anon, authenticated;

-- auth.users is live: wait at most 5 s for its lock rather than queue sign-ups behind us.
SET LOCAL lock_timeout = '5s';
CREATE TRIGGER on_auth_user_created
  AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
