package sdk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/sdk"
)

func TestNewValidates(t *testing.T) {
	for name, f := range map[string]func() error{
		"no client id": func() error { _, err := sdk.New("https://acme.test", "", sdk.WithDevice(testDevice)); return err },
		"no device":    func() error { _, err := sdk.New("https://acme.test", "app"); return err },
		"bad scheme":   func() error { _, err := sdk.New("ftp://acme.test", "app", sdk.WithDevice(testDevice)); return err },
		"no host":      func() error { _, err := sdk.New("https://", "app", sdk.WithDevice(testDevice)); return err },
		"query": func() error {
			_, err := sdk.New("https://acme.test/?x=1", "app", sdk.WithDevice(testDevice))
			return err
		},
		"tenant secret":  func() error { _, err := sdk.NewTenantClient("https://acme.test", "app", ""); return err },
		"verifier no id": func() error { _, err := sdk.NewVerifier("https://acme.test/api/v1/oauth2", ""); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := sdk.New("https://acme.test/", "app", sdk.WithDevice(sdk.Device{Fingerprint: "f"})); err != nil {
		t.Errorf("a fingerprint alone is enough: %v", err)
	}
}

// TestLoginExchangeLogout runs the life of a session in both editions:
// login (stored), exchange (same token when the app does not rotate),
// id_tokens that verify, server date, logout (cleared, ended).
func TestLoginExchangeLogout(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, tc := range []struct{ host, client string }{{st.EIAMHost, "acme-portal"}, {st.CIAMHost, "shop-portal"}} {
			store := &sdk.MemoryTokenStore{}
			c := newClient(t, e, tc.host, tc.client, sdk.WithTokenStore(store))
			v, err := sdk.NewVerifier(e.Issuer(tc.host), tc.client, sdk.WithHTTPClient(e.Client), sdk.WithClock(e.Clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ExchangeSessionToken(ctx); !errors.Is(err, sdk.ErrNotLoggedIn) {
				t.Fatalf("%s: exchange before login: %v", tc.host, err)
			}
			res, err := c.Login(ctx, "alice", st.Password)
			if err != nil {
				t.Fatalf("%s: login: %v", tc.host, err)
			}
			if res.Status != sdk.LoginSuccess || res.SessionToken == "" || res.Expire != 604800 || res.IDToken == "" || res.StateToken != "" {
				t.Fatalf("%s: login result %+v", tc.host, res)
			}
			if got, _ := store.Load(ctx); got != res.SessionToken {
				t.Fatalf("%s: stored %q, want the session token", tc.host, got)
			}
			claims, err := v.Verify(ctx, res.IDToken)
			if err != nil {
				t.Fatalf("%s: login id_token: %v", tc.host, err)
			}
			if claims.UserName != "alice" || claims.Name != "Alice Liddell" || claims.Email != "alice@example.com" || claims.Mobile != "+86-13800000000" ||
				claims.Subject == "" || claims.ID != claims.Subject || claims.Issuer != e.Issuer(tc.host) || len(claims.Audience) != 1 || claims.Audience[0] != tc.client {
				t.Fatalf("%s: claims %+v", tc.host, claims)
			}

			e.Clock.Advance(100 * time.Second)
			x, err := c.ExchangeSessionToken(ctx)
			if err != nil {
				t.Fatalf("%s: exchange: %v", tc.host, err)
			}
			if x.Rotated || x.SessionToken != res.SessionToken || x.Expire != 604700 {
				t.Fatalf("%s: exchange without rotation: %+v", tc.host, x)
			}
			if _, err := v.Verify(ctx, x.IDToken); err != nil {
				t.Fatalf("%s: exchanged id_token: %v", tc.host, err)
			}

			now, err := c.ServerDate(ctx)
			if err != nil || !now.Equal(e.Clock.Now()) {
				t.Fatalf("%s: server date %v (%v), want %v", tc.host, now, err, e.Clock.Now())
			}

			if err := c.Logout(ctx); err != nil {
				t.Fatalf("%s: logout: %v", tc.host, err)
			}
			if got, _ := store.Load(ctx); got != "" {
				t.Fatalf("%s: the store still holds %q after logout", tc.host, got)
			}
			if r := e.Exchange(tc.host, tc.client, res.SessionToken); r.Status != 400 {
				t.Fatalf("%s: the session survived logout: %d %s", tc.host, r.Status, r.Body)
			}
			// Nothing to do now.
			if err := c.Logout(ctx); err != nil {
				t.Fatalf("%s: second logout: %v", tc.host, err)
			}
		}
		// Unified login: e-mail or mobile as the identifier (CIAM).
		c := newClient(t, e, st.CIAMHost, "shop-portal")
		for _, id := range []string{"alice@example.com", "+86-13800000000", "alice"} {
			if res, err := c.LoginUnified(ctx, id, st.Password); err != nil || res.Status != sdk.LoginSuccess {
				t.Fatalf("unified login as %s: %+v %v", id, res, err)
			}
		}
		if _, err := c.Login(ctx, "alice@example.com", st.Password); !errors.Is(err, sdk.ErrBadCredentials) {
			t.Fatalf("plain login with an e-mail: %v", err)
		}
	})
}

// TestLogoutOfEndedSession: a session that has already ended at the
// server is logged out without error, and the store is cleared.
func TestLogoutOfEndedSession(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		store := &sdk.MemoryTokenStore{}
		_ = store.Save(ctx, "no-such-session-token")
		c := newClient(t, e, st.EIAMHost, "acme-portal", sdk.WithTokenStore(store))
		if err := c.Logout(ctx); err != nil {
			t.Fatalf("logout of an unknown session: %v", err)
		}
		if got, _ := store.Load(ctx); got != "" {
			t.Fatalf("store holds %q", got)
		}
	})
}

