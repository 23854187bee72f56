-- Audit partitions that never collide with older ones, and a default partition that
-- never traps rows (`verify maintenance`, verify/adapters/maintenance.py).
--
-- Before 006, partitions were days of the server's TimeZone: audit_log_20261130 of a
-- server at +07 holds [2026-11-29 17:00 UTC, 2026-11-30 17:00 UTC). 006 makes UTC days
-- and skipped a day whose name existed, so after the upgrade the rest of the last old
-- day fell in no partition (ahead of UTC: its rows went to audit_log_default, which
-- retention never drops) or the next UTC day overlapped it (behind UTC: creating it
-- failed, and so did every later maintenance run).
--
-- And when maintenance did not run for longer than its look-ahead, a day's rows went to
-- the default partition, after which creating that day's partition failed ("updated
-- partition constraint for default partition would be violated"), every run again.
--
-- audit_ensure_partitions now covers each UTC day it must (today to today + days_ahead,
-- and every earlier day the default partition holds rows of) with partitions for the
-- parts of that day no partition covers yet, whatever their bounds: a new partition
-- starts where an old zone-based one ends. Rows of such a part waiting in the default
-- partition are moved into it in the caller's transaction, with every column as it was
-- (seq, chain_id, chain_batch, chain_link: the hash chain is untouched, rows are moved
-- rather than rewritten). While it makes partitions it holds audit_log in ACCESS
-- EXCLUSIVE mode, taken before any other lock on the audit (so a writer waiting on the
-- default partition cannot deadlock with it); writers wait for that transaction.
-- Retention (maintenance.py) drops partitions by their upper bound, read here.

-- Each range partition of audit_log with its bounds (the default partition excluded).
CREATE FUNCTION audit_partitions() RETURNS TABLE (name text, lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE AS $$
SELECT c.relname::text,
       CASE WHEN m[1] = 'MINVALUE' THEN '-infinity'::timestamptz
            ELSE trim(both '''' FROM m[1])::timestamptz END,
       CASE WHEN m[2] = 'MAXVALUE' THEN 'infinity'::timestamptz
            ELSE trim(both '''' FROM m[2])::timestamptz END
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                '^FOR VALUES FROM \((.*)\) TO \((.*)\)$') m
WHERE i.inhparent = 'audit_log'::regclass AND m IS NOT NULL  -- not DEFAULT
$$;

-- The parts of [from_at, to_at) that no partition covers.
CREATE FUNCTION audit_uncovered(from_at timestamptz, to_at timestamptz)
RETURNS TABLE (gap_lo timestamptz, gap_hi timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    cur timestamptz := from_at;
    p record;
BEGIN
    FOR p IN SELECT a.lo AS plo, a.hi AS phi FROM audit_partitions() a
             WHERE a.hi > from_at AND a.lo < to_at ORDER BY a.lo LOOP
        IF p.plo > cur THEN
            gap_lo := cur; gap_hi := p.plo; RETURN NEXT;
        END IF;
        cur := greatest(cur, p.phi);
    END LOOP;
    IF cur < to_at THEN
        gap_lo := cur; gap_hi := to_at; RETURN NEXT;
    END IF;
END $$;

-- One partition for [lo, hi), with the default partition's rows of that range moved in.
-- audit_log_YYYYMMDD for a whole UTC day, audit_log_YYYYMMDD_HHMMSS (its UTC start)
-- for a part of one. The caller holds audit_log in ACCESS EXCLUSIVE mode.
CREATE FUNCTION audit_make_partition(lo timestamptz, hi timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    utc timestamp := lo AT TIME ZONE 'UTC';
    name text := 'audit_log_' || to_char(utc, 'YYYYMMDD');
    cols text;
    moved bigint := 0;
BEGIN
    IF utc <> date_trunc('day', utc) OR hi - lo <> interval '1 day'
       OR to_regclass(name) IS NOT NULL THEN
        name := name || '_' || to_char(utc, 'HH24MISS');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit_log_default WHERE at >= lo AND at < hi) THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
                       name, lo, hi);
        RETURN 0;
    END IF;
    -- rows waiting in the default partition: a table of the same shape, the rows moved in
    -- as they are, then attached (which checks that the default keeps none of the range)
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute
    WHERE attrelid = 'audit_log'::regclass AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('CREATE TABLE %I (LIKE audit_log INCLUDING DEFAULTS)', name);
    -- one statement, one snapshot: every row deleted is the row inserted (two statements
    -- could delete a row committed between them without its copy)
    EXECUTE format('WITH gone AS (DELETE FROM audit_log_default WHERE at >= $1 AND at < $2 '
                   'RETURNING %s) INSERT INTO %I (%s) SELECT %s FROM gone',
                   cols, name, cols, cols) USING lo, hi;
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE audit_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   name, lo, hi);
    RETURN moved;
