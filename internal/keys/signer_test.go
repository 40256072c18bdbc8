package keys_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/keys"
)

// testKeys holds one generated key per algorithm, shared by the tests of
// this file: RSA generation is slow.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	m := map[string]crypto.Signer{}
	for _, alg := range keys.Algorithms() {
		k, err := keys.Generate(alg)
		if err != nil {
			panic(err)
		}
		m[alg] = k
	}
	return m
})

func TestGenerate(t *testing.T) {
	for _, alg := range keys.Algorithms() {
		k := testKeys()[alg]
		switch k := k.(type) {
		case *rsa.PrivateKey:
			if (alg != keys.RS256 && alg != keys.RS512) || k.N.BitLen() != 2048 {
				t.Errorf("%s: RSA key of %d bits", alg, k.N.BitLen())
			}
		case *ecdsa.PrivateKey:
			if alg != keys.ES256 || k.Curve.Params().Name != "P-256" {
				t.Errorf("%s: ECDSA key on %s", alg, k.Curve.Params().Name)
			}
		case ed25519.PrivateKey:
			if alg != keys.EdDSA {
				t.Errorf("%s: Ed25519 key", alg)
			}
		default:
			t.Errorf("%s: unexpected key type %T", alg, k)
		}
	}
	for _, alg := range []string{"", "HS256", "none", "PS256", "rs256", "ES384"} {
		if _, err := keys.Generate(alg); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("Generate(%q) error = %v, want ErrUnsupportedAlgorithm", alg, err)
		}
	}
}

func TestNewKeyID(t *testing.T) {
	a, b := keys.NewKeyID(), keys.NewKeyID()
	if len(a) != 32 || a == b {
		t.Fatalf("kids %q, %q: want two different 32-character ids", a, b)
	}
	if _, err := hex.DecodeString(a); err != nil || strings.ToLower(a) != a {
		t.Errorf("kid %q is not lower-case hex", a)
	}
}

func TestPublicJWKHasNoPrivatePart(t *testing.T) {
	for _, alg := range keys.Algorithms() {
		b, err := keys.PublicJWK(testKeys()[alg], "kid-"+alg, alg)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := fields[private]; ok {
				t.Errorf("%s: public JWK has private member %q: %s", alg, private, b)
			}
		}
		if fields["kid"] != "kid-"+alg || fields["alg"] != alg || fields["use"] != "sig" {
			t.Errorf("%s: JWK %s lacks kid, alg or use", alg, b)
		}
	}
}

// verifyWith parses token allowing only alg, checks its header and returns
// the payload verified with jwk.
func verifyWith(t *testing.T, token, alg string, jwk jose.JSONWebKey) []byte {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("ParseSigned: %v", err)
	}
	h := jws.Signatures[0].Protected
	if h.Algorithm != alg || h.KeyID != jwk.KeyID || h.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("protected header alg=%q kid=%q typ=%v, want %s, %s, JWT", h.Algorithm, h.KeyID, h.ExtraHeaders["typ"], alg, jwk.KeyID)
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return payload
}

func TestSignerVerifies(t *testing.T) {
	payload := []byte(`{"iss":"https://example.com/api/v1/oauth2","sub":"u1","name":"Zoë <&>"}`)
	for _, alg := range keys.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			priv := testKeys()[alg]
			kid := keys.NewKeyID()
			s, err := keys.NewSigner(priv, kid, alg)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != kid || s.Algorithm() != alg {
				t.Errorf("KeyID, Algorithm = %q, %q", s.KeyID(), s.Algorithm())
			}
			token, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts", len(parts))
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if want := `{"alg":"` + alg + `","kid":"` + kid + `","typ":"JWT"}`; string(hdr) != want {
				t.Errorf("header = %s, want %s", hdr, want)
			}
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			wantLen := map[string]int{keys.RS256: 256, keys.RS512: 256, keys.ES256: 64, keys.EdDSA: 64}[alg]
			if len(sig) != wantLen {
				t.Errorf("signature is %d bytes, want %d", len(sig), wantLen)
			}
			jwk := jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
			if got := verifyWith(t, token, alg, jwk); string(got) != string(payload) {
				t.Errorf("payload = %s, want %s", got, payload)
			}
			// Another key of the same algorithm must not verify it.
			other, _ := keys.Generate(alg)
			if alg == keys.RS256 || alg == keys.RS512 {
				other = testKeys()[map[string]string{keys.RS256: keys.RS512, keys.RS512: keys.RS256}[alg]]
			}
			jws, _ := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if _, err := jws.Verify(jose.JSONWebKey{Key: other.Public(), KeyID: kid}); err == nil {
				t.Error("token verified with another key")
			}
		})
	}
}

func TestNewSignerRefusesWrongKey(t *testing.T) {
	tests := []struct{ keyAlg, alg string }{
		{keys.ES256, keys.RS256},
		{keys.RS256, keys.ES256},
		{keys.EdDSA, keys.ES256},
		{keys.RS256, keys.EdDSA},
		{keys.RS256, "HS256"},
	}
	for _, tt := range tests {
		if _, err := keys.NewSigner(testKeys()[tt.keyAlg], "k", tt.alg); err == nil {
			t.Errorf("NewSigner(%s key, %s) succeeded", tt.keyAlg, tt.alg)
		}
	}
}
