package idtoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-idp/sesame/internal/keys"
)

// NotBeforeSkew is how far nbf lies before iat, as in the vendor's example
// token (contract §7): it tolerates relying parties whose clocks are a
// little behind.
const NotBeforeSkew = 120 * time.Second

// DefaultAlgorithm signs the id_tokens of applications that name no
// algorithm (contract §7; OIDC Discovery requires RS256 support).
const DefaultAlgorithm = keys.RS256

// Claims is the payload of an id_token (contract §7, OIDC Core §2). Times
// are NumericDate: seconds since the Unix epoch. Mint sets IssuedAt,
// NotBefore and Expiry, and ID when empty; the caller sets the rest.
// Optional claims are left out of the token when empty.
type Claims struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"` // the client_id of the application
	Subject   string `json:"sub"` // the user's stable id
	Expiry    int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"` // iat − NotBeforeSkew
	ID        string `json:"jti"` // 16 random bytes, base64url

	// The user's profile (contract §7, names as in the vendor's tokens).
	UserID   string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	UserName string `json:"userName,omitempty"`
	Mobile   string `json:"mobile,omitempty"`
	Email    string `json:"email,omitempty"`

	// OpenID Connect flows only (OIDC Core §2, §3.1.3.6).
	Nonce           string `json:"nonce,omitempty"`
	AuthTime        int64  `json:"auth_time,omitempty"`
	AccessTokenHash string `json:"at_hash,omitempty"`
	AuthorizedParty string `json:"azp,omitempty"`
}

// Minter mints id_tokens. It is safe for concurrent use.
type Minter struct {
	keys *keys.Manager
	now  func() time.Time
}

// NewMinter returns a Minter signing with the keys of km. now is the clock
// (nil: time.Now); it should be the clock km uses.
func NewMinter(km *keys.Manager, now func() time.Time) *Minter {
	if km == nil {
		panic("idtoken: NewMinter needs a key manager")
	}
	if now == nil {
		now = time.Now
	}
	return &Minter{keys: km, now: now}
}

// Mint returns c as a compact JWS signed with the tenant's current key for
// alg ("" means DefaultAlgorithm), with protected header alg, kid and typ
// "JWT". It sets iat to now, nbf to iat − NotBeforeSkew, exp to iat + ttl
// (rounded down to whole seconds) and, if c.ID is empty, a random jti.
func (m *Minter) Mint(ctx context.Context, tenantID, alg string, ttl time.Duration, c Claims) (string, error) {
	if c.Issuer == "" || c.Audience == "" || c.Subject == "" {
		return "", errors.New("idtoken: iss, aud and sub are required")
	}
	if ttl < time.Second {
		return "", fmt.Errorf("idtoken: lifetime %v is shorter than one second", ttl)
	}
	if alg == "" {
		alg = DefaultAlgorithm
	}
	signer, _, err := m.keys.Signer(ctx, tenantID, alg)
	if err != nil {
		return "", err
	}
	iat := m.now().Unix()
	c.IssuedAt = iat
	c.NotBefore = iat - int64(NotBeforeSkew/time.Second)
	c.Expiry = iat + int64(ttl/time.Second)
	if c.ID == "" {
		c.ID = NewID()
	}
	payload, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("idtoken: marshal claims: %w", err)
	}
	return signer.Sign(payload)
}

// NewID returns a fresh jti: 16 random bytes, base64url without padding
// (22 characters), like the vendor's tokens.
func NewID() string {
	var b [16]byte
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ATHash returns the at_hash of accessToken for an id_token signed with alg
// (OIDC Core §3.1.3.6): the base64url encoding of the left half of the hash
// of the token's ASCII octets, with the hash of alg's JWS signature: SHA-256
// for RS256 and ES256, SHA-512 for RS512, and SHA-512 for EdDSA with
// Ed25519 (the hash Ed25519 uses, per the OpenID Foundation's
// clarification). It returns "" for any other algorithm.
func ATHash(accessToken, alg string) string {
	switch alg {
	case keys.RS256, keys.ES256:
		h := sha256.Sum256([]byte(accessToken))
		return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
	case keys.RS512, keys.EdDSA:
		h := sha512.Sum512([]byte(accessToken))
		return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
	}
	return ""
}
