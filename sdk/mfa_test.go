package sdk_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/config"
	"github.com/sesame-idp/sesame/internal/mfa"
	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/sdk"
)

// mfaPolicies sets the fixture tenants' MFA policies.
func mfaPolicies(p map[string]string) func(*config.Config) {
	return func(c *config.Config) {
		for i, tn := range c.Bootstrap.Tenants {
			if v, ok := p[tn.ID]; ok {
				c.Bootstrap.Tenants[i].MFA = v
			}
		}
	}
}

func totp(t *testing.T, e *st.Env, secret string) string {
	t.Helper()
	key, err := mfa.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return mfa.Code(key, mfa.Step(e.Clock.Now()))
}

// TestClientMFALogin: a "required" tenant's login through the SDK: the
// enrolment, the code, the recovery codes, the typed errors.
func TestClientMFALogin(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, tc := range []struct{ host, client string }{{st.EIAMHost, "acme-portal"}, {st.CIAMHost, "shop-portal"}} {
			ctx := t.Context()
			c := newClient(t, e, tc.host, tc.client)
			res, err := c.Login(ctx, "alice", st.Password)
			if err != nil || res.Status != sdk.LoginMFARequired || res.MFAEnrollment == nil || res.StateToken == "" ||
				!strings.HasPrefix(res.MFAEnrollment.URI, "otpauth://totp/") {
				t.Fatalf("%s login: %+v %v", tc.host, res, err)
			}
			if _, err := c.ExchangeSessionToken(ctx); !errors.Is(err, sdk.ErrNotLoggedIn) {
				t.Fatalf("a session before the code: %v", err)
			}
			if _, err := c.VerifyMFA(ctx, res.StateToken, "000000"); !errors.Is(err, sdk.ErrMFACodeInvalid) {
				t.Fatalf("wrong code: %v", err)
			}
			if _, err := c.VerifyMFA(ctx, "nope", "000000"); !errors.Is(err, sdk.ErrStateTokenInvalid) {
				t.Fatalf("unknown state token: %v", err)
			}
			done, err := c.VerifyMFA(ctx, res.StateToken, totp(t, e, res.MFAEnrollment.Secret))
			if err != nil || done.Status != sdk.LoginSuccess || len(done.RecoveryCodes) != 10 || done.SessionToken == "" {
				t.Fatalf("right code: %+v %v", done, err)
			}
			if _, err := c.ExchangeSessionToken(ctx); err != nil {
				t.Fatalf("exchange after the MFA login: %v", err)
			}
			// The next login asks for a code; a recovery code does.
			again, err := c.Login(ctx, "alice", st.Password)
			if err != nil || again.Status != sdk.LoginMFARequired || again.MFAEnrollment != nil {
				t.Fatalf("second login: %+v %v", again, err)
			}
			if r, err := c.VerifyMFA(ctx, again.StateToken, done.RecoveryCodes[0]); err != nil || r.Status != sdk.LoginSuccess || r.RecoveryCodes != nil {
				t.Fatalf("recovery code: %+v %v", r, err)
			}
			st, err := c.MFAStatus(ctx)
			if err != nil || st.Policy != "required" || !st.Enrolled || st.RecoveryCodesLeft != 9 || st.EnrolledAt.IsZero() {
				t.Fatalf("status: %+v %v", st, err)
			}
		}
	}, mfaPolicies(map[string]string{"acme": "required", "shop": "required"}))
}

