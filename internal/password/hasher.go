package password

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// ErrBusy is returned by Hasher methods when the hash was refused to shed
// load: too many callers already waiting, the caller waited MaxWait, or its
// context ended before a slot came free. Nothing was hashed. Callers should
// answer "try again later" (HTTP 503 or 429 with Retry-After), not
// "wrong password".
var ErrBusy = errors.New("password: hasher busy")

// HasherOptions configure a Hasher's load limits. Zero values take the
// documented defaults.
type HasherOptions struct {
	// Concurrency is how many hashes may run at once. Each one holds one
	// core for its duration and Params.Memory of heap, so this bounds both
	// CPU and memory. Default: runtime.GOMAXPROCS(0), since running more
	// hashes than cores only adds latency and memory.
	Concurrency int
	// QueueLimit is how many callers may wait for a slot while all are
	// busy; the next one gets ErrBusy at once. Default 64; a negative
	// value means nobody waits (ErrBusy whenever all slots are busy).
	QueueLimit int
	// MaxWait is how long a caller waits for a slot before ErrBusy.
	// Default 2 s: past that the user is better served by a quick error
	// than by a login that may time out anyway.
	MaxWait time.Duration
}

// Default load limits (see HasherOptions).
const (
	DefaultQueueLimit = 64
	DefaultMaxWait    = 2 * time.Second
)

// Rejections counts Hasher calls refused with ErrBusy, by reason, since the
// Hasher was created. The counts only grow, so they map directly onto
// metrics counters.
type Rejections struct {
	// QueueFull counts callers refused because QueueLimit callers were
	// already waiting.
	QueueFull uint64
	// Timeout counts callers that waited MaxWait without getting a slot.
	Timeout uint64
	// Canceled counts callers whose context ended before they got a slot.
	Canceled uint64
}

// Hasher hashes and verifies passwords under fixed Params while bounding
// how many argon2id computations run at once. At DefaultParams each one
// takes about 45 ms of one core and allocates 19 MiB. Unbounded, a login
// flood would start more hashes than there are cores: none would finish
// sooner, latency would grow without limit and every extra one would hold
// another 19 MiB until memory ran out. The Hasher instead lets Concurrency
// hashes run, lets up to QueueLimit callers wait at most MaxWait, and
// refuses the rest with ErrBusy right away.
//
// A Hasher is safe for concurrent use.
type Hasher struct {
	params  Params
	kdf     keyFunc
	maxWait time.Duration

	// slots holds one token per running hash (a counting semaphore).
	// Blocked senders are woken in FIFO order, so waiting is fair.
	slots chan struct{}
	// queue holds one token per waiting caller; nil when QueueLimit < 0,
	// which makes every queue attempt fail (a send on a nil channel is
	// never ready).
	queue chan struct{}

	// dummy is a hash of an unknown random password under params, so
	// that VerifyDummy costs exactly what Verify costs for a real user.
	dummy phcHash

	rejQueueFull atomic.Uint64
	rejTimeout   atomic.Uint64
	rejCanceled  atomic.Uint64
}

// NewHasher returns a Hasher that hashes under p with the given limits. It
// computes the dummy hash for VerifyDummy once, so it costs one hash.
//
// NewHasher panics if p.Validate fails: the parameters come from
// configuration, which should be validated (with p.Validate) when it is
// loaded, and a server must not start with parameters it refuses to use.
func NewHasher(p Params, opts HasherOptions) *Hasher {
	return newHasher(p, opts, argon2.IDKey)
}

