package storetest

import (
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sesame-idp/sesame/internal/store"
)

// auditStats is what the audit statistics subtests need.
type auditStats interface {
	auditLog
	store.AuditStatsStore
}

// stats adapts an audit statistics subtest to Run's signature; a store
// that does not implement store.AuditStatsStore skips it.
func stats(f func(t *testing.T, s auditStats)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		a, ok := s.(auditStats)
		if !ok {
			t.Skipf("%T does not implement store.AuditStatsStore", s)
		}
		f(t, a)
	}
}

// countAudit returns CountAudit's answer sorted by type and bucket.
func countAudit(t *testing.T, s auditStats, f store.AuditCountFilter) []store.AuditCount {
	t.Helper()
	got, err := s.CountAudit(t.Context(), f)
	must(t, "CountAudit", err)
	sort.Slice(got, func(i, j int) bool {
		if got[i].Type != got[j].Type {
			return got[i].Type < got[j].Type
		}
		return got[i].Bucket < got[j].Bucket
	})
	return got
}

// testAuditCount checks the buckets' edges (since inclusive, until
// exclusive, each bucket half-open), the type and tenant filters, and
// that an empty or unstorable filter value never widens the count.
func testAuditCount(t *testing.T, s auditStats) {
	ev := func(tenant, typ string, d time.Duration) store.AuditEvent {
		return auditEvent(tenant, typ, "actor", d, "user:x")
	}
	must(t, "AppendAudit", s.AppendAudit(t.Context(),
		ev("t1", "login.success", -time.Millisecond), // before the window
		ev("t1", "login.success", 0),                 // bucket 0, its first instant
		ev("t1", "login.success", time.Minute-time.Millisecond),
		ev("t1", "login.success", time.Minute), // bucket 1
		ev("t1", "login.failure", 90*time.Second),
		ev("t2", "login.success", 2*time.Minute+time.Second), // bucket 2
		ev("t2", "token.issued", 2*time.Minute+2*time.Second),
		ev("t2", "token.issued", 2*time.Minute+3*time.Second),
		ev("t1", "admin.user.update", 30*time.Second), // a type not asked for
		ev("t1", "login.success", 3*time.Minute),      // at until: outside
	))
	n := func(typ string, bucket int, count int64) store.AuditCount {
		return store.AuditCount{Type: typ, Bucket: bucket, Count: count}
	}
	win := store.AuditCountFilter{
		Types: []string{"login.success", "login.failure", "token.issued"},
		Since: at(0), Until: at(3 * time.Minute), Bucket: time.Minute,
	}
	for _, tc := range []struct {
		name   string
		mutate func(f *store.AuditCountFilter)
		want   []store.AuditCount
	}{
		{"every tenant", func(*store.AuditCountFilter) {}, []store.AuditCount{
			n("login.failure", 1, 1),
			n("login.success", 0, 2), n("login.success", 1, 1), n("login.success", 2, 1),
			n("token.issued", 2, 2),
		}},
		{"one tenant", func(f *store.AuditCountFilter) { f.TenantIDs = []string{"t2"} }, []store.AuditCount{
			n("login.success", 2, 1), n("token.issued", 2, 2),
		}},
		{"two tenants", func(f *store.AuditCountFilter) { f.TenantIDs = []string{"t1", "t2"} }, []store.AuditCount{
			n("login.failure", 1, 1),
			n("login.success", 0, 2), n("login.success", 1, 1), n("login.success", 2, 1),
			n("token.issued", 2, 2),
		}},
		{"one type", func(f *store.AuditCountFilter) { f.Types = []string{"token.issued"} }, []store.AuditCount{
			n("token.issued", 2, 2),
		}},
		{"wide buckets", func(f *store.AuditCountFilter) { f.Bucket = time.Hour }, []store.AuditCount{
			n("login.failure", 0, 1), n("login.success", 0, 4), n("token.issued", 0, 2),
		}},
		{"shifted window", func(f *store.AuditCountFilter) {
			f.Since, f.Until, f.Bucket = at(30*time.Second), at(120*time.Second), 30*time.Second
		}, []store.AuditCount{
			n("login.failure", 2, 1), n("login.success", 0, 1), n("login.success", 1, 1),
		}},
		{"another tenant", func(f *store.AuditCountFilter) { f.TenantIDs = []string{"t3"} }, nil},
		{"unstorable tenant", func(f *store.AuditCountFilter) { f.TenantIDs = []string{"t1\x00"} }, nil},
		{"unstorable type", func(f *store.AuditCountFilter) { f.Types = []string{"login.success\xff"} }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := win
			f.Types = append([]string(nil), win.Types...)
			tc.mutate(&f)
			if diff := cmp.Diff(tc.want, countAudit(t, s, f), cmpOpts...); diff != "" {
				t.Errorf("CountAudit (-want +got):\n%s", diff)
			}
		})
	}
	for name, f := range map[string]store.AuditCountFilter{
		"no types":        {Since: at(0), Until: at(time.Minute), Bucket: time.Minute},
		"no since":        {Types: win.Types, Until: at(time.Minute), Bucket: time.Minute},
		"until too early": {Types: win.Types, Since: at(0), Until: at(0), Bucket: time.Minute},
		"no bucket":       {Types: win.Types, Since: at(0), Until: at(time.Minute)},
		"many buckets":    {Types: win.Types, Since: at(0), Until: at(24 * time.Hour), Bucket: time.Millisecond},
	} {
		if _, err := s.CountAudit(t.Context(), f); err == nil {
			t.Errorf("CountAudit with %s: no error", name)
		}
	}
}
