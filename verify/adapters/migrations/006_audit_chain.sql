-- Tamper-evident audit (DESIGN.md "Accountability"): every group commit of a writer
-- appends a link to that writer's hash chain.
--
--   link(n) = SHA-256( link(n-1) || chain_id (16 bytes) || n (int8, big-endian)
--                      || canonical(row) || '\n'  for each row of batch n, in seq order )
--   link(0) = 32 zero bytes
--
-- canonical(row) is one compact JSON array of the values of
--   at, agency_id, key_id, request_id, kind, purpose, subject, verdict, fields, latency_ms
-- in this order, NULL as null, trailing nulls left out (so a column added later at the
-- end, NULL in older rows, leaves their links intact); at as integer microseconds since
-- 1970-01-01 UTC, subject as lowercase hex, latency_ms (real) as its IEEE-754
-- single-precision bit pattern read as a signed 32-bit integer. Python:
-- verify/adapters/audit_chain.py (`canonical`); the two must agree
-- (tests/integration/test_audit_chain.py checks it).
--
-- Each row carries its chain and batch number; the batch's last row (highest seq) carries
-- the link, the others NULL. A batch never spans two UTC days, so a daily partition holds
-- whole batches and dropping one (maintenance, past retention) leaves the next day's
-- chains verifiable from the heads recorded in audit_partition_drops.

ALTER TABLE audit_log
    ADD COLUMN key_id text,          -- the API key that asked (NULL only in rows from before)
    ADD COLUMN chain_id uuid,
    ADD COLUMN chain_batch bigint,
    ADD COLUMN chain_link bytea;

-- Partitions are UTC days, whatever the server's TimeZone (the writer splits its batches
-- by UTC day).
CREATE OR REPLACE FUNCTION audit_ensure_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    d date;
    made integer := 0;
    name text;
BEGIN
    FOR i IN 0..days_ahead LOOP
        d := today + i;
        name := 'audit_log_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
                name, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;

-- The only deletion the audit allows: a whole day past retention, recorded here with the
-- last link of every chain in it (the anchors of the next day's batches).
CREATE TABLE audit_partition_drops (
    day        date PRIMARY KEY,
    partition  text NOT NULL,
    rows       bigint NOT NULL,
    heads      jsonb NOT NULL,        -- {"<chain_id>": {"batch": n, "link": "<hex>"}, ...}
    dropped_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION audit_canonical(r audit_log) RETURNS bytea
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
    coalesce(('x' || encode(float4send(r.latency_ms), 'hex'))::bit(32)::int4::text, 'null')
) || ']', '(,null)+\]$', ']'), 'UTF8')
$$;

-- Chains every row without a chain (those written before this migration) into one new
-- chain: batches of at most batch_rows rows, never across a UTC day, in (day, seq) order.
-- Set-based: one pass computes every row's canonical bytes and batch, one aggregate per
-- batch, a loop over the batches (not the rows) for the links, one UPDATE; returns how
-- many rows it chained.
CREATE FUNCTION audit_chain_unchained(batch_rows integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    chain uuid := gen_random_uuid();
    prev bytea := decode(repeat('00', 32), 'hex');
    b record;
    n bigint;
BEGIN
    CREATE TEMP TABLE audit_unchained ON COMMIT DROP AS
    SELECT t, c, seq, canon, dense_rank() OVER (ORDER BY day, part) AS batch,
           row_number() OVER (PARTITION BY day, part ORDER BY seq DESC) = 1 AS last
    FROM (SELECT l.tableoid AS t, l.ctid AS c, l.seq, audit_canonical(l) AS canon,
                 (l.at AT TIME ZONE 'UTC')::date AS day,
                 (row_number() OVER (PARTITION BY (l.at AT TIME ZONE 'UTC')::date
                                     ORDER BY l.seq) - 1) / batch_rows AS part
          FROM audit_log l WHERE l.chain_id IS NULL) numbered;
    GET DIAGNOSTICS n = ROW_COUNT;
    CREATE TEMP TABLE audit_unchained_links (batch bigint PRIMARY KEY, link bytea)
        ON COMMIT DROP;
    FOR b IN
        SELECT batch, string_agg(canon || '\x0a'::bytea, ''::bytea ORDER BY seq) AS body
        FROM audit_unchained GROUP BY batch ORDER BY batch
    LOOP
        prev := sha256(prev || uuid_send(chain) || int8send(b.batch) || b.body);
        INSERT INTO audit_unchained_links VALUES (b.batch, prev);
    END LOOP;
    UPDATE audit_log l
    SET chain_id = chain, chain_batch = u.batch,
        chain_link = CASE WHEN u.last THEN k.link END
    FROM audit_unchained u JOIN audit_unchained_links k USING (batch)
    WHERE l.tableoid = u.t AND l.ctid = u.c;
    DROP TABLE audit_unchained, audit_unchained_links;
    RETURN n;
END $$;

SELECT audit_chain_unchained(1000);

REVOKE EXECUTE ON FUNCTION audit_chain_unchained(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_canonical(audit_log) FROM PUBLIC;
REVOKE ALL ON audit_partition_drops FROM PUBLIC;
