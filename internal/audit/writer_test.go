package audit_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// fakeStore records the batches it is given. AppendAudit waits while
// block is set (until it is closed) and fails while fail is positive.
type fakeStore struct {
	mu      sync.Mutex
	batches [][]store.AuditEvent
	calls   int
	fail    int
	block   chan struct{}
	entered chan struct{} // receives once per call, if set
}

func (f *fakeStore) AppendAudit(ctx context.Context, events ...store.AuditEvent) error {
	f.mu.Lock()
	f.calls++
	block, entered := f.block, f.entered
	fail := f.fail > 0
	if fail {
		f.fail--
	}
	f.mu.Unlock()
	if entered != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		return errors.New("store unavailable")
	}
	f.mu.Lock()
	f.batches = append(f.batches, append([]store.AuditEvent(nil), events...))
	f.mu.Unlock()
	return nil
}

func (f *fakeStore) ListAudit(context.Context, store.AuditFilter) ([]store.AuditEvent, string, error) {
	return nil, "", errors.New("not implemented by the fake")
}

func (f *fakeStore) PruneAudit(context.Context, time.Time, int) (int64, error) {
	return 0, errors.New("not implemented by the fake")
}

// sizes returns the sizes of the batches stored so far.
func (f *fakeStore) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, b := range f.batches {
		out = append(out, len(b))
	}
	return out
}

// targets returns the targets of every stored event, in order.
func (f *fakeStore) targets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.batches {
		for _, e := range b {
			out = append(out, e.Target)
		}
	}
	return out
}

func (f *fakeStore) stored() int { return len(f.targets()) }

// eventually polls cond for up to 10 s: the writer works in its own
// goroutine. The bound only keeps a broken writer from hanging the test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// counter reads sesame_audit_events_total{outcome} from m's /metrics.
func counter(t *testing.T, m *metrics.Metrics, outcome string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	prefix := `sesame_audit_events_total{outcome="` + outcome + `"} `
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	return 0
}

func ev(i int) store.AuditEvent {
	return store.AuditEvent{TenantID: "t1", Type: audit.TypeTokenIssued, Target: fmt.Sprint(i)}
}

func closeWriter(t *testing.T, w *audit.Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestWriterBatchesBySize: a full batch is written at once, without
// waiting for the interval; Flush writes the rest; order is kept.
func TestWriterBatchesBySize(t *testing.T) {
	f := &fakeStore{}
	w := audit.NewWriter(f, audit.WriterOptions{BatchSize: 10, FlushInterval: time.Hour})
	defer closeWriter(t, w)
	for i := range 25 {
		w.Record(t.Context(), ev(i))
	}
	eventually(t, "two full batches", func() bool { return len(f.sizes()) == 2 })
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.sizes()); got != "[10 10 5]" {
		t.Fatalf("batches %s, want [10 10 5]", got)
	}
	for i, g := range f.targets() {
		if g != fmt.Sprint(i) {
			t.Fatalf("event %d stored as %s: order lost", i, g)
		}
	}
	// A flush with nothing buffered stores nothing.
	if err := w.Flush(t.Context()); err != nil || len(f.sizes()) != 3 {
		t.Fatalf("empty flush: %v, %v", err, f.sizes())
	}
}

