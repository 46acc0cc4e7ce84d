-- The apps' #[job]s: one row per job enqueued, from queued to completed, failed or
-- cancelled; a worker holds a running one with a lease (a token and an end time) that
-- it renews, and marks it done in the job's own transaction.
CREATE TABLE IF NOT EXISTS mango_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT,
    run_after_ms BIGINT NOT NULL,
    lease TEXT,
    lease_until_ms BIGINT,
    worker TEXT,
    result TEXT,
    error TEXT,
    cancel BOOLEAN NOT NULL DEFAULT FALSE,
    enqueued_by TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX IF NOT EXISTS mango_jobs_due ON mango_jobs (status, run_after_ms);
