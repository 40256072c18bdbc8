package sqlstore

import (
	"context"

	"github.com/sesame-idp/sesame/internal/store"
)

// AuditListQuery is ListAudit's query for f (see auditListQuery).
func AuditListQuery(f store.AuditFilter) (string, []any, error) {
	q, args, _, err := auditListQuery(f)
	return q, args, err
}

// AuditPruneQuery is PruneAudit's statement.
const AuditPruneQuery = auditPrune

// QueryPlan returns SQLite's EXPLAIN QUERY PLAN of q, one detail per row.
func QueryPlan(ctx context.Context, s *Store, q string, args ...any) ([]string, error) {
	rows, err := s.r.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}
