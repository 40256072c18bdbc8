package session

import (
	"context"
	"strconv"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/store"
)

// Login failure reasons in the audit log (Details["reason"]). The log may
// tell them apart although the client's answer must not (contract §2.1,
// no user enumeration): only administrators read it.
const (
	ReasonUnknownUser    = "unknown_user"
	ReasonBadCredentials = "bad_credentials"
	ReasonLocked         = "locked"
	ReasonDisabled       = "disabled"
	ReasonMFACode        = "mfa_code_invalid" // a wrong second-factor code
)

// record reports an event of tenant t with actor actorID (a user id or a
// client id of t; "" when nobody is known). Time and source IP are filled
// in by the recorder.
func (s *Service) record(ctx context.Context, t store.Tenant, typ, actorID, target string, details map[string]string) {
	e := store.AuditEvent{TenantID: t.ID, Type: typ, ActorID: actorID, Target: target, Details: details}
	if actorID != "" {
		e.ActorTenantID = t.ID
	}
	audit.Or(s.Audit).Record(ctx, e)
}

// channel names the surface of a login: the hosted login page (browser
// sessions) or the SDK API.
func channel(d store.Device) string {
	if d.Fingerprint == BrowserFingerprint {
		return "hosted"
	}
	return "sdk"
}

// auditLoginFailure records a refused login. u is nil for a login name
// that matched no user: the name itself is not recorded, since users
// sometimes type their password into that field.
func (s *Service) auditLoginFailure(ctx context.Context, t store.Tenant, app store.Application, u *store.User, reason string, d store.Device) {
	details := map[string]string{"reason": reason, "client_id": app.ClientID, "channel": channel(d)}
	if u == nil {
		s.record(ctx, t, audit.TypeLoginFailure, "", "", details)
		return
	}
	s.record(ctx, t, audit.TypeLoginFailure, u.ID, "user:"+u.ID, details)
}

// auditLockout records that a failure locked the account until until
// (the login.failure of that attempt is recorded by the caller).
func (s *Service) auditLockout(ctx context.Context, t store.Tenant, u store.User, until time.Time) {
	s.record(ctx, t, audit.TypeLockout, u.ID, "user:"+u.ID, map[string]string{
		"until": until.UTC().Format(time.RFC3339), "threshold": strconv.Itoa(t.Policy.LockoutThreshold),
	})
}

// auditLoginSuccess records a completed login: the session it started.
// idToken tells whether the answer carried an id_token too.
func (s *Service) auditLoginSuccess(ctx context.Context, t store.Tenant, app store.Application, sess store.Session, idToken bool) {
	tokens := "session_token"
	if idToken {
		tokens = "session_token id_token"
	}
	s.record(ctx, t, audit.TypeLoginSuccess, sess.UserID, "user:"+sess.UserID, map[string]string{
		"client_id": app.ClientID, "session_id": sess.ID, "channel": channel(sess.Device), "tokens": tokens,
	})
}

// How a second-factor code was accepted (Details["method"]).
const (
	methodTOTP         = "totp"
	methodRecoveryCode = "recovery_code"
)

// Where an enrolment was confirmed (Details["via"]).
const (
	viaLogin   = "login"   // the first code of a login that asked for an enrolment
	viaSession = "session" // POST /api/v2/sdk/mfa/totp/confirm
)

// auditMFAEnrolled records a confirmed TOTP enrolment; codes is how many
// recovery codes came with it (the codes themselves are never recorded).
func (s *Service) auditMFAEnrolled(ctx context.Context, t store.Tenant, app store.Application, u store.User, d store.Device, via string, codes int) {
	s.record(ctx, t, audit.TypeMFAEnrolled, u.ID, "user:"+u.ID, map[string]string{
		"client_id": app.ClientID, "channel": channel(d), "via": via, "recovery_codes_left": strconv.Itoa(codes),
	})
}

// auditRecoveryCodeUsed records a recovery code accepted at a login;
// left is how many stay unused, as the store counted them when it marked
// this one used.
func (s *Service) auditRecoveryCodeUsed(ctx context.Context, t store.Tenant, app store.Application, u store.User, d store.Device, left int) {
	s.record(ctx, t, audit.TypeMFARecoveryCodeUsed, u.ID, "user:"+u.ID, map[string]string{
		"client_id": app.ClientID, "channel": channel(d), "recovery_codes_left": strconv.Itoa(left),
	})
}

// auditMFADisabled records that a user removed their authenticator with
// a code of the given method (a recovery code spent this way is not also
// recorded as used: the removal deletes all of them).
func (s *Service) auditMFADisabled(ctx context.Context, t store.Tenant, app store.Application, u store.User, d store.Device, method string) {
	s.record(ctx, t, audit.TypeMFADisabled, u.ID, "user:"+u.ID, map[string]string{
		"client_id": app.ClientID, "channel": channel(d), "method": method,
	})
}
