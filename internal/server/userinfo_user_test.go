package server_test

import (
	"testing"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/internal/store"
)

// TestResourceEndpointsUserStatus: userinfo and introspection read an
// access token together with its user (store.Store.AccessTokenWithUser).
// A token of a disabled user is invalid_token at userinfo (RFC 6750 §3.1)
// and inactive at introspection (RFC 7662 §2.2), JWT or opaque, and works
// again once the user is enabled (the token itself was kept); a
// client_credentials token is active at introspection without a user and
// refused at userinfo with insufficient_scope.
func TestResourceEndpointsUserStatus(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		const host = st.EIAMHost
		b := negSignIn(t, e, host, "acme-web", negWebRedirect, "bob")
		tokens := map[string]negTokens{}
		for _, client := range []string{"acme-web", "acme-jwt"} {
			code := negCode(t, e, b, host, client, negWebRedirect, "scope", "openid profile")
			tokens[client] = negWantTokens(t, negRedeem(e, host, client, st.Secret, negWebRedirect, code, ""))
		}
		cc := negWantTokens(t, negPost(e, host, "/api/v1/oauth2/token", nil, negVals("grant_type", "client_credentials", "client_id", "acme-web", "client_secret", st.Secret)))

		setStatus := func(status string) {
			t.Helper()
			u, err := e.Server.Store().UserByUsername(t.Context(), "acme", "bob")
			if err != nil {
				t.Fatal(err)
			}
			u.Status = status
			if err := e.Server.Store().UpdateUserProfile(t.Context(), u); err != nil {
				t.Fatal(err)
			}
		}
		wantUsable := func(state string, usable bool) {
			t.Helper()
			for client, tok := range tokens {
				r := negUserinfo(e, host, tok.access)
				if usable && (r.Status != 200 || r.Str("userName") != "bob") {
					t.Fatalf("%s: userinfo with %s's token: %d %s", state, client, r.Status, r.Body)
				}
				if !usable {
					negWantBearerError(t, r, 401, "invalid_token")
				}
				r = negIntrospect(e, host, client, st.Secret, tok.access)
				if negActive(t, r) != usable || (usable && r.Str("username") != "bob") {
					t.Fatalf("%s: introspection of %s's token: %s", state, client, r.Body)
				}
			}
		}

		wantUsable("active", true)
		setStatus(store.UserDisabled)
		wantUsable("disabled", false)
		setStatus(store.UserActive)
		wantUsable("enabled again", true)

		negWantBearerError(t, negUserinfo(e, host, cc.access), 403, "insufficient_scope")
		r := negIntrospect(e, host, "acme-web", st.Secret, cc.access)
		if !negActive(t, r) || r.Str("sub") != "" || r.Str("username") != "" || r.Str("client_id") != "acme-web" {
			t.Fatalf("introspection of a client_credentials token: %s", r.Body)
		}
	})
}
