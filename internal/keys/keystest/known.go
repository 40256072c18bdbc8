package keystest

import (
	"crypto"
	"crypto/x509"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/store"
)

// Key is a signing key whose private half the test holds.
type Key struct {
	ID      string // the kid
	Alg     string
	Private crypto.Signer
}

// KnownKeys generates one current key (generation 1, active since now) of
// every algorithm of keys.Algorithms for tenantID, stores them in st sealed
// by sealer, the way a Manager stores the keys it creates, and returns them
// by algorithm. A Manager on st and sealer then signs and verifies with
// exactly these keys, and the test can also sign what the Manager never
// would — tokens with headers of its choosing, as an attacker holding a
// leaked key could — to check what verification accepts.
func KnownKeys(t testing.TB, st *Store, sealer *keys.Sealer, tenantID string, now time.Time) map[string]Key {
	t.Helper()
	out := map[string]Key{}
	for _, alg := range keys.Algorithms() {
		priv, err := keys.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		kid := keys.NewKeyID()
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sealer.Seal(tenantID, kid, alg, der)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := keys.PublicJWK(priv, kid, alg)
		if err != nil {
			t.Fatal(err)
		}
		err = st.AddSigningKey(t.Context(), store.SigningKey{
			ID: kid, TenantID: tenantID, Algorithm: alg, Generation: 1,
			PrivateKey: sealed, PublicJWK: pub, CreatedAt: now, ActivatesAt: now,
		}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		out[alg] = Key{ID: kid, Alg: alg, Private: priv}
	}
	return out
}