// TestRotation: with session auto-refresh the exchange saves the new token
// before returning, and the old one dies after the grace period.
func TestRotation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		store := &sdk.MemoryTokenStore{}
		c := newClient(t, e, st.EIAMHost, "acme-rotating", sdk.WithTokenStore(store))
		res, err := c.Login(ctx, "alice", st.Password)
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Hour)
		x, err := c.ExchangeSessionToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !x.Rotated || x.SessionToken == res.SessionToken || x.Expire != 604800 {
			t.Fatalf("exchange %+v", x)
		}
		if got, _ := store.Load(ctx); got != x.SessionToken {
			t.Fatalf("store holds %q, want the rotated token", got)
		}
		e.Clock.Advance(31 * time.Second)
		if r := e.Exchange(st.EIAMHost, "acme-rotating", res.SessionToken); r.Status != 400 {
			t.Fatalf("old token after the grace period: %d %s", r.Status, r.Body)
		}
		// The client goes on with the saved token, rotating again.
		y, err := c.ExchangeSessionToken(ctx)
		if err != nil || !y.Rotated || y.SessionToken == x.SessionToken {
			t.Fatalf("second exchange %+v %v", y, err)
		}
		// A store holding a token rotated away long ago: the session is
		// lost and says so.
		_ = store.Save(ctx, res.SessionToken)
		_, err = c.ExchangeSessionToken(ctx)
		wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true, sdk.ErrSessionExpired: false})
	})
}

// TestConcurrentRotation: 20 goroutines exchanging through one client of a
// rotating application all succeed, and the store ends with a token that
// works.
func TestConcurrentRotation(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		store := &sdk.MemoryTokenStore{}
		c := newClient(t, e, st.EIAMHost, "acme-rotating", sdk.WithTokenStore(store))
		first, err := c.Login(ctx, "alice", st.Password)
		if err != nil {
			t.Fatal(err)
		}
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		results := make([]*sdk.IDTokenResult, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = c.ExchangeSessionToken(ctx)
			}()
		}
		wg.Wait()
		seen := map[string]bool{first.SessionToken: true}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("exchange %d: %v", i, errs[i])
			}
			if !results[i].Rotated || seen[results[i].SessionToken] {
				t.Fatalf("exchange %d: not a new token: %+v", i, results[i])
			}
			seen[results[i].SessionToken] = true
		}
		// Past every grace period, the stored token is the live one.
		e.Clock.Advance(time.Minute)
		last, _ := store.Load(ctx)
		if r := e.Exchange(st.EIAMHost, "acme-rotating", last); r.Status != 200 {
			t.Fatalf("stored token refused: %d %s", r.Status, r.Body)
		}
		if _, err := c.ExchangeSessionToken(ctx); err != nil {
			t.Fatalf("exchange after the storm: %v", err)
		}
	})
}

