package oidc

import (
	"context"
	"strconv"
	"strings"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store"
)

// record reports an event of tenant t with actor actorID (a user id or a
// client id of t; "" when nobody is known).
func (p *Provider) record(ctx context.Context, t store.Tenant, typ, actorID, target string, details map[string]string) {
	e := store.AuditEvent{TenantID: t.ID, Type: typ, ActorID: actorID, Target: target, Details: details}
	if actorID != "" {
		e.ActorTenantID = t.ID
	}
	audit.Or(p.Audit).Record(ctx, e)
}

// auditIssued records a successful token response of the token endpoint:
// for a user (authorization_code, refresh_token) the user is the actor
// and the target, for client_credentials the application.
func (p *Provider) auditIssued(ctx context.Context, t store.Tenant, app store.Application, grantType string, res tokenResponse) {
	kinds := []string{"access_token"}
	if res.IDToken != "" {
		kinds = append(kinds, "id_token")
	}
	if res.RefreshToken != "" {
		kinds = append(kinds, "refresh_token")
	}
	details := map[string]string{"client_id": app.ClientID, "grant_type": grantType, "tokens": strings.Join(kinds, " ")}
	if res.userID == "" {
		p.record(ctx, t, audit.TypeTokenIssued, app.ClientID, "application:"+app.ClientID, details)
		return
	}
	if res.sessionID != "" {
		details["session_id"] = res.sessionID
	}
	p.record(ctx, t, audit.TypeTokenIssued, res.userID, "user:"+res.userID, details)
}

// auditGrantRevoked records the revocation of a grant (every refresh and
// access token issued from one authorization code): by the client (RFC
// 7009), or by the server on a replayed code or a reused refresh token
// (RFC 6749 §4.1.2, RFC 9700 §4.14.2). actorID is the client for the
// former and "system" for the latter.
func (p *Provider) auditGrantRevoked(ctx context.Context, t store.Tenant, actorID, clientID, userID, grantID, reason string, revoked int64) {
	p.record(ctx, t, audit.TypeTokenRevoked, actorID, "grant:"+grantID, map[string]string{
		"client_id": clientID, "user_id": userID, "reason": reason, "tokens_revoked": strconv.FormatInt(revoked, 10),
	})
}

// auditReplaced records the end of a browser's previous session when a
// new login replaces it.
func (p *Provider) auditReplaced(ctx context.Context, t store.Tenant, sess store.Session) {
	p.record(ctx, t, audit.TypeSessionRevoked, sess.UserID, "session:"+sess.ID, map[string]string{
		"client_id": sess.ClientID, "user_id": sess.UserID, "reason": "replaced", "channel": "hosted",
	})
}
