package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"strings"
)

// ErrSealedOpen is the one error Sealer.Open returns for anything wrong
// with sealed bytes (wrong key, tampered or truncated data, another owner),
// so that nothing about the failure reaches a caller's logs.
var ErrSealedOpen = errors.New("secret: sealed value cannot be opened")

// Sealer encrypts values at rest for an owner: signing keys for a tenant,
// kid and algorithm (package keys), TOTP secrets for a tenant and user
// (package mfa). It is safe for concurrent use.
//
// A sealed value is nonce || ciphertext || tag of AES-256-GCM with a random
// 96-bit nonce. The additional data is the owner's fields joined by NUL, so
// a value copied to another owner no longer opens. The AES key is derived
// from the key-encryption key with HKDF-SHA-256 under a label of the
// caller's, so no key serves two purposes.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a Sealer keyed from the deployment's key-encryption
// key (at least 32 bytes; every node must use the same one) for label.
func NewSealer(kek []byte, label string) (*Sealer, error) {
	aead, err := newAEAD(kek, label)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// newAEAD derives the AES-256-GCM of label from the master secret.
// NewGCMWithRandomNonce draws a fresh nonce per Seal and prepends it:
// exactly nonce || ciphertext || tag.
func newAEAD(master []byte, label string) (cipher.AEAD, error) {
	if len(master) < 32 {
		return nil, errors.New("secret: key-encryption key must be at least 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, master, nil, label, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// Seal encrypts plaintext for owner.
func (s *Sealer) Seal(plaintext []byte, owner ...string) ([]byte, error) {
	ad, err := ownerData(owner)
	if err != nil {
		return nil, err
	}
	return s.aead.Seal(nil, nil, plaintext, ad), nil
}

// Open decrypts what Seal produced for the same owner.
func (s *Sealer) Open(sealed []byte, owner ...string) ([]byte, error) {
	ad, err := ownerData(owner)
	if err != nil {
		return nil, err
	}
	if len(sealed) < s.aead.Overhead() {
		return nil, ErrSealedOpen
	}
	pt, err := s.aead.Open(nil, nil, sealed, ad)
	if err != nil {
		return nil, ErrSealedOpen
	}
	return pt, nil
}

// ownerData joins the owner's fields by NUL. A NUL inside a field would
// make the encoding ambiguous ("a\x00b" + "c" against "a" + "b\x00c"), so
// such fields are refused.
func ownerData(owner []string) ([]byte, error) {
	for _, f := range owner {
		if strings.ContainsRune(f, 0) {
			return nil, errors.New("secret: the owner of a sealed value must not contain NUL")
		}
	}
	return []byte(strings.Join(owner, "\x00")), nil
}
