package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// Hash purposes: a token of one kind can never be looked up as another.
const (
	PurposeSession   = "session_token"
	PurposeState     = "state_token"
	PurposeSSOTicket = "sso_ticket"
)

// Login statuses (contract §2.1).
const (
	StatusSuccess         = "SUCCESS"
	StatusPasswordWarn    = "PASSWORD_WARN"
	StatusPasswordExpired = "PASSWORD_EXPIRED"
)

// BrowserFingerprint is the device fingerprint of sessions created on the
// hosted login page: browsers send no device headers. It is reserved: the
// SDK API refuses it as a device fingerprint, so that only hosted-login
// sessions carry it.
const BrowserFingerprint = "web-browser"

// Lifetimes fixed by the contract (§2.1, §8).
const (
	StateTokenTTL = 5 * time.Minute
	SSOTicketTTL  = 300 * time.Second
)

// PasswordHasher is the password hashing the Service needs.
type PasswordHasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	// Verify reports whether pw matches the PHC hash.
	Verify(ctx context.Context, phc, pw string) (bool, error)
	// VerifyDummy spends the time of a Verify on a dummy hash, so that an
	// unknown user takes as long as a known one.
	VerifyDummy(ctx context.Context, pw string) error
	// NeedsRehash reports whether phc was made with other parameters.
	NeedsRehash(phc string) bool
	// IsBusy reports whether err means the hashing capacity is exhausted.
	IsBusy(err error) bool
	// IsTooLong reports whether err means the password exceeds the limit.
	IsTooLong(err error) bool
}

// IDTokenSigner mints the id_token of contract §7 for a user and the
// calling application.
type IDTokenSigner interface {
	SignIDToken(ctx context.Context, t store.Tenant, app store.Application, u store.User, authTime time.Time) (string, error)
}

// Service runs the session lifecycle. All fields are required except
// Metrics.
type Service struct {
	Store     store.Store
	Hasher    *secret.Hasher
	Passwords PasswordHasher
	IDTokens  IDTokenSigner
	Now       func() time.Time
	Logger    *slog.Logger
	Metrics   *metrics.Metrics
	// Audit receives the audit events of logins and sessions; nil
	// records nothing.
	Audit audit.Recorder
	// MFA gives logins their second factor as the tenant's policy asks;
	// nil: no login ever asks for one.
	MFA *MFA
}

// LoginRequest is a user name + password login (contract §2.1).
type LoginRequest struct {
	UserName string
	Password string
	// Unified matches UserName against user name, mobile or e-mail
	// (POST /api/v2/sdk/login/auth).
	Unified bool
	Device  store.Device
	// Browser marks a login through the hosted login page: the session is
	// the browser's (a cookie), so no id_token is minted with it.
	Browser bool
}

// LoginResult is one of the shapes of contract §2.1.
type LoginResult struct {
	Status       string
	SessionToken string
	Expire       int64 // seconds
	IDToken      string
	StateToken   string
	// Data is the password policy as a JSON string (PASSWORD_WARN/EXPIRED).
	Data string
	// MFAEnrollment is set with MFA_REQUIRED when the user has no
	// authenticator yet and enrols with this login.
	MFAEnrollment *Enrollment
	// RecoveryCodes are set on the answer whose code confirmed an
	// enrolment: the only time they are shown.
	RecoveryCodes []string
}

