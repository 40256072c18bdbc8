package secret

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
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
	hashKey   []byte
	deriveKey []byte
}

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
	return &Hasher{hashKey: hk, deriveKey: dk}, nil
}

// Hash returns HMAC-SHA-256 of token under the hashing key, prefixed by a
// purpose label so that a value of one kind can never be looked up as
// another kind (a state token presented as a session token, say).
func (h *Hasher) Hash(purpose, token string) []byte {
	m := hmac.New(sha256.New, h.hashKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(token))
	return m.Sum(nil)
}

// Successor derives the token that replaces token when it is rotated.
//
// Deriving it (instead of drawing it at random) is what lets a rotated
// token, presented again within its grace period, be answered with the same
// successor (contract §2.2) while only hashes are stored: the server can
// recompute the successor from the presented token, and nobody without the
// server key can.
func (h *Hasher) Successor(purpose, token string) string {
	m := hmac.New(sha256.New, h.deriveKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Equal compares two hashes in constant time.
func Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
