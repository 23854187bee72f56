-- A resumable parallel `verify seed` (issue 11): which run is loading, what it deferred, and
-- which chunks are in.
--
-- A large seed loads chunk by chunk over several connections, each chunk committed with its
-- row in seed_chunks, into tables stripped of their primary keys, indexes, foreign keys and
-- row triggers; it rebuilds them at the end. seed_runs keeps what it stripped (the DDL to put
-- back, in `deferred`) and the run's `today`, so a run that dies at 90 % is resumed by running
-- the same command again: the chunks already in are skipped, the rows are the same.
-- At most one run is unfinished at a time. Neither table is read by `verify serve`.

CREATE TABLE seed_runs (
    id                 serial PRIMARY KEY,
    seed               bigint NOT NULL,
    citizens           bigint NOT NULL,
    today              date NOT NULL,
    state              text NOT NULL CHECK (state IN ('loading', 'building', 'done')),
    deferred           jsonb NOT NULL,   -- [{name, table, kind, sql}] dropped for the load
    triggers_disabled  text[] NOT NULL,  -- tables whose user triggers the run disabled
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz
);
CREATE UNIQUE INDEX seed_runs_one_unfinished ON seed_runs ((true)) WHERE state <> 'done';

CREATE TABLE seed_chunks (
    run_id     integer NOT NULL REFERENCES seed_runs ON DELETE CASCADE,
    chunk      integer NOT NULL,
    citizens   integer NOT NULL,
    cards      integer NOT NULL,
    former_ids integer NOT NULL,
    PRIMARY KEY (run_id, chunk)
);
