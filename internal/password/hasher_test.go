package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gatedKDF is a fake key function that, once armed, announces each call on
// entered and then blocks until release is closed. It lets tests hold
// hashes "running" for as long as they like, so the Hasher's limits are
// tested with explicit gates instead of timing assumptions.
type gatedKDF struct {
	armed   atomic.Bool
	calls   atomic.Int64
	entered chan Params
	release chan struct{}
}

func newGatedKDF() *gatedKDF {
	return &gatedKDF{entered: make(chan Params, 100), release: make(chan struct{})}
}

func (g *gatedKDF) key(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if g.armed.Load() {
		g.calls.Add(1)
		g.entered <- Params{Memory: memory, Time: time, Threads: threads, SaltLen: uint32(len(salt)), KeyLen: keyLen}
		<-g.release
	}
	return cheapKDF(pw, salt, time, memory, threads, keyLen)
}

// newGatedHasher builds a Hasher over a gatedKDF (the dummy hash is made
// before the gate is armed) and a stored hash of "secret".
func newGatedHasher(t *testing.T, opts HasherOptions) (*Hasher, *gatedKDF, string) {
	t.Helper()
	g := newGatedKDF()
	h := newHasher(DefaultParams, opts, g.key)
	phc, err := hash("secret", DefaultParams, cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release) // never leave goroutines blocked
		}
	})
	return h, g, phc
}

type result struct {
	ok  bool
	err error
}

func verifyAsync(ctx context.Context, h *Hasher, phc, pw string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		ok, err := h.Verify(ctx, phc, pw)
		ch <- result{ok, err}
	}()
	return ch
}

// waitFor polls cond. The deadline only turns a hang into a failure; no
// test outcome depends on how fast anything runs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// await receives one result, failing instead of hanging if it never comes.
func await(t *testing.T, what string, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return result{}
	}
}

func waiting(h *Hasher) int      { _, w := h.Stats(); return w }
func running(h *Hasher) int      { r, _ := h.Stats(); return r }
func idle(h *Hasher) func() bool { return func() bool { r, w := h.Stats(); return r == 0 && w == 0 } }

func TestHasherQueueFull(t *testing.T) {
	h, g, phc := newGatedHasher(t, HasherOptions{Concurrency: 1, QueueLimit: 2, MaxWait: time.Hour})
	ctx := context.Background()

	first := verifyAsync(ctx, h, phc, "secret")
	<-g.entered // the first caller is hashing and holds the only slot
	second := verifyAsync(ctx, h, phc, "secret")
	third := verifyAsync(ctx, h, phc, "wrong")
	waitFor(t, "two waiting callers", func() bool { return waiting(h) == 2 })
	if r := running(h); r != 1 {
		t.Errorf("running = %d, want 1", r)
	}

	// The 4th caller is refused without waiting: MaxWait is an hour and
	// the gate is still shut, so any wait would show up as a hang here.
	fourth := await(t, "4th caller", verifyAsync(ctx, h, phc, "secret"))
	if fourth.ok || !errors.Is(fourth.err, ErrBusy) {
		t.Fatalf("4th caller = %v, %v; want false, ErrBusy", fourth.ok, fourth.err)
	}
	// Hash is bounded by the same slots.
	if _, err := h.Hash(ctx, "new password"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash while full = %v, want ErrBusy", err)
	}
	if got, want := h.Rejections(), (Rejections{QueueFull: 2}); got != want {
		t.Errorf("Rejections = %+v, want %+v", got, want)
	}

	close(g.release)
	for _, c := range []struct {
		name string
		ch   <-chan result
		want bool
	}{{"first", first, true}, {"second", second, true}, {"third", third, false}} {
		if r := await(t, c.name, c.ch); r.err != nil || r.ok != c.want {
			t.Errorf("%s caller = %v, %v; want %v, nil", c.name, r.ok, r.err, c.want)
		}
	}
	if n := g.calls.Load(); n != 3 {
		t.Errorf("kdf calls = %d, want 3 (refused callers must not hash)", n)
	}
	waitFor(t, "hasher idle", idle(h))
}

func TestHasherMaxWait(t *testing.T) {
	h, g, phc := newGatedHasher(t, HasherOptions{Concurrency: 1, QueueLimit: 4, MaxWait: 20 * time.Millisecond})
	ctx := context.Background()

	first := verifyAsync(ctx, h, phc, "secret")
	<-g.entered
	// The slot stays taken (gate shut), so this caller can only return
	// by giving up after MaxWait.
	r := await(t, "waiting caller", verifyAsync(ctx, h, phc, "secret"))
	if r.ok || !errors.Is(r.err, ErrBusy) {
		t.Fatalf("caller past MaxWait = %v, %v; want false, ErrBusy", r.ok, r.err)
	}
	if got, want := h.Rejections(), (Rejections{Timeout: 1}); got != want {
		t.Errorf("Rejections = %+v, want %+v", got, want)
	}
	if w := waiting(h); w != 0 {
		t.Errorf("waiting = %d after timeout, want 0", w)
	}

	close(g.release)
	if r := await(t, "first caller", first); !r.ok || r.err != nil {
		t.Errorf("first caller = %v, %v; want true, nil", r.ok, r.err)
	}
	waitFor(t, "hasher idle", idle(h))
}

