package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/store"
)

// Or returns r, or Discard when r is nil: the domain packages' Audit
// fields are optional.
func Or(r Recorder) Recorder {
	if r == nil {
		return Discard{}
	}
	return r
}

// WriterOptions configure a Writer. Zero values take the defaults.
type WriterOptions struct {
	// BufferSize is how many events wait in memory for the database
	// (default 4096).
	BufferSize int
	// BatchSize is the most events stored in one transaction; a full batch
	// is written at once (default 256).
	BatchSize int
	// FlushInterval is the longest an event waits before it is written
	// (default 1s).
	FlushInterval time.Duration
	// FullWait is how long Record waits for room when the buffer is full
	// before it drops the event (default 50ms; negative: never wait).
	FullWait time.Duration
	// StoreTimeout bounds one AppendAudit call (default 10s).
	StoreTimeout time.Duration
	// Attempts is how many times a batch is tried before its events are
	// counted as failed and dropped (default 3).
	Attempts int
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default: discard
	Metrics  *metrics.Metrics // nil: no metrics
}

// Writer is the Recorder of a running server. Record only puts the event
// into a bounded in-memory buffer; one goroutine stores the buffer through
// store.AuditStore.AppendAudit in batches, when BatchSize events are
// waiting or FlushInterval has passed, whichever comes first. A request
// therefore pays no database round trip for its audit events, and the
// database sees one transaction per batch instead of one per event (on
// SQLite, whose single writer the requests share, that matters most).
//
// When the buffer is full, Record waits at most FullWait for room and then
// drops the event, counting it (sesame_audit_events_total{outcome=
// "dropped"}) and logging (at most once a second). Why not wait longer, or
// block: the writer stores tens of thousands of events a second, so a
// buffer that stays full means the database is stalled or refusing
// writes; waiting would turn an audit-store problem into a login and token
// outage, which the Recorder contract forbids ("never fails the caller's
// operation"). The short wait still rides out a slow commit or a burst
// without losing anything. Why not drop at once: a burst of a few
// thousand events (a load spike on one node) would lose events for no
// reason.
//
// A batch the store refuses is tried again at the next interval, up to
// Attempts times (a database restart of a few seconds loses nothing);
// meanwhile new events wait in the buffer. After the last attempt its
// events are counted as failed and logged.
//
// Record takes a mutex and appends to a slice: it wakes the writer's
// goroutine only when a full batch is waiting, so an event costs the
// request a lock and a copy, not a context switch (BenchmarkWriterRecord;
// an earlier version sent each event on a channel, which woke the
// goroutine every time and cost several times as much under load).
//
// Events written by one Writer keep their order; events are ordered in
// the log by their time, which Record sets, then by arrival.
type Writer struct {
	store store.AuditStore

	batchSize    int
	bufferSize   int
	interval     time.Duration
	fullWait     time.Duration
	storeTimeout time.Duration
	attempts     int
	now          func() time.Time
	logger       *slog.Logger
	metrics      *metrics.Metrics

	mu sync.Mutex
	// buf holds the events recorded and not yet taken by the writer's
	// goroutine, at most bufferSize.
	buf []store.AuditEvent
	// space, when not nil, is closed when the goroutine next takes
	// events out of the buffer: Records waiting for room wait on it.
	space  chan struct{}
	closed bool // set by Close; no event enters buf after it

	kick     chan struct{}        // a full batch is waiting (capacity 1)
	flushReq chan chan error      // Flush
	stop     chan context.Context // Close (capacity 1)
	done     chan struct{}        // closed when the goroutine has ended
	closeErr error                // the final drain's result, set before done

	dropped  atomic.Int64 // drops not yet reported in the log
	lastWarn atomic.Int64 // unix nanoseconds of the last drop warning
}

var _ Recorder = (*Writer)(nil)

