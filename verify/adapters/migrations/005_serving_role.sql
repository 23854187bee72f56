-- Least privilege (DESIGN.md "Accountability"): two database roles.
--
-- * The OWNER role is whoever owns this database and runs the migrations
--   (VERIFY_ADMIN_DATABASE_URL): migrate, maintenance (partitions), load, seed, keys,
--   audit verify.
-- * The SERVING role `verify_app` (VERIFY_DATABASE_URL of `verify serve`) reads the
--   register and the keys, inserts audit rows and reads them back for the access history.
--   It may not UPDATE, DELETE or TRUNCATE the audit, owns nothing and may create nothing:
--   holding the API's password is not enough to rewrite history.
--
-- Roles are cluster-wide: the role is made once (its password is set by the operator, or
-- by `verify dev up` locally), and every database migrated afterwards only grants to it.
-- Privileges on the partitioned audit_log suffice to insert and read through it; its
-- partitions get no grant at all, so the serving role cannot touch one directly.
--
-- A later migration whose table the server uses grants to verify_app the same way (guarded:
-- the role may not exist yet when that migration runs).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'verify_app') THEN
        CREATE ROLE verify_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
            NOREPLICATION NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database's migration made it at the same moment
END $$;

-- No DDL for anyone but the owner (PostgreSQL 15+ already does this on new databases).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM verify_app;
GRANT USAGE ON SCHEMA public TO verify_app;

DO $$
BEGIN
    EXECUTE format('REVOKE CREATE, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO verify_app', current_database());
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM verify_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM verify_app;

-- the register, its change log (cache invalidation: LISTEN needs no grant) and the keys
GRANT SELECT ON citizens, id_cards, former_ids, citizen_changes, agencies, api_keys
    TO verify_app;
-- the audit: append and read (access history), nothing else
GRANT SELECT, INSERT ON audit_log TO verify_app;
GRANT USAGE ON SEQUENCE audit_log_seq TO verify_app;
-- functions run with the caller's rights, but nobody but the owner has a reason to call this
REVOKE EXECUTE ON FUNCTION audit_ensure_partitions(integer) FROM PUBLIC;
