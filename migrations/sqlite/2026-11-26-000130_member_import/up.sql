-- Member and card imports from the stores' legacy systems (CSV/XLSX), run as jobs so a large
-- file reports progress. The row is also the request's idempotency record: one job per
-- (caller, Idempotency-Key), and the same key with another file is refused.
CREATE TABLE mem_import_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    actor_id TEXT,
    file_format TEXT NOT NULL CHECK (file_format IN ('csv', 'xlsx')),
    status TEXT NOT NULL CHECK (status IN ('validating', 'importing', 'done', 'failed')),
    rows_total BIGINT NOT NULL DEFAULT 0,
    rows_processed BIGINT NOT NULL DEFAULT 0,
    -- JSON list of {row, field, code, message}; empty unless the job failed.
    errors TEXT NOT NULL DEFAULT '[]',
    -- JSON summary of what a finished job wrote.
    result TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    UNIQUE (principal, idem_key)
);
CREATE INDEX mem_import_jobs_store ON mem_import_jobs (store_id, created_at);
