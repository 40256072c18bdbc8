-- Pending refresh tokens (sqlite flavour; keep it logically identical to
-- ../postgres/00008_refresh_pending.sql).
--
-- A rotation stores its successor with pending = 1 and the server sets it
-- to 0 once the answer carrying it has been handed to the connection. A
-- used token whose successor is still pending was never answered (the
-- server died or failed after the commit): presenting it again is the
-- client's retry, answered with the same successor, not reuse (see
-- internal/store/refreshdelivery.go). Rows from before this migration are
-- not pending: their answers were given, as far as anyone can tell.

-- +goose Up
ALTER TABLE refresh_tokens ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN pending;
