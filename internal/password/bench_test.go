package password

import (
	"context"
	"testing"
	"time"
)

// These benchmarks measure the real argon2id at DefaultParams, the figure
// login capacity is planned from (see guides/performance-anchors.md).
// Run: go test -run '^$' -bench . -benchmem -cpu 1,2 ./internal/password/

func BenchmarkHashDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash("correct horse battery staple", DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	phc, err := Hash("correct horse battery staple", DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := Verify(phc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkHasherVerifyParallel is the login ceiling: verifications from
// many goroutines through a Hasher sized to GOMAXPROCS, reported as
// logins/s for the whole process. With -cpu 2 it shows the 2-core box's
// capacity. Queue and wait limits are raised so that no call is refused.
func BenchmarkHasherVerifyParallel(b *testing.B) {
	h := NewHasher(DefaultParams, HasherOptions{QueueLimit: 1 << 16, MaxWait: time.Hour})
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := h.Verify(ctx, phc, "correct horse battery staple"); !ok || err != nil {
				b.Error(ok, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
