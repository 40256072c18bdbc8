package store

import (
	"context"
	"errors"
	"time"
)

// ErrInvalidCursor is ListAudit's answer to an AuditFilter.Cursor that is
// not one it returned (malformed): bad input, for a 400 answer.
var ErrInvalidCursor = errors.New("store: invalid audit cursor")

// AuditEvent is one entry of the audit log: who did what to what, when and
// from where. Events are appended, never changed; they leave the store only
// when older than the configured retention.
type AuditEvent struct {
	// ID orders events that share a time; the store assigns it.
	ID       string
	TenantID string // the tenant the event happened in
	Time     time.Time
	Type     string // one of the audit.Type* constants, e.g. "login.failure"
	// ActorTenantID and ActorID name who acted: a user (an administrator is
	// a user of the system tenant), an application's client id for
	// client_credentials, or "system".
	ActorTenantID string
	ActorID       string
	Target        string // what was acted on, e.g. "user:u_123", "application:portal"
	SourceIP      string
	// Details are small extra facts (the failure reason, the changed
	// fields); never secrets, tokens or passwords.
	Details map[string]string
}

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	// TenantIDs limits the result to these tenants; empty means every
	// tenant (only a system administrator may ask for that).
	TenantIDs []string
	Since     time.Time // Time >= Since
	Until     time.Time // Time < Until
	ActorID   string
	Type      string
	// Cursor continues a previous listing: the Next value it returned.
	Cursor string
	// Limit is the page size; the store caps it at 1000.
	Limit int
}

// AuditStore holds the audit log.
type AuditStore interface {
	// AppendAudit stores events in one transaction.
	AppendAudit(ctx context.Context, events ...AuditEvent) error
	// ListAudit returns the matching events newest first, and the cursor
	// of the next page ("" when there is none). Pages are stable: events
	// appended after the first page do not shift later pages.
	ListAudit(ctx context.Context, f AuditFilter) (events []AuditEvent, next string, err error)
	// PruneAudit deletes at most batch events older than before and
	// returns how many it deleted.
	PruneAudit(ctx context.Context, before time.Time, batch int) (int64, error)
}
