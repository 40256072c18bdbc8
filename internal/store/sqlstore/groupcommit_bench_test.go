package sqlstore_test

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/sesame-idp/sesame/internal/store/sqlstore"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// parallelWriters is the number of goroutines of the parallel write
// benchmarks: about the concurrent logins or client_credentials requests
// a loaded server has in flight.
const parallelWriters = 16

// BenchmarkCreateSessionParallel is BenchmarkCreateSession with 16
// concurrent writers, the case group commit is for (see groupcommit.go).
// sqlite-full is SQLite as the server runs it (synchronous=FULL, one fsync
// per commit); sqlite is the test stores' synchronous=NORMAL.
func BenchmarkCreateSessionParallel(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) *sqlstore.Store
	}{
		{"sqlite", func(b *testing.B) *sqlstore.Store { return sqltest.SQLite(b) }},
		{"sqlite-full", func(b *testing.B) *sqlstore.Store {
			s, err := sqlstore.Open(b.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: sqltest.SQLitePath(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(b *testing.B) *sqlstore.Store { return sqltest.Postgres(b) }},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			ctx := b.Context()
			var next atomic.Int64
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((parallelWriters + procs - 1) / procs)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.CreateSession(ctx, benchSession(int(next.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
