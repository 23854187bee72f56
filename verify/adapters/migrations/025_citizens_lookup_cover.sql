-- The uncached lookup (RECORDS_SQL, verify/adapters/pg.py) as an index-only scan (issue 10):
-- a covering index of every column the verify reads, so `= ANY($1::bigint[])` reads one
-- index leaf per ID and never the citizens heap (whose rows also carry the residence).
--
-- WHY. Measured on a 1M register, vacuumed (Postgres backend CPU from /proc/<pid>/stat
-- around 40 batches of 1,000 random IDs, best of 4 interleaved rounds, a busy machine):
--                                        1,000 IDs of 40k    1,000 IDs of all 1M
--   primary key + heap (bitmap scan)          9.0 us/ID          9.0 us/ID
--   this index, index-only                    5.0 us/ID          5.3 us/ID
-- Per ID, the bitmap scan reads the key's leaf and then a heap page (982 heap pages of 1,000
-- IDs); the index-only scan one leaf (Buffers: 2,928 against 3,484 per batch). The price is
-- space, about two thirds of citizens again (148 MB next to 225 MB per 1M people), and a
-- card change (013's triggers rewrite the citizen row) now also writes an entry here: a
-- change of an INCLUDE column is never a HOT update.
--
-- VISIBILITY. An index-only scan reads the heap for a page not marked all-visible, so the
-- answers are always the row's; only the saving waits for VACUUM. Autovacuum marks the
-- pages after a load (inserts count towards it), and the bench vacuums after its seed
-- (loadtest/bench/stack.py). `verify seed` drops and rebuilds this index with the others
-- of citizens (015, seed_schema.py reads them from the catalog).
--
-- CORRECTNESS. Postgres keeps the index in step with every row change, triggers included
-- (013's arrays are columns of citizens): there is nothing to maintain by hand. The
-- primary key stays (uniqueness, former_ids' foreign key).
--
-- SIZE. A B-tree entry holds at most 2,704 bytes: `verify load` refuses a full_name over 200
-- characters (a claim's limit too), which leaves room for about 200 cards per person. A row
-- loaded before with a longer name makes this build fail ("index row size ... exceeds btree
-- version 4 maximum 2704"): correct it (SELECT id_number FROM citizens WHERE
-- char_length(full_name) > 200) and migrate again.
--
-- UPGRADE. CREATE INDEX takes a SHARE lock: citizens stays readable during the build,
-- register writes wait for it (seconds per million rows). On a live register too large for
-- that, create it first by hand with CREATE INDEX CONCURRENTLY under this name; IF NOT
-- EXISTS then makes this migration a no-op.

CREATE INDEX IF NOT EXISTS citizens_lookup_cover ON citizens (id_number)
    INCLUDE (full_name, birth_date, birth_year_only, gender, deceased, version,
             card_issue, card_expiry, card_status);
