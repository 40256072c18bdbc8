package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.AuditStatsStore = (*Store)(nil)

// Bounds of CountAudit's filter: they keep the statement's text and its
// answer small whatever a caller asks.
const (
	maxCountTypes   = 32
	maxCountBuckets = 10_000
)

// CountAudit counts the events of each type per time bucket with one
// grouped query. With a type (and tenant) filter it is a range scan of
// audit_events_type or audit_events_tenant_type per type, both ordered by
// occurred_at, so the cost follows the number of events in the window,
// read from the index only, never the size of the table.
func (s *Store) CountAudit(ctx context.Context, f store.AuditCountFilter) ([]store.AuditCount, error) {
	q, args, err := auditCountQuery(f)
	if err != nil || q == "" {
		return nil, err
	}
	rows, err := s.r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("count audit", err)
	}
	defer rows.Close()
	var out []store.AuditCount
	for rows.Next() {
		var c store.AuditCount
		var bucket int64
		if err := rows.Scan(&c.Type, &bucket, &c.Count); err != nil {
			return nil, s.wrap("count audit", err)
		}
		c.Bucket = int(bucket)
		out = append(out, c)
	}
	return out, s.wrap("count audit", rows.Err())
}

// auditCountQuery builds CountAudit's query; an empty query means that
// nothing can match.
func auditCountQuery(f store.AuditCountFilter) (string, []any, error) {
	bucket := f.Bucket.Milliseconds()
	switch {
	case len(f.Types) == 0 || len(f.Types) > maxCountTypes:
		return "", nil, fmt.Errorf("sqlstore: count audit: 1 to %d types", maxCountTypes)
	case f.Since.IsZero() || f.Until.IsZero() || !f.Until.After(f.Since):
		return "", nil, errors.New("sqlstore: count audit: since and until are required, until after since")
	case bucket < 1:
		return "", nil, errors.New("sqlstore: count audit: buckets of at least a millisecond")
	case (ms(f.Until)-ms(f.Since)+bucket-1)/bucket > maxCountBuckets:
		return "", nil, fmt.Errorf("sqlstore: count audit: at most %d buckets", maxCountBuckets)
	case len(f.TenantIDs) > maxAuditTenants:
		return "", nil, fmt.Errorf("sqlstore: count audit: at most %d tenants at once", maxAuditTenants)
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	since, width := arg(ms(f.Since)), arg(bucket)
	where := []string{"occurred_at >= " + since, "occurred_at < " + arg(ms(f.Until))}
	// Values a database could not have stored match nothing; an empty
	// remainder must never widen the count (to every type or tenant).
	in := func(col string, vals []string) bool {
		var ph []string
		for _, v := range vals {
			if lookupable(v) {
				ph = append(ph, arg(v))
			}
		}
		if len(ph) == 0 {
			return false
		}
		where = append(where, col+" IN ("+strings.Join(ph, ", ")+")")
		return true
	}
	if !in("type", f.Types) {
		return "", nil, nil
	}
	if len(f.TenantIDs) > 0 && !in("tenant_id", f.TenantIDs) {
		return "", nil, nil
	}
	// Integer division on both databases (BIGINT in PostgreSQL, INTEGER
	// in SQLite); occurred_at >= since keeps the dividend non-negative.
	// GROUP BY ordinals: PostgreSQL would not match the expression with
	// its parameters repeated.
	q := `SELECT type, (occurred_at - ` + since + `) / ` + width + `, COUNT(*) FROM audit_events WHERE ` +
		strings.Join(where, " AND ") + ` GROUP BY 1, 2`
	return q, args, nil
}
