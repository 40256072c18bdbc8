package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/sesame-idp/sesame/internal/clock"
	"github.com/sesame-idp/sesame/internal/config"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
)

// skewNode is one server of a test with several nodes on one database,
// whose clock is the test's clock plus offset.
type skewNode struct {
	*st.Env
	name   string
	offset time.Duration
	issuer string // the tenant's issuer: the deployment's public URL, whatever node answers
}

// now is the node's clock.
func (n *skewNode) now() time.Time { return n.Clock.Now().Add(n.offset) }

// on returns the node with its helpers bound to t (a subtest's), so that
// their failures end the right test.
func (n *skewNode) on(t *testing.T) *skewNode {
	e := *n.Env
	e.T = t
	return &skewNode{Env: &e, name: n.name, offset: n.offset, issuer: n.issuer}
}

// addSkewedNode starts another server on the database and configuration
// of first, as another node of the same deployment, with the clock of
// first plus offset.
func addSkewedNode(t *testing.T, first *st.Env, name string, offset time.Duration) *skewNode {
	t.Helper()
	base := first.Clock
	e := st.AddNode(t, first, func() time.Time { return base.Now().Add(offset) })
	return &skewNode{Env: e, name: name, offset: offset, issuer: first.Issuer(st.EIAMHost)}
}

// verifyOn verifies an id_token as a relying party would that fetches the
// JWKS from node n and whose clock is n's.
func verifyOn(t *testing.T, n *skewNode, idToken, clientID, alg string) {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), n.Client)
	keySet := oidc.NewRemoteKeySet(ctx, n.URL(st.EIAMHost, "/api/v1/oauth2/keys"))
	v := oidc.NewVerifier(n.issuer, keySet, &oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{alg}, Now: n.now})
	if _, err := v.Verify(ctx, idToken); err != nil {
		t.Errorf("id_token for %s does not verify against the JWKS of node %s, by its clock: %v", clientID, n.name, err)
	}
}

// TestClockSkewBetweenNodes runs two nodes on one PostgreSQL database whose
// clocks differ by the documented bound (clock.MaxSkew) and checks that
// what one node issues works on the other, in both directions: SDK login,
// exchange with rotation and its grace period, logout, the tenant API's
// session refresh and SSO tickets, the authorization-code flow with
// refresh-token rotation and reuse detection, userinfo and introspection
// with opaque and JWT access tokens, signed SDK calls, and id_tokens
// verified against either node's JWKS by either clock. Then key rotation:
// both nodes publish a new key before either signs with it, and a token the
// node behind signed with the retired key verifies against the JWKS of the
// node ahead for as long as it is valid. Signed-call nonces cannot be
// replayed on the node behind after the node ahead swept them. Finally a
// third node skewed beyond the bound (6 min, more than the 5-minute
// lifetimes of codes, SSO tickets and the signature window) refuses what
// has expired by its clock, and does not stretch the session grace period.
func TestClockSkewBetweenNodes(t *testing.T) {
	// Retention is the longest token lifetime (2 h in the fixture) rather
	// than the 24 h default minimum, so that the skew margin of retired
	// keys is what the key test sees.
	a0 := st.New(t, "postgres", func(c *config.Config) { c.Keys.MinRetention = time.Minute }) // skips without PostgreSQL
	a := &skewNode{Env: a0, name: "A", issuer: a0.Issuer(st.EIAMHost)}
	b := addSkewedNode(t, a0, "B (A + MaxSkew)", clock.MaxSkew)

	for _, dir := range []struct {
		name string
		x, y *skewNode
	}{
		{"issued behind, used ahead", a, b},
		{"issued ahead, used behind", b, a},
	} {
		t.Run(dir.name, func(t *testing.T) { skewCrossNode(t, dir.x.on(t), dir.y.on(t)) })
	}
	t.Run("signed-call nonces", func(t *testing.T) { skewNonces(t, a.on(t), b.on(t)) })
	t.Run("beyond the bound", func(t *testing.T) {
		c := addSkewedNode(t, a0, "C (A + 6 min)", 6*time.Minute)
		skewBeyond(t, a.on(t), c)
	})
	// Last: it moves the clocks by hours.
	t.Run("key rotation", func(t *testing.T) { skewKeys(t, a.on(t), b.on(t)) })
}

