package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
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
	if len(master) < 32 {
		return nil, errors.New("secret: master key must be at least 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, master, nil, "sesame box v1 "+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal returns base64url(nonce || ciphertext) of plaintext.
func (b *Box) Seal(plaintext []byte) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plaintext, nil))
}

// Open reverses Seal.
func (b *Box) Open(sealed string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, ErrBoxOpen
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return nil, ErrBoxOpen
	}
	return pt, nil
}
