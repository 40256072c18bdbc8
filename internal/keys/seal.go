package keys

import (
	"errors"

	"github.com/sesame-idp/sesame/internal/secret"
)

// KEKSize is the least size of the key-encryption key given to NewSealer.
const KEKSize = 32

// errOpen is the one error Open returns for anything wrong with sealed
// bytes, so that nothing about the failure leaks to the caller's logs.
var errOpen = errors.New("keys: sealed key cannot be opened (wrong key-encryption key, tampered data, or key moved to another tenant, kid or algorithm)")

// Sealer encrypts private keys at rest. It is safe for concurrent use.
//
// It is a secret.Sealer (AES-256-GCM, random nonce, key derived from the
// key-encryption key with HKDF-SHA-256) under a label of its own, with
// tenant id, kid and algorithm as the owner: a sealed key copied to another
// tenant, key id or algorithm no longer opens.
type Sealer struct{ s *secret.Sealer }

// NewSealer returns a Sealer keyed from the deployment's key-encryption key
// (at least KEKSize bytes; every node must use the same one).
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) < KEKSize {
		return nil, errors.New("keys: key-encryption key must be at least 32 bytes")
	}
	s, err := secret.NewSealer(kek, "sesame signing key seal v1")
	if err != nil {
		return nil, err
	}
	return &Sealer{s: s}, nil
}

// Seal encrypts plaintext for the given tenant, key id and algorithm.
func (s *Sealer) Seal(tenantID, kid, alg string, plaintext []byte) ([]byte, error) {
	return s.s.Seal(plaintext, tenantID, kid, alg)
}

// Open decrypts what Seal produced for the same tenant, key id and
// algorithm. Tampered or truncated input, or any other tenant, key id or
// algorithm, is an error.
func (s *Sealer) Open(tenantID, kid, alg string, sealed []byte) ([]byte, error) {
	pt, err := s.s.Open(sealed, tenantID, kid, alg)
	if errors.Is(err, secret.ErrSealedOpen) {
		return nil, errOpen
	}
	return pt, err
}
