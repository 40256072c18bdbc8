package sdk

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The signed form of the session calls (the OneAccess variant of the
// IDaaS API): instead of sending the session token in clear in a header,
// the Client encrypts
//
//	session_token=<token>&timestamp=<server ms>&nonce=<random>
//
// to its application's RSA public key (RSA-OAEP, SHA-256, MGF1-SHA-256) and
// sends it base64 in X-signature. The timestamp must be within the
// server's signature window (5 minutes by default) of the server's clock,
// and each nonce is accepted once.

// Paths of the signed calls and their helpers.
const (
	pathPublicKey     = "/api/v2/sdk/public-key"
	pathServerDate    = "/api/v2/sdk/server-date"
	pathSignedIDToken = "/api/v2/sdk/session-token/refresh-id-token"
	pathSignedLogout  = "/api/v2/sdk/logout" // GET; the plain form is POST
)

// nonceBytes is the entropy of a nonce (sent as hex).
const nonceBytes = 16

// WithSignedSession makes the Client use the signed form of the session
// calls (Client only): ExchangeSessionToken calls POST
// /api/v2/sdk/session-token/refresh-id-token and Logout calls GET
// /api/v2/sdk/logout, each with an X-signature header carrying the
// session token encrypted to the application's public key, instead of
// sending the session token in clear. Login and the other calls are the
// same in both forms.
//
// The Client fetches the application's public key (GET
// /api/v2/sdk/public-key) and the server's clock (GET
// /api/v2/sdk/server-date) on the first signed call and caches both: it
// keeps the offset between the server's clock and its own (WithClock), so
// a device whose clock is wrong still signs timestamps the server
// accepts. When the server nevertheless refuses the timestamp (the
// device's clock jumped, say), the Client fetches the server's clock
// again and repeats the call once. Every attempt, repetitions included,
// has a fresh random nonce.
//
// In the signed form the session token is never rotated: the answer of
// ExchangeSessionToken has the unchanged session token, Rotated false and
// Expire 0 (the signed answer does not say how long the session lasts).
func WithSignedSession() Option {
	return func(s *settings) { s.signed = true }
}

// signer is the state of a Client's signed calls.
type signer struct {
	mu     sync.Mutex
	key    *rsa.PublicKey
	offset *clockOffset

	keyFetch    flight[*rsa.PublicKey]
	offsetFetch flight[*clockOffset]

	// nonce returns a fresh nonce; tests replace it.
	nonce func() string
}

// clockOffset is the server's clock minus the Client's. Each measurement
// is a new value, so that a call can tell whether the offset it signed
// with has been replaced since.
type clockOffset struct{ d time.Duration }

// newNonce returns 16 random bytes in hex.
func newNonce() string {
	b := make([]byte, nonceBytes)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// publicKey returns the application's public key, fetching it once.
func (c *Client) publicKey(ctx context.Context) (*rsa.PublicKey, error) {
	c.sig.mu.Lock()
	k := c.sig.key
	c.sig.mu.Unlock()
	if k != nil {
		return k, nil
	}
	return c.sig.keyFetch.do(ctx, c.fetchPublicKey)
}

func (c *Client) fetchPublicKey(ctx context.Context) (*rsa.PublicKey, error) {
	// A caller that found the cache empty just before another fetch
	// filled it need not fetch again.
	c.sig.mu.Lock()
	k := c.sig.key
	c.sig.mu.Unlock()
	if k != nil {
		return k, nil
	}
	var w struct {
		PublicKey string `json:"public_key"`
	}
	if err := c.t.do(ctx, request{method: "GET", path: pathPublicKey, header: c.headers(), idempotent: true}, &w); err != nil {
		return nil, err
	}
	k, err := parsePublicKey(w.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("sesame: GET %s: %w", pathPublicKey, err)
	}
	c.sig.mu.Lock()
	c.sig.key = k
	c.sig.mu.Unlock()
	return k, nil
}

// forgetKey drops the cached key if it is still k, so that the next call
// fetches it again.
func (c *Client) forgetKey(k *rsa.PublicKey) {
	c.sig.mu.Lock()
	if c.sig.key == k {
		c.sig.key = nil
	}
	c.sig.mu.Unlock()
}

// parsePublicKey reads an RSA public key: PEM "PUBLIC KEY" (PKIX) as
// Sesame and the vendor send it, "RSA PUBLIC KEY" (PKCS #1), or the PKIX
// DER in bare base64.
func parsePublicKey(text string) (*rsa.PublicKey, error) {
	var der []byte
	pkcs1 := false
	if block, _ := pem.Decode([]byte(text)); block != nil {
		der, pkcs1 = block.Bytes, block.Type == "RSA PUBLIC KEY"
	} else if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), "")); err == nil && len(b) > 0 {
		der = b
	} else {
		return nil, errors.New("the public key is neither PEM nor base64")
	}
	if pkcs1 {
		return x509.ParsePKCS1PublicKey(der)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("the public key: %w", err)
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the public key is a %T, not RSA", pub)
	}
	return k, nil
}