// skewCrossNode: x issues, y accepts, and back.
func skewCrossNode(t *testing.T, x, y *skewNode) {
	const host = st.EIAMHost
	// SDK: login on x, exchange (rotation) on y, the old token retried on
	// either node within the grace period gets the same successor.
	tok := x.MustLogin(host, "acme-rotating", "alice")
	r := y.Exchange(host, "acme-rotating", tok)
	next := r.Str("session_token")
	if r.Status != 200 || next == "" || next == tok {
		t.Fatalf("exchange on %s of a session from %s: %d %s", y.name, x.name, r.Status, r.Body)
	}
	for _, n := range []*skewNode{x, y} {
		verifyOn(t, n, r.Str("id_token"), "acme-rotating", "RS256")
		if r := n.Exchange(host, "acme-rotating", tok); r.Status != 200 || r.Str("session_token") != next {
			t.Fatalf("retry of the rotated token on %s within the grace period: %d %s", n.name, r.Status, r.Body)
		}
	}
	// ES256 id_tokens too, through the plain exchange.
	r = x.Exchange(host, "acme-es256", next)
	if r.Status != 200 {
		t.Fatalf("exchange via acme-es256 on %s: %d %s", x.name, r.Status, r.Body)
	}
	verifyOn(t, y, r.Str("id_token"), "acme-es256", "ES256")

	// Tenant API: an access token from x refreshes on y a session from x;
	// an SSO ticket issued on x is redeemed on y.
	auth := headers("Authorization", "Bearer "+x.TenantToken(host, "acme-portal"), "Content-Type", "application/json")
	sess := x.MustLogin(host, "acme-portal", "bob")
	r = y.Do("POST", y.URL(host, "/api/v2/tenant/sso/session-token/refresh"), auth, refreshBody(sess, st.Device))
	refreshed := r.Str("session_token")
	if r.Status != 200 || refreshed == "" || refreshed == sess {
		t.Fatalf("tenant refresh on %s: %d %s", y.name, r.Status, r.Body)
	}
	if r := x.Do("POST", x.URL(host, "/api/v2/tenant/sso/session-token/refresh"), auth, refreshBody(sess, st.Device)); r.Str("session_token") != refreshed {
		t.Fatalf("tenant refresh retried on %s within the grace period: %d %s", x.name, r.Status, r.Body)
	}
	r = x.Do("POST", x.URL(host, "/api/v2/tenant/sso/session-token/sso-ticket"), auth, refreshBody(refreshed, st.Device))
	if r.Status != 200 || r.Str("sso_ticket") == "" {
		t.Fatalf("sso ticket on %s: %d %s", x.name, r.Status, r.Body)
	}
	r = y.Do("POST", y.URL(host, "/api/v2/tenant/sso/sso-ticket/verify"), auth,
		`{"sso_ticket":"`+r.Str("sso_ticket")+`","operating_sys_version":"windows10.1.1","device_ip":"192.168.1.1","device_fingerprint":"`+st.Device+`"}`)
	if r.Status != 200 || r.Str("code") != "0" {
		t.Fatalf("sso ticket from %s redeemed on %s: %d %s", x.name, y.name, r.Status, r.Body)
	}

	// Signed SDK call: the client takes its timestamp from x's
	// server-date and calls y.
	sc := newSignedClient(t, x.Env, host, "acme-rotating")
	sc.e = y.Env
	r = x.Do("GET", x.URL(host, "/api/v2/sdk/server-date"), st.SDKHeaders("acme-rotating"), "")
	ms, err := strconv.ParseInt(r.Str("timestamp"), 10, 64)
	if err != nil || r.Status != 200 {
		t.Fatalf("server-date on %s: %d %s", x.name, r.Status, r.Body)
	}
	if r := sc.idToken(sc.signature(t, next, time.UnixMilli(ms), fmt.Sprintf("skew%d", x.offset), false)); r.Status != 200 {
		t.Fatalf("signed call on %s with the timestamp of %s: %d %s", y.name, x.name, r.Status, r.Body)
	}
	// Logout on y of the session from x: gone on x.
	if r := y.Do("POST", y.URL(host, "/api/v2/sdk/logout"), sdkTokenHeaders("acme-rotating", next), ""); r.Status != 200 {
		t.Fatalf("logout on %s: %d %s", y.name, r.Status, r.Body)
	}
	wantError(t, x.Exchange(host, "acme-rotating", next), 400, "SDK.COMMON.1006", "")

	// Authorization code on x, redeemed on y; refresh on x; userinfo and
	// introspection on either; reuse across the nodes revokes the family.
	const redirect = "http://app.test/callback"
	code := skewCode(t, x, "acme-web", redirect)
	first := negWantTokens(t, negRedeem(y.Env, host, "acme-web", st.Secret, redirect, code, ""))
	if first.refresh == "" || first.id == "" {
		t.Fatalf("code from %s redeemed on %s: no refresh token or id_token", x.name, y.name)
	}
	verifyOn(t, x, first.id, "acme-web", "RS256")
	verifyOn(t, y, first.id, "acme-web", "RS256")
	second := negWantTokens(t, negRefresh(x.Env, host, "acme-web", st.Secret, first.refresh))
	for _, n := range []*skewNode{x, y} {
		if r := negUserinfo(n.Env, host, second.access); r.Status != 200 || r.Str("sub") == "" {
			t.Fatalf("userinfo on %s: %d %s", n.name, r.Status, r.Body)
		}
		if !negActive(t, negIntrospect(n.Env, host, "acme-portal", st.Secret, second.refresh)) {
			t.Fatalf("refresh token inactive on %s", n.name)
		}
		if !negActive(t, negIntrospect(n.Env, host, "acme-portal", st.Secret, second.access)) {
			t.Fatalf("access token inactive on %s", n.name)
		}
	}
	negWantRefused(t, negRefresh(y.Env, host, "acme-web", st.Secret, first.refresh), 400, "invalid_grant")
	if negActive(t, negIntrospect(x.Env, host, "acme-portal", st.Secret, second.refresh)) {
		t.Fatalf("reuse on %s did not revoke the family on %s", y.name, x.name)
	}

	// JWT access tokens (RFC 9068, ES256) are checked by signature and
	// expiry on the other node.
	code = skewCode(t, x, "acme-jwt", redirect)
	jwt := negWantTokens(t, negRedeem(x.Env, host, "acme-jwt", st.Secret, redirect, code, ""))
	if r := negUserinfo(y.Env, host, jwt.access); r.Status != 200 {
		t.Fatalf("JWT access token from %s on %s: %d %s", x.name, y.name, r.Status, r.Body)
	}
	if !negActive(t, negIntrospect(y.Env, host, "acme-portal", st.Secret, jwt.access)) {
		t.Fatalf("JWT access token from %s inactive on %s", x.name, y.name)
	}
}

