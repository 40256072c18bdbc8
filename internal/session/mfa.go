package session

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/mfa"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// Second factor (contract §2.1 MFA_REQUIRED, issue 6 point 2).
const (
	// StatusMFARequired is the login status asking for a TOTP code (or a
	// recovery code) at POST /api/v2/sdk/login/state/mfa.
	StatusMFARequired = "MFA_REQUIRED"
	// PurposeMFAEnroll is the purpose of the state token of an enrolment
	// a logged-in user starts (POST /api/v2/sdk/mfa/totp/enroll).
	PurposeMFAEnroll = "MFA_ENROLL"
	// PurposeRecoveryCode is the hash purpose of recovery codes.
	PurposeRecoveryCode = "recovery_code"
	// MaxMFAAttempts is how many codes one state token admits; the
	// account lockout (contract §8) counts every wrong one as well.
	MaxMFAAttempts = 5
)

// MFA is what the second factor needs besides the Service's own
// dependencies.
type MFA struct {
	Store  store.MFAStore
	Sealer *mfa.Sealer
}

// Enrollment is a TOTP secret being enrolled, as an authenticator app
// takes it: the base32 text for manual entry and the otpauth:// URI.
type Enrollment struct {
	Secret string
	URI    string
}

// MFAStatus describes a user's second factor.
type MFAStatus struct {
	// Policy is the tenant's MFA policy (store.MFAOff, ...).
	Policy            string
	Enrolled          bool
	EnrolledAt        time.Time
	RecoveryCodesLeft int
}

// policy returns the tenant's effective MFA policy: off without MFA
// support.
func (s *Service) policy(t store.Tenant) string {
	if s.MFA == nil || t.Policy.MFA == "" {
		return store.MFAOff
	}
	return t.Policy.MFA
}

// mfaNeeded decides, after a correct password, whether the login needs a
// second factor: never when the policy is off, when the user enrolled
// under optional, always under required (enrolled reports which).
func (s *Service) mfaNeeded(ctx context.Context, t store.Tenant, u store.User) (need, enrolled bool, err error) {
	p := s.policy(t)
	if p == store.MFAOff {
		return false, false, nil
	}
	_, err = s.MFA.Store.GetTOTP(ctx, t.ID, u.ID)
	switch {
	case err == nil:
		return true, true, nil
	case errors.Is(err, store.ErrNotFound):
		return p == store.MFARequired, false, nil
	}
	return false, false, err
}

// newEnrollment draws a TOTP secret for u and returns it sealed for
// storage and in the forms an authenticator app takes.
func (s *Service) newEnrollment(t store.Tenant, u store.User) ([]byte, *Enrollment, error) {
	key := mfa.NewSecret()
	sealed, err := s.MFA.Sealer.Seal(t.ID, u.ID, key)
	if err != nil {
		return nil, nil, err
	}
	return sealed, enrollmentOf(t, u, key), nil
}

func enrollmentOf(t store.Tenant, u store.User, key []byte) *Enrollment {
	return &Enrollment{Secret: mfa.EncodeSecret(key), URI: mfa.URI(t.Name, u.Username, key)}
}

// mfaChallenge answers a correct password with MFA_REQUIRED: a state
// token that admits MaxMFAAttempts codes and, for a user who must enrol,
// a fresh secret that the first valid code confirms.
func (s *Service) mfaChallenge(ctx context.Context, t store.Tenant, app store.Application, u store.User, d store.Device, enrolled bool, now time.Time) (LoginResult, error) {
	res := LoginResult{Status: StatusMFARequired, StateToken: secret.NewToken()}
	c := store.MFAChallenge{StateToken: store.StateToken{
		TokenHash: s.Hasher.Hash(PurposeState, res.StateToken), TenantID: t.ID, UserID: u.ID,
		ClientID: app.ClientID, DeviceFingerprint: d.Fingerprint, Purpose: StatusMFARequired,
		CreatedAt: now, ExpiresAt: now.Add(StateTokenTTL),
	}}
	if !enrolled {
		var err error
		if c.PendingSecret, res.MFAEnrollment, err = s.newEnrollment(t, u); err != nil {
			return LoginResult{}, sdkerror.Busy(err)
		}
	}
	if err := s.MFA.Store.CreateMFAChallenge(ctx, c); err != nil {
		return LoginResult{}, sdkerror.Busy(err)
	}
	s.Metrics.Login("mfa_required")
	return res, nil
}

