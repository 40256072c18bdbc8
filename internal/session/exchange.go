package session

import (
	"context"
	"errors"
	"time"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/secret"
	"github.com/sesame-idp/sesame/internal/store"
)

// ExchangeResult is the answer of contract §2.2.
type ExchangeResult struct {
	SessionToken string
	Expire       int64 // seconds the returned session token stays valid
	IDToken      string
}

// current is a session found by a presented token, with the token the
// client must use from now on.
type current struct {
	session store.Session
	user    store.User
	token   string // the token that is current after this call
	rotated bool   // token is the successor of the presented one
}

// find looks up the session of a presented token and applies the rules
// every use of a session token shares: expiry, the grace period of a
// rotated token, and device binding.
//
// A token that was rotated away is answered with its successor while the
// grace period lasts (contract §2.2: a lost response or a concurrent retry
// must not log the user out); the successor is derived from the presented
// token (secret.Hasher.Successor), so only hashes are stored.
func (s *Service) find(ctx context.Context, t store.Tenant, grace time.Duration, tok string, d store.Device, bindDevice bool) (current, error) {
	now := s.Now()
	h := s.Hasher.Hash(PurposeSession, tok)
	sess, u, err := s.Store.SessionWithUser(ctx, t.ID, h)
	if errors.Is(err, store.ErrNotFound) {
		return current{}, sdkerror.New(sdkerror.SessionInvalid)
	}
	if err != nil {
		return current{}, sdkerror.Busy(err)
	}
	c := current{session: sess, user: u, token: tok}
	if !secret.Equal(h, sess.TokenHash) {
		// The previous token: valid only within the grace period, and only
		// if the current token is still its direct successor.
		succ := s.Hasher.Successor(PurposeSession, tok)
		if now.After(sess.RotatedAt.Add(grace)) || !secret.Equal(s.Hasher.Hash(PurposeSession, succ), sess.TokenHash) {
			s.Logger.WarnContext(ctx, "rotated session token reused after its grace period", "tenant", t.ID, "session", sess.ID)
			return current{}, sdkerror.New(sdkerror.SessionInvalid)
		}
		c.token, c.rotated = succ, true
	}
	if !now.Before(sess.ExpiresAt) {
		return current{}, sdkerror.New(sdkerror.SessionExpired)
	}
	if u.Status != store.UserActive {
		// A disabled user's sessions stop working at once, on every path.
		return current{}, sdkerror.New(sdkerror.SessionInvalid)
	}
	if !bindDevice {
		// Binding is the session's as much as the caller's: a session
		// created through an application that binds devices stays bound
		// when another application of the tenant, which does not, presents
		// it. Otherwise one unbound application would unbind them all.
		bindDevice = s.creatorBindsDevice(ctx, t, sess)
	}
	if bindDevice && d.Fingerprint != sess.Device.Fingerprint {
		// Contract §2.2: refused as an invalid session, and audited.
		s.Logger.WarnContext(ctx, "session token presented from another device", "tenant", t.ID, "session", sess.ID, "user", sess.UserID)
		return current{}, sdkerror.New(sdkerror.SessionInvalid)
	}
	return c, nil
}

// creatorBindsDevice reports whether the application a session was created
// through binds devices; an application since removed counts as binding.
func (s *Service) creatorBindsDevice(ctx context.Context, t store.Tenant, sess store.Session) bool {
	app, err := s.Store.GetApplication(ctx, t.ID, sess.ClientID)
	return err != nil || app.DeviceBinding
}

