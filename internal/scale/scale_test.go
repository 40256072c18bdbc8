package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/sesamebin"
	"github.com/sesame-idp/sesame/internal/session"
)

func testSpec(t *testing.T, sessions, users int64) Spec {
	t.Helper()
	return Spec{
		Sessions: sessions, Users: users, ExpiredShare: 0.1, RotatedShare: 0.5,
		Seed: bytes.Repeat([]byte{7}, 32), KEK: bytes.Repeat([]byte{9}, 32),
		Now:          time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
	}
}

// The rows must be what the server would have stored for the tokens the
// client holds: keyed hashes under the server's key, the previous token's
// hash and the derived successor for a rotated session, expiry on the
// right side of Now.
func TestDatasetRows(t *testing.T) {
	spec := testSpec(t, 20_000, 500)
	ds, err := NewDataset(spec)
	if err != nil {
		t.Fatal(err)
	}
	h, err := secret.NewHasher(spec.KEK)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewDataset(spec)
	var expired, rotated int
	prevID := ""
	tokens := map[string]bool{}
	for i := range spec.Sessions {
		s := ds.Session(i)
		if !secret.Equal(s.TokenHash, h.Hash(session.PurposeSession, s.Token)) {
			t.Fatalf("session %d: token hash is not the server's hash of its token", i)
		}
		if s.Rotated {
			rotated++
			first := ds.firstToken(i)
			if s.Token != h.Successor(session.PurposeSession, first) ||
				!secret.Equal(s.PrevTokenHash, h.Hash(session.PurposeSession, first)) {
				t.Fatalf("session %d: rotated session is not the successor of its first token", i)
			}
			if s.RotatedAt == 0 || s.RotatedAt <= s.CreatedAt {
				t.Fatalf("session %d: rotated at %d, created at %d", i, s.RotatedAt, s.CreatedAt)
			}
		} else if s.PrevTokenHash != nil || s.RotatedAt != 0 {
			t.Fatalf("session %d: unrotated session has a previous token", i)
		}
		now := spec.Now.UnixMilli()
		if s.Expired {
			expired++
			if s.ExpiresAt >= now {
				t.Fatalf("session %d: expired session expires at %d, after now %d", i, s.ExpiresAt, now)
			}
		} else if s.ExpiresAt < now+liveMin.Milliseconds() {
			t.Fatalf("session %d: live session expires too soon", i)
		}
		if s.Expired != ds.expired(i) {
			t.Fatalf("session %d: expired() disagrees with the row", i)
		}
		if s.ExpiresAt-s.CreatedAt > SessionTTL.Milliseconds()+31*24*time.Hour.Milliseconds() {
			t.Fatalf("session %d: lifetime too long", i)
		}
		if len(s.Token) != 43 || tokens[s.Token] {
			t.Fatalf("session %d: token %q malformed or repeated", i, s.Token)
		}
		tokens[s.Token] = true
		if s.ID <= prevID || len(s.ID) != 32 {
			t.Fatalf("session %d: id %q not increasing 32 hex digits", i, s.ID)
		}
		prevID = s.ID
		if s.UserID != ds.UserID(i%spec.Users) {
			t.Fatalf("session %d: user %s", i, s.UserID)
		}
		if b := again.Session(i); b.Token != s.Token || b.ID != s.ID || b.ExpiresAt != s.ExpiresAt || b.Fingerprint != s.Fingerprint {
			t.Fatalf("session %d: not reproducible from the spec", i)
		}
	}
	// Binomial shares: 6 standard deviations is about 250 of 20,000.
	if expired < 1750 || expired > 2250 || rotated < 9750 || rotated > 10250 {
		t.Errorf("%d expired and %d rotated of 20000, want about 2000 and 10000", expired, rotated)
	}
	other := spec
	other.Seed = bytes.Repeat([]byte{8}, 32)
	ods, _ := NewDataset(other)
	if ods.Session(0).Token == ds.Session(0).Token {
		t.Error("another seed gives the same tokens")
	}
}