// skewCode signs alice in on node n's hosted login page for client and
// returns the authorization code.
func skewCode(t *testing.T, n *skewNode, client, redirect string) string {
	t.Helper()
	b := n.NewBrowser()
	p := b.Login(negAuthorizeURL(n.Env, st.EIAMHost, negParams(client, redirect, "scope", "openid profile")), "alice", st.Password)
	if !p.Redirected() || p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Fatalf("sign-in on %s: %d %v %.300s", n.name, p.Status, p.Location, p.Body)
	}
	return p.Location.Query().Get("code")
}

func sdkTokenHeaders(client, token string) http.Header {
	h := st.SDKHeaders(client)
	h.Del("Content-Type")
	h.Set("X-session-token", token)
	return h
}

// skewNonces: a nonce used on the node behind, near the end of its
// window, is swept by the node ahead, whose clock has passed the window;
// the node behind, whose clock has not, must still refuse its replay.
func skewNonces(t *testing.T, behind, ahead *skewNode) {
	const host = st.EIAMHost
	tok := behind.MustLogin(host, "acme-rotating", "alice")
	sc := newSignedClient(t, behind.Env, host, "acme-rotating")
	signedAt := behind.now()
	sig := sc.signature(t, tok, signedAt, "swept-nonce", false)
	if r := sc.idToken(sig); r.Status != 200 {
		t.Fatalf("signed call: %d %s", r.Status, r.Body)
	}
	window := behind.Config.SDK.SignatureWindow
	behind.Clock.Advance(window - clock.MaxSkew/2)
	ahead.Server.SweepOnce(t.Context())
	wantError(t, sc.idToken(sig), 400, "SDK.COMMON.1006", "nonce parameter error")
}

// skewBeyond: a node whose clock is 6 minutes ahead is beyond the bound;
// what lives 5 minutes on the node behind has expired there, and the
// session grace period is not stretched to cover it.
func skewBeyond(t *testing.T, a, c *skewNode) {
	const (
		host     = st.EIAMHost
		redirect = "http://app.test/callback"
	)
	code := skewCode(t, a, "acme-web", redirect)
	negWantRefused(t, negRedeem(c.Env, host, "acme-web", st.Secret, redirect, code, ""), 400, "invalid_grant")

	tok := a.MustLogin(host, "acme-rotating", "alice")
	auth := headers("Authorization", "Bearer "+a.TenantToken(host, "acme-portal"), "Content-Type", "application/json")
	r := a.Do("POST", a.URL(host, "/api/v2/tenant/sso/session-token/sso-ticket"), auth, refreshBody(tok, st.Device))
	wantError(t, c.Do("POST", c.URL(host, "/api/v2/tenant/sso/sso-ticket/verify"), auth,
		`{"sso_ticket":"`+r.Str("sso_ticket")+`","operating_sys_version":"windows10.1.1","device_ip":"192.168.1.1","device_fingerprint":"`+st.Device+`"}`),
		400, "SDK.COMMON.1006", "")

	sc := newSignedClient(t, a.Env, host, "acme-rotating")
	sc.e = c.Env
	wantError(t, sc.idToken(sc.signature(t, tok, a.now(), "beyond", false)), 400, "SDK.COMMON.1006", "timestamp parameter error")

	if r := a.Exchange(host, "acme-rotating", tok); r.Status != 200 || r.Str("session_token") == tok {
		t.Fatalf("exchange on A: %d %s", r.Status, r.Body)
	}
	wantError(t, c.Exchange(host, "acme-rotating", tok), 400, "SDK.COMMON.1006", "")
}

