package server_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// auditEvents flushes the server's audit writer and returns the events of
// tenant tenantID, oldest first.
func auditEvents(t *testing.T, e *st.Env, tenantID string) []store.AuditEvent {
	t.Helper()
	if err := e.Server.FlushAudit(t.Context()); err != nil {
		t.Fatalf("FlushAudit: %v", err)
	}
	as, ok := e.Server.Store().(store.AuditStore)
	if !ok {
		t.Fatal("the server's store has no audit log")
	}
	var out []store.AuditEvent
	f := store.AuditFilter{TenantIDs: []string{tenantID}, Limit: 50}
	for {
		page, next, err := as.ListAudit(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	slices.Reverse(out)
	return out
}

// wantEvent is what a test checks of an audit event: the fields, and the
// details it names (others may be present).
type wantEvent struct {
	typ, actor, target, ip string
	details                map[string]string
}

func checkEvents(t *testing.T, got []store.AuditEvent, tenantID string, want []wantEvent) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		if i >= len(got) {
			t.Errorf("event %d missing: want %+v", i, want[i])
			continue
		}
		g := got[i]
		if i >= len(want) {
			t.Errorf("unexpected event %d: %+v", i, g)
			continue
		}
		w := want[i]
		actorTenant := ""
		if w.actor != "" {
			actorTenant = tenantID
		}
		if g.Type != w.typ || g.ActorID != w.actor || g.ActorTenantID != actorTenant || g.Target != w.target ||
			g.SourceIP != w.ip || g.TenantID != tenantID {
			t.Errorf("event %d: got %s actor %s/%s target %s ip %s tenant %s; want %s actor %s target %s ip %s",
				i, g.Type, g.ActorTenantID, g.ActorID, g.Target, g.SourceIP, g.TenantID, w.typ, w.actor, w.target, w.ip)
		}
		for k, v := range w.details {
			if g.Details[k] != v {
				t.Errorf("event %d (%s): details[%s] = %q, want %q (all: %v)", i, g.Type, k, g.Details[k], v, g.Details)
			}
		}
		for k, v := range g.Details {
			if strings.Contains(k, "password") || strings.Contains(v, st.Password) {
				t.Errorf("event %d holds a password: %s=%q", i, k, v)
			}
		}
	}
}

