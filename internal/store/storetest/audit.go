package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
)

// auditLog is what the audit subtests need.
type auditLog interface {
	store.Store
	store.AuditStore
}

// audit adapts an audit subtest to Run's signature; a store that does not
// implement store.AuditStore skips it.
func audit(f func(t *testing.T, s auditLog)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		a, ok := s.(auditLog)
		if !ok {
			t.Skipf("%T does not implement store.AuditStore", s)
		}
		f(t, a)
	}
}

// auditEvent returns an event at now+d with a recognisable target.
func auditEvent(tenantID, typ, actor string, d time.Duration, target string) store.AuditEvent {
	return store.AuditEvent{
		TenantID: tenantID, Time: at(d), Type: typ,
		ActorTenantID: tenantID, ActorID: actor, Target: target, SourceIP: "192.0.2.7",
	}
}

// listAll pages through f with the given page size and returns the
// targets in the order listed.
func listAll(t *testing.T, s auditLog, f store.AuditFilter) []string {
	t.Helper()
	var out []string
	for range 1000 {
		page, next, err := s.ListAudit(t.Context(), f)
		must(t, "ListAudit", err)
		if f.Limit > 0 && len(page) > f.Limit {
			t.Fatalf("page of %d events, limit %d", len(page), f.Limit)
		}
		for _, e := range page {
			out = append(out, e.Target)
		}
		if next == "" {
			return out
		}
		if len(page) == 0 {
			t.Fatal("an empty page with a next cursor")
		}
		f.Cursor = next
	}
	t.Fatal("pagination does not end")
	return nil
}

