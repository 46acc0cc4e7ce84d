-- Tool calls run as tasks (the MCP tasks extension, io.modelcontextprotocol/tasks): one
-- row per task, its state as `tasks/get` tells it, the questions it asks and their
-- answers, and the lease of the process running it.
CREATE TABLE IF NOT EXISTS mango_tasks (
    id TEXT PRIMARY KEY NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    owner TEXT,
    status TEXT NOT NULL,
    status_message TEXT,
    result TEXT,
    error TEXT,
    input_requests TEXT,
    input_responses TEXT,
    cancel BOOLEAN NOT NULL DEFAULT FALSE,
    lease TEXT,
    lease_until_ms BIGINT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS mango_tasks_expires ON mango_tasks (expires_ms);
