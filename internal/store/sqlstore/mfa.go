package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

var _ store.MFAStore = (*Store)(nil)

// CreateMFAChallenge stores an MFA challenge as a state token with its
// attempt counter at zero; a duplicate hash is store.ErrConflict.
func (s *Store) CreateMFAChallenge(ctx context.Context, c store.MFAChallenge) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO state_tokens (token_hash, tenant_id, user_id,
	client_id, device_fingerprint, purpose, created_at, expires_at, attempts, pending_secret)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)`,
		c.TokenHash, c.TenantID, c.UserID, c.ClientID, c.DeviceFingerprint, c.Purpose,
		ms(c.CreatedAt), ms(c.ExpiresAt), nullBytes(c.PendingSecret))
	return s.wrap("create mfa challenge", err)
}

// AttemptMFAChallenge counts an attempt with ONE UPDATE ... RETURNING
// whose WHERE clause holds every condition (tenant, purpose, unexpired,
// attempts left): the database evaluates it on the row as it is when the
// statement locks it, so concurrent attempts on any number of nodes each
// take one of the remaining attempts and never more than maxAttempts are
// granted. Reading the count first would let several readers share the
// last attempt.
func (s *Store) AttemptMFAChallenge(ctx context.Context, tenantID string, tokenHash []byte, purpose string, now time.Time, maxAttempts int) (store.MFAChallenge, error) {
	var (
		c                    store.MFAChallenge
		createdAt, expiresAt int64
		pending              []byte
	)
	err := s.w.QueryRowContext(ctx, `UPDATE state_tokens SET attempts = attempts + 1
WHERE tenant_id = $1 AND token_hash = $2 AND purpose = $3 AND expires_at > $4 AND attempts < $5
RETURNING token_hash, tenant_id, user_id, client_id, device_fingerprint, purpose,
	created_at, expires_at, attempts, pending_secret`,
		tenantID, tokenHash, purpose, ms(now), maxAttempts,
	).Scan(&c.TokenHash, &c.TenantID, &c.UserID, &c.ClientID, &c.DeviceFingerprint, &c.Purpose,
		&createdAt, &expiresAt, &c.Attempts, &pending)
	if err != nil {
		return store.MFAChallenge{}, s.wrap("attempt mfa challenge", err)
	}
	c.CreatedAt, c.ExpiresAt = fromMS(createdAt), fromMS(expiresAt)
	if len(pending) > 0 {
		c.PendingSecret = pending
	}
	return c, nil
}

// GetTOTP returns a user's enrolment with the count of unused recovery
// codes, in one read.
func (s *Store) GetTOTP(ctx context.Context, tenantID, userID string) (store.TOTPEnrollment, error) {
	if !lookupable(tenantID, userID) {
		return store.TOTPEnrollment{}, store.ErrNotFound
	}
	e := store.TOTPEnrollment{TenantID: tenantID, UserID: userID}
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT t.secret, t.last_step, t.created_at,
	(SELECT COUNT(*) FROM recovery_codes r
	 WHERE r.tenant_id = t.tenant_id AND r.user_id = t.user_id AND r.used_at = 0)
FROM user_totp t WHERE t.tenant_id = $1 AND t.user_id = $2`, tenantID, userID,
	).Scan(&e.Secret, &e.LastStep, &created, &e.RecoveryCodesLeft)
	if err != nil {
		return store.TOTPEnrollment{}, s.wrap("get totp", err)
	}
	e.CreatedAt = fromMS(created)
	return e, nil
}

// ConfirmTOTP inserts the enrolment and replaces the recovery codes in one
// transaction. The primary key of user_totp decides between concurrent
// confirmations (two logins enrolling at once, on any nodes): the second
// INSERT is a unique violation, store.ErrConflict, and rolls its
// transaction back, recovery codes included.
func (s *Store) ConfirmTOTP(ctx context.Context, e store.TOTPEnrollment, recoveryHashes [][]byte) error {
	return s.inTx(ctx, "confirm totp", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_totp (tenant_id, user_id, secret, last_step, created_at)
VALUES ($1, $2, $3, $4, $5)`, e.TenantID, e.UserID, e.Secret, e.LastStep, ms(e.CreatedAt))
		if err != nil {
			return s.wrap("confirm totp", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2`, e.TenantID, e.UserID); err != nil {
			return s.wrap("confirm totp", err)
		}
		for _, h := range recoveryHashes {
			_, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (tenant_id, user_id, code_hash, created_at, used_at)
VALUES ($1, $2, $3, $4, 0)`, e.TenantID, e.UserID, h, ms(e.CreatedAt))
			if err != nil {
				return s.wrap("confirm totp", err)
			}
		}
		return nil
	})
}

// UseTOTPStep advances the last accepted step in one conditional UPDATE:
// "last_step < step" in the WHERE clause is evaluated on the locked row,
// so of concurrent uses of one code (same step) exactly one succeeds, on
// any number of nodes. When nothing matched, a read tells a replay
// (store.ErrReused) from a user who is not enrolled (store.ErrNotFound).
func (s *Store) UseTOTPStep(ctx context.Context, tenantID, userID string, step int64) error {
	res, err := s.w.ExecContext(ctx, `UPDATE user_totp SET last_step = $3
WHERE tenant_id = $1 AND user_id = $2 AND last_step < $3`, tenantID, userID, step)
	err = s.one("use totp step", res, err)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var one int
	err = s.w.QueryRowContext(ctx, `SELECT 1 FROM user_totp WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID).Scan(&one)
	if err != nil {
		return s.wrap("use totp step", err)
	}
	return store.ErrReused
}

// UseRecoveryCode marks a code used with one conditional UPDATE ("used_at
// = 0" in the WHERE clause): of concurrent uses exactly one changes the
// row. The count of codes left is read in the same transaction, after
// the user's enrolment row is locked by an UPDATE that changes nothing:
// without it, two uses of different codes at once on PostgreSQL (read
// committed) would each miss the other's uncommitted use and both count
// one code too many. Rows are locked enrolment first, then codes, as in
// DeleteTOTP and ConfirmTOTP, so the lock cannot deadlock with them.
func (s *Store) UseRecoveryCode(ctx context.Context, tenantID, userID string, codeHash []byte, now time.Time) (left int, err error) {
	err = s.inTx(ctx, "use recovery code", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_totp SET last_step = last_step
WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
		if err := s.one("use recovery code", res, err); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $4
WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3 AND used_at = 0`,
			tenantID, userID, codeHash, max(ms(now), 1))
		if err := s.one("use recovery code", res, err); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes
WHERE tenant_id = $1 AND user_id = $2 AND used_at = 0`, tenantID, userID).Scan(&left)
		return s.wrap("use recovery code", err)
	})
	return left, err
}

// DeleteTOTP removes the enrolment and the recovery codes in one
// transaction.
func (s *Store) DeleteTOTP(ctx context.Context, tenantID, userID string) error {
	return s.inTx(ctx, "delete totp", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM user_totp WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
		if err := s.one("delete totp", res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
		return s.wrap("delete totp", err)
	})
}
