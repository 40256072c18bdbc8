package password

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordBytes is the longest password, in bytes, that Hash and Verify
// accept. argon2 itself takes any length, but hashing a multi-megabyte
// "password" first runs BLAKE2b over all of it, so an unbounded input is a
// cheap CPU DoS. 1024 bytes is far beyond any passphrase.
const MaxPasswordBytes = 1024

// ErrTooLong is returned when a password exceeds MaxPasswordBytes. Nothing
// is hashed in that case.
var ErrTooLong = errors.New("password: longer than MaxPasswordBytes")

// keyFunc has the signature of argon2.IDKey. It is a variable only so that
// tests can substitute a fast or gated fake; production code always uses
// argon2.IDKey.
type keyFunc func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// Hash hashes pw with argon2id under p and a fresh random salt, and returns
// the PHC string to store. It fails with ErrTooLong for passwords over
// MaxPasswordBytes and with an error wrapping ErrInvalidParams when
// p.Validate fails.
//
// Hash is not bounded: a server should use Hasher.Hash instead.
func Hash(pw string, p Params) (string, error) {
	return hash(pw, p, argon2.IDKey)
}

func hash(pw string, p Params, kdf keyFunc) (string, error) {
	if len(pw) > MaxPasswordBytes {
		return "", ErrTooLong
	}
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(salt)
	key := kdf([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return phcHash{params: p, salt: salt, key: key}.encode(), nil
}

// Verify reports whether pw matches the stored PHC string phc.
//
// A wrong password gives (false, nil). A password over MaxPasswordBytes
// gives ErrTooLong, and a phc that is not an argon2id v=19 PHC string this
// package accepts gives an error wrapping ErrMalformedHash; neither is
// hashed. Parsing is strict and bounded, so that a corrupt stored hash can
// neither panic nor pin the server: it refuses m > 1 GiB, t > 100, p = 0,
// m < 8 KiB per lane, salts outside 8–64 bytes and hashes outside 16–64
// bytes. Parameters weaker than DefaultParams but within those bounds are
// accepted (for imported hashes); NeedsRehash flags them.
//
// The comparison is constant-time. Verify is not bounded: a server should
// use Hasher.Verify instead.
func Verify(phc, pw string) (ok bool, err error) {
	return verify(phc, pw, argon2.IDKey)
}

func verify(phc, pw string, kdf keyFunc) (bool, error) {
	if len(pw) > MaxPasswordBytes {
		return false, ErrTooLong
	}
	h, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	return h.matches(pw, kdf), nil
}

// matches recomputes the hash of pw with h's salt and parameters and
// compares in constant time, so the comparison leaks nothing about how
// many leading bytes of a guess were right.
func (h phcHash) matches(pw string, kdf keyFunc) bool {
	p := h.params
	got := kdf([]byte(pw), h.salt, p.Time, p.Memory, p.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// NeedsRehash reports whether the stored hash phc should be replaced by a
// fresh Hash under p: true when it uses another algorithm or version, other
// cost parameters or other salt/hash lengths (weaker or stronger), or does
// not parse at all. Call it after a successful Verify, when the plaintext
// is at hand.
func NeedsRehash(phc string, p Params) bool {
	h, err := parsePHC(phc)
	if err != nil {
		return true
	}
	return h.params != p
}
