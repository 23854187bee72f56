-- The counter or kiosk that made a check (claim field `terminal`, at most 64 characters,
-- validated by the claim parser): stored with the audit row and shown in the citizen's
-- access history. Nullable and without a default, so adding it rewrites no partition.
ALTER TABLE audit_log ADD COLUMN terminal text;

-- The serving role writes and reads it (a no-op where its grants are table-wide).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'verify_app') THEN
        GRANT SELECT (terminal), INSERT (terminal) ON audit_log TO verify_app;
    END IF;
END $$;
