-- mango.audit: one row per call (tool call, resource read, prompt get).
CREATE TABLE mango_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at_ms BIGINT NOT NULL,
    caller TEXT,
    transport TEXT NOT NULL,
    kind TEXT NOT NULL,
    app TEXT NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    duration_ms DOUBLE NOT NULL
);
CREATE INDEX mango_audit_at ON mango_audit (at_ms);
