package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.AuditStore = (*Store)(nil)

// Audit listing page sizes: AuditFilter.Limit 0 (or less) takes the
// default; anything above the maximum is capped (store.AuditFilter).
const (
	defaultAuditPage = 100
	maxAuditPage     = 1000
	// maxAuditTenants bounds AuditFilter.TenantIDs: each is a bind
	// parameter (PostgreSQL allows 65535 per statement, SQLite 32766),
	// and no administrator reads more tenants than this at once.
	maxAuditTenants = 1000
)

// auditColumns are the columns of audit_events in the order every query
// and scan use.
const auditColumns = `id, tenant_id, occurred_at, type, actor_tenant_id, actor_id, target, source_ip, details`

// auditInsertChunks are the row counts of the multi-row INSERTs that
// AppendAudit splits a batch into: whole chunks of the largest, then the
// binary decomposition of the rest. A batch therefore costs one statement
// per 16 events plus at most four, out of five distinct SQL texts (which
// keeps the prepared-statement caches small), instead of one round trip
// per event. Why not larger: modernc.org/sqlite finds each $N parameter
// by a linear search when it binds, so a statement's bind cost grows with
// the square of its parameters; with 64 rows (512 parameters) binding
// took more time than inserting (BenchmarkAppendAudit).
var auditInsertChunks = []int{16, 8, 4, 2, 1}

// auditInserts holds the INSERT text for each chunk size.
var auditInserts = func() map[int]string {
	m := make(map[int]string, len(auditInsertChunks))
	for _, n := range auditInsertChunks {
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_events (tenant_id, occurred_at, type, actor_tenant_id, actor_id, target, source_ip, details) VALUES `)
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			p := i * 8
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8)
		}
		m[n] = b.String()
	}
	return m
}()

// AppendAudit stores events in one transaction: all or none. The store
// assigns the ids; the events' ID fields are ignored. An event without a
// type or time, or with text a database cannot hold (invalid UTF-8, NUL),
// refuses the whole batch, the same on both databases (the audit writer
// cleans events before they get here).
func (s *Store) AppendAudit(ctx context.Context, events ...store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]any, 0, 8*len(events))
	for i, e := range events {
		if e.Type == "" || ms(e.Time) == 0 {
			return fmt.Errorf("sqlstore: append audit: event %d has no type or no time", i)
		}
		if !lookupable(e.TenantID, e.Type, e.ActorTenantID, e.ActorID, e.Target, e.SourceIP) {
			return fmt.Errorf("sqlstore: append audit: event %d holds text that is not valid UTF-8 or has NUL", i)
		}
		details := "{}"
		if len(e.Details) > 0 {
			for k, v := range e.Details {
				if !lookupable(k, v) {
					return fmt.Errorf("sqlstore: append audit: event %d holds details that are not valid UTF-8 or have NUL", i)
				}
			}
			b, err := json.Marshal(e.Details)
			if err != nil {
				return fmt.Errorf("sqlstore: append audit: %w", err)
			}
			details = string(b)
		}
		rows = append(rows, e.TenantID, ms(e.Time), e.Type, e.ActorTenantID, e.ActorID, e.Target, e.SourceIP, details)
	}
	// The chunk sizes, in order.
	var chunks []int
	for left := len(events); left > 0; {
		n := left
		for _, c := range auditInsertChunks {
			if c <= left {
				n = c
				break
			}
		}
		chunks = append(chunks, n)
		left -= n
	}
	// On SQLite the statements are prepared once and reused: parsing a
	// 512-parameter INSERT costs modernc more than executing it. They are
	// prepared before the transaction, which holds the only write
	// connection that preparing would need.
	stmts := map[int]*sql.Stmt{}
	if s.w.prepare {
		for _, n := range chunks {
			if stmts[n] == nil {
				st, err := s.w.stmt(ctx, auditInserts[n])
				if err != nil {
					return s.wrap("append audit", err)
				}
				stmts[n] = st
			}
		}
	}
	return s.inTx(ctx, "append audit", func(tx *sql.Tx) error {
		for _, n := range chunks {
			var err error
			if st := stmts[n]; st != nil {
				_, err = tx.StmtContext(ctx, st).ExecContext(ctx, rows[:8*n]...)
			} else {
				_, err = tx.ExecContext(ctx, auditInserts[n], rows[:8*n]...)
			}
			if err != nil {
				return s.wrap("append audit", err)
			}
			rows = rows[8*n:]
		}
		return nil
	})
}

// ListAudit returns the events matching f, newest first, one page at a
// time.
//
// Pagination is by keyset on (occurred_at, id), both descending: the
// cursor is the position of the last event of the page, and the next page
// continues strictly after it. Unlike an OFFSET, the position does not
// move when events are appended (events arrive in batches, some dated
// before events already listed): every event that existed when the first
// page was read appears exactly once in the listing. An event appended
// later may appear on a later page if its time falls into the part not
// yet read.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, string, error) {
	q, args, limit, err := auditListQuery(f)
	if err != nil || q == "" {
		return nil, "", err
	}
	// Not through the prepared-statement cache: the text varies with the
	// filter and the number of tenants, and listing is an administrator's
	// query, not a hot path.
	rows, err := s.r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", s.wrap("list audit", err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	var lastAt, lastID int64
	for rows.Next() {
		if len(out) == limit {
			// The extra row: there is a next page, after the last one kept.
			return out, encodeAuditCursor(lastAt, lastID), s.wrap("list audit", rows.Close())
		}
		var e store.AuditEvent
		var id, at int64
		var details string
		if err := rows.Scan(&id, &e.TenantID, &at, &e.Type, &e.ActorTenantID, &e.ActorID, &e.Target, &e.SourceIP, &details); err != nil {
			return nil, "", s.wrap("list audit", err)
		}
		e.ID, e.Time = strconv.FormatInt(id, 10), fromMS(at)
		if details != "" && details != "{}" {
			if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
				return nil, "", fmt.Errorf("sqlstore: list audit: details of event %d: %w", id, err)
			}
		}
		out = append(out, e)
		lastAt, lastID = at, id
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap("list audit", err)
	}
	return out, "", nil
}

// auditListQuery builds ListAudit's query for f: the SQL, its arguments
// and the page size. An empty query means that nothing can match.
func auditListQuery(f store.AuditFilter) (q string, args []any, limit int, err error) {
	limit = f.Limit
	if limit <= 0 {
		limit = defaultAuditPage
	}
	limit = min(limit, maxAuditPage)
	if len(f.TenantIDs) > maxAuditTenants {
		return "", nil, 0, fmt.Errorf("sqlstore: list audit: at most %d tenants at once", maxAuditTenants)
	}
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.TenantIDs) > 0 {
		// Tenant ids a database could not have stored match nothing; they
		// are dropped, but an empty remainder must never widen the
		// listing to every tenant.
		var ph []string
		for _, id := range f.TenantIDs {
			if lookupable(id) {
				ph = append(ph, arg(id))
			}
		}
		switch len(ph) {
		case 0:
			return "", nil, 0, nil
		case 1:
			where = append(where, "tenant_id = "+ph[0])
		default:
			where = append(where, "tenant_id IN ("+strings.Join(ph, ", ")+")")
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "occurred_at >= "+arg(f.Since.UnixMilli()))
	}
	if !f.Until.IsZero() {
		where = append(where, "occurred_at < "+arg(f.Until.UnixMilli()))
	}
	if !lookupable(f.ActorID, f.Type) {
		return "", nil, 0, nil
	}
	if f.ActorID != "" {
		where = append(where, "actor_id = "+arg(f.ActorID))
	}
	if f.Type != "" {
		where = append(where, "type = "+arg(f.Type))
	}
	if f.Cursor != "" {
		at, id, err := decodeAuditCursor(f.Cursor)
		if err != nil {
			return "", nil, 0, err
		}
		// A row comparison: both databases use it as a range on the
		// (..., occurred_at, id) indexes.
		where = append(where, "(occurred_at, id) < ("+arg(at)+", "+arg(id)+")")
	}
	q = `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// One row more than the page tells whether another page follows.
	q += " ORDER BY occurred_at DESC, id DESC LIMIT " + arg(limit+1)
	return q, args, limit, nil
}

// PruneAudit deletes at most batch events older than before, through a
// LIMITed subquery (as SweepExpired: DELETE ... LIMIT is not portable), so
// that one call holds SQLite's write lock only briefly however large the
// backlog.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		return 0, errors.New("sqlstore: prune audit: batch must be positive")
	}
	res, err := s.w.ExecContext(ctx, auditPrune, ms(before), int64(batch))
	if err != nil {
		return 0, s.wrap("prune audit", err)
	}
	n, err := res.RowsAffected()
	return n, s.wrap("prune audit", err)
}

