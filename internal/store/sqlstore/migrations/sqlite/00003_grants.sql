-- Grants, SQLite flavour. Keep it logically identical to
-- ../postgres/00003_grants.sql.
--
-- A grant is the family of tokens issued from one authorization code.
-- Its row makes RevokeGrant race-free: creating a token of the grant
-- reads the row and revoking it UPDATEs the row, in the same transaction
-- as the INSERT or the DELETEs, so a token is either created before the
-- revocation (and deleted by it) or refused after it (store.ErrRevoked).
-- (On SQLite the transactions are serialized by the write lock; on
-- PostgreSQL the read is FOR SHARE.) A missing row counts as revoked.

-- +goose Up
CREATE TABLE grants (
    tenant_id  TEXT    NOT NULL,
    grant_id   TEXT    NOT NULL,
    -- When the grant began (its authorization code's created_at); only
    -- the sweep's grace period uses it.
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0,  -- 0 while the grant is live
    PRIMARY KEY (tenant_id, grant_id)
) STRICT;

-- Every grant that already has a record is live: without a row its
-- refresh tokens could no longer be rotated. Grants revoked before this
-- migration have lost their tokens already.
INSERT INTO grants (tenant_id, grant_id, created_at, revoked_at)
SELECT tenant_id, grant_id, MAX(created_at), 0
FROM (
    SELECT tenant_id, grant_id, created_at FROM auth_codes WHERE grant_id <> ''
    UNION ALL
    SELECT tenant_id, grant_id, created_at FROM refresh_tokens WHERE grant_id <> ''
    UNION ALL
    SELECT tenant_id, grant_id, created_at FROM access_tokens WHERE grant_id <> ''
) AS records
GROUP BY tenant_id, grant_id;

-- +goose Down
DROP TABLE grants;