// NewWriter starts a writer storing into st. The caller must Close it.
func NewWriter(st store.AuditStore, o WriterOptions) *Writer {
	if o.BufferSize <= 0 {
		o.BufferSize = 4096
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.FullWait == 0 {
		o.FullWait = 50 * time.Millisecond
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 10 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		store:        st,
		batchSize:    min(o.BatchSize, o.BufferSize),
		bufferSize:   o.BufferSize,
		interval:     o.FlushInterval,
		fullWait:     max(o.FullWait, 0),
		storeTimeout: o.StoreTimeout,
		attempts:     o.Attempts,
		now:          o.Now,
		logger:       o.Logger,
		metrics:      o.Metrics,
		buf:          make([]store.AuditEvent, 0, o.BufferSize),
		kick:         make(chan struct{}, 1),
		flushReq:     make(chan chan error),
		stop:         make(chan context.Context, 1),
		done:         make(chan struct{}),
	}
	go w.run()
	return w
}

// Record implements Recorder. It fills in the time (the writer's clock)
// and the source IP (from ctx, see WithSourceIP) when they are empty,
// bounds and cleans the text, and queues the event.
func (w *Writer) Record(ctx context.Context, e store.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = w.now()
	}
	if e.SourceIP == "" {
		e.SourceIP = SourceIP(ctx)
	}
	clean(&e)
	queued, closed, space := w.enqueue(e)
	if queued {
		return
	}
	if closed {
		w.drop(ctx, "audit writer closed: event dropped")
		return
	}
	if w.fullWait > 0 {
		t := time.NewTimer(w.fullWait)
		defer t.Stop()
		for {
			select {
			case <-space:
			case <-t.C:
				w.drop(ctx, "audit buffer full: events dropped")
				return
			case <-ctx.Done():
				w.drop(ctx, "audit buffer full: events dropped")
				return
			}
			if queued, closed, space = w.enqueue(e); queued {
				return
			}
			if closed {
				break
			}
		}
	}
	w.drop(ctx, "audit buffer full: events dropped")
}

// enqueue appends e to the buffer. When the buffer is full it returns the
// channel that is closed when there may be room; after Close, closed.
func (w *Writer) enqueue(e store.AuditEvent) (queued, closed bool, space <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false, true, nil
	}
	if len(w.buf) >= w.bufferSize {
		if w.space == nil {
			w.space = make(chan struct{})
		}
		return false, false, w.space
	}
	w.buf = append(w.buf, e)
	if len(w.buf)%w.batchSize == 0 {
		select {
		case w.kick <- struct{}{}:
		default: // already signalled
		}
	}
	return true, false, nil
}

// take moves the waiting events to the end of dst: every one with all,
// else only whole batches. It wakes Records waiting for room.
func (w *Writer) take(dst []store.AuditEvent, all bool) []store.AuditEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := len(w.buf)
	if !all {
		k -= k % w.batchSize
	}
	if k == 0 {
		return dst
	}
	dst = append(dst, w.buf[:k]...)
	n := copy(w.buf, w.buf[k:])
	clear(w.buf[n:]) // release the moved events' strings
	w.buf = w.buf[:n]
	if w.space != nil {
		close(w.space)
		w.space = nil
	}
	return dst
}

// Buffered returns how many events wait in memory.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.buf)
}

// Flush stores every event recorded before the call. It returns an error
// if some could not be stored (they are kept for another attempt, as
// after a failed interval flush, until the attempts are spent).
func (w *Writer) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case w.flushReq <- reply:
	case <-w.done:
		return errors.New("audit: writer closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking events, stores every buffered one and stops the
// writer. ctx bounds the final writes: what is not stored by its deadline
// is counted as failed. Close is safe to call more than once.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	if w.space != nil {
		close(w.space) // waiting Records see closed and drop
		w.space = nil
	}
	w.mu.Unlock()
	if !already {
		// Buffered: the goroutine takes it after the write in progress,
		// if any, and Close waits below only as long as ctx allows.
		w.stop <- ctx
	}
	select {
	case <-w.done:
		return w.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer's goroutine. pending holds the events taken from the
// buffer and not yet stored; failures counts the failed attempts of its
// first batch. While a batch is held after a failure, only the interval
// retries it (kicks are ignored) and nothing more is taken, so memory
// stays bounded and the buffer's full-wait-then-drop rule applies.
func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	var pending []store.AuditEvent
	failures := 0
	for {
		select {
		case <-w.kick:
			if failures == 0 {
				pending = w.take(pending, false)
				pending, failures, _ = w.save(context.Background(), pending, failures, false)
			}
		case <-t.C:
			if failures == 0 {
				pending = w.take(pending, true)
			}
			pending, failures, _ = w.save(context.Background(), pending, failures, false)
		case reply := <-w.flushReq:
			var err error
			pending, failures, err = w.save(context.Background(), pending, failures, false)
			if err == nil {
				pending = w.take(pending, true)
				pending, failures, err = w.save(context.Background(), pending, failures, false)
			}
			reply <- err
		case ctx := <-w.stop:
			// closed is set: nothing enters the buffer any more.
			pending = w.take(pending, true)
			_, _, w.closeErr = w.save(ctx, pending, failures, true)
			return
		}
	}
}