// rotate replaces the current token of c by its successor with the
// application's fresh lifetime. Of concurrent rotations of one token
// exactly one wins in the store; the others see the winner's result
// through the grace rule, so every caller gets the same successor. Only
// the winner records the rotation in the audit log, with actorID as the
// actor (the user for an exchange, the application for the tenant API).
func (s *Service) rotate(ctx context.Context, t store.Tenant, app store.Application, c current, d store.Device, bindDevice bool, actorID, via string) (current, error) {
	grace, ttl := app.RotationGrace, app.SessionTTL
	if c.rotated {
		return c, nil
	}
	now := s.Now()
	succ := s.Hasher.Successor(PurposeSession, c.token)
	newHash := s.Hasher.Hash(PurposeSession, succ)
	ok, err := s.Store.RotateSessionToken(ctx, t.ID, c.session.TokenHash, newHash, now, now.Add(ttl))
	if err != nil {
		return current{}, sdkerror.Busy(err)
	}
	if !ok {
		// Another request rotated it first: answer as a retry would be.
		return s.find(ctx, t, grace, c.token, d, bindDevice)
	}
	c.session.PrevTokenHash, c.session.TokenHash = c.session.TokenHash, newHash
	c.session.RotatedAt, c.session.ExpiresAt = now, now.Add(ttl)
	c.token, c.rotated = succ, true
	s.Metrics.Token("session_token", "issued")
	s.record(ctx, t, audit.TypeSessionRotated, actorID, "session:"+c.session.ID, map[string]string{
		"client_id": app.ClientID, "user_id": c.session.UserID, "via": via,
	})
	return c, nil
}

// Exchange answers POST /api/v2/sdk/sso/session-token/id-token: a fresh
// id_token for app, and the session token the client must keep using
// (rotated when the application has session_auto_refresh on).
func (s *Service) Exchange(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) (ExchangeResult, error) {
	return s.exchange(ctx, t, app, tok, d, app.SessionAutoRefresh)
}

// IDToken is the signed form of the exchange (POST
// /api/v2/sdk/session-token/refresh-id-token): a fresh id_token only. Its
// answer carries no session token, so it never rotates the session: a
// client of that form could not learn the successor.
func (s *Service) IDToken(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) (string, error) {
	res, err := s.exchange(ctx, t, app, tok, d, false)
	return res.IDToken, err
}

func (s *Service) exchange(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device, rotate bool) (ExchangeResult, error) {
	c, err := s.find(ctx, t, app.RotationGrace, tok, d, app.DeviceBinding)
	if err != nil {
		s.Metrics.Token("id_token", "refused")
		return ExchangeResult{}, err
	}
	u := c.user
	if rotate {
		if c, err = s.rotate(ctx, t, app, c, d, app.DeviceBinding, u.ID, "exchange"); err != nil {
			return ExchangeResult{}, err
		}
	}
	idt, err := s.IDTokens.SignIDToken(ctx, t, app, u, c.session.AuthTime)
	if err != nil {
		s.Metrics.Token("id_token", "refused")
		return ExchangeResult{}, sdkerror.Busy(err)
	}
	s.Metrics.Token("id_token", "issued")
	tokens := "id_token"
	if rotate {
		tokens = "id_token session_token"
	}
	s.record(ctx, t, audit.TypeTokenIssued, u.ID, "user:"+u.ID, map[string]string{
		"client_id": app.ClientID, "session_id": c.session.ID, "grant_type": "session_exchange", "tokens": tokens,
	})
	return ExchangeResult{SessionToken: c.token, Expire: s.remaining(c.session), IDToken: idt}, nil
}

func (s *Service) remaining(sess store.Session) int64 {
	return max(seconds(sess.ExpiresAt.Sub(s.Now())), 0)
}

// Logout ends the session of a token (POST /api/v2/sdk/logout). A token
// within its grace period ends the session too. Device binding applies as
// it does to the exchange, so a stolen token cannot be used to log a user
// out from elsewhere either.
func (s *Service) Logout(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) error {
	c, err := s.find(ctx, t, app.RotationGrace, tok, d, app.DeviceBinding)
	if err != nil {
		var se *sdkerror.Error
		// An expired session is as good as ended.
		if errors.As(err, &se) && se.Kind == sdkerror.SessionExpired {
			return nil
		}
		return err
	}
	err = s.Store.DeleteSession(ctx, t.ID, c.session.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // ended meanwhile, by another request
	}
	if err != nil {
		return sdkerror.Busy(err)
	}
	s.record(ctx, t, audit.TypeSessionRevoked, c.session.UserID, "session:"+c.session.ID, map[string]string{
		"client_id": app.ClientID, "user_id": c.session.UserID, "reason": "logout", "channel": "sdk",
	})
	return nil
}

// RefreshResult is the answer of contract §3.2.
type RefreshResult struct {
	SessionToken string
	Expire       int64
}