// TestWriterFlushesByInterval: a batch that does not fill is written after
// the interval, with the time and the source IP filled in.
func TestWriterFlushesByInterval(t *testing.T) {
	f := &fakeStore{}
	clock := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	w := audit.NewWriter(f, audit.WriterOptions{BatchSize: 100, FlushInterval: 20 * time.Millisecond, Now: func() time.Time { return clock }})
	defer closeWriter(t, w)
	ctx := audit.WithSourceIP(t.Context(), netip.MustParseAddr("2001:db8::7"))
	for i := range 3 {
		w.Record(ctx, ev(i))
	}
	given := ev(3)
	given.Time, given.SourceIP = clock.Add(-time.Hour), "192.0.2.1"
	w.Record(ctx, given)
	eventually(t, "the interval flush", func() bool { return f.stored() == 4 })
	if got := fmt.Sprint(f.sizes()); got != "[4]" {
		t.Fatalf("batches %s, want one of 4", got)
	}
	b := f.batches[0]
	if !b[0].Time.Equal(clock) || b[0].SourceIP != "2001:db8::7" {
		t.Errorf("filled in: time %v, ip %q", b[0].Time, b[0].SourceIP)
	}
	if !b[3].Time.Equal(given.Time) || b[3].SourceIP != "192.0.2.1" {
		t.Errorf("given time and ip replaced: %v %q", b[3].Time, b[3].SourceIP)
	}
	// No address in the context: none recorded.
	w.Record(context.Background(), ev(4))
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ip := f.batches[1][0].SourceIP; ip != "" {
		t.Errorf("source ip %q without one in the context", ip)
	}
}

// TestWriterCloseFlushes: Close stores what is buffered; later events are
// dropped and counted, never silently lost.
func TestWriterCloseFlushes(t *testing.T) {
	f := &fakeStore{}
	m := metrics.New()
	w := audit.NewWriter(f, audit.WriterOptions{BatchSize: 100, FlushInterval: time.Hour, Metrics: m})
	for i := range 7 {
		w.Record(t.Context(), ev(i))
	}
	closeWriter(t, w)
	if f.stored() != 7 {
		t.Fatalf("%d events stored by Close, want 7", f.stored())
	}
	w.Record(t.Context(), ev(8))
	closeWriter(t, w) // a second Close is harmless
	if f.stored() != 7 || counter(t, m, "dropped") != 1 || counter(t, m, "stored") != 7 {
		t.Fatalf("after Close: stored %d, counters stored %d dropped %d", f.stored(), counter(t, m, "stored"), counter(t, m, "dropped"))
	}
	if err := w.Flush(t.Context()); err == nil {
		t.Error("Flush after Close succeeded")
	}
}

// TestWriterFullBuffer: with the store stalled, the buffer takes
// BufferSize events, then each Record waits at most FullWait and drops
// its event, counted; nothing else is lost.
func TestWriterFullBuffer(t *testing.T) {
	for _, wait := range []time.Duration{-1, 5 * time.Millisecond} {
		t.Run(fmt.Sprint("wait=", wait), func(t *testing.T) {
			f := &fakeStore{block: make(chan struct{}), entered: make(chan struct{}, 10)}
			m := metrics.New()
			w := audit.NewWriter(f, audit.WriterOptions{BufferSize: 16, BatchSize: 4, FlushInterval: time.Hour, FullWait: wait, Metrics: m})
			for i := range 4 {
				w.Record(t.Context(), ev(i))
			}
			<-f.entered // the writer holds events 0..3 in a stalled write
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 4; i < 40; i++ {
					w.Record(t.Context(), ev(i))
				}
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Record blocked on a full buffer")
			}
			if got := counter(t, m, "dropped"); got != 20 {
				t.Errorf("%d dropped, want 20 (40 - 4 in the write - 16 buffered)", got)
			}
			close(f.block) // the store recovers
			closeWriter(t, w)
			want := make([]string, 20)
			for i := range want {
				want[i] = fmt.Sprint(i)
			}
			if got := f.targets(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("stored %v, want the first 20 events", got)
			}
			if s := counter(t, m, "stored"); s != 20 {
				t.Errorf("stored counter %d", s)
			}
		})
	}
}

