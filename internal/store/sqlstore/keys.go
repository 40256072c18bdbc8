package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

const signingKeyColumns = `id, tenant_id, algorithm, generation, private_key, public_jwk,
	created_at, activates_at, retain_until`

func scanSigningKey(sc scanner) (store.SigningKey, error) {
	var (
		k                                   store.SigningKey
		createdAt, activatesAt, retainUntil int64
	)
	err := sc.Scan(&k.ID, &k.TenantID, &k.Algorithm, &k.Generation, &k.PrivateKey, &k.PublicJWK,
		&createdAt, &activatesAt, &retainUntil)
	if err != nil {
		return store.SigningKey{}, err
	}
	k.CreatedAt = fromMS(createdAt)
	k.ActivatesAt = fromMS(activatesAt)
	k.RetainUntil = fromMS(retainUntil)
	return k, nil
}

// AddSigningKey inserts k and retires the older keys of its tenant and
// algorithm in one transaction.
//
// The unique index on (tenant_id, algorithm, generation) decides between
// two nodes rotating at once: the second INSERT violates it, its
// transaction (including its UPDATE of the older keys) rolls back, and it
// gets store.ErrConflict.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey, retainOthersUntil time.Time) error {
	return s.inTx(ctx, "add signing key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retain_until = $4
WHERE tenant_id = $1 AND algorithm = $2 AND generation < $3 AND retain_until = 0`,
			k.TenantID, k.Algorithm, k.Generation, ms(retainOthersUntil))
		if err != nil {
			return s.wrap("add signing key", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			k.ID, k.TenantID, k.Algorithm, k.Generation, k.PrivateKey, k.PublicJWK,
			ms(k.CreatedAt), ms(k.ActivatesAt), ms(k.RetainUntil))
		return s.wrap("add signing key", err)
	})
}

// ListSigningKeys returns the keys still to be published: RetainUntil zero
// or after now, ordered by tenant, algorithm and generation.
func (s *Store) ListSigningKeys(ctx context.Context, tenantID string, now time.Time) ([]store.SigningKey, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if tenantID == "" {
		rows, err = s.r.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys
WHERE retain_until = 0 OR retain_until > $1
ORDER BY tenant_id, algorithm, generation`, ms(now))
	} else {
		rows, err = s.r.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys
WHERE tenant_id = $1 AND (retain_until = 0 OR retain_until > $2)
ORDER BY tenant_id, algorithm, generation`, tenantID, ms(now))
	}
	out, err := collect(rows, err, scanSigningKey)
	if err != nil {
		return nil, s.wrap("list signing keys", err)
	}
	return out, nil
}
