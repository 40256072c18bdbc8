package secret

import (
	"crypto/cipher"
	"encoding/base64"
	"errors"
)

// ErrBoxOpen means a sealed value was tampered with, sealed under another
// key or purpose, or is not a sealed value at all.
var ErrBoxOpen = errors.New("secret: cannot open sealed value")

// Box seals small values for a round trip through a client (a form field,
// a cookie): AES-256-GCM under a key derived from the master secret for
// one purpose, so a value sealed for one purpose cannot be opened as
// another.
type Box struct{ aead cipher.AEAD }

// NewBox derives a Box for purpose from the master secret.
func NewBox(master []byte, purpose string) (*Box, error) {
	aead, err := newAEAD(master, "sesame box v1 "+purpose)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal returns base64url(nonce || ciphertext) of plaintext.
func (b *Box) Seal(plaintext []byte) string {
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nil, nil, plaintext, nil))
}

// Open reverses Seal.
func (b *Box) Open(sealed string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.Overhead() {
		return nil, ErrBoxOpen
	}
	pt, err := b.aead.Open(nil, nil, raw, nil)
	if err != nil {
		return nil, ErrBoxOpen
	}
	return pt, nil
}
