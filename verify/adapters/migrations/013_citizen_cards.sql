-- Every card of a person on the person's row, so that the uncached lookup is one read by
-- primary key (issue 10): card_issue, card_expiry, card_status are the person's id_cards
-- ordered by issue_date (NULL: no card), exactly what RECORDS_SQL used to aggregate per ID
-- with a LEFT JOIN LATERAL. id_cards stays the table of record; these columns are derived
-- from it by the triggers below and read by `verify serve` (the verify rules need every
-- card: the current one, and the older ones for a claimed older card).
--
-- WHY THIS AND NOT A COVERING INDEX. Measured on a 1M register (backend CPU from
-- /proc/<pid>/stat around 200,000 IDs; the lookup's own query):
--                                       batch of 1,000   batch of 16   batch of 1
--   LATERAL + array_agg (before)            7.2 us/ID      10.6 us/ID    104 us/ID
--   LATERAL over a covering index
--     id_cards (id_number, issue_date)
--     INCLUDE (expiry_date, status),
--     vacuumed: index-only                  7.0 us/ID      10.8 us/ID    107 us/ID
--   the arrays on citizens (this)           3.9 us/ID       6.2 us/ID     41 us/ID
--   citizens by primary key, no cards       4.2 us/ID       5.4 us/ID     42 us/ID
-- The covering index saves the heap visits of id_cards, but they were not the cost: the
-- per-ID subplan (rescan, sort, three aggregates) and its planning are. With the arrays the
-- lookup costs what a bare primary-key read costs. The price is space: citizens grows by
-- about half (149 -> 225 MB per 1M people), and a card change rewrites its person's row.
--
-- MAINTENANCE. Statement-level triggers on id_cards (transition tables: one set-based UPDATE
-- per statement, whatever its row count: a `verify load` of a million cards rewrites each
-- person once, not once per card) recompute the arrays of the persons a statement touched.
-- That UPDATE of citizens is what bumps the person's version (001's citizens_version) and
-- logs the change with the bumped version and NOTIFY (003's zz_change_log on citizens), so
-- the row-level id_cards_version and zz_change_log triggers of id_cards are dropped: they
-- would bump and log a second time (the log row of id_cards' zz_change_log even carried the
-- version from before the arrays changed). A statement that leaves the arrays as they were
-- (an UPDATE to the same values) writes nothing and logs nothing, as before. former_ids keeps
-- its triggers. TRUNCATE id_cards clears the arrays.
--
-- GRANTS. The serving role reads the new columns through its table-level SELECT on citizens
-- (005), which covers columns added later, and calls none of these functions: nothing to grant.
--
-- BULK LOADS. `verify seed` disables the user triggers of the register tables for its load
-- (015) and writes the arrays in the citizens COPY itself (seed_copy.py), so no trigger and
-- no second pass run. A load that disables triggers itself must fill the arrays the same way
-- or call citizens_sync_cards(ids) before it commits.
--
-- UPGRADE. This migration only adds the empty columns, the functions and the triggers (a
-- moment of ACCESS EXCLUSIVE lock); 014, in a transaction of its own, fills the arrays of the
-- persons already in the register without blocking readers. The servers of the previous
-- release keep reading id_cards meanwhile; the new ones start after `verify migrate` ends
-- (deploy/k8s/migrate-job.yaml runs before the Deployment rolls).

ALTER TABLE citizens
    ADD COLUMN card_issue  date[],
    ADD COLUMN card_expiry date[],   -- NULL element: never expires
    ADD COLUMN card_status text[];

-- The arrays of these persons from id_cards, written only where they differ.
-- The rows are locked first, in a statement of their own: the UPDATE then reads id_cards
-- with a snapshot taken after any concurrent card change of the same person committed
-- (its UPDATE alone would wait for the row, then re-check it with the card list of its
-- first snapshot: the other transaction's card lost, and the row stale until the next
-- change). NO KEY UPDATE leaves the foreign keys' KEY SHARE locks alone (two card inserts
-- for one person do not deadlock); ORDER BY makes two loads over the same persons lock in
-- one order.
CREATE FUNCTION citizens_sync_cards(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    SELECT 1 FROM citizens WHERE id_number IN (SELECT unnest(ids))
    ORDER BY id_number FOR NO KEY UPDATE;
    UPDATE citizens c
    SET card_issue = k.issue, card_expiry = k.expiry, card_status = k.status
    FROM (  -- a join, not `= ANY(ids)`: ids may hold a million numbers after a load
        SELECT p.id_number,
               array_agg(issue_date ORDER BY issue_date) FILTER (WHERE f.id_number IS NOT NULL) AS issue,
               array_agg(expiry_date ORDER BY issue_date) FILTER (WHERE f.id_number IS NOT NULL) AS expiry,
               array_agg(status ORDER BY issue_date) FILTER (WHERE f.id_number IS NOT NULL) AS status
        FROM (SELECT DISTINCT unnest(ids) AS id_number) p
        LEFT JOIN id_cards f ON f.id_number = p.id_number
        GROUP BY p.id_number
    ) k
    WHERE c.id_number = k.id_number
      AND (c.card_issue, c.card_expiry, c.card_status)
          IS DISTINCT FROM (k.issue, k.expiry, k.status)
$$;

-- EXECUTE stays granted to PUBLIC: id_cards' triggers call it with the rights of whoever
-- writes cards (a loader that is not a superuser, too); it can only write what that writer
-- may, and the serving role may not write id_cards or citizens at all.

CREATE OR REPLACE FUNCTION citizens_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM citizens WHERE id_number = OLD.id_number
                   AND xmin = pg_current_xact_id()::xid) THEN
        NEW.version := OLD.version + 1;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE FUNCTION id_cards_sync_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM citizens_sync_cards(ARRAY(SELECT DISTINCT id_number FROM new_cards));
    RETURN NULL;
END $$;
CREATE FUNCTION id_cards_sync_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM citizens_sync_cards(ARRAY(
        SELECT id_number FROM new_cards UNION SELECT id_number FROM old_cards));
    RETURN NULL;
END $$;
CREATE FUNCTION id_cards_sync_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM citizens_sync_cards(ARRAY(SELECT DISTINCT id_number FROM old_cards));
    RETURN NULL;
END $$;
CREATE FUNCTION id_cards_sync_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE citizens SET card_issue = NULL, card_expiry = NULL, card_status = NULL
    WHERE card_issue IS NOT NULL;
    RETURN NULL;
END $$;

DROP TRIGGER id_cards_version ON id_cards;
DROP TRIGGER zz_change_log ON id_cards;

-- (a trigger with transition tables serves one event: three of them)
CREATE TRIGGER id_cards_sync_insert AFTER INSERT ON id_cards
    REFERENCING NEW TABLE AS new_cards
    FOR EACH STATEMENT EXECUTE FUNCTION id_cards_sync_inserted();
CREATE TRIGGER id_cards_sync_update AFTER UPDATE ON id_cards
    REFERENCING OLD TABLE AS old_cards NEW TABLE AS new_cards
    FOR EACH STATEMENT EXECUTE FUNCTION id_cards_sync_updated();
CREATE TRIGGER id_cards_sync_delete AFTER DELETE ON id_cards
    REFERENCING OLD TABLE AS old_cards
    FOR EACH STATEMENT EXECUTE FUNCTION id_cards_sync_deleted();
CREATE TRIGGER id_cards_sync_truncate AFTER TRUNCATE ON id_cards
    FOR EACH STATEMENT EXECUTE FUNCTION id_cards_sync_truncated();
