package server_test

import (
	"testing"
	"time"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/tenant"
)

// TestApplicationCacheAcrossNodes pins the contract of the per-node
// application cache (internal/server/cache.go) that every SDK, tenant-API
// and OAuth request reads through: a change made elsewhere (another node;
// here, written to the shared database directly, past both nodes' caches)
// is seen by every node within tenant.CacheTTL, never later. Two nodes
// share one PostgreSQL database; the change switches session_auto_refresh
// on for an application whose exchanges did not rotate. (A change made
// through a node's admin API drops that node's entry at once: the console
// test switches auto-refresh on and sees the next exchange rotate.)
func TestApplicationCacheAcrossNodes(t *testing.T) {
	a := st.New(t, "postgres") // skips without PostgreSQL
	b := addSkewedNode(t, a, "B", 0).Env
	const host, client = st.EIAMHost, "acme-portal"
	nodes := []struct {
		name string
		env  *st.Env
	}{{"A", a}, {"B", b}}

	// Each node reads (and caches) the application through an exchange,
	// which does not rotate yet; a rotated token would come back changed.
	tok := a.MustLogin(host, client, "alice")
	for _, n := range nodes {
		if r := n.env.Exchange(host, client, tok); r.Status != 200 || r.Str("session_token") != tok {
			t.Fatalf("exchange on %s before the change: %d %s", n.name, r.Status, r.Body)
		}
	}

	// The change, written past both nodes' caches.
	admin, ok := a.Server.Store().(store.AdminStore)
	if !ok {
		t.Fatal("the server's store is not a store.AdminStore")
	}
	app, err := a.Server.Store().GetApplication(t.Context(), "acme", client)
	if err != nil {
		t.Fatal(err)
	}
	if app.SessionAutoRefresh {
		t.Fatalf("fixture: %s already rotates", client)
	}
	app.SessionAutoRefresh = true
	if err := admin.UpdateApplication(t.Context(), app); err != nil {
		t.Fatal(err)
	}

	// Within the bound each node may serve its cached copy, and does: the
	// cache is in effect, which is what makes it worth having.
	a.Clock.Advance(tenant.CacheTTL - time.Second) // the nodes share this clock
	for _, n := range nodes {
		if r := n.env.Exchange(host, client, tok); r.Status != 200 || r.Str("session_token") != tok {
			t.Fatalf("exchange on %s within %v of the change: %d %s, want the cached setting (no rotation)", n.name, tenant.CacheTTL, r.Status, r.Body)
		}
	}
	// Past the bound every node has the new setting.
	a.Clock.Advance(time.Second)
	for _, n := range nodes {
		r := n.env.Exchange(host, client, tok)
		next := r.Str("session_token")
		if r.Status != 200 || next == "" || next == tok {
			t.Fatalf("exchange on %s %v after the change: %d %s, want a rotated token", n.name, tenant.CacheTTL, r.Status, r.Body)
		}
		tok = next
	}
}
