package keys_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/keys/keystest"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestCheck: sound keys pass; keys sealed under another key-encryption key,
// a private key that does not match its public JWK, and a tenant without
// keys are each reported.
func TestCheck(t *testing.T) {
	ctx := t.Context()
	st := keystest.NewStore()
	clock := keystest.NewClock(t0)
	sealer := keystest.Sealer(t)
	m := newManager(st, sealer, clock)
	if err := m.EnsureKeys(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Rotate(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Check(ctx, "t1")
	if err != nil || rep.Keys != 8 || len(rep.Problems) != 0 {
		t.Fatalf("Check of sound keys: %+v %v; want 8 keys, no problem", rep, err)
	}

	// Another deployment's key-encryption key opens none of them.
	other := newManager(st, keystest.Sealer(t), clock)
	rep, err = other.Check(ctx, "t1")
	if err != nil || len(rep.Problems) != 8 {
		t.Fatalf("Check under another KEK: %+v %v; want 8 problems", rep, err)
	}
	for _, p := range rep.Problems {
		if !strings.Contains(p.Problem, "private key unusable") {
			t.Errorf("problem %+v, want an unusable private key", p)
		}
	}

	// A record whose private key is another key's: generation 3 of RS256
	// with generation 2's sealed key under its own kid cannot decrypt
	// (the seal is bound to the kid), and is reported as such.
	all := st.All()
	i := slices.IndexFunc(all, func(k store.SigningKey) bool { return k.Algorithm == keys.RS256 && k.Generation == 2 })
	forged := all[i]
	forged.ID, forged.Generation, forged.PublicJWK = "forged-kid", 3, []byte(strings.Replace(string(forged.PublicJWK), all[i].ID, "forged-kid", 1))
	if err := st.AddSigningKey(ctx, forged, time.Time{}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(delay + time.Second)
	rep, err = m.Check(ctx, "t1")
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].KeyID != "forged-kid" {
		t.Fatalf("Check with a forged record: %+v %v; want one problem, on forged-kid", rep, err)
	}

	rep, err = m.Check(ctx, "empty")
	if err != nil || rep.Keys != 0 || len(rep.Problems) != len(keys.Algorithms()) {
		t.Fatalf("Check of a tenant without keys: %+v %v; want one problem per algorithm", rep, err)
	}
}