// save writes pending batch by batch and returns what is left: nothing,
// or, after a failure, the events from the failed batch on with the
// number of failed attempts. A batch that has failed Attempts times is
// counted as failed and dropped, and the next one is tried. With final,
// each batch gets one attempt, its last.
func (w *Writer) save(ctx context.Context, pending []store.AuditEvent, failures int, final bool) ([]store.AuditEvent, int, error) {
	var lost, off int
	// rest keeps what is left at the front of pending's array (reused).
	rest := func() []store.AuditEvent {
		n := copy(pending, pending[off:])
		clear(pending[n:]) // release the stored events' strings
		return pending[:n]
	}
	for off < len(pending) {
		n := min(len(pending)-off, w.batchSize)
		if final {
			failures = w.attempts - 1
		}
		wctx, cancel := context.WithTimeout(ctx, w.storeTimeout)
		err := w.store.AppendAudit(wctx, pending[off:off+n]...)
		cancel()
		switch {
		case err == nil:
			w.metrics.Audit("stored", n)
			failures = 0
		case failures+1 < w.attempts:
			failures++
			w.logger.Warn("storing audit events failed; will retry", "events", n, "attempt", failures, "err", err)
			return rest(), failures, fmt.Errorf("audit: storing events failed (attempt %d): %w", failures, err)
		default:
			w.metrics.Audit("failed", n)
			w.logger.Error("storing audit events failed; events lost", "events", n, "attempts", failures+1, "err", err)
			lost += n
			failures = 0
		}
		off += n
	}
	if lost > 0 {
		return rest(), 0, fmt.Errorf("audit: %d events could not be stored", lost)
	}
	return rest(), 0, nil
}

// drop counts a dropped event and logs drops at most once a second: when
// the buffer is full every request drops alike.
func (w *Writer) drop(ctx context.Context, msg string) {
	w.metrics.Audit("dropped", 1)
	w.dropped.Add(1)
	now := time.Now().UnixNano()
	last := w.lastWarn.Load()
	if now-last < int64(time.Second) || !w.lastWarn.CompareAndSwap(last, now) {
		return
	}
	w.logger.WarnContext(ctx, msg, "dropped", w.dropped.Swap(0))
}

// Limits on what one event may hold: audit data is small, and much of it
// (a client id, a user agent, a failure reason) comes from requests.
const (
	maxField      = 256 // bytes of each text field
	maxDetails    = 16  // entries of Details
	maxDetailKey  = 64
	maxDetailText = 512
)

// clean bounds the event's text and makes it storable on every database:
// valid UTF-8 without NUL (PostgreSQL refuses both, and the store refuses
// a whole batch for one such event). Fields that are already fine are
// left alone, so the usual event costs no allocation here.
func clean(e *store.AuditEvent) {
	e.TenantID = cleanText(e.TenantID, maxField)
	e.Type = cleanText(e.Type, maxField)
	e.ActorTenantID = cleanText(e.ActorTenantID, maxField)
	e.ActorID = cleanText(e.ActorID, maxField)
	e.Target = cleanText(e.Target, maxField)
	e.SourceIP = cleanText(e.SourceIP, maxField)
	if e.Type == "" {
		e.Type = "unknown" // the store requires a type
	}
	if len(e.Details) == 0 {
		return
	}
	ok := len(e.Details) <= maxDetails
	for k, v := range e.Details {
		if ok && (cleanText(k, maxDetailKey) != k || cleanText(v, maxDetailText) != v) {
			ok = false
		}
	}
	if ok {
		return
	}
	// Rebuild rather than edit: the caller may still hold the map.
	d := make(map[string]string, min(len(e.Details), maxDetails))
	for k, v := range e.Details {
		if len(d) == maxDetails {
			d["truncated"] = "true"
			break
		}
		d[cleanText(k, maxDetailKey)] = cleanText(v, maxDetailText)
	}
	e.Details = d
}

// cleanText returns s as valid UTF-8 without NUL, cut to at most max bytes
// on a rune boundary.
func cleanText(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
