-- Retention of bulk jobs (`verify maintenance`, verify/adapters/job_retention.py) finds the
-- jobs finished before the cut-off by this index, oldest first, without reading the rest.
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE state IN ('done', 'failed', 'cancelled');
