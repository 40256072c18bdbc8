package server_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
	"time"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// signedClient makes the signed SDK calls of the vendor's OneAccess form.
type signedClient struct {
	e      *st.Env
	host   string
	client string
	pub    *rsa.PublicKey
}

func newSignedClient(t *testing.T, e *st.Env, host, client string) *signedClient {
	t.Helper()
	r := e.Do("GET", e.URL(host, "/api/v2/sdk/public-key"), st.SDKHeaders(client), "")
	block, _ := pem.Decode([]byte(r.Str("public_key")))
	if r.Status != 200 || block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("public key: %d %s", r.Status, r.Body)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &signedClient{e: e, host: host, client: client, pub: pub.(*rsa.PublicKey)}
}

// signature encrypts the signed fields to the application's key, with
// MGF1-SHA256 or, as Java's default OAEPWithSHA-256AndMGF1Padding does,
// MGF1-SHA1.
func (c *signedClient) signature(t *testing.T, token string, ts time.Time, nonce string, javaMGF bool) string {
	msg := "session_token=" + token + "&timestamp=" + strconv.FormatInt(ts.UnixMilli(), 10) + "&nonce=" + nonce
	opts := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}
	if javaMGF {
		opts.MGFHash = crypto.SHA1
	}
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, c.pub, []byte(msg), opts)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func (c *signedClient) call(method, path, sig string) st.Response {
	h := st.SDKHeaders(c.client)
	h.Del("Content-Type")
	if sig != "" {
		h.Set("X-signature", sig)
	}
	return c.e.Do(method, c.e.URL(c.host, path), h, "")
}

func (c *signedClient) idToken(sig string) st.Response {
	return c.call("POST", "/api/v2/sdk/session-token/refresh-id-token", sig)
}

// TestSignedSession covers the signed form of the exchange and logout:
// one key pair per application, timestamps within the window, single-use
// nonces, and each failure with the contract's error.
func TestSignedSession(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		c := newSignedClient(t, e, st.EIAMHost, "acme-rotating")
		again := newSignedClient(t, e, st.EIAMHost, "acme-rotating")
		other := newSignedClient(t, e, st.EIAMHost, "acme-portal")
		if c.pub.N.Cmp(again.pub.N) != 0 || c.pub.N.Cmp(other.pub.N) == 0 || c.pub.N.BitLen() != 2048 {
			t.Fatal("want one stable RSA-2048 key pair per application")
		}
		tok := e.MustLogin(st.EIAMHost, "acme-rotating", "alice")
		now := e.Clock.Now()

		r := c.idToken(c.signature(t, tok, now, "n1", false))
		if r.Status != 200 || strings.Count(r.Str("id_token"), ".") != 2 || r.Str("session_token") != "" {
			t.Fatalf("signed exchange: %d %s", r.Status, r.Body)
		}
		// The signed form does not rotate: its answer has no session token.
		if r := e.Exchange(st.EIAMHost, "acme-portal", tok); r.Status != 200 {
			t.Fatalf("session after a signed exchange: %d %s", r.Status, r.Body)
		}
		// Java clients' MGF1-SHA1 padding is accepted too.
		if r := c.idToken(c.signature(t, tok, now, "n2", true)); r.Status != 200 {
			t.Fatalf("Java-style OAEP: %d %s", r.Status, r.Body)
		}

		for _, test := range []struct {
			name, sig, code, msg string
		}{
			{"replayed nonce", c.signature(t, tok, now, "n1", false), "SDK.COMMON.1006", "nonce parameter error"},
			{"stale timestamp", c.signature(t, tok, now.Add(-6*time.Minute), "n3", false), "SDK.COMMON.1006", "timestamp parameter error"},
			{"future timestamp", c.signature(t, tok, now.Add(6*time.Minute), "n4", false), "SDK.COMMON.1006", "timestamp parameter error"},
			{"another application's key", other.signature(t, tok, now, "n5", false), "SDK.COMMON.1004", "Signature decryption error"},
			{"malformed base64", "%%%not base64%%%", "SDK.COMMON.1004", "Signature decryption error"},
			{"not encrypted", base64.StdEncoding.EncodeToString([]byte("session_token=x&timestamp=1&nonce=y")), "SDK.COMMON.1004", ""},
			{"missing", "", "SDK.COMMON.1001", "Parameter X-signature cannot be empty"},
			{"unknown session", c.signature(t, "nope", now, "n6", false), "SDK.COMMON.1006", "session_token parameter error"},
		} {
			t.Run(test.name, func(t *testing.T) {
				r := c.idToken(test.sig)
				wantError(t, r, 400, test.code, test.msg)
				if strings.Contains(string(r.Body), tok) {
					t.Error("the answer echoes the session token")
				}
			})
		}

		// CIAM dialect.
		sc := newSignedClient(t, e, st.CIAMHost, "shop-portal")
		ctok := e.MustLogin(st.CIAMHost, "shop-portal", "alice")
		wantError(t, sc.idToken("!!"), 400, "IDAAS.SDK.PARAM.0006", "Signature decryption error")
		sig := sc.signature(t, ctok, now, "c1", false)
		if r := sc.idToken(sig); r.Status != 200 {
			t.Fatalf("ciam signed exchange: %d %s", r.Status, r.Body)
		}
		wantError(t, sc.idToken(sig), 400, "IDAAS.SDK.PARAM.0005", "Parameter nonce is invalid or expired")

		// Signed logout (GET) ends the session.
		if r := c.call("GET", "/api/v2/sdk/logout", c.signature(t, tok, now, "lo", false)); r.Status != 200 {
			t.Fatalf("signed logout: %d %s", r.Status, r.Body)
		}
		wantError(t, e.Exchange(st.EIAMHost, "acme-portal", tok), 400, "SDK.COMMON.1006", "")

		// A nonce may come again once its window has passed.
		tok2 := e.MustLogin(st.EIAMHost, "acme-rotating", "alice")
		e.Clock.Advance(6 * time.Minute)
		e.Server.SweepOnce(t.Context())
		if r := c.idToken(c.signature(t, tok2, e.Clock.Now(), "n1", false)); r.Status != 200 {
			t.Fatalf("nonce after its window: %d %s", r.Status, r.Body)
		}
	})
}
