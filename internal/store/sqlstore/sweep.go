package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// sweeps are the deletions SweepExpired runs, one per table of short-lived
// records. Each deletes at most $2 rows through a LIMITed subquery on the
// primary key (DELETE ... LIMIT is not standard; this form works in both
// databases), so one call holds SQLite's write lock, or PostgreSQL's row
// locks, only briefly however large the backlog.
var sweeps = []struct{ table, query string }{
	{"sessions", `DELETE FROM sessions WHERE id IN
	(SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2)`},
	{"state_tokens", `DELETE FROM state_tokens WHERE token_hash IN
	(SELECT token_hash FROM state_tokens WHERE expires_at <= $1 LIMIT $2)`},
	{"access_tokens", `DELETE FROM access_tokens WHERE token_hash IN
	(SELECT token_hash FROM access_tokens WHERE expires_at <= $1 LIMIT $2)`},
	{"sso_tickets", `DELETE FROM sso_tickets WHERE ticket_hash IN
	(SELECT ticket_hash FROM sso_tickets WHERE expires_at <= $1 LIMIT $2)`},
	{"auth_codes", `DELETE FROM auth_codes WHERE code_hash IN
	(SELECT code_hash FROM auth_codes WHERE expires_at <= $1 LIMIT $2)`},
	{"refresh_tokens", `DELETE FROM refresh_tokens WHERE token_hash IN
	(SELECT token_hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)`},
	{"signature_nonces", `DELETE FROM signature_nonces WHERE (tenant_id, client_id, nonce_hash) IN
	(SELECT tenant_id, client_id, nonce_hash FROM signature_nonces WHERE expires_at <= $1 LIMIT $2)`},
	{"signing_keys", `DELETE FROM signing_keys WHERE id IN
	(SELECT id FROM signing_keys WHERE retain_until <> 0 AND retain_until <= $1 LIMIT $2)`},
}

// SweepExpired deletes up to batch expired rows from each short-lived table,
// then up to batch grants of which nothing is left (sweepGrants), and
// returns the total deleted. Each table is swept in its own statement (not
// one transaction): the sweep is idempotent, and short statements keep the
// write lock free for logins.
func (s *Store) SweepExpired(ctx context.Context, now time.Time, batch int) (int64, error) {
	if batch <= 0 {
		return 0, errors.New("sqlstore: sweep expired: batch must be positive")
	}
	var total int64
	for _, sw := range sweeps {
		res, err := s.w.ExecContext(ctx, sw.query, ms(now), int64(batch))
		if err != nil {
			return total, s.wrap("sweep "+sw.table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.wrap("sweep "+sw.table, err)
		}
		total += n
	}
	n, err := s.sweepGrants(ctx, now, batch)
	total += n
	return total, err
}

// grantSweepGrace is how long a grant's row is kept at least, counted
// from its created_at (its authorization code's CreatedAt). It covers the
// one moment a live grant can have no record: a code redeemed just before
// it expired, and swept, before the exchange has created the grant's
// first token. Codes live minutes (RFC 6749 §4.1.2 recommends at most
// ten), and the exchange takes milliseconds, so an hour is ample, clock
// skew between nodes included.
const grantSweepGrace = time.Hour

// The grants sweep examines the grants in primary-key order, at most
// batch of them per call, resuming after the last one examined by the
// previous call (Store.grantSweep) and starting over at the end of the
// table. It deletes those created more than grantSweepGrace ago of which
// no authorization code, refresh token or access token remains; each
// NOT EXISTS is one probe of the (tenant_id, grant_id) index of its
// table. A plain "LIMIT batch" on the grants that qualify would bound the
// rows deleted but not the rows read: with many live grants (refresh-token
// families last weeks) and few empty ones, every call would read them
// all, holding SQLite's write lock meanwhile. The window (the inner
// LIMIT) bounds both, and tells PostgreSQL's planner that few rows come
// out of it, so that it probes the indexes rather than hashing the
// token tables.
//
// Why deleting is safe: a missing row refuses creations like a revoked
// one, so a deletion never lets a token of a revoked grant be created.
// And it never ends a live grant: every creation in a grant happens
// while another record of it exists (the code being exchanged, the
// refresh token being rotated or its successor), committed before the
// creation began and kept until it expires; the sweep's NOT EXISTS sees
// that record, except for the code-exchange moment the grace covers.
const (
	// sweepGrantsWindowEnd finds the last grant of the window: the
	// batch-th after the cursor. None: the window runs to the end of the
	// table.
	sweepGrantsWindowEnd = `SELECT tenant_id, grant_id FROM grants
WHERE (tenant_id, grant_id) > ($1, $2)
ORDER BY tenant_id, grant_id LIMIT 1 OFFSET $3`
	// sweepGrantsQuery deletes the empty grants of the window: the batch
	// grants after the cursor.
	sweepGrantsQuery = `DELETE FROM grants WHERE (tenant_id, grant_id) IN
	(SELECT g.tenant_id, g.grant_id FROM
		(SELECT tenant_id, grant_id, created_at FROM grants
		WHERE (tenant_id, grant_id) > ($1, $2)
		ORDER BY tenant_id, grant_id LIMIT $4) AS g
	WHERE g.created_at <= $3
	AND NOT EXISTS (SELECT 1 FROM auth_codes c WHERE c.tenant_id = g.tenant_id AND c.grant_id = g.grant_id)
	AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.tenant_id = g.tenant_id AND r.grant_id = g.grant_id)
	AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.tenant_id = g.tenant_id AND a.grant_id = g.grant_id))`
)

// sweepGrants runs one step of the grants sweep (see above) and returns
// how many grants it deleted.
func (s *Store) sweepGrants(ctx context.Context, now time.Time, batch int) (int64, error) {
	const op = "sweep grants"
	s.grantSweep.Lock()
	defer s.grantSweep.Unlock()
	from := s.grantSweep.after
	// The window's end is read first: it is where the next call resumes.
	// (Grants inserted into the window meanwhile push some of its last
	// grants out of the DELETE's window; they are examined on the next
	// round of the table.)
	var to grantKey
	err := s.r.QueryRowContext(ctx, sweepGrantsWindowEnd, from.tenantID, from.grantID, int64(batch-1)).
		Scan(&to.tenantID, &to.grantID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, s.wrap(op, err)
	}
	// to stays zero at the end of the table: the next call starts over.
	n, err := affected(s.w.ExecContext(ctx, sweepGrantsQuery,
		from.tenantID, from.grantID, ms(now.Add(-grantSweepGrace)), int64(batch)))
	if err != nil {
		return 0, s.wrap(op, err)
	}
	s.grantSweep.after = to
	return n, nil
}