// A caller whose context ends while it waits gets an error that is both
// ErrBusy (so handlers need no extra case) and the context's error (so a
// departed client can be told from overload).
func TestHasherContextCanceled(t *testing.T) {
	h, g, phc := newGatedHasher(t, HasherOptions{Concurrency: 1, QueueLimit: 4, MaxWait: time.Hour})

	first := verifyAsync(context.Background(), h, phc, "secret")
	<-g.entered

	ctx, cancel := context.WithCancel(context.Background())
	waiter := verifyAsync(ctx, h, phc, "secret")
	waitFor(t, "one waiting caller", func() bool { return waiting(h) == 1 })
	cancel()
	r := await(t, "canceled caller", waiter)
	if r.ok || !errors.Is(r.err, ErrBusy) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("canceled caller = %v, %v; want false, ErrBusy wrapping context.Canceled", r.ok, r.err)
	}

	// An already-ended context is refused up front even though nothing
	// would have to wait.
	close(g.release)
	await(t, "first caller", first)
	waitFor(t, "hasher idle", idle(h))
	dl, cancelDL := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelDL()
	if _, err := h.Hash(dl, "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash with expired ctx = %v, want ErrBusy wrapping context.DeadlineExceeded", err)
	}
	if got, want := h.Rejections(), (Rejections{Canceled: 2}); got != want {
		t.Errorf("Rejections = %+v, want %+v", got, want)
	}
	if n := g.calls.Load(); n != 1 {
		t.Errorf("kdf calls = %d, want 1", n)
	}
}

func TestHasherNoQueue(t *testing.T) {
	h, g, phc := newGatedHasher(t, HasherOptions{Concurrency: 1, QueueLimit: -1, MaxWait: time.Hour})
	first := verifyAsync(context.Background(), h, phc, "secret")
	<-g.entered
	if _, err := h.Verify(context.Background(), phc, "secret"); !errors.Is(err, ErrBusy) {
		t.Errorf("Verify with no queue and no free slot = %v, want ErrBusy", err)
	}
	close(g.release)
	await(t, "first caller", first)
}

func TestHasherVerifyDummy(t *testing.T) {
	h, g, phc := newGatedHasher(t, HasherOptions{Concurrency: 2})
	close(g.release) // let calls through, but still record them
	ctx := context.Background()

	ok, err := h.VerifyDummy(ctx, "secret")
	if ok || err != nil {
		t.Fatalf("VerifyDummy = %v, %v; want false, nil", ok, err)
	}
	// It must have done exactly the work of a real verification, under
	// the Hasher's own parameters.
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("VerifyDummy made %d kdf calls, want 1", n)
	}
	if got := <-g.entered; got != DefaultParams {
		t.Errorf("VerifyDummy hashed with %+v, want %+v", got, DefaultParams)
	}
	if ok, err := h.Verify(ctx, phc, "secret"); !ok || err != nil {
		t.Errorf("Verify(known user) = %v, %v; want true, nil", ok, err)
	}
	if got := <-g.entered; got != DefaultParams {
		t.Errorf("Verify hashed with %+v, want %+v", got, DefaultParams)
	}

	// Oversized passwords fail the same way for known and unknown users,
	// and neither is hashed.
	long := strings.Repeat("x", MaxPasswordBytes+1)
	if _, err := h.VerifyDummy(ctx, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("VerifyDummy(too long) = %v, want ErrTooLong", err)
	}
	if _, err := h.Verify(ctx, phc, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Verify(too long) = %v, want ErrTooLong", err)
	}
	if _, err := h.Hash(ctx, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(too long) = %v, want ErrTooLong", err)
	}
	// Malformed stored hashes are refused before taking a slot.
	if _, err := h.Verify(ctx, "$argon2id$v=19$m=4194304,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "pw"); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("Verify(huge m) = %v, want ErrMalformedHash", err)
	}
	if n := g.calls.Load(); n != 2 {
		t.Errorf("kdf calls = %d, want 2", n)
	}
}

// TestHasherReal runs the real argon2id path end to end once: construction
// (dummy hash), Hash, Verify, VerifyDummy, NeedsRehash.
func TestHasherReal(t *testing.T) {
	h := NewHasher(DefaultParams, HasherOptions{})
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !phcPattern.MatchString(phc) {
		t.Errorf("Hash = %q, want match for %v", phc, phcPattern)
	}
	if ok, err := h.Verify(ctx, phc, "correct horse"); !ok || err != nil {
		t.Errorf("Verify = %v, %v; want true, nil", ok, err)
	}
	if ok, err := h.VerifyDummy(ctx, "correct horse"); ok || err != nil {
		t.Errorf("VerifyDummy = %v, %v; want false, nil", ok, err)
	}
	if h.NeedsRehash(phc) {
		t.Error("NeedsRehash(fresh hash) = true")
	}
	if h.Params() != DefaultParams {
		t.Errorf("Params = %+v", h.Params())
	}
}

func TestHasherDefaults(t *testing.T) {
	h := newHasher(DefaultParams, HasherOptions{}, cheapKDF)
	if got, want := cap(h.slots), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("Concurrency = %d, want GOMAXPROCS = %d", got, want)
	}
	if got := cap(h.queue); got != DefaultQueueLimit {
		t.Errorf("QueueLimit = %d, want %d", got, DefaultQueueLimit)
	}
	if h.maxWait != DefaultMaxWait {
		t.Errorf("MaxWait = %v, want %v", h.maxWait, DefaultMaxWait)
	}
}

func TestNewHasherRejectsWeakParams(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHasher with weak params did not panic")
		}
	}()
	newHasher(Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, HasherOptions{}, cheapKDF)
}
