package keys

import (
	"context"
	"fmt"
)

// Problem is a fault Check found in a tenant's keys.
type Problem struct {
	KeyID      string `json:"kid,omitempty"` // empty for a problem of a whole algorithm
	Algorithm  string `json:"alg"`
	Generation int    `json:"generation,omitempty"`
	Problem    string `json:"problem"`
}

// CheckReport is the result of Check.
type CheckReport struct {
	TenantID string    `json:"tenant"`
	Keys     int       `json:"keys"`               // published keys examined
	Problems []Problem `json:"problems,omitempty"` // empty when every key is sound
}

// Check reads the tenant's published keys from the store and verifies each
// as a node would use it, without trusting any cache: the public JWK parses
// and names its key and algorithm; the private key decrypts with this
// Manager's key-encryption key and is the private half of that public key;
// generations are unique within each algorithm; and every algorithm has a
// key that signs now. Keys are created and rotated by single transactions,
// so none of this can fail after a crash; Check is how an operator (sesame
// keys check) and the crash tests confirm it, and how a wrong
// key-encryption key or a damaged restore shows before a node signs.
func (m *Manager) Check(ctx context.Context, tenantID string) (CheckReport, error) {
	if tenantID == "" {
		return CheckReport{}, fmt.Errorf("keys: empty tenant id")
	}
	now := m.now()
	recs, err := m.st.ListSigningKeys(ctx, tenantID, now)
	if err != nil {
		return CheckReport{}, fmt.Errorf("keys: load keys of tenant %q: %w", tenantID, err)
	}
	rep := CheckReport{TenantID: tenantID, Keys: len(recs)}
	bad := func(kid, alg string, gen int, format string, args ...any) {
		rep.Problems = append(rep.Problems, Problem{KeyID: kid, Algorithm: alg, Generation: gen, Problem: fmt.Sprintf(format, args...)})
	}
	seen := map[string]map[int]string{} // alg → generation → kid
	signing := map[string]bool{}        // alg → a sound key signs it now
	newest := map[string]int{}          // alg → generation of the key that signs now
	for _, r := range recs {
		if r.TenantID != tenantID || !Supported(r.Algorithm) {
			bad(r.ID, r.Algorithm, r.Generation, "key of tenant %q or an unsupported algorithm", r.TenantID)
			continue
		}
		if seen[r.Algorithm] == nil {
			seen[r.Algorithm] = map[int]string{}
		}
		if other, dup := seen[r.Algorithm][r.Generation]; dup {
			bad(r.ID, r.Algorithm, r.Generation, "generation %d also held by key %s", r.Generation, other)
		}
		seen[r.Algorithm][r.Generation] = r.ID
		jwk, err := parsePublicJWK(r)
		if err != nil {
			bad(r.ID, r.Algorithm, r.Generation, "%v", err)
			continue
		}
		priv, err := openSigningKey(m.sealer, r, jwk.Key)
		if err != nil {
			bad(r.ID, r.Algorithm, r.Generation, "private key unusable: %v", err)
			continue
		}
		if _, err := NewSigner(priv, r.ID, r.Algorithm); err != nil {
			bad(r.ID, r.Algorithm, r.Generation, "%v", err)
			continue
		}
		// The key that signs now is the highest generation already active
		// (snapshot.signing), or the oldest if none is.
		if !r.ActivatesAt.After(now) && r.Generation >= newest[r.Algorithm] {
			newest[r.Algorithm], signing[r.Algorithm] = r.Generation, true
		}
	}
	for _, alg := range Algorithms() {
		if len(seen[alg]) == 0 {
			bad("", alg, 0, "no key")
			continue
		}
		if !signing[alg] {
			// No key active yet by this clock: the oldest signs, as on a
			// node whose clock is behind the one that created it.
			oldest := 0
			for gen := range seen[alg] {
				if oldest == 0 || gen < oldest {
					oldest = gen
				}
			}
			if oldest != 1 {
				bad(seen[alg][oldest], alg, oldest, "no key of the algorithm is active, and the oldest published one is generation %d", oldest)
			}
		}
	}
	return rep, nil
}
