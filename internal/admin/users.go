package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesame-idp/sesame/internal/password"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store"
)

// userJSON is store.User without its password hash. Locked is derived:
// a lock in force now (contract §1's "locked" status). MFAEnrolled is
// only in the answer of GET of one user: it is another read, which a
// listing would make once per row.
type userJSON struct {
	TenantID          string     `json:"tenant_id"`
	ID                string     `json:"id"`
	Username          string     `json:"username"`
	Name              string     `json:"name"`
	Email             string     `json:"email"`
	Mobile            string     `json:"mobile"`
	Status            string     `json:"status"`
	Locked            bool       `json:"locked"`
	LockedUntil       *time.Time `json:"locked_until,omitempty"`
	FailedLogins      int        `json:"failed_logins"`
	PasswordSet       bool       `json:"password_set"`
	PasswordChangedAt *time.Time `json:"password_changed_at,omitempty"`
	MFAEnrolled       *bool      `json:"mfa_enrolled,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func userOut(u store.User, now time.Time) userJSON {
	out := userJSON{
		TenantID: u.TenantID, ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, Mobile: u.Mobile,
		Status: u.Status, FailedLogins: u.FailedLogins, PasswordSet: u.PasswordHash != "",
		PasswordChangedAt: timePtr(u.PasswordChangedAt), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if u.LockedUntil.After(now) {
		out.Locked, out.LockedUntil = true, timePtr(u.LockedUntil)
	}
	return out
}

// userPatch is the body of creation (Username required) and update
// (Username absent: user names do not change, they are what people log
// in with and what other systems may key on).
type userPatch struct {
	Username *string `json:"username"`
	Name     *string `json:"name"`
	Email    *string `json:"email"`
	Mobile   *string `json:"mobile"`
	Status   *string `json:"status"`
	Password *string `json:"password"`
}

func checkStatus(s *string) error {
	if s != nil && *s != store.UserActive && *s != store.UserDisabled {
		return invalid("status", "active or disabled")
	}
	return nil
}

// apply validates the profile members and applies them to u.
func (b userPatch) apply(u *store.User) error {
	if b.Name != nil {
		if err := validText("name", *b.Name, 200, false); err != nil {
			return err
		}
		u.Name = *b.Name
	}
	if b.Email != nil {
		e := *b.Email
		if err := validText("email", e, 254, false); err != nil {
			return err
		}
		if at := strings.LastIndexByte(e, '@'); e != "" && (at < 1 || at == len(e)-1 || strings.ContainsAny(e, " ,;<>")) {
			return invalid("email", "Not an e-mail address")
		}
		u.Email = e
	}
	if b.Mobile != nil {
		m := *b.Mobile
		if len(m) > 32 || strings.Trim(m, "+-0123456789 ()") != "" {
			return invalid("mobile", "Digits, spaces and + - ( ), at most 32")
		}
		u.Mobile = m
	}
	return checkStatus(b.Status)
}

// checkPassword applies the tenant's password rules (contract §8), as the
// SDK's change-password step does.
func checkPassword(t store.Tenant, field, pw string) error {
	if !utf8.ValidString(pw) || len(pw) > password.MaxPasswordBytes {
		return invalid(field, "Not a valid password")
	}
	if !session.MeetsPolicy(t.Policy, pw) {
		return invalid(field, "The password does not meet the tenant's password policy")
	}
	return nil
}

// hash hashes a password; a full hashing queue is "unavailable".
func (h *Handler) hash(ctx context.Context, pw string) (string, error) {
	phc, err := h.HashPassword(ctx, pw)
	if err != nil {
		return "", unavailable(err)
	}
	return phc, nil
}

func (h *Handler) user(c *call) (store.Tenant, store.User, error) {
	t, err := h.tenant(c)
	if err != nil {
		return t, store.User{}, err
	}
	u, err := h.Store.GetUser(c.ctx, t.ID, c.r.PathValue("user_id"))
	if errors.Is(err, store.ErrNotFound) {
		return t, u, notFound("User")
	}
	return t, u, err
}

func (h *Handler) listUsers(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	lf, err := listParams(c.r)
	if err != nil {
		return 0, nil, err
	}
	f := store.UserFilter{ListFilter: lf, Status: c.r.URL.Query().Get("status")}
	if f.Status != "" {
		if err := checkStatus(&f.Status); err != nil {
			return 0, nil, err
		}
	}
	us, next, err := h.Store.ListUsers(c.ctx, t.ID, f)
	if err != nil {
		return 0, nil, listError(err)
	}
	now := h.now()
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = userOut(u, now)
	}
	return http.StatusOK, newList(out, next), nil
}

func (h *Handler) getUser(c *call) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	out := userOut(u, h.now())
	enrolled, err := h.mfaEnrolled(c, t, u)
	if err != nil {
		return 0, nil, err
	}
	out.MFAEnrolled = &enrolled
	return http.StatusOK, out, nil
}

// mfaEnrolled reports whether u has a TOTP authenticator.
func (h *Handler) mfaEnrolled(c *call, t store.Tenant, u store.User) (bool, error) {
	_, err := h.Store.GetTOTP(c.ctx, t.ID, u.ID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// createUser adds a user, with a password if one is given (checked
// against the tenant's policy); without one the user cannot log in until
// a password is set or reset.
func (h *Handler) createUser(c *call) (int, any, error) {
	t, err := h.tenant(c)
	if err != nil {
		return 0, nil, err
	}
	var b userPatch
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	if b.Username == nil {
		return 0, nil, invalid("username", "Required")
	}
	if err := validText("username", *b.Username, 128, true); err != nil {
		return 0, nil, err
	}
	if *b.Username != strings.TrimSpace(*b.Username) {
		return 0, nil, invalid("username", "No leading or trailing spaces")
	}
	now := h.now()
	u := store.User{TenantID: t.ID, ID: session.NewUserID(), Username: *b.Username, Status: store.UserActive, CreatedAt: now, UpdatedAt: now}
	if err := b.apply(&u); err != nil {
		return 0, nil, err
	}
	if b.Status != nil {
		u.Status = *b.Status
	}
	if b.Password != nil {
		if err := checkPassword(t, "password", *b.Password); err != nil {
			return 0, nil, err
		}
		if u.PasswordHash, err = h.hash(c.ctx, *b.Password); err != nil {
			return 0, nil, err
		}
		u.PasswordChangedAt = now
	}
	if err := h.Store.CreateUser(c.ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return 0, nil, conflict("username", "The user name is taken (compared case-insensitively)")
		}
		return 0, nil, err
	}
	h.record(c, "user.create", t.ID, "user:"+u.ID, nil)
	return http.StatusCreated, userOut(u, now), nil
}

// updateUser changes name, e-mail, mobile and status. Profile and status
// are written by separate single statements, so neither undoes a
// concurrent change of the other (a disable must never be lost).
func (h *Handler) updateUser(c *call) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	var b userPatch
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	if b.Username != nil && *b.Username != u.Username {
		return 0, nil, invalid("username", "User names cannot change")
	}
	if b.Password != nil {
		return 0, nil, invalid("password", "Set passwords with PUT .../password")
	}
	if err := b.apply(&u); err != nil {
		return 0, nil, err
	}
	now := h.now()
	var fields []string
	if b.Name != nil || b.Email != nil || b.Mobile != nil {
		if err := h.Store.SetUserProfile(c.ctx, t.ID, u.ID, store.UserProfile{Name: u.Name, Email: u.Email, Mobile: u.Mobile}, now); err != nil {
			return 0, nil, userGone(err)
		}
		fields = append(fields, "profile")
	}
	if b.Status != nil && *b.Status != u.Status {
		if err := h.Store.SetUserStatus(c.ctx, t.ID, u.ID, *b.Status, now); err != nil {
			return 0, nil, userGone(err)
		}
		fields = append(fields, "status")
	}
	fresh, err := h.Store.GetUser(c.ctx, t.ID, u.ID)
	if err != nil {
		return 0, nil, userGone(err)
	}
	h.record(c, "user.update", t.ID, "user:"+u.ID, map[string]string{"fields": strings.Join(fields, ",")})
	return http.StatusOK, userOut(fresh, now), nil
}

func userGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound("User")
	}
	return err
}

// setStatus is disable and enable. A disabled user's sessions and tokens
// fail on every path at once (the user's status is read with them), so
// disabling needs no revocation.
func (h *Handler) setStatus(c *call, status, verb string) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(c.r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	now := h.now()
	if err := h.Store.SetUserStatus(c.ctx, t.ID, u.ID, status, now); err != nil {
		return 0, nil, userGone(err)
	}
	u.Status, u.UpdatedAt = status, now
	h.record(c, "user."+verb, t.ID, "user:"+u.ID, nil)
	return http.StatusOK, userOut(u, now), nil
}

func (h *Handler) disableUser(c *call) (int, any, error) {
	return h.setStatus(c, store.UserDisabled, "disable")
}

func (h *Handler) enableUser(c *call) (int, any, error) {
	return h.setStatus(c, store.UserActive, "enable")
}

// unlockUser ends a lockout (contract §2.1) before its time.
func (h *Handler) unlockUser(c *call) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(c.r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	now := h.now()
	if err := h.Store.UnlockUser(c.ctx, t.ID, u.ID, now); err != nil {
		return 0, nil, userGone(err)
	}
	u.FailedLogins, u.FailedWindowStart, u.LockedUntil, u.UpdatedAt = 0, time.Time{}, time.Time{}, now
	h.record(c, "user.unlock", t.ID, "user:"+u.ID, nil)
	return http.StatusOK, userOut(u, now), nil
}

type passwordBody struct {
	Password string `json:"password"`
}

// setPassword sets a password chosen by the administrator, under the
// tenant's policy. Like every new password it also ends a lockout.
func (h *Handler) setPassword(c *call) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	var b passwordBody
	if err := decode(c.r, &b, false); err != nil {
		return 0, nil, err
	}
	if err := checkPassword(t, "password", b.Password); err != nil {
		return 0, nil, err
	}
	if err := h.storePassword(c, t, u, b.Password); err != nil {
		return 0, nil, err
	}
	h.record(c, "user.set_password", t.ID, "user:"+u.ID, nil)
	return http.StatusNoContent, nil, nil
}

func (h *Handler) storePassword(c *call, t store.Tenant, u store.User, pw string) error {
	phc, err := h.hash(c.ctx, pw)
	if err != nil {
		return err
	}
	if err := h.Store.SetPassword(c.ctx, t.ID, u.ID, phc, h.now()); err != nil {
		return userGone(err)
	}
	return nil
}

// resetPassword sets a generated password and returns it, this once, for
// the administrator to hand over.
func (h *Handler) resetPassword(c *call) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	if err := decode(c.r, &struct{}{}, true); err != nil {
		return 0, nil, err
	}
	pw := GeneratePassword(t.Policy)
	if err := h.storePassword(c, t, u, pw); err != nil {
		return 0, nil, err
	}
	h.record(c, "user.reset_password", t.ID, "user:"+u.ID, nil)
	return http.StatusOK, passwordBody{Password: pw}, nil
}

// resetMFA removes a user's TOTP authenticator and recovery codes, for a
// user who lost both (DELETE …/users/{user_id}/mfa). Under the "required"
// policy the user enrols again at the next login; under "optional" they
// log in with their password alone until they enrol again. A user without
// an enrolment is 404, like the deletion of any other object that is not
// there, so that the operator learns nothing was removed.
//
// The user's sessions survive, as they do a password reset
// (resetPassword): they were opened with both factors, and a user who
// lost the authenticator is usually still signed in somewhere and needs
// that session to enrol a new one. When a takeover is suspected the
// administrator revokes the sessions explicitly (DELETE …/sessions), as
// after a password reset.
func (h *Handler) resetMFA(c *call) (int, any, error) {
	t, u, err := h.user(c)
	if err != nil {
		return 0, nil, err
	}
	err = h.Store.DeleteTOTP(c.ctx, t.ID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil, notFound("MFA enrolment")
	}
	if err != nil {
		return 0, nil, err
	}
	h.record(c, "user.reset_mfa", t.ID, "user:"+u.ID, nil)
	return http.StatusNoContent, nil, nil
}

// GeneratePassword returns a random password (about 128 bits) that meets
// policy p, or is as long as p allows.
func GeneratePassword(p store.TenantPolicy) string {
	pw := "Pw-" + secret.NewToken()
	if n := p.PasswordMaxLength; n > 0 && len(pw) > n {
		pw = pw[:n]
	}
	for len(pw) < p.PasswordMinLength {
		pw += secret.NewToken()
	}
	if n := p.PasswordMaxLength; n > 0 && len(pw) > n {
		pw = pw[:n]
	}
	return pw
}