// Login authenticates a user for app and starts a session.
func (s *Service) Login(ctx context.Context, t store.Tenant, app store.Application, req LoginRequest) (LoginResult, error) {
	now := s.Now()
	u, err := s.findUser(ctx, t, req)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// No user enumeration (contract §2.1): an unknown user costs one
		// hash verification and gets the same error as a wrong password.
		if err := s.Passwords.VerifyDummy(ctx, req.Password); err != nil && s.Passwords.IsBusy(err) {
			s.Metrics.Login("busy")
			return LoginResult{}, sdkerror.Busy(err)
		}
		s.Metrics.Login("bad_credentials")
		s.auditLoginFailure(ctx, t, app, nil, ReasonUnknownUser, req.Device)
		return LoginResult{}, sdkerror.New(sdkerror.BadCredentials)
	case err != nil:
		s.Metrics.Login("busy")
		return LoginResult{}, sdkerror.Busy(err)
	}
	if u.LockedUntil.After(now) {
		s.Metrics.Login("locked")
		s.auditLoginFailure(ctx, t, app, &u, ReasonLocked, req.Device)
		return LoginResult{}, lockedError(u.LockedUntil.Sub(now))
	}
	ok, err := s.verifyPassword(ctx, u, req.Password)
	if err != nil {
		if s.Passwords.IsBusy(err) {
			s.Metrics.Login("busy")
			return LoginResult{}, sdkerror.Busy(err)
		}
		if !s.Passwords.IsTooLong(err) {
			// A stored hash we cannot parse: treat as a failure, but say so.
			s.Logger.ErrorContext(ctx, "password verification failed", "tenant", t.ID, "user", u.ID, "err", err)
		}
		ok = false
	}
	if !ok {
		s.auditLoginFailure(ctx, t, app, &u, ReasonBadCredentials, req.Device)
		return LoginResult{}, s.loginFailed(ctx, t, u, now)
	}
	if u.Status != store.UserActive {
		s.Metrics.Login("disabled")
		s.auditLoginFailure(ctx, t, app, &u, ReasonDisabled, req.Device)
		return LoginResult{}, sdkerror.New(sdkerror.AccountDisabled)
	}
	// The second factor comes before the password-expiry steps, so that
	// a password alone can neither change the password nor log in.
	need, enrolled, err := s.mfaNeeded(ctx, t, u)
	if err != nil {
		return LoginResult{}, sdkerror.Busy(err)
	}
	if need {
		// Failures are not cleared here but when the code is right
		// (VerifyMFA): if a correct password reset the count, whoever
		// knows the password could guess codes without end. The lock is
		// checked again, atomically, at the code step.
		s.upgradeHash(ctx, t, u, req.Password)
		return s.mfaChallenge(ctx, t, app, u, req.Device, enrolled, now)
	}
	if t.Policy.LockoutThreshold > 0 || u.FailedLogins > 0 {
		// The lock is checked again, atomically, now that the password is
		// known to be right: concurrent wrong guesses may have locked the
		// account during the hash (store.ClearLoginFailures).
		lockedUntil, err := s.Store.ClearLoginFailures(ctx, t.ID, u.ID, now)
		if err != nil {
			return LoginResult{}, sdkerror.Busy(err)
		}
		if lockedUntil.After(now) {
			s.Metrics.Login("locked")
			s.auditLoginFailure(ctx, t, app, &u, ReasonLocked, req.Device)
			return LoginResult{}, lockedError(lockedUntil.Sub(now))
		}
	}
	s.upgradeHash(ctx, t, u, req.Password)
	return s.completeLogin(ctx, t, app, u, req.Device, now, !req.Browser)
}

// completeLogin ends a login whose factors are proved: with the
// password-expiry state when the tenant's policy asks for it, else with a
// session.
func (s *Service) completeLogin(ctx context.Context, t store.Tenant, app store.Application, u store.User, d store.Device, now time.Time, withIDToken bool) (LoginResult, error) {
	if status := passwordStatus(t.Policy, u, now); status != StatusSuccess {
		return s.issueStateToken(ctx, t, app, u, d, status, now)
	}
	res, err := s.startSession(ctx, t, app, u, d, now, withIDToken)
	if err == nil {
		s.Metrics.Login("success")
	}
	return res, err
}

func (s *Service) findUser(ctx context.Context, t store.Tenant, req LoginRequest) (store.User, error) {
	if !req.Unified {
		return s.Store.UserByUsername(ctx, t.ID, req.UserName)
	}
	users, err := s.Store.UsersByLoginID(ctx, t.ID, req.UserName)
	if err != nil {
		return store.User{}, err
	}
	// An identifier that names two accounts (one's mobile is another's
	// user name, say) is ambiguous: refuse it like an unknown one.
	if len(users) != 1 {
		return store.User{}, store.ErrNotFound
	}
	return users[0], nil
}

func (s *Service) verifyPassword(ctx context.Context, u store.User, pw string) (bool, error) {
	if u.PasswordHash == "" {
		// No password set: spend the same time and fail.
		return false, s.Passwords.VerifyDummy(ctx, pw)
	}
	return s.Passwords.Verify(ctx, u.PasswordHash, pw)
}

// loginFailed counts a failure and answers it: the failure that reaches the
// threshold already reports the lock (contract §8 lockout).
func (s *Service) loginFailed(ctx context.Context, t store.Tenant, u store.User, now time.Time) error {
	if err := s.countFailure(ctx, t, u, now, "account locked"); err != nil {
		return err
	}
	s.Metrics.Login("bad_credentials")
	return sdkerror.New(sdkerror.BadCredentials)
}

