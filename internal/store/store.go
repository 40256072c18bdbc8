package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap driver errors with %w only when they
// are not one of these; callers test with errors.Is.
var (
	// ErrNotFound means no record matched (or it matched but was expired or
	// already consumed, for single-use records).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness rule was violated (duplicate user name,
	// duplicate key generation, ...).
	ErrConflict = errors.New("store: conflict")
)

// Editions select the SDK error dialect and edition defaults (contract §1).
const (
	EditionEIAM = "eiam"
	EditionCIAM = "ciam"
)

// User status values.
const (
	UserActive   = "active"
	UserDisabled = "disabled"
)

// TenantPolicy holds the per-tenant login and password rules (contract §8).
type TenantPolicy struct {
	LockoutThreshold   int           // failures within LockoutWindow that lock the account; 0 disables lockout
	LockoutWindow      time.Duration // window in which failures are counted
	LockoutDuration    time.Duration // how long a locked account stays locked
	PasswordMaxAge     time.Duration // 0: passwords never expire
	PasswordWarnBefore time.Duration // PASSWORD_WARN this long before expiry
	PasswordMinLength  int
	PasswordMaxLength  int
	// MFA is the second-factor policy: MFAOff, MFAOptional or
	// MFARequired (see MFAStore); empty reads as MFAOff.
	MFA string
}

