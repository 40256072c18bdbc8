package sdk_test

import (
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
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/sdk"
)

// recorder is an http.RoundTripper that counts requests by method and
// path.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.n[req.Method+" "+req.URL.Path]++
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// count returns how many "METHOD /path" requests were made.
func (r *recorder) count(call string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[call]
}

const (
	callPublicKey  = "GET /api/v2/sdk/public-key"
	callServerDate = "GET /api/v2/sdk/server-date"
	callSigned     = "POST /api/v2/sdk/session-token/refresh-id-token"
	callPlain      = "POST /api/v2/sdk/sso/session-token/id-token"
	callSignedOut  = "GET /api/v2/sdk/logout"
	callPlainOut   = "POST /api/v2/sdk/logout"
)

// newSignedClient returns a Client of e in the signed form, on the
// server's clock unless opts set another, recording its requests.
func newSignedClient(t *testing.T, e *st.Env, host, clientID string, opts ...sdk.Option) (*sdk.Client, *recorder) {
	t.Helper()
	rec := &recorder{next: e.Client.Transport, n: map[string]int{}}
	hc := *e.Client
	hc.Transport = rec
	all := append([]sdk.Option{sdk.WithHTTPClient(&hc), sdk.WithSignedSession(), sdk.WithClock(e.Clock.Now)}, opts...)
	return newClient(t, e, host, clientID, all...), rec
}

// editions are the fixture applications the signed tests run on.
var editions = []struct{ host, client, other string }{
	{st.EIAMHost, "acme-portal", "acme-es256"},
	{st.CIAMHost, "shop-portal", "shop-es256"},
}

// TestSignedExchangeAndLogout runs a session in the signed form in both
// editions: id_tokens that verify, the session token never rotated (even
// for an application with auto-refresh), the key and the server clock
// fetched once, the signed GET logout, and an ended session reported as
// such.
func TestSignedExchangeAndLogout(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, app := range []struct{ host, client string }{
			{st.EIAMHost, "acme-portal"}, {st.CIAMHost, "shop-portal"},
			{st.EIAMHost, "acme-rotating"}, {st.CIAMHost, "shop-rotating"},
		} {
			t.Run(app.client, func(t *testing.T) {
				store := &sdk.MemoryTokenStore{}
				c, rec := newSignedClient(t, e, app.host, app.client, sdk.WithTokenStore(store))
				v, err := sdk.NewVerifier(e.Issuer(app.host), app.client, sdk.WithHTTPClient(e.Client), sdk.WithClock(e.Clock.Now))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.ExchangeSessionToken(ctx); !errors.Is(err, sdk.ErrNotLoggedIn) {
					t.Fatalf("exchange before login: %v", err)
				}
				if n := rec.count(callPublicKey) + rec.count(callServerDate); n != 0 {
					t.Fatalf("%d requests before there is a session to sign", n)
				}
				login, err := c.Login(ctx, "alice", st.Password)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					e.Clock.Advance(time.Minute)
					x, err := c.ExchangeSessionToken(ctx)
					if err != nil {
						t.Fatalf("exchange %d: %v", i, err)
					}
					if x.Rotated || x.SessionToken != login.SessionToken || x.Expire != 0 {
						t.Fatalf("exchange %d: %+v", i, x)
					}
					claims, err := v.Verify(ctx, x.IDToken)
					if err != nil {
						t.Fatalf("exchange %d: id_token: %v", i, err)
					}
					if claims.UserName != "alice" || claims.IssuedAt.Unix() != e.Clock.Now().Unix() {
						t.Fatalf("exchange %d: claims %+v", i, claims)
					}
				}
				if got, _ := store.Load(ctx); got != login.SessionToken {
					t.Fatalf("stored %q, want the login's token", got)
				}
				for call, want := range map[string]int{callPublicKey: 1, callServerDate: 1, callSigned: 3, callPlain: 0} {
					if got := rec.count(call); got != want {
						t.Errorf("%s: %d requests, want %d", call, got, want)
					}
				}

				if err := c.Logout(ctx); err != nil {
					t.Fatalf("logout: %v", err)
				}
				if rec.count(callSignedOut) != 1 || rec.count(callPlainOut) != 0 {
					t.Errorf("logout: %d signed, %d plain requests", rec.count(callSignedOut), rec.count(callPlainOut))
				}
				if got, _ := store.Load(ctx); got != "" {
					t.Fatalf("stored %q after logout", got)
				}
				// The session has ended: in the plain form too.
				plainStore := &sdk.MemoryTokenStore{}
				_ = plainStore.Save(ctx, login.SessionToken)
				plain := newClient(t, e, app.host, app.client, sdk.WithTokenStore(plainStore))
				_, err = plain.ExchangeSessionToken(ctx)
				wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true})

				// An ended session in the signed form: an exchange says so
				// (not a signature problem), a logout succeeds.
				_ = store.Save(ctx, login.SessionToken)
				_, err = c.ExchangeSessionToken(ctx)
				wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true, sdk.ErrSignatureRejected: false, sdk.ErrSignatureInvalid: false})
				if err := c.Logout(ctx); err != nil {
					t.Fatalf("logout of an ended session: %v", err)
				}
				if got, _ := store.Load(ctx); got != "" {
					t.Fatalf("stored %q after the second logout", got)
				}
			})
		}
	})
}