END $$;

-- The UTC days to cover: today to today + days_ahead, and the earlier days the default
-- partition holds rows of (a day beyond the look-ahead is left for a later run).
CREATE FUNCTION audit_days_to_cover(days_ahead integer) RETURNS SETOF date
LANGUAGE sql STABLE AS $$
SELECT (now() AT TIME ZONE 'UTC')::date + i FROM generate_series(0, days_ahead) i
UNION
SELECT DISTINCT (at AT TIME ZONE 'UTC')::date FROM audit_log_default
WHERE at < ((now() AT TIME ZONE 'UTC')::date + days_ahead + 1)::timestamp AT TIME ZONE 'UTC'
ORDER BY 1
$$;

-- The parts of those days no partition covers.
CREATE FUNCTION audit_partition_gaps(days_ahead integer)
RETURNS TABLE (gap_lo timestamptz, gap_hi timestamptz)
LANGUAGE sql STABLE AS $$
SELECT g.gap_lo, g.gap_hi
FROM audit_days_to_cover(days_ahead) d
CROSS JOIN LATERAL audit_uncovered(d::timestamp AT TIME ZONE 'UTC',
                                   (d + 1)::timestamp AT TIME ZONE 'UTC') g
ORDER BY 1
$$;

-- Returns how many partitions it made (the signature of 001 and 006: migrate calls it).
CREATE OR REPLACE FUNCTION audit_ensure_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    g record;
    made integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_partition_gaps(days_ahead)) THEN
        RETURN 0;  -- the usual run: nothing to make, no lock taken
    END IF;
    -- before any other lock on the audit: no writer can then hold the parent while
    -- waiting for a partition this transaction locks (no deadlock), and the gaps are
    -- computed again under the lock (another maintenance or migrate may have made some)
    LOCK TABLE ONLY audit_log IN ACCESS EXCLUSIVE MODE;
    FOR g IN SELECT * FROM audit_partition_gaps(days_ahead) LOOP
        PERFORM audit_make_partition(g.gap_lo, g.gap_hi);
        made := made + 1;
    END LOOP;
    RETURN made;
END $$;

-- A drop is recorded per partition: a UTC day may now have several (a part after an old
-- zone-based partition, and a partition made again for rows found later in the default).
ALTER TABLE audit_partition_drops DROP CONSTRAINT audit_partition_drops_pkey;
ALTER TABLE audit_partition_drops ADD PRIMARY KEY (partition, dropped_at);
-- A batch holds one UTC day at most, so a UTC-day partition holds whole batches; a
-- zone-based one (before 006) does not: the batches 006 made of the older rows, up to
-- 1,000 rows of a UTC day each, run across its bounds. Dropping it leaves the rest of
-- such a batch, whose link cannot be recomputed without the dropped rows: `cut` records
-- each, {"<chain_id>": {"batch": n, "link": "<hex>"}}, so that `audit verify` takes the
-- rest of the batch by that link and goes on checking the chain after it.
ALTER TABLE audit_partition_drops ADD COLUMN cut jsonb NOT NULL DEFAULT '{}';

REVOKE EXECUTE ON FUNCTION audit_partitions() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_uncovered(timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_make_partition(timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_days_to_cover(integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_partition_gaps(integer) FROM PUBLIC;
