package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"strings"
)

// KEKSize is the least size of the key-encryption key given to NewSealer.
const KEKSize = 32

// errOpen is the one error Open returns for anything wrong with sealed
// bytes, so that nothing about the failure leaks to the caller's logs.
var errOpen = errors.New("keys: sealed key cannot be opened (wrong key-encryption key, tampered data, or key moved to another tenant, kid or algorithm)")

// Sealer encrypts private keys at rest. It is safe for concurrent use.
//
// A sealed key is nonce || ciphertext || tag of AES-256-GCM with a random
// 12-byte nonce. The additional data is tenantID + "\x00" + kid + "\x00" +
// algorithm, so a sealed key copied to another tenant, key id or algorithm
// no longer opens.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer keyed from the deployment's key-encryption key
// (at least KEKSize bytes; every node must use the same one).
//
// The AES-256 key is derived from kek with HKDF-SHA-256 and a label of its
// own, so the same master secret can also key other primitives (see package
// secret) without any key being used for two purposes.
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) < KEKSize {
		return nil, errors.New("keys: key-encryption key must be at least 32 bytes")
	}
	k, err := hkdf.Key(sha256.New, kek, nil, "sesame signing key seal v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	// NewGCMWithRandomNonce draws a fresh 96-bit nonce per Seal and
	// prepends it to the ciphertext: exactly nonce || ciphertext.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for the given tenant, key id and algorithm.
func (s *Sealer) Seal(tenantID, kid, alg string, plaintext []byte) ([]byte, error) {
	ad, err := additionalData(tenantID, kid, alg)
	if err != nil {
		return nil, err
	}
	return s.aead.Seal(nil, nil, plaintext, ad), nil
}

// Open decrypts what Seal produced for the same tenant, key id and
// algorithm. Tampered or truncated input, or any other tenant, key id or
// algorithm, is an error.
func (s *Sealer) Open(tenantID, kid, alg string, sealed []byte) ([]byte, error) {
	ad, err := additionalData(tenantID, kid, alg)
	if err != nil {
		return nil, err
	}
	if len(sealed) < s.aead.Overhead() {
		return nil, errOpen
	}
	pt, err := s.aead.Open(nil, nil, sealed, ad)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// additionalData binds a sealed key to its owner. A NUL inside a field would
// make the encoding ambiguous ("a\x00b" + "c" against "a" + "b\x00c"), so
// fields containing one are refused.
func additionalData(tenantID, kid, alg string) ([]byte, error) {
	if strings.ContainsRune(tenantID, 0) || strings.ContainsRune(kid, 0) || strings.ContainsRune(alg, 0) {
		return nil, errors.New("keys: tenant id, kid and algorithm must not contain NUL")
	}
	ad := make([]byte, 0, len(tenantID)+len(kid)+len(alg)+2)
	ad = append(ad, tenantID...)
	ad = append(ad, 0)
	ad = append(ad, kid...)
	ad = append(ad, 0)
	ad = append(ad, alg...)
	return ad, nil
}
