package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// b64 is the JWS encoding of every part (RFC 7515 §2: base64url without
// padding).
var b64 = base64.RawURLEncoding

// Signer produces compact JWS (RFC 7515 §7.1) with one key. It is safe for
// concurrent use; a Manager builds one per key and node and reuses it for
// every token.
//
// Signing is the hot path of token issuance, so Signer writes the compact
// serialization itself: the protected header is fixed per key and encoded
// once, and a token costs one buffer, the digest and the signature
// primitive. (go-jose's Signer re-marshals the header through reflection
// and re-encodes every part on each call: about 60 allocations and tens of
// microseconds more per token.) Tokens are verified with go-jose in the
// tests of this package, against the JWKS the Manager publishes.
type Signer struct {
	kid    string
	alg    string
	prefix []byte // base64url(protected header with typ "JWT") + "."
	// atPrefix is the same with typ "at+jwt", which RFC 9068 §2.1
	// requires of JWT access tokens so they cannot pass for id_tokens.
	atPrefix []byte
	sigLen   int // signature size in bytes
	priv     crypto.Signer
}

// header is the JWS protected header (RFC 7515 §4.1).
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// NewSigner returns a Signer for priv, whose tokens carry the protected
// header {"alg":alg,"kid":kid,"typ":"JWT"}. priv must be the kind of key
// Generate returns for alg.
func NewSigner(priv crypto.Signer, kid, alg string) (*Signer, error) {
	if !Supported(alg) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	if err := checkKeyType(alg, priv); err != nil {
		return nil, err
	}
	prefix, err := headerPrefix(alg, kid, "JWT")
	if err != nil {
		return nil, err
	}
	atPrefix, err := headerPrefix(alg, kid, "at+jwt")
	if err != nil {
		return nil, err
	}
	sigLen := 64 // ES256 (R || S, RFC 7518 §3.4) and Ed25519 (RFC 8032 §5.1.6)
	if k, ok := priv.(*rsa.PrivateKey); ok {
		sigLen = k.Size()
	}
	return &Signer{kid: kid, alg: alg, prefix: prefix, atPrefix: atPrefix, sigLen: sigLen, priv: priv}, nil
}

// headerPrefix encodes a protected header and the dot after it.
func headerPrefix(alg, kid, typ string) ([]byte, error) {
	h, err := json.Marshal(header{Alg: alg, Kid: kid, Typ: typ})
	if err != nil {
		return nil, err
	}
	prefix := b64.AppendEncode(make([]byte, 0, b64.EncodedLen(len(h))+1), h)
	return append(prefix, '.'), nil
}

// KeyID returns the kid of the signing key.
func (s *Signer) KeyID() string { return s.kid }

// Algorithm returns the JWA name of the signature algorithm.
func (s *Signer) Algorithm() string { return s.alg }

// Sign returns the compact JWS of payload:
// base64url(header) "." base64url(payload) "." base64url(signature).
func (s *Signer) Sign(payload []byte) (string, error) { return s.sign(s.prefix, payload) }

// SignAccessToken is Sign with the header typ "at+jwt" (RFC 9068 §2.1).
func (s *Signer) SignAccessToken(payload []byte) (string, error) { return s.sign(s.atPrefix, payload) }

func (s *Signer) sign(prefix, payload []byte) (string, error) {
	buf := make([]byte, 0, len(prefix)+b64.EncodedLen(len(payload))+1+b64.EncodedLen(s.sigLen))
	buf = append(buf, prefix...)
	buf = b64.AppendEncode(buf, payload)
	// buf is now the JWS signing input (RFC 7515 §5.1 step 5).
	var sig []byte
	var err error
	switch s.alg {
	case RS256: // RFC 7518 §3.3
		d := sha256.Sum256(buf)
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.priv.(*rsa.PrivateKey), crypto.SHA256, d[:])
	case RS512:
		d := sha512.Sum512(buf)
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.priv.(*rsa.PrivateKey), crypto.SHA512, d[:])
	case ES256: // RFC 7518 §3.4: R and S as 32-byte big-endian integers
		d := sha256.Sum256(buf)
		r, ss, e := ecdsa.Sign(rand.Reader, s.priv.(*ecdsa.PrivateKey), d[:])
		if err = e; err == nil {
			var rs [64]byte
			r.FillBytes(rs[:32])
			ss.FillBytes(rs[32:])
			sig = rs[:]
		}
	case EdDSA: // RFC 8037 §3.1: Ed25519 over the signing input itself
		sig = ed25519.Sign(s.priv.(ed25519.PrivateKey), buf)
	default:
		err = fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, s.alg)
	}
	if err != nil {
		return "", fmt.Errorf("keys: sign with %s: %w", s.kid, err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}