// TestExchangeHonoursContext: a caller waiting for another's exchange
// gives up when its context ends.
func TestExchangeHonoursContext(t *testing.T) {
	ctx := t.Context()
	release := make(chan struct{})
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"session_token":"t","expire":60,"id_token":"x.y.z"}`))
	})
	store := &sdk.MemoryTokenStore{}
	_ = store.Save(ctx, "t")
	c, err := sdk.New(srv.URL, "app", sdk.WithDevice(testDevice), sdk.WithTokenStore(store))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.ExchangeSessionToken(ctx); done <- err }()
	time.Sleep(50 * time.Millisecond) // let it take the lock
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.ExchangeSessionToken(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting exchange: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first exchange: %v", err)
	}
}

// TestTypedErrors: the same sentinels match in both dialects.
func TestTypedErrors(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, tc := range []struct {
			host, client, other string
			eiam                bool
		}{
			{st.EIAMHost, "acme-portal", "shop-portal", true},
			{st.CIAMHost, "shop-portal", "acme-portal", false},
		} {
			store := &sdk.MemoryTokenStore{}
			c := newClient(t, e, tc.host, tc.client, sdk.WithTokenStore(store))
			_, err := c.Login(ctx, "alice", "wrong-password")
			wantIs(t, err, map[error]bool{sdk.ErrBadCredentials: true, sdk.ErrSessionInvalid: false, sdk.ErrSystemBusy: false})
			var se *sdk.Error
			if !errors.As(err, &se) || se.HTTPStatus != 400 || se.Message != "Invalid user name or password" {
				t.Fatalf("%s: %#v", tc.host, err)
			}
			if (se.Code == "SDK.LOGIN.1010") != tc.eiam {
				t.Fatalf("%s: code %s", tc.host, se.Code)
			}
			_, err = c.Login(ctx, "nobody", "wrong-password")
			wantIs(t, err, map[error]bool{sdk.ErrBadCredentials: true})

			// Invalid session.
			_ = store.Save(ctx, "not-a-session")
			_, err = c.ExchangeSessionToken(ctx)
			wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true, sdk.ErrSessionExpired: false, sdk.ErrBadCredentials: false})
			// A session from another device is invalid too.
			tok := e.MustLogin(tc.host, tc.client, "bob")
			other := newClient(t, e, tc.host, tc.client, sdk.WithDevice(sdk.Device{Fingerprint: "another-device"}), sdk.WithTokenStore(store))
			_ = store.Save(ctx, tok)
			_, err = other.ExchangeSessionToken(ctx)
			wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true})

			// Expired: EIAM says so, CIAM says "invalid or expired".
			if _, err := c.Login(ctx, "alice", st.Password); err != nil {
				t.Fatal(err)
			}
			e.Clock.Advance(604801 * time.Second)
			_, err = c.ExchangeSessionToken(ctx)
			wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true, sdk.ErrSessionExpired: tc.eiam})

			// Unknown client: one of another tenant.
			_, err = newClient(t, e, tc.host, tc.other).Login(ctx, "alice", st.Password)
			wantIs(t, err, map[error]bool{sdk.ErrUnknownClient: true, sdk.ErrBadCredentials: false})

			// Lockout after five failures.
			for range 4 {
				_, _ = c.Login(ctx, "bob", "wrong-password")
			}
			_, err = c.Login(ctx, "bob", "wrong-password")
			wantIs(t, err, map[error]bool{sdk.ErrAccountLocked: true, sdk.ErrBadCredentials: false})
			if !strings.Contains(err.Error(), "15 minutes") {
				t.Errorf("%s: lock message %v", tc.host, err)
			}

			// Chinese messages.
			_, err = newClient(t, e, tc.host, tc.client, sdk.WithLanguage("zh")).Login(ctx, "alice", "wrong-password")
			if !errors.As(err, &se) || se.Message != "用户名或密码错误" || !errors.Is(err, sdk.ErrBadCredentials) {
				t.Fatalf("%s: Chinese: %v", tc.host, err)
			}
		}
	})
}

// TestDisabledAccount: a disabled account is told apart from bad
// credentials only with the right password.
func TestDisabledAccount(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		u, err := e.Server.Store().UserByUsername(ctx, "acme", "bob")
		if err != nil {
			t.Fatal(err)
		}
		u.Status = "disabled"
		if err := e.Server.Store().UpdateUserProfile(ctx, u); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, e, st.EIAMHost, "acme-portal")
		_, err = c.Login(ctx, "bob", st.Password)
		wantIs(t, err, map[error]bool{sdk.ErrAccountDisabled: true, sdk.ErrBadCredentials: false})
	})
}

// TestPasswordExpiry: PASSWORD_WARN and PASSWORD_EXPIRED logins continue
// with skip and change-password, which store the session.
func TestPasswordExpiry(t *testing.T) {
	maxAge := func(c *config.Config) {
		for i := range c.Bootstrap.Tenants {
			c.Bootstrap.Tenants[i].PasswordMaxAge = 90 * 24 * time.Hour
			c.Bootstrap.Tenants[i].PasswordWarnBefore = 7 * 24 * time.Hour
		}
	}
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		hosts := []string{st.EIAMHost, st.CIAMHost}
		clients := map[string]*sdk.Client{}
		stores := map[string]*sdk.MemoryTokenStore{}
		for _, host := range hosts {
			stores[host] = &sdk.MemoryTokenStore{}
			clients[host] = newClient(t, e, host, map[string]string{st.EIAMHost: "acme-portal", st.CIAMHost: "shop-portal"}[host], sdk.WithTokenStore(stores[host]))
		}
		e.Clock.Advance(85 * 24 * time.Hour)
		for _, host := range hosts {
			c, store := clients[host], stores[host]
			res, err := c.Login(ctx, "alice", st.Password)
			if err != nil || res.Status != sdk.LoginPasswordWarn || res.StateToken == "" || res.SessionToken != "" {
				t.Fatalf("%s: warn: %+v %v", host, res, err)
			}
			if tok, _ := store.Load(ctx); tok != "" {
				t.Fatalf("%s: a warn stored %q", host, tok)
			}
			p, err := res.PasswordPolicy()
			if err != nil || p.MinLength != 8 || p.Expires.IsZero() {
				t.Fatalf("%s: policy %+v %v", host, p, err)
			}
			ok, err := c.SkipPasswordChange(ctx, res.StateToken)
			if err != nil || ok.Status != sdk.LoginSuccess {
				t.Fatalf("%s: skip: %+v %v", host, ok, err)
			}
			if tok, _ := store.Load(ctx); tok != ok.SessionToken {
				t.Fatalf("%s: skip stored %q", host, tok)
			}
			// Single use: the state token is invalid now, the session is not.
			_, err = c.SkipPasswordChange(ctx, res.StateToken)
			wantIs(t, err, map[error]bool{sdk.ErrStateTokenInvalid: true, sdk.ErrSessionInvalid: false})
		}

		e.Clock.Advance(6 * 24 * time.Hour)
		for _, host := range hosts {
			c, store := clients[host], stores[host]
			res, err := c.Login(ctx, "alice", st.Password)
			if err != nil || res.Status != sdk.LoginPasswordExpired || res.StateToken == "" {
				t.Fatalf("%s: expired: %+v %v", host, res, err)
			}
			_, err = c.ChangePassword(ctx, res.StateToken, "short")
			wantIs(t, err, map[error]bool{sdk.ErrPasswordPolicy: true})
			done, err := c.ChangePassword(ctx, res.StateToken, "Brand-New-Secret-1")
			if err != nil || done.Status != sdk.LoginSuccess {
				t.Fatalf("%s: change password: %+v %v", host, done, err)
			}
			if tok, _ := store.Load(ctx); tok != done.SessionToken {
				t.Fatalf("%s: change-password stored %q", host, tok)
			}
			if _, err := c.Login(ctx, "alice", "Brand-New-Secret-1"); err != nil {
				t.Fatalf("%s: login with the new password: %v", host, err)
			}
		}
	}, maxAge)
}

// TestTenantSelection: X-tenant-id on a common domain, and WithHost for a
// URL that is only an address.
func TestTenantSelection(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		isv := newClient(t, e, st.CommonHost, "isv-portal", sdk.WithTenantID("isv"))
		if res, err := isv.Login(ctx, "alice", st.Password); err != nil || res.Status != sdk.LoginSuccess {
			t.Fatalf("isv login: %+v %v", res, err)
		}
		if _, err := isv.ExchangeSessionToken(ctx); err != nil {
			t.Fatalf("isv exchange: %v", err)
		}
		// Without the tenant id the common domain cannot tell the tenant.
		_, err := newClient(t, e, st.CommonHost, "isv-portal").Login(ctx, "alice", st.Password)
		var se *sdk.Error
		if !errors.As(err, &se) || se.Code != "SDK.COMMON.1001" {
			t.Fatalf("common domain without tenant id: %v", err)
		}

		// A plain HTTP client and the listener's address: WithHost names
		// the tenant.
		addr := "http://" + net.JoinHostPort("127.0.0.1", e.Port)
		c, err := sdk.New(addr, "shop-portal", sdk.WithHost(st.CIAMHost), sdk.WithDevice(testDevice))
		if err != nil {
			t.Fatal(err)
		}
		if res, err := c.Login(ctx, "alice", st.Password); err != nil || res.Status != sdk.LoginSuccess {
			t.Fatalf("login with WithHost: %+v %v", res, err)
		}
		tc, err := sdk.NewTenantClient(addr, "shop-portal", st.Secret, sdk.WithHost(st.CIAMHost))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tc.AccessToken(ctx); err != nil {
			t.Fatalf("tenant token with WithHost: %v", err)
		}
		v, err := sdk.NewVerifier(e.Issuer(st.CIAMHost), "shop-portal", sdk.WithHTTPClient(e.Client), sdk.WithClock(e.Clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		x, err := c.ExchangeSessionToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, x.IDToken); err != nil {
			t.Fatalf("verify: %v", err)
		}
	})
}

// TestStorageDown: with the server's storage gone every call answers
// "system busy", which is retried and then returned as ErrSystemBusy.
func TestStorageDown(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		hc, cnt := countingClient(e)
		store := &sdk.MemoryTokenStore{}
		c, err := sdk.New(baseURL(e, st.EIAMHost), "acme-portal", sdk.WithHTTPClient(hc), sdk.WithDevice(testDevice),
			sdk.WithTokenStore(store), sdk.WithRetry(3, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Login(ctx, "alice", st.Password); err != nil {
			t.Fatal(err)
		}
		tc, err := sdk.NewTenantClient(baseURL(e, st.EIAMHost), "acme-portal", st.Secret, sdk.WithHTTPClient(hc), sdk.WithRetry(2, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		e.Server.Store().Close()

		_, err = c.Login(ctx, "alice", st.Password)
		wantIs(t, err, map[error]bool{sdk.ErrSystemBusy: true, sdk.ErrBadCredentials: false})
		if n := cnt.count("/sdk/login"); n != 1+3 {
			t.Errorf("login attempts %d, want 3 after the first login", n-1)
		}
		_, err = c.ExchangeSessionToken(ctx)
		wantIs(t, err, map[error]bool{sdk.ErrSystemBusy: true, sdk.ErrSessionInvalid: false})
		if tok, _ := store.Load(ctx); tok == "" {
			t.Error("a busy answer cleared the session")
		}
		_, err = tc.AccessToken(ctx)
		wantIs(t, err, map[error]bool{sdk.ErrSystemBusy: true})
		if n := cnt.count("/tenant/token"); n != 2 {
			t.Errorf("token attempts %d, want 2", n)
		}
	})
}