// TestClientTOTPEnrollment: an "optional" tenant's user sets up and
// removes TOTP with the session, through the SDK.
func TestClientTOTPEnrollment(t *testing.T) {
	withEnv(t, func(t *testing.T, e *st.Env) {
		for _, tc := range []struct{ host, client string }{{st.EIAMHost, "acme-portal"}, {st.CIAMHost, "shop-portal"}} {
			ctx := t.Context()
			c := newClient(t, e, tc.host, tc.client)
			if _, err := c.MFAStatus(ctx); !errors.Is(err, sdk.ErrNotLoggedIn) {
				t.Fatalf("status without a session: %v", err)
			}
			if res, err := c.Login(ctx, "alice", st.Password); err != nil || res.Status != sdk.LoginSuccess {
				t.Fatalf("login: %+v %v", res, err)
			}
			if s, err := c.MFAStatus(ctx); err != nil || s.Policy != "optional" || s.Enrolled {
				t.Fatalf("status: %+v %v", s, err)
			}
			if err := c.DisableTOTP(ctx, "123456"); !errors.Is(err, sdk.ErrMFANotEnrolled) {
				t.Fatalf("disable without an authenticator: %v", err)
			}
			enr, err := c.BeginTOTPEnrollment(ctx)
			if err != nil || enr.Expire != 300 || enr.Secret == "" {
				t.Fatalf("begin: %+v %v", enr, err)
			}
			if _, err := c.ConfirmTOTPEnrollment(ctx, enr.StateToken, "000000"); !errors.Is(err, sdk.ErrMFACodeInvalid) {
				t.Fatalf("wrong code: %v", err)
			}
			// The state token and the session token are told apart in both
			// dialects.
			_, err = c.ConfirmTOTPEnrollment(ctx, "nope", "000000")
			if !errors.Is(err, sdk.ErrStateTokenInvalid) || errors.Is(err, sdk.ErrSessionInvalid) {
				t.Fatalf("unknown state token: %v", err)
			}
			codes, err := c.ConfirmTOTPEnrollment(ctx, enr.StateToken, totp(t, e, enr.Secret))
			if err != nil || len(codes) != 10 {
				t.Fatalf("confirm: %v %v", codes, err)
			}
			if _, err := c.BeginTOTPEnrollment(ctx); !errors.Is(err, sdk.ErrMFAAlreadyEnrolled) {
				t.Fatalf("enrol twice: %v", err)
			}
			// Logins ask for a code now.
			res, err := c.Login(ctx, "alice", st.Password)
			if err != nil || res.Status != sdk.LoginMFARequired {
				t.Fatalf("login after enrolment: %+v %v", res, err)
			}
			e.Clock.Advance(mfa.Period)
			if r, err := c.VerifyMFA(ctx, res.StateToken, totp(t, e, enr.Secret)); err != nil || r.Status != sdk.LoginSuccess {
				t.Fatalf("code: %+v %v", r, err)
			}
			if err := c.DisableTOTP(ctx, "000000"); !errors.Is(err, sdk.ErrMFACodeInvalid) {
				t.Fatalf("disable with a wrong code: %v", err)
			}
			if err := c.DisableTOTP(ctx, codes[4]); err != nil {
				t.Fatalf("disable: %v", err)
			}
			if r, err := c.Login(ctx, "alice", st.Password); err != nil || r.Status != sdk.LoginSuccess {
				t.Fatalf("login after removal: %+v %v", r, err)
			}
			// A session the server refuses is ErrSessionInvalid, not a
			// state-token error, on the confirmation too.
			ts := &sdk.MemoryTokenStore{}
			_ = ts.Save(ctx, "not-a-session")
			bad := newClient(t, e, tc.host, tc.client, sdk.WithTokenStore(ts))
			_, err = bad.ConfirmTOTPEnrollment(ctx, "nope", "000000")
			if !errors.Is(err, sdk.ErrSessionInvalid) || errors.Is(err, sdk.ErrStateTokenInvalid) {
				t.Fatalf("confirmation with an unknown session: %v", err)
			}
		}
		// Policy off: no enrolment.
		e.Clock.Advance(time.Second)
		c := newClient(t, e, "isv.test", "isv-portal")
		if _, err := c.Login(t.Context(), "alice", st.Password); err != nil {
			t.Fatal(err)
		}
		if _, err := c.BeginTOTPEnrollment(t.Context()); !errors.Is(err, sdk.ErrMFAUnavailable) {
			t.Fatalf("enrol with the policy off: %v", err)
		}
	}, mfaPolicies(map[string]string{"acme": "optional", "shop": "optional"}))
}
