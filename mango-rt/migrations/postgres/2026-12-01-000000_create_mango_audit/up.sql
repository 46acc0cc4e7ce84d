-- mango.audit: one row per call (tool call, resource read, prompt get). No index
-- but the key: rows come in id order, which is time order, and every insert pays
-- for each index.
CREATE TABLE IF NOT EXISTS mango_audit (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    caller TEXT,
    transport TEXT NOT NULL,
    kind TEXT NOT NULL,
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    duration_ms DOUBLE PRECISION NOT NULL
);
