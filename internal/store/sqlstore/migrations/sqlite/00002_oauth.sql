-- OAuth 2.0 / OpenID Connect records, SQLite flavour. Keep it logically
-- identical to ../postgres/00002_oauth.sql.
--
-- Same conventions as 00001: times are INTEGER Unix milliseconds UTC, 0 for
-- the zero time (used_at = 0 means "not used yet"); string lists are JSON
-- text; hashes are BLOB. The columns added to existing tables carry
-- defaults that give rows written before this migration the zero values.

-- +goose Up
-- Authorization codes are single-use: RedeemAuthCode sets used_at in one
-- conditional UPDATE. A used code is kept until it expires, so that a
-- replay can be told from an unknown code (ErrReused, not ErrNotFound).
CREATE TABLE auth_codes (
    code_hash      BLOB    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    grant_id       TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    nonce          TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER NOT NULL  -- 0 until redeemed
) STRICT;
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
CREATE INDEX auth_codes_grant_id ON auth_codes (tenant_id, grant_id);

-- Refresh tokens: one row per link of a family (grant). Rotation marks the
-- presented row used and inserts its successor in one transaction; used
-- rows stay until they expire, for reuse detection.
CREATE TABLE refresh_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    grant_id   TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL  -- 0 until rotated
) STRICT;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (tenant_id, grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

ALTER TABLE access_tokens ADD COLUMN grant_id TEXT NOT NULL DEFAULT '';   -- '' for client_credentials
ALTER TABLE access_tokens ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
CREATE INDEX access_tokens_grant_id ON access_tokens (tenant_id, grant_id);

ALTER TABLE applications ADD COLUMN access_token_format TEXT NOT NULL DEFAULT '';          -- '' means the default, opaque
ALTER TABLE applications ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]'; -- JSON array

-- +goose Down
ALTER TABLE applications DROP COLUMN post_logout_redirect_uris;
ALTER TABLE applications DROP COLUMN access_token_format;
DROP INDEX access_tokens_grant_id;
ALTER TABLE access_tokens DROP COLUMN auth_time;
ALTER TABLE access_tokens DROP COLUMN session_id;
ALTER TABLE access_tokens DROP COLUMN grant_id;
DROP TABLE refresh_tokens;
DROP TABLE auth_codes;