// Tenant is an isolated identity domain.
type Tenant struct {
	ID              string
	Name            string
	Edition         string   // EditionEIAM or EditionCIAM
	DefaultLanguage string   // "en" or "zh"
	Domains         []string // host names (without port) that select this tenant
	Policy          TenantPolicy
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Application is a client registered in a tenant (contract §1).
type Application struct {
	TenantID   string
	ClientID   string
	Name       string
	SecretHash []byte // keyed hash of the client secret; nil for a public client

	RedirectURIs []string
	GrantTypes   []string

	SessionTTL         time.Duration
	SessionAutoRefresh bool
	RotationGrace      time.Duration
	DeviceBinding      bool

	IDTokenTTL           time.Duration
	IDTokenAlg           string // RS256, RS512, ES256 or EdDSA
	AccessTokenTTL       time.Duration
	TenantAccessTokenTTL time.Duration
	RefreshTokenTTL      time.Duration // 0: no refresh tokens
	// AccessTokenFormat is "opaque" (the default) or "jwt" (RFC 9068).
	AccessTokenFormat string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to (OpenID Connect RP-Initiated Logout §3).
	PostLogoutRedirectURIs []string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Public reports whether the application has no client secret.
func (a Application) Public() bool { return len(a.SecretHash) == 0 }

// AllowsGrant reports whether grant is among the application's grant types.
func (a Application) AllowsGrant(grant string) bool {
	for _, g := range a.GrantTypes {
		if g == grant {
			return true
		}
	}
	return false
}

// User is an account of a tenant.
type User struct {
	TenantID string
	ID       string // stable, never reused
	Username string // unique per tenant, case-insensitively
	Name     string
	Email    string
	Mobile   string
	Status   string // UserActive or UserDisabled

	PasswordHash      string // PHC string; empty when no password is set
	PasswordChangedAt time.Time

	FailedLogins      int       // failures counted in the current window
	FailedWindowStart time.Time // start of the current failure window
	LockedUntil       time.Time // zero when not locked

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Profile returns u with its identity, profile and status only: what the
// token reads that join a user (SessionWithUser, AccessTokenWithUser)
// return. Their callers put claims in tokens and check the status; the
// password hash and the lockout state are read with GetUser, where a login
// needs them.
func (u User) Profile() User {
	return User{TenantID: u.TenantID, ID: u.ID, Username: u.Username, Name: u.Name,
		Email: u.Email, Mobile: u.Mobile, Status: u.Status}
}

// Device describes the device a session was created on.
type Device struct {
	Fingerprint string
	OSVersion   string
	Agent       string
	IP          string
}

// Session is a login. Its current token and, after a rotation, its previous
// token are identified only by keyed hashes.
type Session struct {
	ID        string
	TenantID  string
	UserID    string
	ClientID  string // the application the login went through
	TokenHash []byte // current token
	// PrevTokenHash and RotatedAt describe the last rotation: the previous
	// token stays usable for the application's grace period after RotatedAt.
	PrevTokenHash []byte
	RotatedAt     time.Time
	Device        Device
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time // expiry of the current token
}

// StateToken continues a login flow (PASSWORD_WARN, PASSWORD_EXPIRED,
// MFA_REQUIRED). It is short-lived and single-use.
type StateToken struct {
	TokenHash         []byte
	TenantID          string
	UserID            string
	ClientID          string
	DeviceFingerprint string
	Purpose           string // the login status that produced it
	CreatedAt         time.Time
	ExpiresAt         time.Time
}

// AccessToken is an opaque bearer token, identified by its keyed hash.
type AccessToken struct {
	TokenHash []byte
	TenantID  string
	ClientID  string
	UserID    string // empty for client_credentials tokens
	Scope     string
	// GrantID links the token to the authorization code or refresh-token
	// family it came from; empty for client_credentials tokens.
	GrantID   string
	SessionID string // the session behind a user's token, if any
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SSOTicket is a one-time ticket that carries a session's user to a server.
type SSOTicket struct {
	TicketHash []byte
	TenantID   string
	SessionID  string
	UserID     string
	ClientID   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// SigningKey is one generation of a tenant's signing key for one algorithm.
type SigningKey struct {
	ID         string // the JWKS "kid"
	TenantID   string
	Algorithm  string // RS256, RS512, ES256 or EdDSA
	Generation int    // 1 for the first key of (tenant, algorithm); +1 per rotation
	PrivateKey []byte // sealed (encrypted) private key; never in clear
	PublicJWK  []byte // JSON of the public JWK
	CreatedAt  time.Time
	// ActivatesAt is when signing switches to this key. Until then it is
	// published in the JWKS as the next key.
	ActivatesAt time.Time
	// RetainUntil is zero while the key is current or next. When a newer
	// generation is added it is set to the time after which no token this
	// key signed can still be valid; the key leaves the JWKS then.
	RetainUntil time.Time
}

// Store is the one storage interface of Sesame. Every method takes the
// tenant it acts in, so nothing of one tenant is reachable from another.
type Store interface {
	// Ping checks that the storage is reachable.
	Ping(ctx context.Context) error
	// Close releases the storage's resources.
	Close() error

	// UpsertTenant creates or replaces a tenant and its domain list. A domain
	// already used by another tenant is ErrConflict.
	UpsertTenant(ctx context.Context, t Tenant) error
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// TenantByDomain finds the tenant that owns a host name (without port,
	// lower case).
	TenantByDomain(ctx context.Context, domain string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)

	// UpsertApplication creates or replaces an application of a tenant.
	UpsertApplication(ctx context.Context, a Application) error
	GetApplication(ctx context.Context, tenantID, clientID string) (Application, error)
	ListApplications(ctx context.Context, tenantID string) ([]Application, error)

	// CreateUser adds a user; a user name already taken in the tenant
	// (case-insensitively) is ErrConflict.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, tenantID, userID string) (User, error)
	// UserByUsername matches the user name case-insensitively.
	UserByUsername(ctx context.Context, tenantID, username string) (User, error)
	// UsersByLoginID returns up to two users whose user name, e-mail
	// (case-insensitively) or mobile equals id, for unified-account login.
	UsersByLoginID(ctx context.Context, tenantID, id string) ([]User, error)
	// UpdateUserProfile replaces name, e-mail, mobile and status.
	UpdateUserProfile(ctx context.Context, u User) error
	// SetPassword stores a new password hash, sets PasswordChangedAt and
	// clears failures and lockout.
	SetPassword(ctx context.Context, tenantID, userID, hash string, changedAt time.Time) error
	// ReplacePasswordHash swaps the stored hash for a re-hash of the same
	// password (parameter upgrade) only if the stored hash is still oldHash.
	ReplacePasswordHash(ctx context.Context, tenantID, userID, oldHash, newHash string) error
	// RecordLoginFailure counts one failed login in a single conditional
	// statement: a failure outside the policy window starts a new window;
	// reaching the threshold sets LockedUntil. It returns the user's new
	// LockedUntil (zero when not locked).
	RecordLoginFailure(ctx context.Context, tenantID, userID string, now time.Time, p TenantPolicy) (time.Time, error)
	// ClearLoginFailures resets the failure count after a successful login,
	// in one conditional statement that applies only if the account is not
	// locked at now; if it is, nothing changes and the end of the lock is
	// returned (zero otherwise), and the login must be refused.
	ClearLoginFailures(ctx context.Context, tenantID, userID string, now time.Time) (time.Time, error)

	CreateSession(ctx context.Context, s Session) error
	// SessionByTokenHash finds the session whose current or previous token
	// has this hash. The caller tells which by comparing hashes, and
	// decides expiry and grace.
	SessionByTokenHash(ctx context.Context, tenantID string, tokenHash []byte) (Session, error)
	// SessionWithUser is SessionByTokenHash together with the profile
	// (User.Profile) of the session's user, in one read. A session whose
	// user is gone is ErrNotFound.
	SessionWithUser(ctx context.Context, tenantID string, tokenHash []byte) (Session, User, error)
	// RotateSessionToken replaces the current token oldHash by newHash in
	// one conditional statement: the old token becomes the previous one,
	// RotatedAt becomes now and ExpiresAt expiresAt. It reports false, with
	// no change, when oldHash is no longer the current token (another
	// request rotated it first).
	RotateSessionToken(ctx context.Context, tenantID string, oldHash, newHash []byte, now, expiresAt time.Time) (bool, error)
	// DeleteSession ends a session and deletes its unredeemed SSO tickets;
	// an unknown session is ErrNotFound.
	DeleteSession(ctx context.Context, tenantID, sessionID string) error

	CreateStateToken(ctx context.Context, st StateToken) error
	// ConsumeStateToken removes and returns a state token in one statement;
	// a second consumption, or one after expiry, is ErrNotFound.
	ConsumeStateToken(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (StateToken, error)

	// CreateAccessToken stores an access token. One with a GrantID is
	// refused with ErrRevoked when that grant is revoked (see ErrRevoked).
	CreateAccessToken(ctx context.Context, at AccessToken) error
	// AccessTokenByHash returns an unexpired access token; expired ones are
	// ErrNotFound.
	AccessTokenByHash(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (AccessToken, error)
	// AccessTokenWithUser is AccessTokenByHash together with the profile
	// (User.Profile) of the token's user, in one read: userinfo and
	// introspection need both, and a second round trip costs as much as
	// the first. The token is found
	// exactly when AccessTokenByHash finds it. The user is the zero User
	// (empty ID) when the token has none (client_credentials) or when its
	// user no longer exists, so the caller refuses those as it would
	// after GetUser; a disabled user is returned as such. Only a user of
	// the token's own tenant is ever joined.
	AccessTokenWithUser(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (AccessToken, User, error)

	CreateSSOTicket(ctx context.Context, t SSOTicket) error
	// ConsumeSSOTicket removes and returns a ticket in one statement; a
	// second consumption, or one after expiry, is ErrNotFound.
	ConsumeSSOTicket(ctx context.Context, tenantID string, ticketHash []byte, now time.Time) (SSOTicket, error)

	// AddSigningKey inserts k and, in the same transaction, sets
	// RetainUntil = retainOthersUntil on every older key of the same tenant
	// and algorithm whose RetainUntil is still zero. A key with the same
	// (tenant, algorithm, generation) is ErrConflict, which is how two nodes
	// adding a key at once are told apart.
	AddSigningKey(ctx context.Context, k SigningKey, retainOthersUntil time.Time) error
	// ListSigningKeys returns the keys of a tenant (all tenants when tenantID
	// is empty) whose RetainUntil is zero or after now, oldest generation
	// first within each (tenant, algorithm).
	ListSigningKeys(ctx context.Context, tenantID string, now time.Time) ([]SigningKey, error)

	// SweepExpired deletes at most batch expired rows from each table of
	// short-lived records (sessions, state tokens, access tokens, SSO
	// tickets, signing keys past RetainUntil) and returns how many it
	// deleted in all. Callers repeat it until it returns less than they can
	// accept as a backlog.
	SweepExpired(ctx context.Context, now time.Time, batch int) (int64, error)
}