// TestAuditLog drives logins (success, failure, lockout, on the SDK and
// the hosted page), exchanges with rotation, client_credentials on both
// token endpoints, revocation and both logouts through the HTTP API, and
// reads the audit log back from the store: who, what, which target, from
// which address (the trusted proxy's X-Forwarded-For, else the peer), in
// order, per tenant; then the retention removes them.
func TestAuditLog(t *testing.T) {
	const threshold = 3
	withEnv(t, func(t *testing.T, e *st.Env) {
		ctx := t.Context()
		userID := func(tenant, name string) string {
			u, err := e.Server.Store().UserByUsername(ctx, tenant, name)
			if err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		alice, bob := userID("acme", "alice"), userID("acme", "bob")
		const proxied = "203.0.113.9"
		local := "127.0.0.1"

		// 1. An SDK login through the proxy, which forwards the client's
		// address (the device IP the client reports is not the source).
		h := st.SDKHeaders("acme-rotating")
		h.Set("X-Forwarded-For", proxied)
		r := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/login"), h, `{"user_name":"alice","password":"`+st.Password+`"}`)
		if r.Status != 200 || r.Str("session_token") == "" {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		// 2. The exchange rotates the session token.
		x := e.Exchange(st.EIAMHost, "acme-rotating", r.Str("session_token"))
		if x.Status != 200 || x.Str("session_token") == r.Str("session_token") {
			t.Fatalf("exchange: %d %s", x.Status, x.Body)
		}
		// 3. SDK logout with the rotated token.
		lh := st.SDKHeaders("acme-rotating")
		lh.Del("Content-Type")
		lh.Set("X-session-token", x.Str("session_token"))
		if lo := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/sdk/logout"), lh, ""); lo.Status != 200 {
			t.Fatalf("logout: %d %s", lo.Status, lo.Body)
		}
		// 4, 5. A wrong password, an unknown user.
		if r := e.Login(st.EIAMHost, "acme-portal", "alice", "wrong-password"); r.Status != 400 {
			t.Fatalf("wrong password: %d", r.Status)
		}
		if r := e.Login(st.EIAMHost, "acme-portal", "nobody", st.Password); r.Status != 400 {
			t.Fatalf("unknown user: %d", r.Status)
		}
		// 6, 7. Bob locks his account, then the right password is refused.
		for range threshold {
			e.Login(st.EIAMHost, "acme-portal", "bob", "wrong-password")
		}
		if r := e.Login(st.EIAMHost, "acme-portal", "bob", st.Password); r.Status == 200 {
			t.Fatal("a locked account logged in")
		}
		// 8, 9. client_credentials on the OAuth and the tenant endpoint.
		cc := e.Do("POST", e.URL(st.EIAMHost, "/api/v1/oauth2/token"), headers("Content-Type", "application/x-www-form-urlencoded"),
			form("grant_type", "client_credentials", "client_id", "acme-portal", "client_secret", st.Secret))
		if cc.Status != 200 {
			t.Fatalf("client_credentials: %d %s", cc.Status, cc.Body)
		}
		bearer := e.TenantToken(st.EIAMHost, "acme-portal")
		// The application's server rotates a session and asks for an SSO
		// ticket (tenant API, contract §3.2, §3.3).
		auth := headers("Authorization", "Bearer "+bearer, "Content-Type", "application/json")
		sdkTok := e.MustLogin(st.EIAMHost, "acme-portal", "alice")
		rr := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/refresh"), auth, refreshBody(sdkTok, st.Device))
		if rr.Status != 200 {
			t.Fatalf("tenant refresh: %d %s", rr.Status, rr.Body)
		}
		if tr := e.Do("POST", e.URL(st.EIAMHost, "/api/v2/tenant/sso/session-token/sso-ticket"), auth, refreshBody(rr.Str("session_token"), st.Device)); tr.Status != 200 {
			t.Fatalf("sso ticket: %d %s", tr.Status, tr.Body)
		}
		// 10. The hosted login and the code exchange.
		web := newRP(t, e, st.EIAMHost, "acme-web", st.Secret, "http://app.test/callback", oidc.ScopeOpenID)
		b := e.NewBrowser()
		tok, _ := web.signIn(t, b, "alice", st.Password)
		// 11. The client revokes its refresh token (RFC 7009).
		if rev := e.Do("POST", e.URL(st.EIAMHost, "/api/v1/oauth2/revoke"), headers("Content-Type", "application/x-www-form-urlencoded"),
			form("token", tok.RefreshToken, "client_id", "acme-web", "client_secret", st.Secret)); rev.Status != 200 {
			t.Fatalf("revoke: %d %s", rev.Status, rev.Body)
		}
		// 12. RP-initiated logout ends the browser session.
		if lo := b.Get(e.URL(st.EIAMHost, "/api/v1/logout?post_logout_redirect_uri="+url.QueryEscape("http://app.test/bye"))); !lo.Redirected() {
			t.Fatalf("oidc logout: %d", lo.Status)
		}
		// Another tenant's login.
		e.MustLogin(st.CIAMHost, "shop-portal", "alice")

		got := auditEvents(t, e, "acme")
		session := func(i int) string { // the session of event i's details
			if i < len(got) {
				return "session:" + got[i].Details["session_id"]
			}
			return ""
		}
		grant := ""
		for _, g := range got {
			if g.Type == audit.TypeTokenRevoked {
				grant = g.Target
			}
		}
		checkEvents(t, got, "acme", []wantEvent{
			{audit.TypeLoginSuccess, alice, "user:" + alice, proxied, map[string]string{"client_id": "acme-rotating", "channel": "sdk", "tokens": "session_token id_token"}},
			{audit.TypeSessionRotated, alice, session(0), local, map[string]string{"client_id": "acme-rotating", "via": "exchange", "user_id": alice}},
			{audit.TypeTokenIssued, alice, "user:" + alice, local, map[string]string{"grant_type": "session_exchange", "tokens": "id_token session_token", "session_id": got[0].Details["session_id"]}},
			{audit.TypeSessionRevoked, alice, session(0), local, map[string]string{"reason": "logout", "channel": "sdk", "client_id": "acme-rotating"}},
			{audit.TypeLoginFailure, alice, "user:" + alice, local, map[string]string{"reason": "bad_credentials", "client_id": "acme-portal"}},
			{audit.TypeLoginFailure, "", "", local, map[string]string{"reason": "unknown_user"}},
			{audit.TypeLoginFailure, bob, "user:" + bob, local, map[string]string{"reason": "bad_credentials"}},
			{audit.TypeLoginFailure, bob, "user:" + bob, local, map[string]string{"reason": "bad_credentials"}},
			{audit.TypeLoginFailure, bob, "user:" + bob, local, map[string]string{"reason": "bad_credentials"}},
			{audit.TypeLockout, bob, "user:" + bob, local, map[string]string{"threshold": "3", "until": e.Clock.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339)}},
			{audit.TypeLoginFailure, bob, "user:" + bob, local, map[string]string{"reason": "locked"}},
			{audit.TypeTokenIssued, "acme-portal", "application:acme-portal", local, map[string]string{"grant_type": "client_credentials", "tokens": "access_token"}},
			{audit.TypeTokenIssued, "acme-portal", "application:acme-portal", local, map[string]string{"grant_type": "client_credentials", "endpoint": "tenant"}},
			{audit.TypeLoginSuccess, alice, "user:" + alice, local, map[string]string{"client_id": "acme-portal", "channel": "sdk"}},
			{audit.TypeSessionRotated, "acme-portal", session(13), local, map[string]string{"client_id": "acme-portal", "via": "tenant_refresh", "user_id": alice}},
			{audit.TypeTokenIssued, "acme-portal", "user:" + alice, local, map[string]string{"grant_type": "sso_ticket", "tokens": "sso_ticket", "session_id": got[min(13, len(got)-1)].Details["session_id"]}},
			{audit.TypeLoginSuccess, alice, "user:" + alice, local, map[string]string{"client_id": "acme-web", "channel": "hosted", "tokens": "session_token"}},
			{audit.TypeTokenIssued, alice, "user:" + alice, local, map[string]string{"client_id": "acme-web", "grant_type": "authorization_code", "tokens": "access_token id_token refresh_token", "session_id": got[min(16, len(got)-1)].Details["session_id"]}},
			{audit.TypeTokenRevoked, "acme-web", grant, local, map[string]string{"reason": "client_revocation", "user_id": alice, "tokens_revoked": "2"}},
			{audit.TypeSessionRevoked, alice, session(16), local, map[string]string{"reason": "logout", "channel": "hosted", "client_id": "acme-web"}},
		})
		if !strings.HasPrefix(grant, "grant:") {
			t.Errorf("revocation target %q", grant)
		}
		for _, g := range got {
			if !g.Time.Equal(e.Clock.Now()) {
				t.Errorf("%s at %v, want the server clock's %v", g.Type, g.Time, e.Clock.Now())
			}
		}

		// Tenants see only their own events.
		shop := auditEvents(t, e, "shop")
		checkEvents(t, shop, "shop", []wantEvent{
			{audit.TypeLoginSuccess, userID("shop", "alice"), "user:" + userID("shop", "alice"), local, map[string]string{"client_id": "shop-portal"}},
		})

		// Retention (90 days by default): the events age out; one recorded
		// after them stays.
		e.Clock.Advance(90*24*time.Hour + time.Minute)
		e.MustLogin(st.CIAMHost, "shop-portal", "bob")
		if err := e.Server.FlushAudit(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := e.Server.PruneAudit(ctx)
		if err != nil || n != int64(len(got)+len(shop)) {
			t.Fatalf("PruneAudit: %d %v, want %d", n, err, len(got)+len(shop))
		}
		if left := auditEvents(t, e, "acme"); len(left) != 0 {
			t.Fatalf("%d acme events survived the retention", len(left))
		}
		if left := auditEvents(t, e, "shop"); len(left) != 1 || left[0].ActorID != userID("shop", "bob") {
			t.Fatalf("shop after pruning: %+v", left)
		}
	}, func(c *config.Config) {
		c.RateLimit.TrustedProxies = []string{"127.0.0.1"}
		n := threshold
		for i := range c.Bootstrap.Tenants {
			c.Bootstrap.Tenants[i].LockoutThreshold = &n
		}
	})
}

// TestAuditFlushedOnClose: events still in the writer's buffer when the
// server closes are stored (the flush interval is long here, so only
// Close can have written them).
func TestAuditFlushedOnClose(t *testing.T) {
	e := st.New(t, "sqlite", func(c *config.Config) { c.Audit.FlushInterval = time.Minute })
	e.MustLogin(st.EIAMHost, "acme-portal", "alice")
	if err := e.Server.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: e.Config.Storage.DSN})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _, err := s.ListAudit(t.Context(), store.AuditFilter{TenantIDs: []string{"acme"}})
	if err != nil || len(got) != 1 || got[0].Type != audit.TypeLoginSuccess {
		t.Fatalf("after Close: %+v %v", got, err)
	}
}

// TestAuditRetentionConfig: audit.retention 0 keeps events forever.
func TestAuditRetentionConfig(t *testing.T) {
	e := st.New(t, "sqlite", func(c *config.Config) { c.Audit.Retention = 0 })
	e.MustLogin(st.EIAMHost, "acme-portal", "alice")
	e.Clock.Advance(10 * 365 * 24 * time.Hour)
	if err := e.Server.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Server.PruneAudit(t.Context()); n != 0 || err != nil {
		t.Fatalf("PruneAudit with retention 0: %d %v", n, err)
	}
	if got := auditEvents(t, e, "acme"); len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
}
