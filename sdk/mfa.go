package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// VerifyMFA continues a LoginMFARequired login with a 6-digit TOTP code
// from the user's authenticator app, or one of their recovery codes (POST
// /api/v2/sdk/login/state/mfa). A right code ends the login like Login
// does: LoginSuccess with the session token stored, or LoginPasswordWarn /
// LoginPasswordExpired when the password expires (the second factor comes
// first). If the login enrolled the authenticator (MFAEnrollment was set),
// the result carries the RecoveryCodes, this once.
//
// A wrong, used or replayed code gives an error matching
// ErrMFACodeInvalid and counts toward the account lockout (then
// ErrAccountLocked); the same state token admits five codes in all, after
// which it matches ErrStateTokenInvalid: log in again.
func (c *Client) VerifyMFA(ctx context.Context, stateToken, code string) (*LoginResult, error) {
	req := jsonRequest("POST", "/api/v2/sdk/login/state/mfa", map[string]string{"state_token": stateToken, "code": code})
	req.subject = subjectState
	// Retried only after "system busy"; a code is accepted once, so a
	// repetition after a lost answer could only be refused as a replay.
	return c.loginStep(ctx, req)
}

// MFAStatus is the second-factor state of the logged-in user.
type MFAStatus struct {
	// Policy is the tenant's MFA policy: "off", "optional" or "required".
	Policy string
	// Enrolled reports whether the user has a TOTP authenticator, since
	// EnrolledAt.
	Enrolled   bool
	EnrolledAt time.Time
	// RecoveryCodesLeft is how many unused recovery codes the user has.
	RecoveryCodesLeft int
}

// TOTPEnrollment is an enrolment begun by Client.BeginTOTPEnrollment.
type TOTPEnrollment struct {
	MFAEnrollment
	// StateToken continues it at Client.ConfirmTOTPEnrollment, for
	// Expire seconds.
	StateToken string
	Expire     int
}

// sessionCall makes a call authenticated with the stored session token.
// The MFA endpoints have no signed form: the token is sent in the header
// also by a Client made WithSignedSession.
func (c *Client) sessionCall(ctx context.Context, req request, out any) error {
	tok, err := c.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("sesame: loading the session token: %w", err)
	}
	if tok == "" {
		return ErrNotLoggedIn
	}
	h := c.headers()
	req.header = withSession(h, tok)
	if req.subject == "" {
		req.subject = subjectSession
	}
	return c.t.do(ctx, req, out)
}

// MFAStatus returns the logged-in user's second-factor state (GET
// /api/v2/sdk/mfa/totp).
func (c *Client) MFAStatus(ctx context.Context) (*MFAStatus, error) {
	var w struct {
		Policy            string `json:"policy"`
		Enrolled          bool   `json:"enrolled"`
		EnrolledAt        int64  `json:"enrolled_at"`
		RecoveryCodesLeft int    `json:"recovery_codes_left"`
	}
	if err := c.sessionCall(ctx, request{method: "GET", path: "/api/v2/sdk/mfa/totp", idempotent: true}, &w); err != nil {
		return nil, err
	}
	st := &MFAStatus{Policy: w.Policy, Enrolled: w.Enrolled, RecoveryCodesLeft: w.RecoveryCodesLeft}
	if w.EnrolledAt > 0 {
		st.EnrolledAt = time.UnixMilli(w.EnrolledAt)
	}
	return st, nil
}

// BeginTOTPEnrollment starts setting up a TOTP authenticator for the
// logged-in user (POST /api/v2/sdk/mfa/totp/enroll): show the user the
// secret (or its URI as a QR code), then pass the first code their app
// shows to ConfirmTOTPEnrollment. Nothing changes until then. A tenant
// whose policy is off gives ErrMFAUnavailable; a user who has an
// authenticator, ErrMFAAlreadyEnrolled.
func (c *Client) BeginTOTPEnrollment(ctx context.Context) (*TOTPEnrollment, error) {
	var w struct {
		StateToken string `json:"state_token"`
		Expire     int    `json:"expire"`
		Secret     string `json:"secret"`
		URI        string `json:"otpauth_uri"`
	}
	if err := c.sessionCall(ctx, request{method: "POST", path: "/api/v2/sdk/mfa/totp/enroll"}, &w); err != nil {
		return nil, err
	}
	if w.StateToken == "" || w.Secret == "" {
		return nil, errors.New("sesame: the enrolment answer lacks its secret")
	}
	return &TOTPEnrollment{MFAEnrollment: MFAEnrollment{Secret: w.Secret, URI: w.URI}, StateToken: w.StateToken, Expire: w.Expire}, nil
}

// ConfirmTOTPEnrollment completes an enrolment with the authenticator's
// current code (POST /api/v2/sdk/mfa/totp/confirm) and returns the ten
// recovery codes, shown this once: let the user save them. A wrong code
// gives ErrMFACodeInvalid (five tries per enrolment); a used or expired
// enrolment ErrStateTokenInvalid.
func (c *Client) ConfirmTOTPEnrollment(ctx context.Context, stateToken, code string) ([]string, error) {
	req := jsonRequest("POST", "/api/v2/sdk/mfa/totp/confirm", map[string]string{"state_token": stateToken, "code": code})
	req.subject = subjectSessionState
	var w struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := c.sessionCall(ctx, req, &w); err != nil {
		return nil, err
	}
	if len(w.RecoveryCodes) == 0 {
		return nil, errors.New("sesame: the confirmation answer lacks the recovery codes")
	}
	return w.RecoveryCodes, nil
}

// DisableTOTP removes the logged-in user's authenticator and recovery
// codes (POST /api/v2/sdk/mfa/totp/disable). It takes a current TOTP code
// or an unused recovery code; a wrong one gives ErrMFACodeInvalid and
// counts toward the account lockout. ErrMFANotEnrolled if there is none.
func (c *Client) DisableTOTP(ctx context.Context, code string) error {
	return c.sessionCall(ctx, jsonRequest("POST", "/api/v2/sdk/mfa/totp/disable", map[string]string{"code": code}), nil)
}
