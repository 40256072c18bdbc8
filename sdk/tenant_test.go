package sdk_test

import (
	"sync"
	"testing"
	"time"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/sdk"
)

func newTenantClient(t *testing.T, e *st.Env, host, clientID string, opts ...sdk.Option) *sdk.TenantClient {
	t.Helper()
	all := append([]sdk.Option{sdk.WithHTTPClient(e.Client), sdk.WithClock(e.Clock.Now), sdk.WithRetry(3, time.Millisecond)}, opts...)
	c, err := sdk.NewTenantClient(baseURL(e, host), clientID, st.Secret, all...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTenantSessionsAndTickets: refresh and SSO tickets in both editions.
func TestTenantSessionsAndTickets(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		for _, tc := range []struct{ host, client string }{{st.EIAMHost, "acme-portal"}, {st.CIAMHost, "shop-portal"}} {
			tenant := newTenantClient(t, e, tc.host, tc.client)
			tok := e.MustLogin(tc.host, tc.client, "alice")
			e.Clock.Advance(time.Hour)

			next, expire, err := tenant.RefreshSession(ctx, tok, testDevice)
			if err != nil || next == "" || next == tok || expire != 604800 {
				t.Fatalf("%s: refresh: %q %d %v", tc.host, next, expire, err)
			}
			// Within the grace period the old token gets the same successor.
			if again, _, err := tenant.RefreshSession(ctx, tok, testDevice); err != nil || again != next {
				t.Fatalf("%s: refresh within grace: %q %v", tc.host, again, err)
			}
			e.Clock.Advance(31 * time.Second)
			_, _, err = tenant.RefreshSession(ctx, tok, testDevice)
			wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true, sdk.ErrInvalidToken: false})
			// Another device may not refresh it.
			_, _, err = tenant.RefreshSession(ctx, next, sdk.Device{Fingerprint: "other", OSVersion: "x", IP: "10.0.0.1"})
			wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true})

			ticket, expire, err := tenant.IssueSSOTicket(ctx, next, testDevice)
			if err != nil || ticket == "" || expire != 300 {
				t.Fatalf("%s: ticket: %q %d %v", tc.host, ticket, expire, err)
			}
			u, err := tenant.VerifySSOTicket(ctx, ticket, testDevice)
			if err != nil {
				t.Fatalf("%s: verify: %v", tc.host, err)
			}
			if u.UserName != "alice" || u.Name != "Alice Liddell" || u.Email != "alice@example.com" || u.Mobile != "+86-13800000000" || u.ID == "" {
				t.Fatalf("%s: user %+v", tc.host, u)
			}
			_, err = tenant.VerifySSOTicket(ctx, ticket, testDevice)
			wantIs(t, err, map[error]bool{sdk.ErrSSOTicketInvalid: true, sdk.ErrSessionInvalid: false})
			_, _, err = tenant.IssueSSOTicket(ctx, "no-such-session", testDevice)
			wantIs(t, err, map[error]bool{sdk.ErrSessionInvalid: true, sdk.ErrSSOTicketInvalid: false})
		}
		// Bad credentials.
		bad, err := sdk.NewTenantClient(baseURL(e, st.EIAMHost), "acme-portal", "wrong-secret-0123456789", sdk.WithHTTPClient(e.Client))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.AccessToken(ctx)
		wantIs(t, err, map[error]bool{sdk.ErrUnknownClient: true, sdk.ErrInvalidToken: false})
	})
}

// TestAccessTokenCache: one token request for 50 concurrent callers, the
// token reused until shortly before it expires, then replaced.
func TestAccessTokenCache(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		hc, cnt := countingClient(e)
		tenant := newTenantClient(t, e, st.EIAMHost, "acme-portal", sdk.WithHTTPClient(hc))
		const n = 50
		var wg sync.WaitGroup
		toks := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				toks[i], errs[i] = tenant.AccessToken(ctx)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || toks[i] != toks[0] || toks[i] == "" {
				t.Fatalf("caller %d: %q %v", i, toks[i], errs[i])
			}
		}
		if got := cnt.count("/tenant/token"); got != 1 {
			t.Fatalf("%d token requests for %d concurrent callers, want 1", got, n)
		}
		first := toks[0]

		// Reused well within its 1800 s.
		e.Clock.Advance(1700 * time.Second)
		if tok, err := tenant.AccessToken(ctx); err != nil || tok != first {
			t.Fatalf("at 1700 s: %q %v, want the cached token", tok, err)
		}
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		if _, _, err := tenant.RefreshSession(ctx, tok, testDevice); err != nil {
			t.Fatal(err)
		}
		if got := cnt.count("/tenant/token"); got != 1 {
			t.Fatalf("%d token requests before expiry, want 1", got)
		}
		// Past its expiry: a new token.
		e.Clock.Advance(101 * time.Second)
		second, err := tenant.AccessToken(ctx)
		if err != nil || second == first {
			t.Fatalf("after 1801 s: %q %v, want a new token", second, err)
		}
		if got := cnt.count("/tenant/token"); got != 2 {
			t.Fatalf("%d token requests, want 2", got)
		}
		// Renewed a minute before expiry (10 % of 1800 s is more than that).
		e.Clock.Advance(1739 * time.Second)
		if tok, _ := tenant.AccessToken(ctx); tok != second {
			t.Fatal("renewed too early")
		}
		e.Clock.Advance(2 * time.Second)
		if tok, _ := tenant.AccessToken(ctx); tok == second {
			t.Fatal("not renewed 59 s before expiry")
		}
	})
}

// TestAccessTokenRefusedIsReplaced: when the server refuses a token the
// client still thinks valid (here: the clocks disagree), the client drops
// it and retries once with a new one.
func TestAccessTokenRefusedIsReplaced(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		hc, cnt := countingClient(e)
		// The SDK's own clock, not the server's.
		tenant, err := sdk.NewTenantClient(baseURL(e, st.EIAMHost), "acme-portal", st.Secret, sdk.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tenant.AccessToken(ctx); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(1801 * time.Second)
		tok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		if _, _, err := tenant.RefreshSession(ctx, tok, testDevice); err != nil {
			t.Fatalf("refresh with a token the server has expired: %v", err)
		}
		if got, refreshes := cnt.count("/tenant/token"), cnt.count("/session-token/refresh"); got != 2 || refreshes != 2 {
			t.Fatalf("%d token requests and %d refreshes, want 2 and 2", got, refreshes)
		}
	})
}
