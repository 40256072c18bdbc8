package sqlstore

import (
	"context"
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
	{"signing_keys", `DELETE FROM signing_keys WHERE id IN
	(SELECT id FROM signing_keys WHERE retain_until <> 0 AND retain_until <= $1 LIMIT $2)`},
}

// SweepExpired deletes up to batch expired rows from each short-lived table
// and returns the total deleted. Each table is swept in its own statement
// (not one transaction): the sweep is idempotent, and short statements keep
// the write lock free for logins.
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
	return total, nil
}
