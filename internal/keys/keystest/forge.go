package keystest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/sesame-idp/sesame/internal/keys"
)

// Forger builds JWTs for fuzz tests of token verification: tokens signed
// by the tenant's own keys, with any header and payload, and the forgeries
// RFC 8725 §2 lists — alg "none", an HMAC keyed with the public key
// (algorithm confusion), a key that is not the tenant's under the tenant's
// kid, a signature lifted from another token, malformed base64, raw text.
// The verifier under test is then checked against what the Forger knows:
// only a token whose signature the tenant's key made over exactly its
// signing input may ever be accepted.
type Forger struct {
	TenantID string
	Keys     map[string]Key // the tenant's keys (KnownKeys)
	Attacker map[string]Key // one key per algorithm that no tenant publishes
	Manager  *keys.Manager  // signs as the server does
	// Vars are replaced in the header, payload and tail before a token is
	// built ("{{iss}}" → the issuer, ...), so that seeds can name values
	// known only at run time; "{{kid}}" is the kid of the chosen key.
	Vars map[string]string

	mu    sync.Mutex
	cache map[string]string // key, alg and signing input → signature (or payload → server token)
}

// NewForger returns a Forger for the tenant's keys, generating the
// attacker's keys.
func NewForger(t testing.TB, tenantID string, tenantKeys map[string]Key, m *keys.Manager) *Forger {
	t.Helper()
	f := &Forger{TenantID: tenantID, Keys: tenantKeys, Attacker: map[string]Key{}, Manager: m, cache: map[string]string{}}
	var rsaKey crypto.Signer
	for _, alg := range keys.Algorithms() {
		priv := rsaKey // one RSA key for RS256 and RS512: generating one costs up to a second
		if priv == nil || (alg != keys.RS256 && alg != keys.RS512) {
			var err error
			if priv, err = keys.Generate(alg); err != nil {
				t.Fatal(err)
			}
		}
		if alg == keys.RS256 {
			rsaKey = priv
		}
		// The attacker reuses the tenant's kid: the point is a signature by
		// the wrong key under the right name.
		f.Attacker[alg] = Key{ID: tenantKeys[alg].ID, Alg: alg, Private: priv}
	}
	return f
}

// Forged is a token and what the Forger knows about it.
type Forged struct {
	Token string
	// SignedBy is the tenant key whose signature over the token's signing
	// input (its first two segments, exactly as they appear) the token
	// carries; nil for every other token.
	SignedBy *Key
	// SigAlg is the JWS algorithm SignedBy signed with (it may differ from
	// SignedBy.Alg: RS512 with an RS256 key).
	SigAlg string
}

// Forge modes (mode&7). Bits 3-4 pick the key's algorithm
// (keys.Algorithms()[mode>>3&3]: RS256, RS512, ES256, EdDSA), the RSA ones
// only with bit 7 set (ES256 and EdDSA otherwise): an RSA signature costs
// 1 ms, fifty times an ES256 one, and would dominate a fuzzing run. Bits
// 5-6 pick the segment encoding: 0 base64url without padding (RFC 7515
// §2), 1 base64url with padding, 2 standard base64, 3 header and payload
// used as the segments as they are. In ModeServer bit 5 picks typ at+jwt
// instead of JWT, and bit 6 appends tail to the token.
const (
	ModeSigned     = iota // signed by the tenant key, with the JWS alg the header names if the key can make it
	ModeNone              // no signature, then tail
	ModeHMAC              // HS256 keyed with the tenant key's public JWK (algorithm confusion)
	ModeAttacker          // signed by a key that is not the tenant's, under the tenant's kid
	ModeRawSig            // tail as the signature
	ModeTransplant        // the tenant key's signature of header.base64(tail), on header.payload
	ModeRaw               // header is the whole token
	ModeServer            // payload signed by the Manager (header alg, kid, typ of its choosing)
)

// Forge builds a token; see the modes.
func (f *Forger) Forge(t testing.TB, mode uint8, header, payload, tail string) Forged {
	t.Helper()
	i := mode >> 3 & 3
	if mode&0x80 == 0 {
		i |= 2
	}
	alg := keys.Algorithms()[i]
	key := f.Keys[alg]
	header, payload, tail = f.Expand(header, &key), f.Expand(payload, &key), f.Expand(tail, &key)
	enc := func(s string) string {
		switch mode >> 5 & 3 {
		case 1:
			return base64.URLEncoding.EncodeToString([]byte(s))
		case 2:
			return base64.StdEncoding.EncodeToString([]byte(s))
		case 3:
			return s
		}
		return base64.RawURLEncoding.EncodeToString([]byte(s))
	}
	input := enc(header) + "." + enc(payload)
	switch mode & 7 {
	case ModeSigned:
		sigAlg := headerAlg(header)
		sig, ok := f.sign(key, sigAlg, input)
		if !ok {
			sigAlg = key.Alg
			sig, _ = f.sign(key, sigAlg, input)
		}
		return Forged{Token: input + "." + sig, SignedBy: &key, SigAlg: sigAlg}
	case ModeNone:
		return Forged{Token: input + "." + tail}
	case ModeHMAC:
		pub, err := keys.PublicJWK(key.Private, key.ID, key.Alg)
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, pub)
		mac.Write([]byte(input))
		return Forged{Token: input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))}
	case ModeAttacker:
		a := f.Attacker[alg]
		sig, _ := f.sign(a, a.Alg, input)
		return Forged{Token: input + "." + sig}
	case ModeRawSig:
		return Forged{Token: input + "." + base64.RawURLEncoding.EncodeToString([]byte(tail))}
	case ModeTransplant:
		other := enc(header) + "." + enc(tail)
		sig, _ := f.sign(key, key.Alg, other)
		out := Forged{Token: input + "." + sig}
		if other == input {
			out.SignedBy, out.SigAlg = &key, key.Alg
		}
		return out
	case ModeRaw:
		return Forged{Token: header}
	}
	ck := fmt.Sprintf("server\x00%s\x00%d\x00%s", alg, mode>>5&1, payload)
	f.mu.Lock()
	tok, ok := f.cache[ck]
	f.mu.Unlock()
	if !ok {
		s, _, err := f.Manager.Signer(t.Context(), f.TenantID, alg)
		if err != nil {
			t.Fatal(err)
		}
		if s.KeyID() != key.ID {
			t.Fatalf("the Manager signs with %s, not the known key %s", s.KeyID(), key.ID)
		}
		if mode>>5&1 == 1 {
			tok, err = s.SignAccessToken([]byte(payload))
		} else {
			tok, err = s.Sign([]byte(payload))
		}
		if err != nil {
			t.Fatal(err)
		}
		f.put(ck, tok)
	}
	if mode>>6&1 == 1 && tail != "" {
		return Forged{Token: tok + tail}
	}
	return Forged{Token: tok, SignedBy: &key, SigAlg: alg}
}