func TestSpecValidation(t *testing.T) {
	good := testSpec(t, 10, 10)
	for name, mutate := range map[string]func(*Spec){
		"no sessions":   func(s *Spec) { s.Sessions = 0 },
		"no users":      func(s *Spec) { s.Users = 0 },
		"all expired":   func(s *Spec) { s.ExpiredShare = 1 },
		"negative":      func(s *Spec) { s.RotatedShare = -0.1 },
		"NaN share":     func(s *Spec) { s.ExpiredShare = nan() },
		"short seed":    func(s *Spec) { s.Seed = []byte("short") },
		"short KEK":     func(s *Spec) { s.KEK = nil },
		"no time":       func(s *Spec) { s.Now = time.Time{} },
		"no pw hash":    func(s *Spec) { s.PasswordHash = "" },
		"huge sessions": func(s *Spec) { s.Sessions = 1 << 62 },
	} {
		s := good
		mutate(&s)
		if _, err := NewDataset(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewDataset(good); err != nil {
		t.Errorf("good spec refused: %v", err)
	}
}

func nan() float64 { var z float64; return z / z }

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(d[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one = %v", got)
	}
}

func TestProducerKeepsOrder(t *testing.T) {
	for _, tc := range []struct {
		n       int64
		rows    int
		workers int
	}{{0, 10, 2}, {1, 10, 2}, {95, 10, 3}, {100, 10, 2}, {1000, 7, 4}} {
		p := startProducer(t.Context(), tc.n, tc.rows, 2, tc.workers, func(dst []any, i int64) []any { return append(dst, i, -i) })
		var next int64
		for {
			b, ok := p.next(t.Context())
			if !ok {
				break
			}
			if b.first != next || len(b.vals) != 2*b.rows {
				t.Fatalf("%+v: batch at %d with %d values, want at %d", tc, b.first, len(b.vals), next)
			}
			for r := range b.rows {
				if b.vals[2*r] != next || b.vals[2*r+1] != -next {
					t.Fatalf("%+v: row %d holds %v", tc, next, b.vals[2*r:2*r+2])
				}
				next++
			}
			p.release(b)
		}
		p.stop()
		if next != tc.n {
			t.Errorf("%+v: %d rows produced", tc, next)
		}
	}
}

func TestReadProcStats(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	st, err := readProcStats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSBytes <= 0 || st.PeakRSSBytes < st.RSSBytes || st.CPUSeconds < 0 {
		t.Errorf("implausible stats %+v", st)
	}
}

func TestLoopbackPostgres(t *testing.T) {
	for dsn, ok := range map[string]bool{
		"postgres://postgres@127.0.0.1:5432/x?sslmode=disable": true,
		"postgres://postgres@localhost/x":                      true,
		"host=/var/run/postgresql dbname=x":                    true,
		"postgres://postgres@db.example.com/x":                 false,
		"postgres://postgres@10.0.0.5/x":                       false,
	} {
		if err := loopbackPostgres(dsn); (err == nil) != ok {
			t.Errorf("%s: err %v, want ok=%v", dsn, err, ok)
		}
	}
}

// ---------------------------------------------------------------------------
// Against a real server.

// sesame is cmd/sesame, built once per test binary run.
var sesame sesamebin.Cache

func TestMain(m *testing.M) {
	code := m.Run()
	sesame.Remove()
	os.Exit(code)
}

func sesameBinary(t *testing.T) string { return sesame.Path(t) }

func smallOptions(t *testing.T, backend string) Options {
	o := DefaultOptions()
	o.Backends = []string{backend}
	o.Sessions, o.Users = 20_000, 2_000
	o.BaselineSessions, o.BaselineUsers = 2_000, 200
	o.Rounds, o.RequestsPerRound, o.Concurrency = 2, 150, 2
	o.Lookups = 2000
	o.SweepInterval = 100 * time.Millisecond
	o.SweepTimeout = time.Minute
	o.ReadyTimeout = time.Minute
	o.Dir = t.TempDir()
	o.SesameBin = sesameBinary(t)
	o.Progress = func(s string) { t.Log(s) }
	return o
}

// TestRunSmall runs the whole scale test at a tiny size: the generated
// sessions must exchange through the real server without a single error
// (with and without rotation), the sweeper must remove exactly the
// expired ones, and every figure of the report must be filled in.
func TestRunSmall(t *testing.T) {
	for _, backend := range []string{BackendSQLite, BackendPostgres} {
		t.Run(backend, func(t *testing.T) {
			o := smallOptions(t, backend)
			if backend == BackendPostgres {
				o.PostgresDSN = os.Getenv("SESAME_TEST_POSTGRES_DSN")
				if o.PostgresDSN == "" {
					t.Skip("SESAME_TEST_POSTGRES_DSN not set: skipping PostgreSQL")
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			rep, err := Run(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Backends) != 1 {
				t.Fatalf("%d backend reports", len(rep.Backends))
			}
			b := rep.Backends[0]
			checkStore(t, "baseline", b.Baseline, o.BaselineSessions, o.BaselineUsers)
			checkStore(t, "scaled", b.Scaled, o.Sessions, o.Users)
			wantLookups := map[string]int{BackendSQLite: 2, BackendPostgres: 1}[backend]
			if len(b.Exchange) != 3 || len(b.Lookups) != wantLookups {
				t.Fatalf("%d exchange and %d lookup measurements, want 3 and %d", len(b.Exchange), len(b.Lookups), wantLookups)
			}
			for _, e := range b.Exchange {
				for name, l := range map[string]Latency{"baseline": e.Baseline, "scaled": e.Scaled} {
					if l.Requests != o.Rounds*o.RequestsPerRound || l.Errors != nil {
						t.Errorf("%s %s: %d requests, errors %v", e.Mode, name, l.Requests, l.Errors)
					}
					if !(l.P50MS > 0 && l.P50MS <= l.P95MS && l.P95MS <= l.P99MS && l.P99MS <= l.MaxMS) || l.ServerCPUMS <= 0 {
						t.Errorf("%s %s: implausible latency %+v", e.Mode, name, l)
					}
				}
				if e.P50Ratio <= 0 {
					t.Errorf("%s: no ratio", e.Mode)
				}
			}
			for _, lk := range b.Lookups {
				for name, l := range map[string]Latency{"baseline": lk.Baseline, "scaled": lk.Scaled} {
					if l.Requests != o.Lookups || l.Errors != nil || !(l.P50MS > 0 && l.P50MS <= l.MaxMS) {
						t.Errorf("%s %s: %+v", lk.Mode, name, l)
					}
				}
			}
			sw := b.Sweep
			if !sw.Complete || sw.Deleted != b.Scaled.Load.Expired || sw.Remaining != sw.Expected || sw.RowsPerSecond <= 0 {
				t.Errorf("sweep: %+v", sw)
			}
			for name, p := range map[string]ProcStats{"baseline": b.Memory.Baseline, "scaled": b.Memory.Scaled, "sweeper": b.Memory.Sweeper} {
				if p.RSSBytes <= 0 || p.PeakRSSBytes < p.RSSBytes {
					t.Errorf("%s server memory %+v", name, p)
				}
			}
			var table bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"== " + backend, "exchange+rotation", "sweeper", "B/session"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}
			if _, err := json.Marshal(rep); err != nil {
				t.Error(err)
			}
			t.Logf("\n%s", table.String())
		})
	}
}

func checkStore(t *testing.T, name string, s StoreReport, sessions, users int64) {
	t.Helper()
	l := s.Load
	if l.Sessions != sessions || l.Users != users {
		t.Errorf("%s: loaded %d sessions, %d users", name, l.Sessions, l.Users)
	}
	if l.Expired <= 0 || l.Expired >= sessions/4 || l.Rotated <= sessions/4 || l.Rotated >= 3*sessions/4 {
		t.Errorf("%s: %d expired, %d rotated of %d", name, l.Expired, l.Rotated, sessions)
	}
	if s.SessionsBytes <= 0 || s.UsersBytes <= 0 || s.DatabaseBytes < s.SessionsBytes+s.UsersBytes {
		t.Errorf("%s: sizes %+v", name, s)
	}
	// A session row holds two 32-byte hashes, a 32-character id and
	// more; anything under 100 bytes means the sizes are not measured.
	if s.BytesPerSession < 100 || s.BytesPerUser < 100 {
		t.Errorf("%s: %.0f B/session, %.0f B/user", name, s.BytesPerSession, s.BytesPerUser)
	}
}

// TestVerifyFailsOnForeignKey: data hashed under another key than the
// server's must not pass the verification (the test above would be
// worthless if verify accepted anything).
func TestVerifyFailsOnForeignKey(t *testing.T) {
	o := smallOptions(t, BackendSQLite)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	spec := testSpec(t, 200, 20)
	spec.Now = time.Now()
	st, err := createStore(ctx, o, BackendSQLite, filepath.Join(o.Dir, "foreign"), "foreign", spec, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := st.start(ctx, o, serverConfig{Driver: BackendSQLite, KEK: bytes.Repeat([]byte{1}, 32), Algs: []string{"ES256"},
		SweepInterval: time.Hour, SweepBatch: 100, LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop(10 * time.Second)
	c := newSDKClient(1)
	defer c.close()
	err = verify(ctx, c, srv.base, st.ds)
	if err == nil || !strings.Contains(err.Error(), "live session") {
		t.Fatalf("verify with the wrong key: %v", err)
	}
}
