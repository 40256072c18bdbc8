package store

import (
	"context"
	"errors"
	"time"
)

// ErrReused means a single-use record (an authorization code, a rotated
// refresh token) was presented again. Methods that return it also return
// the record, so the caller can revoke everything issued from it (RFC 6749
// §4.1.2, RFC 9700 §4.14).
var ErrReused = errors.New("store: already used")

// ErrRevoked means a token was to be created in a grant that has been
// revoked. Grants make revocation race-free: creating a token of a grant
// and revoking the grant lock the grant's row, so a token is either
// created before the revocation (and deleted by it) or refused after it.
var ErrRevoked = errors.New("store: grant revoked")

// AuthCode is an authorization code (RFC 6749 §4.1.2): short-lived and
// single-use, identified by its keyed hash.
type AuthCode struct {
	CodeHash  []byte
	TenantID  string
	ClientID  string
	UserID    string
	SessionID string // the browser session the code was issued in
	// GrantID ties together every token issued from this code, so that a
	// replayed code can revoke them all.
	GrantID       string
	RedirectURI   string
	Scope         string
	Nonce         string
	CodeChallenge string // PKCE S256 challenge (RFC 7636); empty without PKCE
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        time.Time // zero until redeemed
}

// RefreshToken is one link of a refresh-token family (a grant). Rotation
// marks the presented token used and issues its successor; presenting a
// used token again is reuse and revokes the family (RFC 9700 §4.14.2).
type RefreshToken struct {
	TokenHash []byte
	TenantID  string
	ClientID  string
	UserID    string
	SessionID string
	GrantID   string
	Scope     string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until rotated
}

// OAuthStore holds the records of the OAuth 2.0 / OpenID Connect flows.
// Every method takes the tenant it acts in.
type OAuthStore interface {
	// CreateAuthCode stores a code and creates its grant (c.GrantID).
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// RedeemAuthCode marks the code used in one conditional statement and
	// returns it. Unknown or expired: ErrNotFound. Already used: the code
	// and ErrReused.
	RedeemAuthCode(ctx context.Context, tenantID string, codeHash []byte, now time.Time) (AuthCode, error)

	// CreateRefreshToken stores a refresh token; if its grant is revoked
	// (or unknown), nothing is stored and the error is ErrRevoked.
	CreateRefreshToken(ctx context.Context, rt RefreshToken) error
	// RefreshTokenByHash returns an unexpired refresh token, used or not.
	RefreshTokenByHash(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (RefreshToken, error)
	// RotateRefreshToken, in one transaction, marks oldHash used (only if
	// it is unused and unexpired) and inserts its successor newHash with
	// the same client, user, session, grant, scope and auth time, created
	// now and expiring at expiresAt. It returns the old token. Unknown or
	// expired: ErrNotFound. Already used: the old token and ErrReused, and
	// nothing is inserted. Grant revoked meanwhile: ErrRevoked, nothing
	// changed.
	RotateRefreshToken(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time) (RefreshToken, error)

	// RevokeGrant marks the grant revoked and, in the same transaction,
	// deletes every access token and refresh token of it; it reports how
	// many tokens it deleted. Tokens of the grant created later are refused
	// with ErrRevoked.
	RevokeGrant(ctx context.Context, tenantID, grantID string) (int64, error)
	// DeleteAccessToken deletes one access token; unknown is ErrNotFound.
	DeleteAccessToken(ctx context.Context, tenantID string, tokenHash []byte) error
}