// put caches a signature or token, forgetting everything when the cache is
// full (the fuzzer's inputs are local: recent ones come back).
func (f *Forger) put(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cache) >= 4096 {
		clear(f.cache)
	}
	f.cache[k] = v
}

// Expand replaces the Vars, and "{{kid}}" by k's kid, in s.
func (f *Forger) Expand(s string, k *Key) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	pairs := []string{"{{kid}}", k.ID}
	for name, v := range f.Vars {
		pairs = append(pairs, name, v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// headerAlg returns the "alg" of a JSON header, "" if there is none.
func headerAlg(header string) string {
	var h struct {
		Alg string `json:"alg"`
	}
	_ = json.Unmarshal([]byte(header), &h)
	return h.Alg
}

// sign signs input with k and the JWS algorithm alg, if k's type can make
// alg, caching signatures (the fuzzer sends the same header and payload
// many times with other bytes changed).
func (f *Forger) sign(k Key, alg, input string) (string, bool) {
	ck := fmt.Sprintf("%p\x00%s\x00%s", k.Private, alg, input)
	f.mu.Lock()
	sig, ok := f.cache[ck]
	f.mu.Unlock()
	if ok {
		return sig, true
	}
	raw, ok := Sign(k.Private, alg, []byte(input))
	if !ok {
		return "", false
	}
	sig = base64.RawURLEncoding.EncodeToString(raw)
	f.put(ck, sig)
	return sig, true
}

// Sign returns the JWS signature (RFC 7518 §3) of input by priv with alg:
// RS256 or RS512 with an RSA key, ES256 with a P-256 key (R||S, §3.4),
// EdDSA with an Ed25519 key (RFC 8037 §3.1). ok is false when priv cannot
// make alg.
func Sign(priv crypto.Signer, alg string, input []byte) (sig []byte, ok bool) {
	var err error
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		switch alg {
		case keys.RS256:
			d := sha256.Sum256(input)
			sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
		case keys.RS512:
			d := sha512.Sum512(input)
			sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA512, d[:])
		default:
			return nil, false
		}
	case *ecdsa.PrivateKey:
		if alg != keys.ES256 {
			return nil, false
		}
		d := sha256.Sum256(input)
		der, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			panic(err)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			panic(err)
		}
		sig = make([]byte, 64)
		rs.R.FillBytes(sig[:32])
		rs.S.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		if alg != keys.EdDSA {
			return nil, false
		}
		sig = ed25519.Sign(k, input)
	default:
		return nil, false
	}
	if err != nil {
		panic(err)
	}
	return sig, true
}

// CheckAccepted fails t unless a token that verification accepted is one
// the tenant's key signed over exactly its signing input, in compact
// serialization with base64url segments without padding (RFC 7515 §7.1),
// whose header names that key (kid) and that key's own algorithm (RFC 8725
// §3.1) and has the type typ (case-insensitively, RFC 8725 §3.11). It
// decodes the payload into claims.
func CheckAccepted(t testing.TB, fg Forged, typ string, claims any) {
	t.Helper()
	if fg.SignedBy == nil {
		t.Fatalf("accepted a token that no tenant key signed: %q", fg.Token)
	}
	parts := strings.Split(fg.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted a token of %d parts", len(parts))
	}
	hb, err1 := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err1 != nil || err2 != nil || strings.ContainsAny(fg.Token, "=+/ \t\r\n") {
		t.Fatalf("accepted a token that is not base64url without padding: %q", fg.Token)
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatalf("accepted a token whose header is not a JSON object: %q", hb)
	}
	if h.Alg != fg.SigAlg || h.Alg != fg.SignedBy.Alg || h.Kid != fg.SignedBy.ID {
		t.Fatalf("accepted header %s for a %s signature by %s key %s", hb, fg.SigAlg, fg.SignedBy.Alg, fg.SignedBy.ID)
	}
	if !strings.EqualFold(h.Typ, typ) {
		t.Fatalf("accepted typ %q, want %q", h.Typ, typ)
	}
	if err := json.Unmarshal(pb, claims); err != nil {
		t.Fatalf("accepted claims that are not a JSON object of the expected shape: %q", pb)
	}
}