// TestWriterRetries: a batch the store refuses is tried again at the next
// interval and stored once the store recovers; one refused Attempts times
// is counted as failed, and the writer goes on with the next events.
func TestWriterRetries(t *testing.T) {
	f := &fakeStore{fail: 2}
	m := metrics.New()
	w := audit.NewWriter(f, audit.WriterOptions{BatchSize: 100, FlushInterval: 10 * time.Millisecond, Attempts: 3, Metrics: m})
	defer closeWriter(t, w)
	for i := range 5 {
		w.Record(t.Context(), ev(i))
	}
	eventually(t, "the third attempt", func() bool { return f.stored() == 5 })
	if counter(t, m, "failed") != 0 || counter(t, m, "stored") != 5 {
		t.Fatalf("counters: failed %d stored %d", counter(t, m, "failed"), counter(t, m, "stored"))
	}

	f.mu.Lock()
	f.fail = 3
	f.mu.Unlock()
	for i := 5; i < 8; i++ {
		w.Record(t.Context(), ev(i))
	}
	eventually(t, "the batch given up", func() bool { return counter(t, m, "failed") == 3 })
	w.Record(t.Context(), ev(8))
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.targets()); got != "[0 1 2 3 4 8]" {
		t.Fatalf("stored %s", got)
	}
}

// TestWriterCloseRace: events recorded while Close runs are each either
// stored or counted as dropped; none disappears.
func TestWriterCloseRace(t *testing.T) {
	f := &fakeStore{}
	m := metrics.New()
	w := audit.NewWriter(f, audit.WriterOptions{BufferSize: 64, BatchSize: 8, FlushInterval: time.Millisecond, FullWait: -1, Metrics: m})
	var recorded atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 500 {
				w.Record(context.Background(), ev(i))
				recorded.Add(1)
			}
		})
	}
	time.Sleep(time.Millisecond)
	closeWriter(t, w)
	wg.Wait()
	if got, want := int64(f.stored()+counter(t, m, "dropped")), recorded.Load(); got != want {
		t.Fatalf("stored %d + dropped %d = %d, recorded %d", f.stored(), counter(t, m, "dropped"), got, want)
	}
}

// TestWriterCleansEvents: text no database can store, and oversized
// fields and details, are cleaned before they reach the store, so a real
// store accepts the batch (it refuses a whole batch for one bad event).
func TestWriterCleansEvents(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			w := audit.NewWriter(st, audit.WriterOptions{FlushInterval: time.Hour})
			defer closeWriter(t, w)
			details := map[string]string{"reason": "bad\x00\xffvalue", strings.Repeat("k", 100): strings.Repeat("v", 1000)}
			for i := range 30 {
				details[fmt.Sprint("extra", i)] = "x"
			}
			w.Record(t.Context(), store.AuditEvent{
				TenantID: "t1", Type: audit.TypeLoginFailure,
				ActorID: "u\x00" + strings.Repeat("é", 300), Target: "user:\xff\xfe", Details: details,
			})
			w.Record(t.Context(), store.AuditEvent{TenantID: "t1"}) // no type
			if err := w.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			got, _, err := st.ListAudit(t.Context(), store.AuditFilter{TenantIDs: []string{"t1"}})
			if err != nil || len(got) != 2 {
				t.Fatalf("ListAudit: %d events, %v", len(got), err)
			}
			e := got[1]
			if len(e.ActorID) > 256 || !strings.HasPrefix(e.ActorID, "ué") || e.Target != "user:\uFFFD" {
				t.Errorf("cleaned fields: actor %q (%d bytes), target %q", e.ActorID, len(e.ActorID), e.Target)
			}
			if len(e.Details) > 17 || e.Details["truncated"] != "true" {
				t.Errorf("details not bounded: %d entries", len(e.Details))
			}
			if r, ok := e.Details["reason"]; ok && r != "bad\uFFFDvalue" {
				t.Errorf("reason %q", r)
			}
			if len(details) != 32 || details["reason"] != "bad\x00\xffvalue" {
				t.Error("the caller's map was changed")
			}
			if got[0].Type != "unknown" {
				t.Errorf("an event without a type stored as %q", got[0].Type)
			}
		})
	}
}