// newHasher is NewHasher with an injectable key function, for tests.
func newHasher(p Params, opts HasherOptions, kdf keyFunc) *Hasher {
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("password.NewHasher: %v", err))
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.GOMAXPROCS(0)
	}
	if opts.QueueLimit == 0 {
		opts.QueueLimit = DefaultQueueLimit
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	h := &Hasher{
		params:  p,
		kdf:     kdf,
		maxWait: opts.MaxWait,
		slots:   make(chan struct{}, opts.Concurrency),
	}
	if opts.QueueLimit > 0 {
		h.queue = make(chan struct{}, opts.QueueLimit)
	}
	// The dummy password is random and thrown away, so no input can
	// match the dummy hash.
	phc, err := hash(rand.Text(), p, kdf)
	if err != nil {
		panic(fmt.Sprintf("password.NewHasher: dummy hash: %v", err))
	}
	if h.dummy, err = parsePHC(phc); err != nil {
		panic(fmt.Sprintf("password.NewHasher: dummy hash: %v", err))
	}
	return h
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// NeedsRehash reports whether phc should be replaced by a fresh hash under
// h's parameters; see the package-level NeedsRehash.
func (h *Hasher) NeedsRehash(phc string) bool { return NeedsRehash(phc, h.params) }

// Hash is the package-level Hash under h's parameters, run in a slot. It
// fails with ErrTooLong before queueing, or with ErrBusy (see Hasher).
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", ErrTooLong
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return hash(pw, h.params, h.kdf)
}

// Verify is the package-level Verify run in a slot. Oversized passwords
// (ErrTooLong) and malformed hashes (ErrMalformedHash) are refused before
// queueing, so they never take a slot; otherwise it may fail with ErrBusy
// (see Hasher). Once a hash has started it runs to completion: argon2
// cannot be interrupted, so ctx only matters while waiting.
func (h *Hasher) Verify(ctx context.Context, phc, pw string) (ok bool, err error) {
	if len(pw) > MaxPasswordBytes {
		return false, ErrTooLong
	}
	parsed, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	return h.verifyParsed(ctx, parsed, pw)
}

// VerifyDummy does the work of Verify against a hash no password matches
// and always reports false. Call it when the user is unknown, so that a
// login for an unknown account takes as long, and fails in the same ways
// (ErrTooLong, ErrBusy), as one for a known account with a wrong password;
// otherwise response times enumerate accounts. It matches a real user
// exactly when that user's stored hash uses h's parameters, which
// rehash-on-login (NeedsRehash) converges to.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) (ok bool, err error) {
	if len(pw) > MaxPasswordBytes {
		return false, ErrTooLong
	}
	_, err = h.verifyParsed(ctx, h.dummy, pw)
	return false, err
}

func (h *Hasher) verifyParsed(ctx context.Context, parsed phcHash, pw string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	return parsed.matches(pw, h.kdf), nil
}

// Stats returns how many hashes are running and how many callers are
// waiting for a slot right now, for gauges.
func (h *Hasher) Stats() (running, waiting int) {
	return len(h.slots), len(h.queue)
}

// Rejections returns the counts of calls refused with ErrBusy so far.
func (h *Hasher) Rejections() Rejections {
	return Rejections{
		QueueFull: h.rejQueueFull.Load(),
		Timeout:   h.rejTimeout.Load(),
		Canceled:  h.rejCanceled.Load(),
	}
}

// acquire takes a slot, waiting as HasherOptions allow.
//
// When ctx ends first, the error wraps both ErrBusy and ctx.Err(): callers
// that only map ErrBusy to "try again later" need no extra case, and those
// that care can still tell a departed client (context.Canceled) or an
// expired request deadline (context.DeadlineExceeded) from overload.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		h.rejCanceled.Add(1)
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	// Fast path: a free slot, no timer.
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	// Join the queue only if it has room; otherwise refuse at once, so a
	// flood is answered in microseconds instead of piling up goroutines.
	select {
	case h.queue <- struct{}{}:
	default:
		h.rejQueueFull.Add(1)
		return ErrBusy
	}
	defer func() { <-h.queue }()

	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timer.C:
		h.rejTimeout.Add(1)
		return ErrBusy
	case <-ctx.Done():
		h.rejCanceled.Add(1)
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }
