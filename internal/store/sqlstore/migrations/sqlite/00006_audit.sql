-- Audit log, SQLite flavour. Keep it logically identical to
-- ../postgres/00006_audit.sql.
--
-- Events are appended in batches by the audit writer and never changed;
-- they leave only through PruneAudit, after the configured retention
-- (audit.retention). Listing is newest first with keyset pagination on
-- (occurred_at, id), so every index ends in those two columns: a page is
-- one ordered range scan whatever the filter.

-- +goose Up
CREATE TABLE audit_events (
    -- Assigned by the database, increasing: it orders events of the same
    -- millisecond. AUTOINCREMENT so that an id is never reused once the
    -- newest rows were pruned (a cursor must never meet a recycled id).
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,  -- Unix milliseconds UTC
    type            TEXT    NOT NULL,
    actor_tenant_id TEXT    NOT NULL DEFAULT '',
    actor_id        TEXT    NOT NULL DEFAULT '',
    target          TEXT    NOT NULL DEFAULT '',
    source_ip       TEXT    NOT NULL DEFAULT '',
    details         TEXT    NOT NULL DEFAULT '{}'  -- JSON object of strings
) STRICT;

-- A tenant's log by time (the common admin query).
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at, id);
-- Every tenant by time (system administrators), and the prune.
CREATE INDEX audit_events_time ON audit_events (occurred_at, id);
-- One actor's actions.
CREATE INDEX audit_events_actor ON audit_events (actor_id, occurred_at, id);
-- One kind of event (failures, lockouts) within a tenant or across all.
CREATE INDEX audit_events_type ON audit_events (type, occurred_at, id);
CREATE INDEX audit_events_tenant_type ON audit_events (tenant_id, type, occurred_at, id);

-- +goose Down
DROP TABLE audit_events;
