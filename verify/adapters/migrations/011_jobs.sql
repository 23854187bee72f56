-- Bulk jobs (POST /v1/jobs): the input, the results and the progress live here, so a
-- job survives any process being killed. A job's input is stored in chunks of
-- VERIFY_JOB_CHUNK_LINES lines, in the same transaction as the job row: a job exists
-- only once all of its input is durable. A chunk is done when its results row exists;
-- that row, the chunk's audit rows and the job's counters commit in one transaction.
-- The input (personal data in clear) is deleted when the job is done or cancelled.

CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    agency_id       integer NOT NULL REFERENCES agencies,
    key_id          text,
    purpose         text NOT NULL,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    format          text NOT NULL CHECK (format IN ('ndjson', 'csv')),
    idempotency_key text,
    lines_total     integer NOT NULL DEFAULT 0,
    chunks_total    integer NOT NULL DEFAULT 0,
    lines_done      integer NOT NULL DEFAULT 0,
    chunks_done     integer NOT NULL DEFAULT 0,
    n_match         integer NOT NULL DEFAULT 0,
    n_no_match      integer NOT NULL DEFAULT 0,
    n_not_found     integer NOT NULL DEFAULT 0,
    n_invalid       integer NOT NULL DEFAULT 0,   -- lines answered with a problem object
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    progressed_at   timestamptz,                  -- last chunk committed (the sweeper's clock)
    error           text,
    UNIQUE (agency_id, idempotency_key)
);
CREATE INDEX jobs_active ON jobs (created_at) WHERE state IN ('queued', 'running');

-- lines: the chunk's records, one per line (NDJSON claims; a CSV row is stored as
-- its claim in JSON; a line starting with '!' is a problem code found at upload).
-- line_numbers: each record's line in the uploaded file.
CREATE TABLE job_chunks (
    job_id       uuid NOT NULL REFERENCES jobs ON DELETE CASCADE,
    chunk_no     integer NOT NULL,
    line_numbers integer[] NOT NULL,
    lines        bytea NOT NULL,
    PRIMARY KEY (job_id, chunk_no)
);

-- results: the chunk's answers as NDJSON, one per record, in input order, each with "line".
CREATE TABLE job_results (
    job_id   uuid NOT NULL REFERENCES jobs ON DELETE CASCADE,
    chunk_no integer NOT NULL,
    n_lines  integer NOT NULL,
    results  bytea NOT NULL,
    PRIMARY KEY (job_id, chunk_no)
);

-- lz4 where the server has it: cheaper than pglz for chunks of ~100 kB (TOAST compresses
-- either way).
DO $$
BEGIN
    ALTER TABLE job_chunks ALTER COLUMN lines SET COMPRESSION lz4;
    ALTER TABLE job_results ALTER COLUMN results SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'verify_app') THEN
        GRANT SELECT, INSERT, UPDATE ON jobs TO verify_app;
        -- UPDATE: FOR UPDATE (the chunk claim) needs it; DELETE: the input is dropped when done
        GRANT SELECT, INSERT, UPDATE, DELETE ON job_chunks TO verify_app;
        GRANT SELECT, INSERT ON job_results TO verify_app;
    END IF;
END $$;
