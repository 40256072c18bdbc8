package store

import (
	"context"
	"time"
)

// AuditCountFilter selects the audit events CountAudit counts and the
// time buckets it counts them in.
type AuditCountFilter struct {
	// TenantIDs limits the count to these tenants; empty means every
	// tenant (as AuditFilter.TenantIDs).
	TenantIDs []string
	// Types are the event types counted, each separately; at least one.
	Types []string
	// Since and Until bound the window: Since <= Time < Until. Both are
	// required.
	Since, Until time.Time
	// Bucket is the width of one bucket, at least a millisecond: bucket i
	// holds the events with Since+i*Bucket <= Time < Since+(i+1)*Bucket.
	Bucket time.Duration
}

// AuditCount is the number of events of one type in one bucket.
type AuditCount struct {
	Type   string
	Bucket int // index from 0, as in AuditCountFilter.Bucket
	Count  int64
}

// AuditStatsStore counts audit events: the admin console's dashboard
// charts (logins, token issuance, failures over the last hour) are drawn
// from these counts, computed by the database (one grouped range scan of
// an index), not by listing every event.
type AuditStatsStore interface {
	// CountAudit returns the non-zero counts of the events matching f,
	// by type and bucket, in no particular order. A bucket or type
	// without events is absent.
	CountAudit(ctx context.Context, f AuditCountFilter) ([]AuditCount, error)
}