// countFailure counts a failed attempt of u toward the tenant's lockout
// (contract §8) and returns the lock's error when this failure reached
// the threshold (logged with msg, counted and audited), nil when the
// account is not locked by it.
func (s *Service) countFailure(ctx context.Context, t store.Tenant, u store.User, now time.Time, msg string) error {
	if t.Policy.LockoutThreshold <= 0 {
		return nil
	}
	lockedUntil, err := s.Store.RecordLoginFailure(ctx, t.ID, u.ID, now, t.Policy)
	if err != nil {
		return sdkerror.Busy(err)
	}
	if !lockedUntil.After(now) {
		return nil
	}
	s.Logger.WarnContext(ctx, msg, "tenant", t.ID, "user", u.ID, "until", lockedUntil)
	s.Metrics.Login("locked")
	s.auditLockout(ctx, t, u, lockedUntil)
	return lockedError(lockedUntil.Sub(now))
}

func lockedError(left time.Duration) *sdkerror.Error {
	secs := int64((left + time.Second - 1) / time.Second) // round up: never say "0 seconds" while locked
	return sdkerror.New(sdkerror.AccountLocked, strconv.FormatInt(secs/60, 10), strconv.FormatInt(secs%60, 10))
}

// upgradeHash re-hashes the password with the current parameters after a
// successful login (issue "Sesame core" §5). It is best effort: a failure
// only means the upgrade happens at a later login.
func (s *Service) upgradeHash(ctx context.Context, t store.Tenant, u store.User, pw string) {
	if u.PasswordHash == "" || !s.Passwords.NeedsRehash(u.PasswordHash) {
		return
	}
	h, err := s.Passwords.Hash(ctx, pw)
	if err == nil {
		err = s.Store.ReplacePasswordHash(ctx, t.ID, u.ID, u.PasswordHash, h)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Logger.WarnContext(ctx, "password rehash skipped", "tenant", t.ID, "user", u.ID, "err", err)
	}
}

// passwordStatus applies the tenant's password expiry policy.
func passwordStatus(p store.TenantPolicy, u store.User, now time.Time) string {
	if p.PasswordMaxAge <= 0 || u.PasswordChangedAt.IsZero() {
		return StatusSuccess
	}
	expires := u.PasswordChangedAt.Add(p.PasswordMaxAge)
	switch {
	case !now.Before(expires):
		return StatusPasswordExpired
	case p.PasswordWarnBefore > 0 && !now.Before(expires.Add(-p.PasswordWarnBefore)):
		return StatusPasswordWarn
	}
	return StatusSuccess
}

// policyData is the password policy sent as the "data" JSON string.
type policyData struct {
	MinLength  int   `json:"minLength"`
	MaxLength  int   `json:"maxLength"`
	ExpireTime int64 `json:"expireTime,omitempty"` // ms since epoch
}

func (s *Service) issueStateToken(ctx context.Context, t store.Tenant, app store.Application, u store.User, d store.Device, status string, now time.Time) (LoginResult, error) {
	tok := secret.NewToken()
	err := s.Store.CreateStateToken(ctx, store.StateToken{
		TokenHash:         s.Hasher.Hash(PurposeState, tok),
		TenantID:          t.ID,
		UserID:            u.ID,
		ClientID:          app.ClientID,
		DeviceFingerprint: d.Fingerprint,
		Purpose:           status,
		CreatedAt:         now,
		ExpiresAt:         now.Add(StateTokenTTL),
	})
	if err != nil {
		return LoginResult{}, sdkerror.Busy(err)
	}
	data, _ := json.Marshal(policyData{
		MinLength:  t.Policy.PasswordMinLength,
		MaxLength:  t.Policy.PasswordMaxLength,
		ExpireTime: u.PasswordChangedAt.Add(t.Policy.PasswordMaxAge).UnixMilli(),
	})
	s.Metrics.Login(strings.ToLower(status))
	return LoginResult{Status: status, StateToken: tok, Data: string(data)}, nil
}

