package sqlstore_test

import (
	"testing"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// BenchmarkAppendAudit stores batches of 256 exchange-shaped events, the
// audit writer's default batch: ns/op and allocs/op are per event.
func BenchmarkAppendAudit(b *testing.B) {
	forEachBackend(b, func(b *testing.B, s *sqlstore.Store) {
		const batch = 256
		events := make([]store.AuditEvent, batch)
		for i := range events {
			events[i] = store.AuditEvent{
				TenantID: "acme", Time: benchNow, Type: "token.issued", ActorTenantID: "acme",
				ActorID: "0123456789abcdef0123456789abcdef", Target: "user:0123456789abcdef0123456789abcdef",
				SourceIP: "192.0.2.7", Details: map[string]string{
					"client_id": "acme-portal", "session_id": "fedcba9876543210fedcba9876543210",
					"grant_type": "session_exchange", "tokens": "id_token",
				},
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for n := 0; n < b.N; n += batch {
			if err := s.AppendAudit(b.Context(), events[:min(batch, b.N-n)]...); err != nil {
				b.Fatal(err)
			}
		}
	})
}
