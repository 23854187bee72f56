-- The counter or kiosk that made a check (claim field `terminal`, at most 64 characters,
-- validated by the claim parser): stored with the audit row and shown in the citizen's
-- access history. Nullable and without a default, so adding it rewrites no partition.
ALTER TABLE audit_log ADD COLUMN terminal text;

-- The hash chain covers it (verify/adapters/audit_chain.py `canonical`, the same bytes):
-- appended last, so in rows written before this migration it is a trailing null that
-- is left out, and their links stay valid.
CREATE OR REPLACE FUNCTION audit_canonical(r audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT convert_to(regexp_replace('[' || concat_ws(',',
    (extract(epoch FROM r.at) * 1000000)::bigint::text,
    coalesce(r.agency_id::text, 'null'),
    coalesce(to_json(r.key_id)::text, 'null'),
    coalesce(to_json(r.request_id)::text, 'null'),
    coalesce(to_json(r.kind)::text, 'null'),
    coalesce(to_json(r.purpose)::text, 'null'),
    coalesce('"' || encode(r.subject, 'hex') || '"', 'null'),
    coalesce(to_json(r.verdict)::text, 'null'),
    coalesce(to_json(r.fields)::text, 'null'),
    coalesce(('x' || encode(float4send(r.latency_ms), 'hex'))::bit(32)::int4::text, 'null'),
    coalesce(to_json(r.terminal)::text, 'null')
) || ']', '(,null)+\]$', ']'), 'UTF8')
$$;
REVOKE EXECUTE ON FUNCTION audit_canonical(audit_log) FROM PUBLIC;

-- The serving role writes and reads it (a no-op where its grants are table-wide).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'verify_app') THEN
        GRANT SELECT (terminal), INSERT (terminal) ON audit_log TO verify_app;
    END IF;
END $$;