// startSession creates a session and, with withIDToken, its first
// id_token.
func (s *Service) startSession(ctx context.Context, t store.Tenant, app store.Application, u store.User, d store.Device, now time.Time, withIDToken bool) (LoginResult, error) {
	tok := secret.NewToken()
	sess := store.Session{
		ID:        newID(),
		TenantID:  t.ID,
		UserID:    u.ID,
		ClientID:  app.ClientID,
		TokenHash: s.Hasher.Hash(PurposeSession, tok),
		Device:    d,
		AuthTime:  now,
		CreatedAt: now,
		ExpiresAt: now.Add(app.SessionTTL),
	}
	var idt string
	if withIDToken {
		var err error
		if idt, err = s.IDTokens.SignIDToken(ctx, t, app, u, now); err != nil {
			s.Metrics.Token("id_token", "refused")
			return LoginResult{}, sdkerror.Busy(err)
		}
		s.Metrics.Token("id_token", "issued")
	}
	// The session is stored after the id_token is signed, so that a
	// session that exists was also answered.
	if err := s.Store.CreateSession(ctx, sess); err != nil {
		s.Metrics.Token("session_token", "refused")
		return LoginResult{}, sdkerror.Busy(err)
	}
	s.Metrics.Token("session_token", "issued")
	s.auditLoginSuccess(ctx, t, app, sess, withIDToken)
	return LoginResult{Status: StatusSuccess, SessionToken: tok, Expire: seconds(app.SessionTTL), IDToken: idt}, nil
}

// consumeState redeems a state token for app on device d.
func (s *Service) consumeState(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) (store.StateToken, store.User, error) {
	st, err := s.Store.ConsumeStateToken(ctx, t.ID, s.Hasher.Hash(PurposeState, tok), s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return st, store.User{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	if err != nil {
		return st, store.User{}, sdkerror.Busy(err)
	}
	// A state token is bound to the user, client and device it was issued
	// to (contract §2.1).
	if st.ClientID != app.ClientID || st.DeviceFingerprint != d.Fingerprint {
		s.Logger.WarnContext(ctx, "state token presented by another client or device", "tenant", t.ID, "user", st.UserID)
		return st, store.User{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	u, err := s.Store.GetUser(ctx, t.ID, st.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return st, store.User{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	if err != nil {
		return st, store.User{}, sdkerror.Busy(err)
	}
	if u.Status != store.UserActive {
		return st, store.User{}, sdkerror.New(sdkerror.AccountDisabled)
	}
	return st, u, nil
}

// Skip continues a PASSWORD_WARN login without changing the password
// (POST /api/v2/sdk/login/state/skip). An expired password cannot be
// skipped.
func (s *Service) Skip(ctx context.Context, t store.Tenant, app store.Application, stateToken string, d store.Device, browser bool) (LoginResult, error) {
	st, u, err := s.consumeState(ctx, t, app, stateToken, d)
	if err != nil {
		return LoginResult{}, err
	}
	if st.Purpose != StatusPasswordWarn {
		return LoginResult{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	res, err := s.startSession(ctx, t, app, u, d, s.Now(), !browser)
	if err == nil {
		s.Metrics.Login("success")
	}
	return res, err
}

// ChangePassword sets a new password and completes the login
// (POST /api/v2/sdk/login/state/change-password).
func (s *Service) ChangePassword(ctx context.Context, t store.Tenant, app store.Application, stateToken, newPassword string, d store.Device, browser bool) (LoginResult, error) {
	// Check the policy before the single-use token is spent, so that a
	// rejected password can be retried with the same token.
	if !MeetsPolicy(t.Policy, newPassword) {
		return LoginResult{}, sdkerror.New(sdkerror.PasswordPolicy)
	}
	st, u, err := s.consumeState(ctx, t, app, stateToken, d)
	if err != nil {
		return LoginResult{}, err
	}
	if st.Purpose != StatusPasswordWarn && st.Purpose != StatusPasswordExpired {
		return LoginResult{}, sdkerror.New(sdkerror.ParamInvalid, "state_token")
	}
	h, err := s.Passwords.Hash(ctx, newPassword)
	if err != nil {
		return LoginResult{}, sdkerror.Busy(err)
	}
	now := s.Now()
	if err := s.Store.SetPassword(ctx, t.ID, u.ID, h, now); err != nil {
		return LoginResult{}, sdkerror.Busy(err)
	}
	res, err := s.startSession(ctx, t, app, u, d, now, !browser)
	if err == nil {
		s.Metrics.Login("success")
	}
	return res, err
}

// MeetsPolicy reports whether pw satisfies the tenant's length rules.
func MeetsPolicy(p store.TenantPolicy, pw string) bool {
	n := utf8.RuneCountInString(pw)
	return n >= max(p.PasswordMinLength, 1) && (p.PasswordMaxLength <= 0 || n <= p.PasswordMaxLength)
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// newID returns a random 128-bit identifier for sessions and users.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewUserID returns a fresh stable user id.
func NewUserID() string { return newID() }
