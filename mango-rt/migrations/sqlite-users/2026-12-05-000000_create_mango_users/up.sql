-- [auth] users: users, groups, the scopes granted to each (space-separated), and
-- users' API tokens (only a SHA-256 of each is kept).
CREATE TABLE mango_users (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    email TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    staff BOOLEAN NOT NULL DEFAULT FALSE,
    superuser BOOLEAN NOT NULL DEFAULT FALSE,
    password TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    last_login_ms BIGINT
);
CREATE TABLE mango_groups (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE mango_user_groups (
    user_id BIGINT NOT NULL REFERENCES mango_users (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES mango_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE TABLE mango_tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES mango_users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scopes TEXT,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    last_used_ms BIGINT,
    revoked_ms BIGINT
);
CREATE INDEX mango_tokens_user ON mango_tokens (user_id);