// TestSignedClockOffset: a device clock 10 minutes off (twice the
// server's window) is corrected up front from the server's clock, so the
// first attempt passes; when the device clock then jumps, the refused
// timestamp makes the Client read the server's clock again and succeed.
func TestSignedClockOffset(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, ed := range editions {
			t.Run(ed.host, func(t *testing.T) {
				var skew atomic.Int64
				skew.Store(int64(10 * time.Minute))
				clock := func() time.Time { return e.Clock.Now().Add(time.Duration(skew.Load())) }
				c, rec := newSignedClient(t, e, ed.host, ed.client, sdk.WithClock(clock))
				if _, err := c.Login(ctx, "alice", st.Password); err != nil {
					t.Fatal(err)
				}
				want := func(step string, signed, dates int) {
					t.Helper()
					if got := rec.count(callSigned); got != signed {
						t.Errorf("%s: %d signed exchanges, want %d", step, got, signed)
					}
					if got := rec.count(callServerDate); got != dates {
						t.Errorf("%s: %d server-date requests, want %d", step, got, dates)
					}
				}

				if _, err := c.ExchangeSessionToken(ctx); err != nil {
					t.Fatalf("10 minutes ahead: %v", err)
				}
				want("10 minutes ahead", 1, 1)

				// Both clocks advance: the offset holds.
				e.Clock.Advance(4 * time.Minute)
				if _, err := c.ExchangeSessionToken(ctx); err != nil {
					t.Fatalf("later: %v", err)
				}
				want("later", 2, 1)

				// The device clock jumps 20 minutes back.
				skew.Store(int64(-10 * time.Minute))
				if _, err := c.ExchangeSessionToken(ctx); err != nil {
					t.Fatalf("after the jump: %v", err)
				}
				want("after the jump", 4, 2)
				if _, err := c.ExchangeSessionToken(ctx); err != nil {
					t.Fatalf("after the jump, again: %v", err)
				}
				want("after the jump, again", 5, 2)
			})
		}
	})
}

