package keys_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/keys"
	"github.com/sesame-idp/sesame/internal/keys/keystest"
)

// TestRetentionCoversClockSkew: two nodes on one store, the second's clock
// skew ahead of the first's. The first (behind) rotates and keeps signing
// with the old key until its own clock reaches the activation; a token it
// signs then, valid for the whole retention, must still verify against
// the JWKS of the node ahead until the token expires: Options.ClockSkew is
// added to the retention.
func TestRetentionCoversClockSkew(t *testing.T) {
	const skew = 10 * time.Second
	ctx := t.Context()
	st := keystest.NewStore()
	sealer := keystest.Sealer(t)
	slow := keystest.NewClock(t0)
	fast := keystest.NewClock(t0.Add(skew))
	node := func(c *keystest.Clock) *keys.Manager {
		return keys.NewManager(st, sealer, keys.Options{
			Now: c.Now, RotationDelay: delay, RefreshInterval: refresh, ClockSkew: skew,
			Retention: func(string) time.Duration { return retention },
		})
	}
	behind, ahead := node(slow), node(fast)
	_, oldKid, err := behind.Signer(ctx, "t1", keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if err := behind.Rotate(ctx, "t1", keys.ES256); err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) { slow.Advance(d); fast.Advance(d) }

	// One second before the activation by its own clock, the node behind
	// still signs with the old key; the node ahead already uses the new.
	advance(delay - time.Second)
	if _, kid, _ := behind.Signer(ctx, "t1", keys.ES256); kid != oldKid {
		t.Fatalf("the node behind signs with %s just before the activation, want the old key %s", kid, oldKid)
	}
	if _, kid, _ := ahead.Signer(ctx, "t1", keys.ES256); kid == oldKid {
		t.Fatal("the node ahead still signs with the old key after the activation by its clock")
	}
	// That token lives the retention (the longest token lifetime). Just
	// before it expires, the node ahead must still publish its key.
	advance(retention - time.Second)
	if set := jwks(t, ahead, "t1"); !slices.Contains(kids(set), oldKid) {
		t.Fatalf("the node ahead no longer publishes %s while a token it signed is valid: %v", oldKid, kids(set))
	}
	// Once every such token has expired on every clock, it is gone.
	advance(skew + 2*time.Second)
	if set := jwks(t, ahead, "t1"); slices.Contains(kids(set), oldKid) {
		t.Fatalf("the node ahead still publishes %s after its retention", oldKid)
	}
}
