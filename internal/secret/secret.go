package secret

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"sync"
)

// TokenBytes is the entropy of every token Sesame generates.
const TokenBytes = 32

// NewToken returns a fresh random token: 32 bytes from crypto/rand,
// base64url without padding (43 characters).
func NewToken() string {
	b := make([]byte, TokenBytes)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hasher computes the keyed hashes tokens are stored and looked up under,
// and derives successor tokens. It is safe for concurrent use.
type Hasher struct {
	// hashes and derives hold reset HMAC states under the hashing and the
	// derivation key. Every request hashes its token, and hmac.New
	// allocates two SHA-256 states plus the padded keys each time (9
	// allocations per Hash before, BenchmarkHash); a reset HMAC state is
	// the same as a new one under the same key (hash.Hash: Reset "resets
	// the Hash to its initial state"), so pooling changes no output
	// (TestHasherMatchesPlainHMAC).
	hashes  sync.Pool
	derives sync.Pool
}

// macState is one pooled HMAC state, the scratch buffer its message is
// assembled in (one Write, and no []byte(string) conversion per part) and
// the array its sum is taken into (a slice passed to hash.Hash.Sum escapes
// to the heap; the state's own array is already there).
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// maxPooledBuf bounds the scratch buffer a state keeps between uses, so
// that one huge input does not pin its memory in the pool.
const maxPooledBuf = 1 << 10

// NewHasher derives the hashing keys from the server's master secret (the
// key-encryption key). All nodes of one deployment share the master secret,
// so they compute the same hashes.
func NewHasher(master []byte) (*Hasher, error) {
	if len(master) < 32 {
		return nil, errors.New("secret: master key must be at least 32 bytes")
	}
	hk, err := hkdf.Key(sha256.New, master, nil, "sesame token hash v1", 32)
	if err != nil {
		return nil, err
	}
	dk, err := hkdf.Key(sha256.New, master, nil, "sesame token derivation v1", 32)
	if err != nil {
		return nil, err
	}
	h := &Hasher{}
	h.hashes.New = func() any { return &macState{mac: hmac.New(sha256.New, hk)} }
	h.derives.New = func() any { return &macState{mac: hmac.New(sha256.New, dk)} }
	return h, nil
}

// mac sets *out to HMAC-SHA-256(purpose || 0x00 || token) under the key of
// pool's states.
func mac(pool *sync.Pool, out *[sha256.Size]byte, purpose, token string) {
	s := pool.Get().(*macState)
	s.buf = append(append(append(s.buf[:0], purpose...), 0), token...)
	s.mac.Write(s.buf)
	s.mac.Sum(s.sum[:0])
	*out = s.sum
	// The message holds a live token and the sum may be one (Successor):
	// clear both, and reset the state (pooled states are always reset),
	// before it goes back to the pool or to the garbage collector.
	s.mac.Reset()
	clear(s.buf)
	clear(s.sum[:])
	if cap(s.buf) > maxPooledBuf {
		s.buf = nil
	}
	pool.Put(s)
}

// Hash returns HMAC-SHA-256 of token under the hashing key, prefixed by a
// purpose label so that a value of one kind can never be looked up as
// another kind (a state token presented as a session token, say).
func (h *Hasher) Hash(purpose, token string) []byte {
	var sum [sha256.Size]byte
	mac(&h.hashes, &sum, purpose, token)
	return sum[:]
}

// Successor derives the token that replaces token when it is rotated.
//
// Deriving it (instead of drawing it at random) is what lets a rotated
// token, presented again within its grace period, be answered with the same
// successor (contract §2.2) while only hashes are stored: the server can
// recompute the successor from the presented token, and nobody without the
// server key can.
func (h *Hasher) Successor(purpose, token string) string {
	var (
		sum [sha256.Size]byte
		enc [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	)
	mac(&h.derives, &sum, purpose, token)
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	clear(sum[:])
	return string(enc[:])
}

// Equal compares two hashes in constant time.
func Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
