package sdk_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/sdk"
)

// fakeServer starts an HTTP server answering with h.
func fakeServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// busyThen answers the first n requests with status and body, the rest
// with ok; it counts the requests.
func busyThen(n int32, status int, body, ok string) (http.HandlerFunc, *atomic.Int32) {
	var calls atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			writeJSON(w, status, body)
			return
		}
		writeJSON(w, 200, ok)
	}, &calls
}

const (
	eiamBusy = `{"error_code":"SDK.COMMON.1008","error_msg":"System busy, please try again later"}`
	ciamBusy = `{"error_code":"IDAAS.SDK.COM.0002","error_msg":"System busy, please try again later"}`
	dateOK   = `{"timestamp":"1700000000000"}`
)

func fakeClient(t *testing.T, url string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	c, err := sdk.New(url, "app", append([]sdk.Option{sdk.WithDevice(testDevice), sdk.WithRetry(3, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBusyRetry: busy answers are retried; a call succeeds on its third
// attempt, and gives up after the maximum.
func TestBusyRetry(t *testing.T) {
	ctx := t.Context()
	for name, tc := range map[string]struct {
		status int
		body   string
	}{"eiam": {500, eiamBusy}, "ciam": {400, ciamBusy}} {
		h, calls := busyThen(2, tc.status, tc.body, dateOK)
		srv := fakeServer(t, h)
		got, err := fakeClient(t, srv.URL).ServerDate(ctx)
		if err != nil || got.UnixMilli() != 1700000000000 {
			t.Fatalf("%s: %v %v", name, got, err)
		}
		if calls.Load() != 3 {
			t.Fatalf("%s: %d attempts, want 3", name, calls.Load())
		}

		h, calls = busyThen(100, tc.status, tc.body, dateOK)
		srv = fakeServer(t, h)
		_, err = fakeClient(t, srv.URL).ServerDate(ctx)
		wantIs(t, err, map[error]bool{sdk.ErrSystemBusy: true})
		if calls.Load() != 3 {
			t.Fatalf("%s: %d attempts, want 3 then give up", name, calls.Load())
		}
		calls.Store(0)
		_, err = fakeClient(t, srv.URL, sdk.WithRetry(5, time.Millisecond)).ServerDate(ctx)
		wantIs(t, err, map[error]bool{sdk.ErrSystemBusy: true})
		if calls.Load() != 5 {
			t.Fatalf("%s: %d attempts with WithRetry(5), want 5", name, calls.Load())
		}
		calls.Store(0)
		_, _ = fakeClient(t, srv.URL, sdk.WithRetry(1, time.Millisecond)).ServerDate(ctx)
		if calls.Load() != 1 {
			t.Fatalf("%s: %d attempts with WithRetry(1), want 1", name, calls.Load())
		}
	}
}

// TestLoginRetriedOnlyWhenBusy: a login is retried after a busy answer,
// but not after an answer that may hide a created session (a gateway
// error); an exchange is retried after both.
func TestLoginRetriedOnlyWhenBusy(t *testing.T) {
	ctx := t.Context()
	login := `{"status":"SUCCESS","session_token":"s1","expire":60,"id_token":"a.b.c"}`
	h, calls := busyThen(2, 500, eiamBusy, login)
	srv := fakeServer(t, h)
	if res, err := fakeClient(t, srv.URL).Login(ctx, "alice", "pw"); err != nil || res.SessionToken != "s1" || calls.Load() != 3 {
		t.Fatalf("busy login: %+v %v after %d attempts", res, err, calls.Load())
	}

	h, calls = busyThen(1, 502, "<html>bad gateway</html>", login)
	srv = fakeServer(t, h)
	_, err := fakeClient(t, srv.URL).Login(ctx, "alice", "pw")
	var se *sdk.Error
	if !errors.As(err, &se) || se.HTTPStatus != 502 || se.Code != "" || calls.Load() != 1 {
		t.Fatalf("login after a gateway error: %v after %d attempts, want no retry", err, calls.Load())
	}

	h, calls = busyThen(1, 502, "<html>bad gateway</html>", `{"session_token":"s2","expire":60,"id_token":"a.b.c"}`)
	srv = fakeServer(t, h)
	store := &sdk.MemoryTokenStore{}
	_ = store.Save(ctx, "s1")
	x, err := fakeClient(t, srv.URL, sdk.WithTokenStore(store)).ExchangeSessionToken(ctx)
	if err != nil || !x.Rotated || calls.Load() != 2 {
		t.Fatalf("exchange after a gateway error: %+v %v after %d attempts", x, err, calls.Load())
	}
	if tok, _ := store.Load(ctx); tok != "s2" {
		t.Fatalf("stored %q", tok)
	}
}

// TestRetryHonoursContext: a cancelled context ends the backoff at once.
func TestRetryHonoursContext(t *testing.T) {
	h, calls := busyThen(100, 500, eiamBusy, dateOK)
	srv := fakeServer(t, h)
	c := fakeClient(t, srv.URL, sdk.WithRetry(10, time.Hour))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ServerDate(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second || calls.Load() != 1 {
		t.Fatalf("got %v after %v and %d attempts", err, time.Since(start), calls.Load())
	}
}

// TestOAuthErrors: OAuth-format answers of the tenant API become Errors
// with the OAuth code; temporarily_unavailable is retried.
func TestOAuthErrors(t *testing.T) {
	ctx := t.Context()
	h, calls := busyThen(2, 503, `{"error":"temporarily_unavailable","error_description":"System busy, please try again later"}`,
		`{"access_token":"tok","token_type":"bearer","expires_in":"1800","scope":"all"}`)
	srv := fakeServer(t, h)
	tc, err := sdk.NewTenantClient(srv.URL, "app", "secret", sdk.WithRetry(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := tc.AccessToken(ctx); err != nil || tok != "tok" || calls.Load() != 3 {
		t.Fatalf("token after busy answers: %q %v after %d attempts", tok, err, calls.Load())
	}

	srv = fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"error":"invalid_client","error_description":"Bad client credentials"}`)
	})
	tc, _ = sdk.NewTenantClient(srv.URL, "app", "secret")
	_, err = tc.AccessToken(ctx)
	wantIs(t, err, map[error]bool{sdk.ErrUnknownClient: true, sdk.ErrSystemBusy: false})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != "invalid_client" || se.Message != "Bad client credentials" || se.HTTPStatus != 401 {
		t.Fatalf("error %#v", err)
	}
	if !strings.Contains(se.Error(), "invalid_client") {
		t.Fatalf("Error() = %q", se.Error())
	}
}

// TestInvalidTokenRetriedOnce: a token the tenant API keeps refusing is
// replaced once, then the refusal is returned.
func TestInvalidTokenRetriedOnce(t *testing.T) {
	var tokens, refreshes atomic.Int32
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/tenant/token":
			tokens.Add(1)
			writeJSON(w, 200, `{"access_token":"tok","token_type":"bearer","expires_in":1800,"scope":"all"}`)
		default:
			refreshes.Add(1)
			if r.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("Authorization %q", r.Header.Get("Authorization"))
			}
			writeJSON(w, 400, `{"error":"invalid_token","error_description":"Invalid access"}`)
		}
	})
	tc, err := sdk.NewTenantClient(srv.URL, "app", "secret")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tc.RefreshSession(t.Context(), "session", testDevice)
	wantIs(t, err, map[error]bool{sdk.ErrInvalidToken: true, sdk.ErrSessionInvalid: false})
	if tokens.Load() != 2 || refreshes.Load() != 2 {
		t.Fatalf("%d token fetches and %d refreshes, want 2 and 2", tokens.Load(), refreshes.Load())
	}
}

// TestHeaders: the SDK sends the contract's headers.
func TestHeaders(t *testing.T) {
	var got http.Header
	var host string
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		got, host = r.Header.Clone(), r.Host
		writeJSON(w, 200, `{"session_token":"s","expire":60,"id_token":"a.b.c"}`)
	})
	ctx := t.Context()
	store := &sdk.MemoryTokenStore{}
	_ = store.Save(ctx, "s")
	c := fakeClient(t, srv.URL, sdk.WithTokenStore(store), sdk.WithLanguage("zh"), sdk.WithTenantID("t1"), sdk.WithHost("tenant.example"))
	if _, err := c.ExchangeSessionToken(ctx); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"X-Client-Id": "app", "X-Device-Fingerprint": testDevice.Fingerprint, "X-Operating-Sys-Version": testDevice.OSVersion,
		"X-Agent": testDevice.Agent, "X-Device-Ip": testDevice.IP, "X-L": "zh", "X-Tenant-Id": "t1",
		"X-Session-Token": "s", "Session-Token": "s",
	} {
		if got.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, got.Get(k), want)
		}
	}
	if host != "tenant.example" {
		t.Errorf("Host %q", host)
	}
	// Defaults for what the device does not say.
	c = fakeClient(t, srv.URL, sdk.WithDevice(sdk.Device{Fingerprint: "fp"}), sdk.WithTokenStore(store))
	if _, err := c.ExchangeSessionToken(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Agent") == "" || got.Get("X-Operating-Sys-Version") == "" || got.Get("X-Device-Ip") != "" || got.Get("X-L") != "" {
		t.Errorf("defaults: %v", got)
	}
}