// attempt takes one attempt of a state token of purpose for app on
// device d, and returns it with its user. Unknown, expired, spent or
// foreign tokens are the state-token parameter error.
func (s *Service) attempt(ctx context.Context, t store.Tenant, app store.Application, tok, purpose string, d store.Device, now time.Time) (store.MFAChallenge, store.User, error) {
	if s.MFA == nil {
		return store.MFAChallenge{}, store.User{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	c, err := s.MFA.Store.AttemptMFAChallenge(ctx, t.ID, s.Hasher.Hash(PurposeState, tok), purpose, now, MaxMFAAttempts)
	if errors.Is(err, store.ErrNotFound) {
		return c, store.User{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	if err != nil {
		return c, store.User{}, sdkerror.Busy(err)
	}
	// Bound to the client and device it was issued to (contract §2.1).
	if c.ClientID != app.ClientID || c.DeviceFingerprint != d.Fingerprint {
		s.Logger.WarnContext(ctx, "mfa state token presented by another client or device", "tenant", t.ID, "user", c.UserID)
		return c, store.User{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	u, err := s.Store.GetUser(ctx, t.ID, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return c, u, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	if err != nil {
		return c, u, sdkerror.Busy(err)
	}
	if u.Status != store.UserActive {
		return c, u, sdkerror.New(sdkerror.AccountDisabled)
	}
	if u.LockedUntil.After(now) {
		// A locked account checks no code (contract §8): the lock is what
		// bounds guessing across state tokens.
		return c, u, lockedError(u.LockedUntil.Sub(now))
	}
	return c, u, nil
}

// codeFailed counts a wrong code as a login failure (contract §8
// lockout) and answers it: the failure that reaches the threshold
// already reports the lock.
func (s *Service) codeFailed(ctx context.Context, t store.Tenant, u store.User, now time.Time) error {
	s.record(ctx, t, audit.TypeLoginFailure, u.ID, "user:"+u.ID, map[string]string{"reason": ReasonMFACode})
	if err := s.countFailure(ctx, t, u, now, "account locked by wrong verification codes"); err != nil {
		return err
	}
	s.Metrics.Login("mfa_failed")
	return sdkerror.New(sdkerror.MFACodeInvalid)
}

// useCode checks code against u's enrolment e, and uses it: a TOTP code
// for a step later than the last accepted one, recorded as the new last
// step in one conditional statement (no replay, RFC 6238 §5.2, on any
// number of nodes), or an unused recovery code, marked used likewise.
// It returns how the code was accepted (methodTOTP or
// methodRecoveryCode), for the caller's audit event; "" for a wrong,
// used or replayed code. For a recovery code, left is how many of the
// user's codes are still unused after it, counted by the store as it
// marks the code used (so that concurrent uses each count the others).
func (s *Service) useCode(ctx context.Context, t store.Tenant, u store.User, e store.TOTPEnrollment, code string, now time.Time) (method string, left int, err error) {
	if mfa.IsCode(code) {
		key, err := s.MFA.Sealer.Open(t.ID, u.ID, e.Secret)
		if err != nil {
			return "", 0, err
		}
		step, ok, replay := mfa.Match(key, code, now, e.LastStep)
		if replay {
			s.Logger.WarnContext(ctx, "replayed totp code refused", "tenant", t.ID, "user", u.ID)
		}
		if !ok {
			return "", 0, nil
		}
		err = s.MFA.Store.UseTOTPStep(ctx, t.ID, u.ID, step)
		if errors.Is(err, store.ErrReused) || errors.Is(err, store.ErrNotFound) {
			// Another request used this code (or a later one) first, or the
			// enrolment was removed meanwhile.
			s.Logger.WarnContext(ctx, "totp code used concurrently refused", "tenant", t.ID, "user", u.ID)
			return "", 0, nil
		}
		if err != nil {
			return "", 0, err
		}
		return methodTOTP, 0, nil
	}
	n := mfa.NormalizeRecoveryCode(code)
	if n == "" {
		return "", 0, nil
	}
	left, err = s.MFA.Store.UseRecoveryCode(ctx, t.ID, u.ID, s.Hasher.Hash(PurposeRecoveryCode, n), now)
	if errors.Is(err, store.ErrNotFound) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	s.Logger.InfoContext(ctx, "recovery code used", "tenant", t.ID, "user", u.ID, "left", left)
	return methodRecoveryCode, left, nil
}

// confirm checks code against the pending secret of an enrolment and,
// if it is right, stores the enrolment (its step as the last accepted
// one) with fresh recovery codes, which it returns in clear: the only
// time they exist in clear. ok is false for a wrong code.
func (s *Service) confirm(ctx context.Context, t store.Tenant, u store.User, pending []byte, code string, now time.Time) (codes []string, ok bool, err error) {
	key, err := s.MFA.Sealer.Open(t.ID, u.ID, pending)
	if err != nil {
		return nil, false, err
	}
	// Only a TOTP code confirms an enrolment: it proves the authenticator
	// holds the secret.
	if !mfa.IsCode(code) {
		return nil, false, nil
	}
	step, ok, _ := mfa.Match(key, code, now, math.MinInt64)
	if !ok {
		return nil, false, nil
	}
	codes = mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = s.Hasher.Hash(PurposeRecoveryCode, mfa.NormalizeRecoveryCode(c))
	}
	err = s.MFA.Store.ConfirmTOTP(ctx, store.TOTPEnrollment{
		TenantID: t.ID, UserID: u.ID, Secret: pending, LastStep: step, CreatedAt: now,
	}, hashes)
	if err != nil {
		return nil, false, err
	}
	s.Logger.InfoContext(ctx, "totp enrolled", "tenant", t.ID, "user", u.ID)
	return codes, true, nil
}

// VerifyMFA continues an MFA_REQUIRED login with a TOTP code or a
// recovery code (POST /api/v2/sdk/login/state/mfa). A right code ends
// like a successful login: a session, or the password-expiry state when
// the password expires (the second factor is proved before a password
// can be changed). When the login enrolled the user, the first valid
// code confirms the enrolment and the answer carries the recovery codes,
// once.
//
// A wrong code counts toward the account lockout and gives
// MFACodeInvalid; the state token stays usable for MaxMFAAttempts codes
// in all. With that error the returned result still describes the
// challenge (its state token while attempts remain, the enrolment's
// secret), so that a page can ask again.
func (s *Service) VerifyMFA(ctx context.Context, t store.Tenant, app store.Application, stateToken, code string, d store.Device, browser bool) (LoginResult, error) {
	now := s.Now()
	c, u, err := s.attempt(ctx, t, app, stateToken, StatusMFARequired, d, now)
	if err != nil {
		return LoginResult{}, err
	}
	var (
		codes  []string
		ok     bool
		method string // how an enrolled user's code was accepted
		left   int    // their unused recovery codes after this one
		again  = LoginResult{Status: StatusMFARequired}
	)
	if c.Attempts < MaxMFAAttempts {
		again.StateToken = stateToken
	}
	if c.PendingSecret != nil {
		if key, oerr := s.MFA.Sealer.Open(t.ID, u.ID, c.PendingSecret); oerr == nil {
			again.MFAEnrollment = enrollmentOf(t, u, key)
		}
		codes, ok, err = s.confirm(ctx, t, u, c.PendingSecret, code, now)
		if errors.Is(err, store.ErrConflict) {
			// Another login enrolled the user meanwhile, with another
			// secret: this one can no longer be confirmed.
			return LoginResult{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
		}
	} else {
		e, gerr := s.MFA.Store.GetTOTP(ctx, t.ID, u.ID)
		if errors.Is(gerr, store.ErrNotFound) {
			// The enrolment was removed since the password step.
			return LoginResult{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
		}
		if gerr != nil {
			return LoginResult{}, sdkerror.Busy(gerr)
		}
		method, left, err = s.useCode(ctx, t, u, e, code, now)
		ok = method != ""
	}
	if err != nil {
		return LoginResult{}, sdkerror.Busy(err)
	}
	if !ok {
		return again, s.codeFailed(ctx, t, u, now)
	}
	// The enrolment is stored, or the recovery code spent, whatever
	// happens to the rest of the login: record it now.
	switch {
	case c.PendingSecret != nil:
		s.auditMFAEnrolled(ctx, t, app, u, d, viaLogin, len(codes))
	case method == methodRecoveryCode:
		s.auditRecoveryCodeUsed(ctx, t, app, u, d, left)
	}
	// The challenge is spent: single use, like every state token.
	if _, err := s.Store.ConsumeStateToken(ctx, t.ID, c.TokenHash, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return LoginResult{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
		}
		return LoginResult{}, sdkerror.Busy(err)
	}
	// As after a correct password: clear the failures, unless concurrent
	// wrong codes locked the account meanwhile.
	lockedUntil, err := s.Store.ClearLoginFailures(ctx, t.ID, u.ID, now)
	if err != nil {
		return LoginResult{}, sdkerror.Busy(err)
	}
	if lockedUntil.After(now) {
		return LoginResult{}, lockedError(lockedUntil.Sub(now))
	}
	res, err := s.completeLogin(ctx, t, app, u, d, now, !browser)
	if err != nil {
		return LoginResult{}, err
	}
	res.RecoveryCodes = codes
	return res, nil
}

// MFAStatus returns the second-factor state of a session's user (GET
// /api/v2/sdk/mfa/totp).
func (s *Service) MFAStatus(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) (MFAStatus, error) {
	c, err := s.find(ctx, t, app.RotationGrace, tok, d, app.DeviceBinding)
	if err != nil {
		return MFAStatus{}, err
	}
	st := MFAStatus{Policy: s.policy(t)}
	if s.MFA == nil {
		return st, nil
	}
	e, err := s.MFA.Store.GetTOTP(ctx, t.ID, c.user.ID)
	switch {
	case err == nil:
		st.Enrolled, st.EnrolledAt, st.RecoveryCodesLeft = true, e.CreatedAt, e.RecoveryCodesLeft
	case !errors.Is(err, store.ErrNotFound):
		return MFAStatus{}, sdkerror.Busy(err)
	}
	return st, nil
}

// EnrollmentStart is the answer of BeginTOTPEnrollment.
type EnrollmentStart struct {
	StateToken string
	Enrollment Enrollment
}

// BeginTOTPEnrollment starts an enrolment for a session's user (POST
// /api/v2/sdk/mfa/totp/enroll): a fresh secret, and a state token that
// ConfirmTOTPEnrollment redeems with the first code of the authenticator.
// Nothing is enrolled until then. The tenant's policy must not be off, and
// the user must not be enrolled already.
func (s *Service) BeginTOTPEnrollment(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) (EnrollmentStart, error) {
	c, err := s.find(ctx, t, app.RotationGrace, tok, d, app.DeviceBinding)
	if err != nil {
		return EnrollmentStart{}, err
	}
	if s.policy(t) == store.MFAOff {
		return EnrollmentStart{}, sdkerror.New(sdkerror.MFAUnavailable)
	}
	u := c.user
	if _, err := s.MFA.Store.GetTOTP(ctx, t.ID, u.ID); err == nil {
		return EnrollmentStart{}, sdkerror.New(sdkerror.MFAAlreadyEnrolled)
	} else if !errors.Is(err, store.ErrNotFound) {
		return EnrollmentStart{}, sdkerror.Busy(err)
	}
	sealed, e, err := s.newEnrollment(t, u)
	if err != nil {
		return EnrollmentStart{}, sdkerror.Busy(err)
	}
	now := s.Now()
	st := secret.NewToken()
	err = s.MFA.Store.CreateMFAChallenge(ctx, store.MFAChallenge{StateToken: store.StateToken{
		TokenHash: s.Hasher.Hash(PurposeState, st), TenantID: t.ID, UserID: u.ID,
		ClientID: app.ClientID, DeviceFingerprint: d.Fingerprint, Purpose: PurposeMFAEnroll,
		CreatedAt: now, ExpiresAt: now.Add(StateTokenTTL),
	}, PendingSecret: sealed})
	if err != nil {
		return EnrollmentStart{}, sdkerror.Busy(err)
	}
	return EnrollmentStart{StateToken: st, Enrollment: *e}, nil
}

// ConfirmTOTPEnrollment completes an enrolment begun by
// BeginTOTPEnrollment with the authenticator's first code (POST
// /api/v2/sdk/mfa/totp/confirm) and returns the recovery codes, shown
// this once. The state token must be the session user's.
func (s *Service) ConfirmTOTPEnrollment(ctx context.Context, t store.Tenant, app store.Application, tok, stateToken, code string, d store.Device) ([]string, error) {
	cur, err := s.find(ctx, t, app.RotationGrace, tok, d, app.DeviceBinding)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	c, u, err := s.attempt(ctx, t, app, stateToken, PurposeMFAEnroll, d, now)
	if err != nil {
		return nil, err
	}
	if u.ID != cur.user.ID || c.PendingSecret == nil {
		s.Logger.WarnContext(ctx, "enrolment state token presented with another user's session", "tenant", t.ID, "user", cur.user.ID)
		return nil, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	codes, ok, err := s.confirm(ctx, t, u, c.PendingSecret, code, now)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, sdkerror.New(sdkerror.MFAAlreadyEnrolled)
	case err != nil:
		return nil, sdkerror.Busy(err)
	case !ok:
		// The user is typing the code of a secret they were just given:
		// a mistake, not a guess; the state token bounds the attempts.
		return nil, sdkerror.New(sdkerror.MFACodeInvalid)
	}
	s.auditMFAEnrolled(ctx, t, app, u, d, viaSession, len(codes))
	if _, err := s.Store.ConsumeStateToken(ctx, t.ID, c.TokenHash, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		// Enrolled already; the token expires by itself.
		s.Logger.WarnContext(ctx, "consuming an enrolment state token failed", "tenant", t.ID, "err", err)
	}
	return codes, nil
}

// DisableTOTP removes a session user's authenticator and recovery codes
// (POST /api/v2/sdk/mfa/totp/disable). It takes a current TOTP code or a
// recovery code, so that a stolen session token alone cannot remove the
// second factor; a wrong code counts toward the account lockout, which is
// what bounds guessing here. Under the required policy the user enrols
// again at the next login.
func (s *Service) DisableTOTP(ctx context.Context, t store.Tenant, app store.Application, tok, code string, d store.Device) error {
	cur, err := s.find(ctx, t, app.RotationGrace, tok, d, app.DeviceBinding)
	if err != nil {
		return err
	}
	if s.MFA == nil {
		return sdkerror.New(sdkerror.MFANotEnrolled)
	}
	now := s.Now()
	u, err := s.Store.GetUser(ctx, t.ID, cur.user.ID)
	if err != nil {
		return sdkerror.Busy(err)
	}
	if u.LockedUntil.After(now) {
		return lockedError(u.LockedUntil.Sub(now))
	}
	e, err := s.MFA.Store.GetTOTP(ctx, t.ID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return sdkerror.New(sdkerror.MFANotEnrolled)
	}
	if err != nil {
		return sdkerror.Busy(err)
	}
	method, _, err := s.useCode(ctx, t, u, e, code, now)
	if err != nil {
		return sdkerror.Busy(err)
	}
	if method == "" {
		return s.codeFailed(ctx, t, u, now)
	}
	err = s.MFA.Store.DeleteTOTP(ctx, t.ID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Removed meanwhile, by a concurrent request or an administrator,
		// which recorded it.
		return nil
	}
	if err != nil {
		return sdkerror.Busy(err)
	}
	s.Logger.InfoContext(ctx, "totp removed", "tenant", t.ID, "user", u.ID)
	s.auditMFADisabled(ctx, t, app, u, d, method)
	return nil
}
