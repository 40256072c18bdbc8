package admin_test

import (
	"net/url"
	"slices"
	"time"

	"github.com/sesame-idp/sesame/internal/admin"
	"github.com/sesame-idp/sesame/internal/store"
)

// statsSeries returns the counts of one type from a GET /stats answer,
// and its total.
func statsSeries(x *env, body map[string]any, typ string) ([]int64, int64) {
	x.t.Helper()
	series, _ := body["series"].([]any)
	for _, s := range series {
		m, _ := s.(map[string]any)
		if m["type"] != typ {
			continue
		}
		raw, _ := m["counts"].([]any)
		counts := make([]int64, len(raw))
		for i, c := range raw {
			f, _ := c.(float64)
			counts[i] = int64(f)
		}
		total, _ := m["total"].(float64)
		return counts, int64(total)
	}
	x.t.Fatalf("no series %q in %v", typ, body)
	return nil, 0
}

// testStats covers GET /stats, the dashboard's counts: buckets, tenant
// scoping for system and tenant administrators, the default window
// around the server's present, and the refusals of bad windows.
func testStats(x *env) {
	as, ok := x.Server.Store().(store.AuditStore)
	if !ok {
		x.t.Skip("the store does not implement store.AuditStore")
	}
	// Three days back: away from testAudit's events and from what the
	// server records while the test runs.
	base := x.Clock.Now().Add(-72 * time.Hour).Truncate(time.Minute)
	var events []store.AuditEvent
	for _, ev := range []struct {
		tenant, typ string
		at          time.Duration
	}{
		{"acme", "login.success", 0}, {"acme", "login.success", 59 * time.Second}, {"acme", "login.failure", 61 * time.Second},
		{"acme", "token.issued", 2 * time.Minute}, {"shop", "login.success", 2 * time.Minute}, {"shop", "login.lockout", 3 * time.Minute},
		{"acme", "mfa.recovery_code_used", 4 * time.Minute}, {"shop", "mfa.enrolled", 5 * time.Minute},
		{"shop", "mfa.recovery_code_used", 5 * time.Minute}, {"acme", "mfa.disabled", 6 * time.Minute},
		{"acme", "admin.user.update", time.Minute},  // not counted
		{"acme", "login.success", 10 * time.Minute}, // at until: outside
	} {
		events = append(events, store.AuditEvent{TenantID: ev.tenant, Type: ev.typ, Time: base.Add(ev.at), ActorID: "u", Target: "user:u"})
	}
	if err := as.AppendAudit(x.t.Context(), events...); err != nil {
		x.t.Fatal(err)
	}
	window := "since=" + url.QueryEscape(base.Format(time.RFC3339)) + "&until=" + url.QueryEscape(base.Add(10*time.Minute).Format(time.RFC3339))
	for _, tc := range []struct {
		name, query, token string
		typ                string
		want               []int64
	}{
		{"all tenants", "&bucket=60", x.root, "login.success", []int64{2, 0, 1, 0, 0, 0, 0, 0, 0, 0}},
		{"failures", "&bucket=60", x.root, "login.failure", []int64{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"lockouts", "&bucket=60", x.root, "login.lockout", []int64{0, 0, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"wide buckets", "&bucket=300", x.root, "login.success", []int64{3, 0}},
		{"partial last bucket", "&bucket=240", x.root, "token.issued", []int64{1, 0, 0}},
		{"one tenant", "&bucket=60&tenant=shop", x.root, "login.success", []int64{0, 0, 1, 0, 0, 0, 0, 0, 0, 0}},
		{"a tenant administrator's tenants", "&bucket=60", x.acmeAdmin, "login.success", []int64{2, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"a tenant administrator's tenant", "&tenant=acme", x.acmeUser, "login.lockout", []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"recovery codes", "&bucket=60", x.root, "mfa.recovery_code_used", []int64{0, 0, 0, 0, 1, 1, 0, 0, 0, 0}},
		{"recovery codes, one tenant", "&bucket=60", x.acmeAdmin, "mfa.recovery_code_used", []int64{0, 0, 0, 0, 1, 0, 0, 0, 0, 0}},
		{"authenticators added", "&bucket=60", x.root, "mfa.enrolled", []int64{0, 0, 0, 0, 0, 1, 0, 0, 0, 0}},
		{"authenticators removed", "&bucket=60", x.root, "mfa.disabled", []int64{0, 0, 0, 0, 0, 0, 1, 0, 0, 0}},
	} {
		r := x.call(call{method: "GET", path: "/stats?" + window + tc.query, token: tc.token})
		if r.Status != 200 {
			x.t.Errorf("stats %s: %d %s", tc.name, r.Status, r.Body)
			continue
		}
		counts, total := statsSeries(x, r.JSON, tc.typ)
		var sum int64
		for _, c := range counts {
			sum += c
		}
		if !slices.Equal(counts, tc.want) || total != sum {
			x.t.Errorf("stats %s, %s: %v total %d, want %v", tc.name, tc.typ, counts, total, tc.want)
		}
	}

	// The default window: the last hour in minutes, ending with the
	// minute that holds the server's present.
	r := x.call(call{method: "GET", path: "/stats", token: x.root})
	since, _ := time.Parse(time.RFC3339, r.Str("since"))
	until, _ := time.Parse(time.RFC3339, r.Str("until"))
	now := x.Clock.Now()
	counts, _ := statsSeries(x, r.JSON, "login.success")
	if r.Status != 200 || r.Num("bucket") != 60 || until.Sub(since) != time.Hour || until.Truncate(time.Minute) != until ||
		now.Before(until.Add(-time.Minute)) || !now.Before(until) || len(counts) != 60 {
		x.t.Errorf("default stats window: %d since %s until %s bucket %d, %d counts; now %s", r.Status, since, until, r.Num("bucket"), len(counts), now)
	}

	x.wantError("another tenant", x.call(call{method: "GET", path: "/stats?tenant=shop", token: x.acmeAdmin}), 404, admin.CodeNotFound, "")
	x.wantError("too many buckets", x.call(call{method: "GET", path: "/stats?bucket=1", token: x.root}), 400, admin.CodeInvalidRequest, "bucket")
	x.wantError("zero bucket", x.call(call{method: "GET", path: "/stats?bucket=0", token: x.root, breaks: true}), 400, admin.CodeInvalidRequest, "bucket")
	x.wantError("until before since", x.call(call{method: "GET", path: "/stats?since=" + url.QueryEscape(base.Format(time.RFC3339)) + "&until=" + url.QueryEscape(base.Add(-time.Minute).Format(time.RFC3339)), token: x.root}), 400, admin.CodeInvalidRequest, "until")
	x.wantError("bad since", x.call(call{method: "GET", path: "/stats?since=an-hour-ago", token: x.root, breaks: true}), 400, admin.CodeInvalidRequest, "since")
}
