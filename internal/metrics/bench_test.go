package metrics

import (
	"testing"
	"time"
)

// BenchmarkObserveRequest is what every HTTP request pays for its
// metrics (issue 5: nothing allocation-heavy on the hot path).
func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("POST /api/v1/oauth2/token", 200, 3*time.Millisecond)
	}
}

// BenchmarkObserveRequestParallel is the same with both cores recording.
func BenchmarkObserveRequestParallel(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("POST /api/v1/oauth2/token", 200, 3*time.Millisecond)
		}
	})
}

// BenchmarkLoginToken is the outcome counters a login or a token
// issuance bumps.
func BenchmarkLoginToken(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Login("success")
		m.Token("access_token", "issued")
	}
}
