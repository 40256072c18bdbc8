package sqlstore_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// The benchmarks run on SQLite, and on PostgreSQL too when
// SESAME_TEST_POSTGRES_DSN is set (the postgres sub-benchmarks skip
// otherwise).

var benchNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func benchHash(i int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	h := sha256.Sum256(b[:])
	return h[:]
}

func benchSession(i int) store.Session {
	return store.Session{
		ID: fmt.Sprintf("s%08d", i), TenantID: "t1", UserID: "u1", ClientID: "web",
		TokenHash: benchHash(i),
		Device:    store.Device{Fingerprint: "fp", OSVersion: "Android 16", Agent: "sdk/1", IP: "192.0.2.1"},
		AuthTime:  benchNow, CreatedAt: benchNow, ExpiresAt: benchNow.Add(time.Hour),
	}
}

func forEachBackend(b *testing.B, f func(b *testing.B, s *sqlstore.Store)) {
	for _, be := range sqltest.Backends() {
		b.Run(be.Name, func(b *testing.B) { f(b, be.Open(b)) })
	}
}

func BenchmarkCreateSession(b *testing.B) {
	forEachBackend(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := b.Context()
		i := 0
		for b.Loop() {
			if err := s.CreateSession(ctx, benchSession(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkSessionByTokenHash(b *testing.B) {
	forEachBackend(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := b.Context()
		const n = 10_000
		for i := range n {
			if err := s.CreateSession(ctx, benchSession(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("serial", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := s.SessionByTokenHash(ctx, "t1", benchHash(i%n)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := s.SessionByTokenHash(ctx, "t1", benchHash(i%n)); err != nil {
						b.Error(err)
						return
					}
					i += 7
				}
			})
		})
	})
}

func BenchmarkRotateSessionToken(b *testing.B) {
	forEachBackend(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := b.Context()
		// Pad the table so the lookups are not on a one-row table.
		for i := range 1000 {
			if err := s.CreateSession(ctx, benchSession(-1-i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.CreateSession(ctx, benchSession(0)); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			ok, err := s.RotateSessionToken(ctx, "t1", benchHash(i), benchHash(i+1), benchNow, benchNow.Add(time.Hour))
			if err != nil || !ok {
				b.Fatalf("rotate %d: %v %v", i, ok, err)
			}
			i++
		}
	})
}
