package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestPruner: events older than the retention go, batch by batch, on both
// databases; younger ones stay; retention 0 keeps everything; Run prunes
// at start and stops with its context.
func TestPruner(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := t.Context()
			var events []store.AuditEvent
			// One event a day for 100 days, the newest today.
			for d := range 100 {
				events = append(events, store.AuditEvent{TenantID: "t1", Type: audit.TypeLoginSuccess,
					Time: now.Add(-time.Duration(d) * 24 * time.Hour), Target: fmt.Sprint(d)})
			}
			if err := st.AppendAudit(ctx, events...); err != nil {
				t.Fatal(err)
			}
			count := func() int {
				n := 0
				f := store.AuditFilter{Limit: 1000}
				for {
					page, next, err := st.ListAudit(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					n += len(page)
					if next == "" {
						return n
					}
					f.Cursor = next
				}
			}

			keep := &audit.Pruner{Store: st, Retention: 0, Batch: 7, Now: func() time.Time { return now }}
			if n, err := keep.PruneOnce(ctx); n != 0 || err != nil || count() != 100 {
				t.Fatalf("retention 0 pruned %d (%v)", n, err)
			}

			m := metrics.New()
			p := &audit.Pruner{Store: st, Retention: 90*24*time.Hour - time.Minute, Batch: 3, Now: func() time.Time { return now }, Metrics: m}
			n, err := p.PruneOnce(ctx)
			if err != nil || n != 10 {
				t.Fatalf("PruneOnce: %d %v, want the 10 events of days 90..99", n, err)
			}
			if count() != 90 || counter(t, m, "pruned") != 10 {
				t.Fatalf("%d left, %d counted", count(), counter(t, m, "pruned"))
			}
			oldest, _, _ := st.ListAudit(ctx, store.AuditFilter{Since: now.Add(-89 * 24 * time.Hour), Until: now.Add(-89*24*time.Hour + time.Millisecond)})
			if len(oldest) != 1 {
				t.Fatal("the event of day 89 was pruned")
			}

			// Run prunes at once, then stops when its context ends.
			p.Retention = 30 * 24 * time.Hour
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { p.Run(runCtx, time.Hour); close(done) }()
			deadline := time.Now().Add(10 * time.Second)
			for count() != 31 {
				if time.Now().After(deadline) {
					t.Fatalf("Run did not prune at start: %d left", count())
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
		})
	}
}