// Refresh rotates a session token for a server (POST
// /api/v2/tenant/sso/session-token/refresh). The device fingerprint must
// equal the session's whatever the application's device binding (seed 002).
func (s *Service) Refresh(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) (RefreshResult, error) {
	c, err := s.find(ctx, t, app.RotationGrace, tok, d, true)
	if err != nil {
		return RefreshResult{}, err
	}
	if c, err = s.rotate(ctx, t, app, c, d, true, app.ClientID, "tenant_refresh"); err != nil {
		return RefreshResult{}, err
	}
	return RefreshResult{SessionToken: c.token, Expire: s.remaining(c.session)}, nil
}

// IssueSSOTicket turns a session token into a one-time ticket (contract
// §3.3).
func (s *Service) IssueSSOTicket(ctx context.Context, t store.Tenant, app store.Application, tok string, d store.Device) (string, int64, error) {
	c, err := s.find(ctx, t, app.RotationGrace, tok, d, true)
	if err != nil {
		return "", 0, err
	}
	now := s.Now()
	ticket := secret.NewToken()
	err = s.Store.CreateSSOTicket(ctx, store.SSOTicket{
		TicketHash: s.Hasher.Hash(PurposeSSOTicket, ticket),
		TenantID:   t.ID,
		SessionID:  c.session.ID,
		UserID:     c.session.UserID,
		ClientID:   app.ClientID,
		CreatedAt:  now,
		ExpiresAt:  now.Add(SSOTicketTTL),
	})
	if err != nil {
		return "", 0, sdkerror.Busy(err)
	}
	s.Metrics.Token("sso_ticket", "issued")
	s.record(ctx, t, audit.TypeTokenIssued, app.ClientID, "user:"+c.session.UserID, map[string]string{
		"client_id": app.ClientID, "session_id": c.session.ID, "grant_type": "sso_ticket", "tokens": "sso_ticket",
	})
	return ticket, seconds(SSOTicketTTL), nil
}

// VerifySSOTicket redeems a ticket once and returns its user.
func (s *Service) VerifySSOTicket(ctx context.Context, t store.Tenant, ticket string) (store.User, error) {
	tk, err := s.Store.ConsumeSSOTicket(ctx, t.ID, s.Hasher.Hash(PurposeSSOTicket, ticket), s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, sdkerror.New(sdkerror.ParamInvalid, "sso_ticket")
	}
	if err != nil {
		return store.User{}, sdkerror.Busy(err)
	}
	u, err := s.Store.GetUser(ctx, t.ID, tk.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Status != store.UserActive) {
		return store.User{}, sdkerror.New(sdkerror.ParamInvalid, "sso_ticket")
	}
	if err != nil {
		return store.User{}, sdkerror.Busy(err)
	}
	return u, nil
}

// BrowserSession returns the session of a browser's session cookie and its
// user, for single sign-on at the authorization endpoint. Only the current
// token counts (a cookie is never rotated), the session must not have
// expired, and the user must be active. ok is false for any other cookie.
func (s *Service) BrowserSession(ctx context.Context, t store.Tenant, tok string) (sess store.Session, u store.User, ok bool, err error) {
	if tok == "" || len(tok) > 512 {
		return sess, u, false, nil
	}
	h := s.Hasher.Hash(PurposeSession, tok)
	sess, err = s.Store.SessionByTokenHash(ctx, t.ID, h)
	if errors.Is(err, store.ErrNotFound) {
		return sess, u, false, nil
	}
	if err != nil {
		return sess, u, false, err
	}
	// Only sessions of the hosted login page serve as the cookie: an SDK
	// session token, bound to its device, must not become a browser
	// session elsewhere (the SDK refuses the browser fingerprint, so no
	// SDK session carries it).
	if !secret.Equal(h, sess.TokenHash) || !s.Now().Before(sess.ExpiresAt) || sess.Device.Fingerprint != BrowserFingerprint {
		return sess, u, false, nil
	}
	u, err = s.Store.GetUser(ctx, t.ID, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return sess, u, false, nil
	}
	if err != nil {
		return sess, u, false, err
	}
	return sess, u, u.Status == store.UserActive, nil
}

// EndSession deletes a session (RP-initiated logout); an unknown session
// is not an error.
func (s *Service) EndSession(ctx context.Context, t store.Tenant, sessionID string) error {
	if err := s.Store.DeleteSession(ctx, t.ID, sessionID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