// offset returns the clock offset to sign with: the cached one, unless it
// is stale (the one a refused timestamp was signed with), in which case
// the server's clock is read again. Concurrent callers share one reading.
func (c *Client) offset(ctx context.Context, stale *clockOffset) (*clockOffset, error) {
	c.sig.mu.Lock()
	cur := c.sig.offset
	c.sig.mu.Unlock()
	if cur != nil && cur != stale {
		return cur, nil
	}
	for i := 0; ; i++ {
		o, err := c.sig.offsetFetch.do(ctx, func(ctx context.Context) (*clockOffset, error) {
			// As in fetchPublicKey: another reading may have just
			// ended.
			c.sig.mu.Lock()
			cur := c.sig.offset
			c.sig.mu.Unlock()
			if cur != nil && cur != stale {
				return cur, nil
			}
			return c.measureOffset(ctx)
		})
		// A caller joining a fetch started by one that had a different
		// stale offset may get its own stale one back: read again.
		if err != nil || o != stale || i > 0 {
			return o, err
		}
	}
}

// measureOffset reads the server's clock and compares it with the
// Client's at the middle of the request.
func (c *Client) measureOffset(ctx context.Context) (*clockOffset, error) {
	before := c.now()
	server, err := c.ServerDate(ctx)
	if err != nil {
		return nil, err
	}
	after := c.now()
	o := &clockOffset{d: server.Sub(before.Add(after.Sub(before) / 2))}
	c.sig.mu.Lock()
	c.sig.offset = o
	c.sig.mu.Unlock()
	return o, nil
}

// signature returns the X-signature of token at time ts with nonce.
func signature(key *rsa.PublicKey, token string, ts time.Time, nonce string) (string, error) {
	// Sesame reads the fields as a URL query; escaping leaves its tokens
	// (base64url) as they are.
	msg := "session_token=" + url.QueryEscape(token) + "&timestamp=" + strconv.FormatInt(ts.UnixMilli(), 10) + "&nonce=" + url.QueryEscape(nonce)
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, key, []byte(msg), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
	if err != nil {
		return "", fmt.Errorf("sesame: signing the session token: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// signedCall makes a signed call for token: every attempt (the
// transport's retries included) is signed anew, with a fresh nonce and
// the current time on the server's clock. A refused timestamp makes it
// read the server's clock again and repeat the call once.
func (c *Client) signedCall(ctx context.Context, method, path, token string, out any) error {
	key, err := c.publicKey(ctx)
	if err != nil {
		return err
	}
	var stale *clockOffset
	for repeated := false; ; repeated = true {
		off, err := c.offset(ctx, stale)
		if err != nil {
			return err
		}
		err = c.t.do(ctx, request{
			method: method, path: path, header: c.headers(), subject: subjectSigned,
			// Neither call changes anything a repetition could apply
			// twice: the signed exchange does not rotate, and a repeated
			// logout finds no session. Each attempt has its own nonce.
			idempotent: true,
			sign: func(h http.Header) error {
				sig, err := signature(key, token, c.now().Add(off.d), c.sig.nonce())
				if err != nil {
					return err
				}
				h.Set("X-signature", sig)
				return nil
			},
		}, out)
		var e *Error
		if !repeated && errors.As(err, &e) && e.timestampRejected() {
			stale = off
			continue
		}
		if errors.Is(err, ErrSignatureInvalid) {
			// The application's key may have been replaced: fetch it
			// again on the next call.
			c.forgetKey(key)
		}
		return err
	}
}

// exchangeSigned is ExchangeSessionToken in the signed form.
func (c *Client) exchangeSigned(ctx context.Context) (*IDTokenResult, error) {
	// No session lock: the signed form never rotates, so concurrent
	// exchanges cannot invalidate each other's token.
	tok, err := c.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("sesame: loading the session token: %w", err)
	}
	if tok == "" {
		return nil, ErrNotLoggedIn
	}
	var w struct {
		IDToken string `json:"id_token"`
	}
	if err := c.signedCall(ctx, "POST", pathSignedIDToken, tok, &w); err != nil {
		return nil, err
	}
	if w.IDToken == "" {
		return nil, errors.New("sesame: the exchange answer lacks an id_token")
	}
	return &IDTokenResult{IDToken: w.IDToken, SessionToken: tok}, nil
}

// signedParam returns which signed field an "invalid parameter" answer to
// a signed call names ("timestamp", "nonce"), or "" (the session token).
// The parameter's name is part of the message in both languages: EIAM
// "{0} parameter error" / "{0}参数错误", CIAM "Parameter {0} is invalid or
// expired" / "参数{0}无效或已过期".
func (e *Error) signedParam() string {
	switch {
	case strings.Contains(e.Message, "session_token"):
		return ""
	case strings.Contains(e.Message, "timestamp"):
		return "timestamp"
	case strings.Contains(e.Message, "nonce"):
		return "nonce"
	}
	return ""
}

// timestampRejected reports whether e refuses a signature's timestamp.
func (e *Error) timestampRejected() bool {
	return e.Is(ErrSignatureRejected) && e.signedParam() == "timestamp"
}