// skewKeys: a rotation made by the node behind is published by both nodes
// before either signs with the new key; around the activation each node
// switches by its own clock, and every token either signs verifies against
// both JWKS; a token the node behind signed with the old key just before
// its activation still verifies against the JWKS of the node ahead, by a
// relying party on the clock of the node behind, until it expires.
func skewKeys(t *testing.T, behind, ahead *skewNode) {
	const (
		host = st.EIAMHost
		app  = "acme-portal" // RS256, id_token 2 h (EIAM)
	)
	ctx := t.Context()
	tok := behind.MustLogin(host, app, "alice")
	kidOf := func(n *skewNode) (string, string) {
		t.Helper()
		r := n.Exchange(host, app, tok)
		if r.Status != 200 {
			t.Fatalf("exchange on %s: %d %s", n.name, r.Status, r.Body)
		}
		return header(t, r.Str("id_token"))["kid"], r.Str("id_token")
	}
	jwksKids := func(n *skewNode) []string {
		t.Helper()
		set, err := n.Server.Keys().PublicKeys(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
		}
		slices.Sort(kids)
		return kids
	}
	oldKid, _ := kidOf(behind)
	if err := behind.Server.Keys().Rotate(ctx, "acme", "RS256"); err != nil {
		t.Fatal(err)
	}
	delay := behind.Config.Keys.RotationDelay
	// Within the refresh interval both publish it; neither signs with it.
	behind.Clock.Advance(behind.Config.Keys.RefreshInterval + time.Second)
	kb, ka := jwksKids(behind), jwksKids(ahead)
	if !slices.Equal(kb, ka) || len(kb) != 5 {
		t.Fatalf("after the refresh interval the nodes publish %v and %v; want the same 5 keys", kb, ka)
	}
	for _, n := range []*skewNode{behind, ahead} {
		if kid, _ := kidOf(n); kid != oldKid {
			t.Fatalf("%s signs with %s before the activation; want %s", n.name, kid, oldKid)
		}
	}
	// Just before the activation by the clock of the node behind: the node
	// ahead has switched, the one behind not yet.
	behind.Clock.Advance(delay - behind.Config.Keys.RefreshInterval - time.Second - clock.MaxSkew/2)
	newKid, fromAhead := kidOf(ahead)
	lastOld, fromBehind := kidOf(behind)
	if newKid == oldKid || lastOld != oldKid {
		t.Fatalf("around the activation: %s signs with %s, %s with %s; want the new key ahead and %s behind", ahead.name, newKid, behind.name, lastOld, oldKid)
	}
	for _, n := range []*skewNode{behind, ahead} {
		verifyOn(t, n, fromAhead, app, "RS256")
		verifyOn(t, n, fromBehind, app, "RS256")
	}
	// The last token of the old key, near the end of its life by the
	// clock of the node that signed it: the node ahead still publishes its
	// key. The clock of the node ahead is past the token's exp, so the
	// relying party here is on the clock of the node behind.
	var claims struct {
		Exp int64 `json:"exp"`
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(fromBehind, ".")[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		t.Fatalf("id_token payload: %v", err)
	}
	behind.Clock.Advance(time.Unix(claims.Exp, 0).Sub(behind.now()) - 2*time.Second)
	if !slices.Contains(jwksKids(ahead), oldKid) {
		t.Fatalf("%s no longer publishes %s while a token it signed is valid by %s's clock", ahead.name, oldKid, behind.name)
	}
	rp := &skewNode{Env: ahead.Env, name: ahead.name + " (relying party on " + behind.name + "'s clock)", offset: behind.offset, issuer: ahead.issuer}
	verifyOn(t, rp, fromBehind, app, "RS256")
	// Once it has expired on every clock, the key goes.
	behind.Clock.Advance(2*clock.MaxSkew + 4*time.Second)
	if slices.Contains(jwksKids(ahead), oldKid) || slices.Contains(jwksKids(behind), oldKid) {
		t.Fatalf("the retired key %s is still published after its retention", oldKid)
	}
}