// testAuditAppendList: events round-trip (ids assigned, times to the
// millisecond in UTC, details), come back newest first, and each filter
// selects what it names.
func testAuditAppendList(t *testing.T, s auditLog) {
	ctx := t.Context()
	if page, next, err := s.ListAudit(ctx, store.AuditFilter{}); err != nil || len(page) != 0 || next != "" {
		t.Fatalf("empty log: %v %q %v", page, next, err)
	}
	must(t, "AppendAudit(nothing)", s.AppendAudit(ctx))
	first := auditEvent("t1", "login.failure", "u1", 0, "user:u1")
	first.Details = map[string]string{"reason": "bad_credentials", "channel": "sdk"}
	first.Time = first.Time.Add(123 * time.Microsecond).In(time.FixedZone("CST", 8*3600)) // below the resolution, another zone
	first.ID = "ignored"
	must(t, "AppendAudit", s.AppendAudit(ctx,
		first,
		auditEvent("t1", "login.success", "u1", time.Second, "user:u1"),
		auditEvent("t2", "login.success", "u2", 2*time.Second, "user:u2"),
		auditEvent("t1", "token.issued", "portal", 3*time.Second, "application:portal"),
	))
	// A second batch, and two events of the same millisecond: the later
	// append is listed first.
	must(t, "AppendAudit", s.AppendAudit(ctx, auditEvent("t1", "login.lockout", "u1", 4*time.Second, "tie-1")))
	must(t, "AppendAudit", s.AppendAudit(ctx, auditEvent("t1", "login.lockout", "u1", 4*time.Second, "tie-2")))

	all, next, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, "ListAudit", err)
	if next != "" {
		t.Errorf("one page expected, got next %q", next)
	}
	var targets []string
	ids := map[string]bool{}
	for _, e := range all {
		targets = append(targets, e.Target)
		if e.ID == "" || e.ID == "ignored" || ids[e.ID] {
			t.Errorf("event %q: id %q is not a fresh store-assigned id", e.Target, e.ID)
		}
		ids[e.ID] = true
	}
	if d := diff([]string{"tie-2", "tie-1", "application:portal", "user:u2", "user:u1", "user:u1"}, targets); d != "" {
		t.Fatalf("order (-want +got):\n%s", d)
	}
	got := all[len(all)-1]
	want := first
	want.ID, want.Time = got.ID, now
	if d := diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if got.Time.Location() != time.UTC {
		t.Errorf("time comes back in %v, want UTC", got.Time.Location())
	}
	if len(all[0].Details) != 0 {
		t.Errorf("no details stored, got %v", all[0].Details)
	}

	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"tenant", store.AuditFilter{TenantIDs: []string{"t2"}}, []string{"user:u2"}},
		{"tenants", store.AuditFilter{TenantIDs: []string{"t2", "t1"}, Type: "login.success"}, []string{"user:u2", "user:u1"}},
		{"actor", store.AuditFilter{ActorID: "portal"}, []string{"application:portal"}},
		{"type", store.AuditFilter{Type: "login.lockout"}, []string{"tie-2", "tie-1"}},
		{"since inclusive", store.AuditFilter{Since: at(3 * time.Second)}, []string{"tie-2", "tie-1", "application:portal"}},
		{"until exclusive", store.AuditFilter{Until: at(time.Second)}, []string{"user:u1"}},
		{"window", store.AuditFilter{Since: at(time.Second), Until: at(3 * time.Second), TenantIDs: []string{"t1"}}, []string{"user:u1"}},
		{"all filters", store.AuditFilter{TenantIDs: []string{"t1"}, ActorID: "u1", Type: "login.failure", Since: at(-time.Hour), Until: at(time.Hour)}, []string{"user:u1"}},
		{"unknown type", store.AuditFilter{Type: "nope"}, nil},
		{"unknown actor", store.AuditFilter{ActorID: "nobody"}, nil},
		{"unknown tenant", store.AuditFilter{TenantIDs: []string{"t3"}}, nil},
		// Values no database could have stored match nothing, and never
		// turn into "every tenant".
		{"unstorable tenant", store.AuditFilter{TenantIDs: []string{"t1\x00"}}, nil},
		{"invalid utf-8 tenant", store.AuditFilter{TenantIDs: []string{"\xff"}}, nil},
		{"unstorable actor", store.AuditFilter{ActorID: "u1\x00"}, nil},
		{"invalid utf-8 type", store.AuditFilter{Type: "\xfe"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := diff(tc.want, listAll(t, s, tc.f)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// testAuditAppendAtomic: a batch with one bad event stores nothing.
func testAuditAppendAtomic(t *testing.T, s auditLog) {
	ctx := t.Context()
	good := auditEvent("t1", "login.success", "u1", 0, "good")
	for name, bad := range map[string]store.AuditEvent{
		"no type":       {TenantID: "t1", Time: now},
		"no time":       {TenantID: "t1", Type: "login.success"},
		"NUL":           auditEvent("t1", "login.success", "u\x001", 0, "bad"),
		"invalid UTF-8": auditEvent("t1", "login.success", "u1", 0, "\xff"),
		"bad details":   {TenantID: "t1", Time: now, Type: "x", Details: map[string]string{"k": "\x00"}},
	} {
		if err := s.AppendAudit(ctx, good, good, bad); err == nil {
			t.Errorf("%s: AppendAudit accepted the batch", name)
		}
	}
	if got := listAll(t, s, store.AuditFilter{}); len(got) != 0 {
		t.Fatalf("refused batches left %d events", len(got))
	}
}

// testAuditPagination: pages are bounded by the limit (default and cap),
// and every event that existed at the first page is listed exactly once
// and in order, although events (newer ones, and ones dated inside the
// part already listed or still to come) are appended between pages.
func testAuditPagination(t *testing.T, s auditLog) {
	ctx := t.Context()
	var batch []store.AuditEvent
	var want []string
	for i := range 40 {
		// Pairs of events share a millisecond, so pages also split ties.
		batch = append(batch, auditEvent("t1", "token.issued", "app", time.Duration(i/2)*time.Second, fmt.Sprint("e", i)))
	}
	must(t, "AppendAudit", s.AppendAudit(ctx, batch...))
	for i := 39; i >= 0; i-- {
		want = append(want, fmt.Sprint("e", i))
	}
	// Another tenant's events interleave in time; the filter keeps them out.
	for i := range 10 {
		must(t, "AppendAudit", s.AppendAudit(ctx, auditEvent("t2", "token.issued", "app", time.Duration(i)*time.Second, "other")))
	}

	f := store.AuditFilter{TenantIDs: []string{"t1"}, Limit: 7}
	var got []string
	seen := map[string]bool{}
	for page := 0; ; page++ {
		events, next, err := s.ListAudit(ctx, f)
		must(t, "ListAudit", err)
		if len(events) > 7 {
			t.Fatalf("page %d has %d events", page, len(events))
		}
		for _, e := range events {
			if e.TenantID != "t1" {
				t.Fatalf("page %d: event of tenant %q", page, e.TenantID)
			}
			if seen[e.ID] {
				t.Fatalf("page %d: event %s (%s) listed twice", page, e.ID, e.Target)
			}
			seen[e.ID] = true
			got = append(got, e.Target)
		}
		if next == "" {
			break
		}
		// Between pages: a newer event, one dated at the start (already
		// listed part), and one tied with the oldest.
		must(t, "AppendAudit", s.AppendAudit(ctx,
			auditEvent("t1", "token.issued", "app", time.Hour+time.Duration(page)*time.Second, "late-new"),
			auditEvent("t1", "token.issued", "app", 19*time.Second, "late-top"),
			auditEvent("t1", "token.issued", "app", 0, "late-bottom"),
		))
		f.Cursor = next
	}
	// The original events in order; appended ones that fell into the
	// unread part may appear (only "late-bottom" can: its time ties with
	// the oldest, and its larger id sorts it before them).
	var original []string
	for _, g := range got {
		switch g {
		case "late-new", "late-top":
			t.Errorf("%s was appended into the part already listed but was listed", g)
		case "late-bottom":
		default:
			original = append(original, g)
		}
	}
	if d := diff(want, original); d != "" {
		t.Fatalf("pages (-want +got):\n%s", d)
	}

	// Limits: 0 is the default (100), more than 1000 is capped at 1000.
	big := make([]store.AuditEvent, 1001)
	for i := range big {
		big[i] = auditEvent("t3", "login.success", "u", time.Duration(i)*time.Millisecond, "bulk")
	}
	must(t, "AppendAudit", s.AppendAudit(ctx, big...))
	for _, tc := range []struct{ limit, want int }{{0, 100}, {-5, 100}, {1, 1}, {1000, 1000}, {5000, 1000}} {
		events, next, err := s.ListAudit(ctx, store.AuditFilter{TenantIDs: []string{"t3"}, Limit: tc.limit})
		must(t, "ListAudit", err)
		if len(events) != tc.want || next == "" {
			t.Errorf("Limit %d: %d events, next %q; want %d and a next page", tc.limit, len(events), next, tc.want)
		}
	}
	if n := len(listAll(t, s, store.AuditFilter{TenantIDs: []string{"t3"}, Limit: 1000})); n != 1001 {
		t.Errorf("bulk listing: %d events, want 1001", n)
	}
}

// testAuditTenantIsolation: a cursor of one tenant's listing used with
// another tenant's filter shows only that other tenant's events; a listing
// of several tenants is exactly their union.
func testAuditTenantIsolation(t *testing.T, s auditLog) {
	ctx := t.Context()
	for i := range 6 {
		for _, tn := range []string{"t1", "t2", "t3"} {
			must(t, "AppendAudit", s.AppendAudit(ctx, auditEvent(tn, "login.success", "u", time.Duration(i)*time.Second, tn)))
		}
	}
	page, next, err := s.ListAudit(ctx, store.AuditFilter{TenantIDs: []string{"t1"}, Limit: 2})
	must(t, "ListAudit", err)
	if len(page) != 2 || next == "" {
		t.Fatalf("first page: %d events, next %q", len(page), next)
	}
	for _, e := range page {
		if e.TenantID != "t1" {
			t.Fatalf("t1 listing shows %q", e.TenantID)
		}
	}
	for _, g := range listAll(t, s, store.AuditFilter{TenantIDs: []string{"t2"}, Cursor: next}) {
		if g != "t2" {
			t.Fatalf("t2 listing with t1's cursor shows %q", g)
		}
	}
	count := map[string]int{}
	for _, g := range listAll(t, s, store.AuditFilter{TenantIDs: []string{"t1", "t3"}, Limit: 4}) {
		count[g]++
	}
	if d := diff(map[string]int{"t1": 6, "t3": 6}, count); d != "" {
		t.Errorf("t1+t3 listing (-want +got):\n%s", d)
	}
	// Malformed cursors are refused as such.
	for _, c := range []string{"x", "!!!", "YTEu", "YTEueC4y", "YTEuMQ", "YTEuMS4yLjM", "YjEuMS4y", "YTEuLTEuMg", string(make([]byte, 100))} {
		if _, _, err := s.ListAudit(ctx, store.AuditFilter{Cursor: c}); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("cursor %q: %v, want ErrInvalidCursor", c, err)
		}
	}
}

// testAuditPrune: pruning removes only events older than the cut, at most
// batch per call, and refuses a batch that is not positive.
func testAuditPrune(t *testing.T, s auditLog) {
	ctx := t.Context()
	var batch []store.AuditEvent
	for i := range 10 {
		batch = append(batch, auditEvent("t1", "login.success", "u", time.Duration(i)*time.Hour, fmt.Sprint(i)))
	}
	must(t, "AppendAudit", s.AppendAudit(ctx, batch...))
	if _, err := s.PruneAudit(ctx, at(time.Hour), 0); err == nil {
		t.Error("PruneAudit with batch 0 succeeded")
	}
	// Cut at 5h: events 0..4 go (5 is not older than the cut).
	n, err := s.PruneAudit(ctx, at(5*time.Hour), 3)
	must(t, "PruneAudit", err)
	if n != 3 {
		t.Fatalf("first prune deleted %d, want 3 (the batch)", n)
	}
	n, err = s.PruneAudit(ctx, at(5*time.Hour), 3)
	must(t, "PruneAudit", err)
	if n != 2 {
		t.Fatalf("second prune deleted %d, want 2", n)
	}
	if n, err = s.PruneAudit(ctx, at(5*time.Hour), 3); err != nil || n != 0 {
		t.Fatalf("third prune: %d %v, want 0", n, err)
	}
	if d := diff([]string{"9", "8", "7", "6", "5"}, listAll(t, s, store.AuditFilter{})); d != "" {
		t.Errorf("left after pruning (-want +got):\n%s", d)
	}
	// New events still get ids after the newest ones were pruned: a cursor
	// from before never meets a reused id.
	_, next, err := s.ListAudit(ctx, store.AuditFilter{Limit: 1})
	must(t, "ListAudit", err)
	if n, err = s.PruneAudit(ctx, at(100*time.Hour), 100); err != nil || n != 5 {
		t.Fatalf("prune all: %d %v", n, err)
	}
	must(t, "AppendAudit", s.AppendAudit(ctx, auditEvent("t1", "login.success", "u", 9*time.Hour, "after")))
	if got := listAll(t, s, store.AuditFilter{Cursor: next}); len(got) != 0 {
		t.Errorf("an event appended after pruning sorts into an old cursor's range: %v", got)
	}
}

// testAuditConcurrentAppend: batches appended at once (several writers,
// several nodes) are all stored, with distinct ids.
func testAuditConcurrentAppend(t *testing.T, s auditLog) {
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for b := range 5 {
				var batch []store.AuditEvent
				for i := range 20 {
					batch = append(batch, auditEvent("t1", "token.issued", "app", time.Duration(i)*time.Millisecond, fmt.Sprint(w, "-", b, "-", i)))
				}
				if err := s.AppendAudit(ctx, batch...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	targets := map[string]bool{}
	f := store.AuditFilter{Limit: 333}
	for {
		page, next, err := s.ListAudit(ctx, f)
		must(t, "ListAudit", err)
		for _, e := range page {
			if ids[e.ID] {
				t.Fatalf("id %s twice", e.ID)
			}
			ids[e.ID], targets[e.Target] = true, true
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(targets) != 800 || len(ids) != 800 {
		t.Fatalf("%d events with %d ids stored, want 800", len(targets), len(ids))
	}
}