// TestSignedErrors: a replayed nonce and a signature made with another
// application's key give their sentinels, in both editions and in both
// languages, and are told apart from an invalid session.
func TestSignedErrors(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, ed := range editions {
			for _, lang := range []string{"en", "zh"} {
				t.Run(ed.host+"/"+lang, func(t *testing.T) {
					// A nonce used twice: the second call is refused, and not
					// repeated (only a refused timestamp is).
					c, rec := newSignedClient(t, e, ed.host, ed.client, sdk.WithLanguage(lang))
					sdk.SetNonceSource(c, func() string { return "nonce-" + lang })
					if _, err := c.Login(ctx, "alice", st.Password); err != nil {
						t.Fatal(err)
					}
					if _, err := c.ExchangeSessionToken(ctx); err != nil {
						t.Fatalf("first use of the nonce: %v", err)
					}
					_, err := c.ExchangeSessionToken(ctx)
					wantIs(t, err, map[error]bool{sdk.ErrSignatureRejected: true, sdk.ErrSignatureInvalid: false, sdk.ErrSessionInvalid: false})
					var se *sdk.Error
					if !errors.As(err, &se) || se.Code != map[string]string{st.EIAMHost: "SDK.COMMON.1006", st.CIAMHost: "IDAAS.SDK.PARAM.0005"}[ed.host] {
						t.Errorf("replayed nonce: %#v", err)
					}
					if got := rec.count(callSigned); got != 2 {
						t.Errorf("%d signed requests, want 2", got)
					}

					// Another application's key.
					c2, rec2 := newSignedClient(t, e, ed.host, ed.client, sdk.WithLanguage(lang))
					other, _ := newSignedClient(t, e, ed.host, ed.other)
					if err := sdk.UsePublicKeyOf(ctx, c2, other); err != nil {
						t.Fatal(err)
					}
					if _, err := c2.Login(ctx, "alice", st.Password); err != nil {
						t.Fatal(err)
					}
					_, err = c2.ExchangeSessionToken(ctx)
					wantIs(t, err, map[error]bool{sdk.ErrSignatureInvalid: true, sdk.ErrSignatureRejected: false, sdk.ErrSessionInvalid: false})
					if got := rec2.count(callSigned); got != 1 {
						t.Errorf("another key: %d signed requests, want 1", got)
					}
					// The refused key is forgotten: the next call fetches the
					// application's own.
					if _, err := c2.ExchangeSessionToken(ctx); err != nil {
						t.Fatalf("after refetching the key: %v", err)
					}
					if got := rec2.count(callPublicKey); got != 1 {
						t.Errorf("%d public-key requests, want 1", got)
					}

					// An unknown session is a session error, not a
					// signature error.
					store := &sdk.MemoryTokenStore{}
					_ = store.Save(ctx, "no-such-session")
					c3, _ := newSignedClient(t, e, ed.host, ed.client, sdk.WithLanguage(lang), sdk.WithTokenStore(store))
					_, err = c3.ExchangeSessionToken(ctx)
					wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true, sdk.ErrSignatureRejected: false, sdk.ErrSignatureInvalid: false})
				})
			}
		}
	})
}

// TestSignedConcurrent: 20 goroutines exchanging at once on one Client all
// succeed, each with its own nonce, and share one key fetch and one clock
// reading.
func TestSignedConcurrent(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, ed := range editions {
			t.Run(ed.host, func(t *testing.T) {
				c, rec := newSignedClient(t, e, ed.host, ed.client)
				var mu sync.Mutex
				nonces := map[string]bool{}
				sdk.SetNonceSource(c, func() string {
					n := sdk.NewNonce()
					mu.Lock()
					nonces[n] = true
					mu.Unlock()
					return n
				})
				login, err := c.Login(ctx, "alice", st.Password)
				if err != nil {
					t.Fatal(err)
				}
				const n = 20
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for range n {
					wg.Go(func() {
						x, err := c.ExchangeSessionToken(ctx)
						if err == nil && (x.SessionToken != login.SessionToken || x.IDToken == "") {
							err = fmt.Errorf("result %+v", x)
						}
						errs <- err
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Error(err)
					}
				}
				if len(nonces) != n || rec.count(callSigned) != n {
					t.Errorf("%d nonces for %d requests, want %d", len(nonces), rec.count(callSigned), n)
				}
				if rec.count(callPublicKey) != 1 || rec.count(callServerDate) != 1 {
					t.Errorf("%d key and %d clock fetches, want 1 each", rec.count(callPublicKey), rec.count(callServerDate))
				}
			})
		}
	})
}

// standIn is a stand-in server for the signed exchange that answers from
// a script and records what each signature carried.
type standIn struct {
	key *rsa.PrivateKey

	mu      sync.Mutex
	answers []string // error bodies to answer in turn; "" = success
	nonces  []string
	dates   int
}

