-- Initial schema, SQLite flavour. Keep it logically identical to
-- ../postgres/00001_init.sql: same tables, columns, keys and indexes.
--
-- Conventions: times are INTEGER Unix milliseconds UTC, 0 for the zero
-- time; durations are INTEGER milliseconds; booleans are INTEGER 0/1;
-- string lists are JSON text; hashes are BLOB. STRICT makes SQLite reject
-- a value of the wrong type instead of silently storing it.

-- +goose Up
CREATE TABLE tenants (
    id                      TEXT    NOT NULL PRIMARY KEY,
    name                    TEXT    NOT NULL,
    edition                 TEXT    NOT NULL,
    default_language        TEXT    NOT NULL,
    domains                 TEXT    NOT NULL, -- JSON array, lower case
    lockout_threshold       INTEGER NOT NULL,
    lockout_window_ms       INTEGER NOT NULL,
    lockout_duration_ms     INTEGER NOT NULL,
    password_max_age_ms     INTEGER NOT NULL,
    password_warn_before_ms INTEGER NOT NULL,
    password_min_length     INTEGER NOT NULL,
    password_max_length     INTEGER NOT NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;

-- tenant_domains is the lookup index of TenantByDomain; its primary key is
-- what makes a domain belong to at most one tenant.
CREATE TABLE tenant_domains (
    domain    TEXT NOT NULL PRIMARY KEY, -- lower case
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX tenant_domains_tenant_id ON tenant_domains (tenant_id);

CREATE TABLE applications (
    tenant_id                  TEXT    NOT NULL,
    client_id                  TEXT    NOT NULL,
    name                       TEXT    NOT NULL,
    secret_hash                BLOB,             -- NULL for a public client
    redirect_uris              TEXT    NOT NULL, -- JSON array
    grant_types                TEXT    NOT NULL, -- JSON array
    session_ttl_ms             INTEGER NOT NULL,
    session_auto_refresh       INTEGER NOT NULL,
    rotation_grace_ms          INTEGER NOT NULL,
    device_binding             INTEGER NOT NULL,
    id_token_ttl_ms            INTEGER NOT NULL,
    id_token_alg               TEXT    NOT NULL,
    access_token_ttl_ms        INTEGER NOT NULL,
    tenant_access_token_ttl_ms INTEGER NOT NULL,
    refresh_token_ttl_ms       INTEGER NOT NULL,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
) STRICT;

CREATE TABLE users (
    tenant_id           TEXT    NOT NULL,
    id                  TEXT    NOT NULL,
    username            TEXT    NOT NULL,
    username_key        TEXT    NOT NULL, -- lower-cased username
    name                TEXT    NOT NULL,
    email               TEXT    NOT NULL,
    email_key           TEXT    NOT NULL, -- lower-cased email
    mobile              TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    password_hash       TEXT    NOT NULL,
    password_changed_at INTEGER NOT NULL,
    failed_logins       INTEGER NOT NULL,
    failed_window_start INTEGER NOT NULL,
    locked_until        INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX users_username_key ON users (tenant_id, username_key);
CREATE INDEX users_email_key ON users (tenant_id, email_key);
CREATE INDEX users_mobile ON users (tenant_id, mobile);

CREATE TABLE sessions (
    id                 TEXT    NOT NULL PRIMARY KEY,
    tenant_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL,
    client_id          TEXT    NOT NULL,
    token_hash         BLOB    NOT NULL,
    prev_token_hash    BLOB,             -- NULL until the first rotation
    rotated_at         INTEGER NOT NULL,
    device_fingerprint TEXT    NOT NULL,
    device_os_version  TEXT    NOT NULL,
    device_agent       TEXT    NOT NULL,
    device_ip          TEXT    NOT NULL,
    auth_time          INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_prev_token_hash ON sessions (prev_token_hash);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE state_tokens (
    token_hash         BLOB    NOT NULL PRIMARY KEY,
    tenant_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL,
    client_id          TEXT    NOT NULL,
    device_fingerprint TEXT    NOT NULL,
    purpose            TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX state_tokens_expires_at ON state_tokens (expires_at);

CREATE TABLE access_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE sso_tickets (
    ticket_hash BLOB    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sso_tickets_expires_at ON sso_tickets (expires_at);

CREATE TABLE signing_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    algorithm    TEXT    NOT NULL,
    generation   INTEGER NOT NULL,
    private_key  BLOB    NOT NULL, -- sealed
    public_jwk   BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retain_until INTEGER NOT NULL
) STRICT;
-- The unique generation is how two nodes rotating at once are told apart.
CREATE UNIQUE INDEX signing_keys_generation ON signing_keys (tenant_id, algorithm, generation);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE sso_tickets;
DROP TABLE access_tokens;
DROP TABLE state_tokens;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE applications;
DROP TABLE tenant_domains;
DROP TABLE tenants;
