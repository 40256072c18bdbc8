package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/store"
)

// The signing algorithms of contract §7 (JWA names, RFC 7518 §3.1 and
// RFC 8037 §3.1).
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048 key
	RS512 = "RS512" // RSASSA-PKCS1-v1_5 with SHA-512, RSA-2048 key
	ES256 = "ES256" // ECDSA P-256 with SHA-256
	EdDSA = "EdDSA" // Ed25519
)

// RSABits is the size of generated RSA keys. RSA-2048 already costs about
// 1 ms per signature; 3072 bits would cost 2.6 times as much.
const RSABits = 2048

// ErrUnsupportedAlgorithm is returned for an algorithm other than RS256,
// RS512, ES256 and EdDSA.
var ErrUnsupportedAlgorithm = errors.New("keys: unsupported signing algorithm")

// Algorithms returns the supported algorithms, in the order keys are
// generated and published.
func Algorithms() []string { return []string{RS256, RS512, ES256, EdDSA} }

// Supported reports whether alg is one of Algorithms.
func Supported(alg string) bool {
	switch alg {
	case RS256, RS512, ES256, EdDSA:
		return true
	}
	return false
}

// algOrder is the rank of alg in Algorithms, for stable JWKS ordering.
func algOrder(alg string) int {
	switch alg {
	case RS256:
		return 0
	case RS512:
		return 1
	case ES256:
		return 2
	case EdDSA:
		return 3
	}
	return 4
}

// Generate returns a new private key for alg: RSA-2048 for RS256 and RS512,
// ECDSA P-256 for ES256, Ed25519 for EdDSA.
func Generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256, RS512:
		return rsa.GenerateKey(rand.Reader, RSABits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// NewKeyID returns a fresh key id: 16 random bytes in lower-case hex (32
// characters), the format of the vendor's example id_token.
func NewKeyID() string {
	b := make([]byte, 16)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkKeyType reports whether priv is the kind of key alg needs.
func checkKeyType(alg string, priv any) error {
	ok := false
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		ok = (alg == RS256 || alg == RS512) && k.N.BitLen() >= 2048
	case *ecdsa.PrivateKey:
		ok = alg == ES256 && k.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		ok = alg == EdDSA
	}
	if !ok {
		return fmt.Errorf("keys: %T is not a valid %s key", priv, alg)
	}
	return nil
}

// PublicJWK returns the JSON of the public JWK of priv (RFC 7517 §4) with
// kid, alg and use "sig".
func PublicJWK(priv crypto.Signer, kid, alg string) ([]byte, error) {
	return jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
}

// newSigningKey generates a key of alg for tenantID and returns its stored
// form (private key sealed) along with the private key itself.
func newSigningKey(sealer *Sealer, tenantID, alg string, gen int, now, activatesAt time.Time) (store.SigningKey, crypto.Signer, error) {
	priv, err := Generate(alg)
	if err != nil {
		return store.SigningKey{}, nil, err
	}
	return sealSigningKey(sealer, tenantID, alg, gen, now, activatesAt, priv)
}

// sealSigningKey builds the stored form of priv under a fresh kid.
func sealSigningKey(sealer *Sealer, tenantID, alg string, gen int, now, activatesAt time.Time, priv crypto.Signer) (store.SigningKey, crypto.Signer, error) {
	kid := NewKeyID()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, nil, fmt.Errorf("keys: marshal %s key: %w", alg, err)
	}
	sealed, err := sealer.Seal(tenantID, kid, alg, der)
	clear(der)
	if err != nil {
		return store.SigningKey{}, nil, err
	}
	pub, err := PublicJWK(priv, kid, alg)
	if err != nil {
		return store.SigningKey{}, nil, fmt.Errorf("keys: public JWK: %w", err)
	}
	return store.SigningKey{
		ID:          kid,
		TenantID:    tenantID,
		Algorithm:   alg,
		Generation:  gen,
		PrivateKey:  sealed,
		PublicJWK:   pub,
		CreatedAt:   now,
		ActivatesAt: activatesAt,
	}, priv, nil
}

// openSigningKey decrypts the private key of k and checks that it is a key
// of k's algorithm whose public half is pub.
func openSigningKey(sealer *Sealer, k store.SigningKey, pub crypto.PublicKey) (crypto.Signer, error) {
	der, err := sealer.Open(k.TenantID, k.ID, k.Algorithm, k.PrivateKey)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: parse private key %s: %w", k.ID, err)
	}
	if err := checkKeyType(k.Algorithm, parsed); err != nil {
		return nil, err
	}
	priv := parsed.(crypto.Signer) // all types accepted by checkKeyType are
	if eq, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, fmt.Errorf("keys: private key %s does not match its published public key", k.ID)
	}
	return priv, nil
}

// parsePublicJWK parses and checks the stored public JWK of k.
func parsePublicJWK(k store.SigningKey) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(k.PublicJWK); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("keys: public JWK of %s: %w", k.ID, err)
	}
	if !jwk.IsPublic() || !jwk.Valid() || jwk.KeyID != k.ID || jwk.Algorithm != k.Algorithm || jwk.Use != "sig" {
		return jose.JSONWebKey{}, fmt.Errorf("keys: public JWK of %s does not describe a public %s signing key with that kid", k.ID, k.Algorithm)
	}
	return jwk, nil
}