func newStandIn(t *testing.T, answers ...string) (*standIn, *httptest.Server) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &standIn{key: key, answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method + " " + r.URL.Path {
	case callPublicKey:
		der, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
		fmt.Fprintf(w, `{"public_key":%q}`, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	case callServerDate:
		s.dates++
		fmt.Fprintf(w, `{"timestamp":"%d"}`, time.Now().UnixMilli())
	case callSigned:
		ct, _ := base64.StdEncoding.DecodeString(r.Header.Get("X-signature"))
		pt, err := s.key.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256})
		v, _ := url.ParseQuery(string(pt))
		ts, _ := strconv.ParseInt(v.Get("timestamp"), 10, 64)
		if err != nil || v.Get("session_token") != "token-1" || time.Since(time.UnixMilli(ts)).Abs() > time.Minute {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error_code":"SDK.COMMON.1004","error_msg":"Signature decryption error"}`)
			return
		}
		s.nonces = append(s.nonces, v.Get("nonce"))
		answer := ""
		if len(s.answers) > 0 {
			answer, s.answers = s.answers[0], s.answers[1:]
		}
		if answer != "" {
			status := 400
			if answer == busy {
				status = 500
			}
			w.WriteHeader(status)
			fmt.Fprint(w, answer)
			return
		}
		fmt.Fprint(w, `{"id_token":"header.payload.signature"}`)
	default:
		http.NotFound(w, r)
	}
}

const (
	busy          = `{"error_code":"SDK.COMMON.1008","error_msg":"System busy, please try again later"}`
	staleTime     = `{"error_code":"SDK.COMMON.1006","error_msg":"timestamp parameter error"}`
	staleTimeCIAM = `{"error_code":"IDAAS.SDK.PARAM.0005","error_msg":"参数timestamp无效或已过期"}`
)

// TestSignedRetriesSignAnew: every attempt of a signed call, the
// transport's retries after "busy" and the repetition after a refused
// timestamp, carries a fresh 16-byte hex nonce; a refused timestamp is
// repeated once only, after reading the server's clock again.
func TestSignedRetriesSignAnew(t *testing.T) {
	ctx := t.Context()
	newStore := func() *sdk.MemoryTokenStore {
		s := &sdk.MemoryTokenStore{}
		_ = s.Save(ctx, "token-1")
		return s
	}
	opts := func(store sdk.TokenStore) []sdk.Option {
		return []sdk.Option{sdk.WithDevice(testDevice), sdk.WithSignedSession(), sdk.WithTokenStore(store), sdk.WithRetry(3, time.Millisecond)}
	}

	s, srv := newStandIn(t, busy, staleTime, busy, "")
	c, err := sdk.New(srv.URL, "app", opts(newStore())...)
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.ExchangeSessionToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if x.IDToken != "header.payload.signature" || x.SessionToken != "token-1" || x.Rotated {
		t.Fatalf("result %+v", x)
	}
	seen := map[string]bool{}
	for _, n := range s.nonces {
		if b, err := hex.DecodeString(n); err != nil || len(b) != 16 || seen[n] {
			t.Errorf("nonce %q: want 16 fresh random bytes in hex", n)
		}
		seen[n] = true
	}
	if len(s.nonces) != 4 || s.dates != 2 {
		t.Errorf("%d attempts and %d clock readings, want 4 and 2", len(s.nonces), s.dates)
	}

	// A timestamp refused again after the new reading is returned.
	for _, stale := range []string{staleTime, staleTimeCIAM} {
		s, srv := newStandIn(t, stale, stale, stale)
		c, _ := sdk.New(srv.URL, "app", opts(newStore())...)
		_, err = c.ExchangeSessionToken(ctx)
		wantIs(t, err, map[error]bool{sdk.ErrSignatureRejected: true, sdk.ErrSessionInvalid: false})
		if len(s.nonces) != 2 || s.dates != 2 {
			t.Errorf("%d attempts and %d clock readings, want 2 and 2", len(s.nonces), s.dates)
		}
	}
}