// auditPrune deletes up to $2 events older than $1, oldest-indexed first
// through audit_events_time.
const auditPrune = `DELETE FROM audit_events WHERE id IN
	(SELECT id FROM audit_events WHERE occurred_at < $1 LIMIT $2)`

// auditCursorPrefix versions the cursor format.
const auditCursorPrefix = "a1."

// encodeAuditCursor makes the opaque cursor of a position: the time and id
// of the last event of a page. Opaque (base64) so that clients pass it
// back unchanged rather than build one; it carries no secret, and the
// filter is applied again on every page, so a forged cursor can only move
// the position, never widen what is visible.
func encodeAuditCursor(at, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatInt(at, 10) + "." + strconv.FormatInt(id, 10)))
}

// decodeAuditCursor is the inverse of encodeAuditCursor; anything else is
// store.ErrInvalidCursor.
func decodeAuditCursor(c string) (at, id int64, err error) {
	if len(c) > 64 {
		return 0, 0, store.ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, store.ErrInvalidCursor
	}
	rest, ok := strings.CutPrefix(string(b), auditCursorPrefix)
	if !ok {
		return 0, 0, store.ErrInvalidCursor
	}
	a, i, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, store.ErrInvalidCursor
	}
	at, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(i, 10, 64)
	if err1 != nil || err2 != nil || at < 0 || id < 0 {
		return 0, 0, store.ErrInvalidCursor
	}
	return at, id, nil
}
