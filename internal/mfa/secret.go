package mfa

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/sesame-idp/sesame/internal/secret"
)

// SecretBytes is the size of a TOTP secret: 160 bits, the length RFC 4226
// §4 (R6) recommends and the size of an HMAC-SHA1 block's key digest.
const SecretBytes = 20

// NewSecret returns a fresh TOTP secret from crypto/rand.
func NewSecret() []byte {
	b := make([]byte, SecretBytes)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return b
}

// b32 is the encoding authenticator apps expect in otpauth URIs and
// manual entry: RFC 4648 base32, upper case, without padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns the base32 text of a secret, for manual entry in
// an authenticator app.
func EncodeSecret(key []byte) string { return b32.EncodeToString(key) }

// DecodeSecret is the inverse of EncodeSecret; spaces and lower case, as
// people copy the text, are accepted.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	return b32.DecodeString(strings.TrimRight(s, "="))
}

// URI returns the otpauth:// URI of a secret (the Key URI format of
// Google Authenticator, which every authenticator app reads), labelled
// with the issuer (the tenant's name) and the account (the user name).
func URI(issuer, account string, key []byte) string {
	label := labelEscape(issuer) + ":" + labelEscape(account)
	if issuer == "" {
		label = labelEscape(account)
	}
	q := url.Values{}
	q.Set("secret", EncodeSecret(key))
	if issuer != "" {
		q.Set("issuer", issuer)
	}
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(Digits))
	q.Set("period", strconv.Itoa(int(Period.Seconds())))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// labelEscape escapes a part of the URI's label. The colon separates the
// issuer from the account, so one inside either is escaped too (the Key
// URI format forbids literal colons in them).
func labelEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
}

// errOpen is the one error Open returns, so that nothing about the
// failure reaches the caller's logs.
var errOpen = errors.New("mfa: sealed secret cannot be opened (wrong key-encryption key, tampered data, or moved to another account)")

// Sealer encrypts TOTP secrets at rest. It is safe for concurrent use.
//
// It is a secret.Sealer (AES-256-GCM, random nonce, key derived from the
// key-encryption key with HKDF-SHA-256) under a label of its own, so its key
// is never the key of another purpose (signing keys, token hashes), with
// tenant id and user id as the owner: a sealed secret copied to another
// account no longer opens.
type Sealer struct{ s *secret.Sealer }

// NewSealer returns a Sealer keyed from the deployment's key-encryption
// key (at least 32 bytes; every node must use the same one).
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) < 32 {
		return nil, errors.New("mfa: key-encryption key must be at least 32 bytes")
	}
	s, err := secret.NewSealer(kek, "sesame totp secret seal v1")
	if err != nil {
		return nil, err
	}
	return &Sealer{s: s}, nil
}

// Seal encrypts a secret for the user of a tenant.
func (s *Sealer) Seal(tenantID, userID string, key []byte) ([]byte, error) {
	return s.s.Seal(key, tenantID, userID)
}

// Open decrypts what Seal produced for the same tenant and user.
func (s *Sealer) Open(tenantID, userID string, sealed []byte) ([]byte, error) {
	key, err := s.s.Open(sealed, tenantID, userID)
	if errors.Is(err, secret.ErrSealedOpen) {
		return nil, errOpen
	}
	return key, err
}
