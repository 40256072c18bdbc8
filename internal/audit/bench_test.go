package audit_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store"
)

// BenchmarkWriterRecord is what a request pays to record an event shaped
// like the exchange's (the store is a fake that keeps nothing, so only
// Record and the writer's goroutine are measured).
func BenchmarkWriterRecord(b *testing.B) {
	w := audit.NewWriter(discardStore{}, audit.WriterOptions{FullWait: time.Second})
	defer w.Close(context.Background())
	ctx := audit.WithSourceIP(context.Background(), netip.MustParseAddr("192.0.2.7"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Record(ctx, store.AuditEvent{
				TenantID: "acme", Type: audit.TypeTokenIssued, ActorTenantID: "acme", ActorID: "0123456789abcdef0123456789abcdef",
				Target: "user:" + "0123456789abcdef0123456789abcdef", Details: map[string]string{
					"client_id": "acme-portal", "session_id": "fedcba9876543210fedcba9876543210", "grant_type": "session_exchange", "tokens": "id_token",
				},
			})
		}
	})
}

type discardStore struct{}

func (discardStore) AppendAudit(context.Context, ...store.AuditEvent) error { return nil }
func (discardStore) ListAudit(context.Context, store.AuditFilter) ([]store.AuditEvent, string, error) {
	return nil, "", nil
}
func (discardStore) PruneAudit(context.Context, time.Time, int) (int64, error) { return 0, nil }
